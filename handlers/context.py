"""What a conversation step is given (``Context``) and the services it may use (``Services``)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.case_deadlines import CaseDeadlineRepository
from storage.cases import CaseRepository
from storage.conversations import SealedDocumentStore
from storage.crypto import Crypto
from storage.drafts import DraftParts
from storage.evidence import EvidenceRepository
from storage.outbox import Outbox
from storage.quiz_tallies import QuizTallies
from storage.receipts import ReceiptHasher
from storage.reminders import ReminderStores
from storage.training import TrainingRecords

from .conversation import Conversation
from .danger_reading import DangerReading
from .events import Choice, Incoming, Reply
from .i18n import Language, Translator
from .preparation import Preparation, Prepared, result_of
from .quiz.library import QuizLibrary
from .settings import Settings, SiteInfo

if TYPE_CHECKING:
    from .router import Router

T = TypeVar("T")


class FaqService(Protocol):
    """The FAQ as the conversation sees it; ``handlers.faq`` provides it once content is loaded,
    and :class:`NoFaq` stands in where none is (tests, command-line tools)."""

    def answer(self, question: str, language: str, site: SiteInfo) -> FaqAnswer: ...

    def entry(self, entry_id: str, language: str, site: SiteInfo) -> FaqAnswer: ...

    def loading(self) -> Preparation[None] | None:
        """While the index is still being built (the first seconds after a start), the wait for
        it as slow work (see :attr:`Context.faq`); None once answers can be given at once."""
        ...


@dataclass(frozen=True)
class FaqAnswer:
    text: str | None
    suggestions: tuple[Choice, ...] = ()
    related: tuple[Choice, ...] = ()


class NoFaq:
    """A FAQ without content: it has no answer to anything, so the conversation needs no special case."""

    def answer(self, question: str, language: str, site: SiteInfo) -> FaqAnswer:
        return FaqAnswer(text=None)

    def entry(self, entry_id: str, language: str, site: SiteInfo) -> FaqAnswer:
        return FaqAnswer(text=None)

    def loading(self) -> None:
        return None


NO_FAQ = NoFaq()


@dataclass(frozen=True)
class Services:
    settings: Settings
    crypto: Crypto
    hasher: ReceiptHasher
    cases: CaseRepository
    conversations: SealedDocumentStore
    throttles: SealedDocumentStore
    outbox: Outbox
    translators: Mapping[Language, Translator]
    clock: Callable[[], datetime]
    faq: FaqService
    notices: SealedDocumentStore  # notices held for a worker's next message
    links: SealedDocumentStore  # case links (pending receipt, status session), kept apart from conversations
    evidence: EvidenceRepository
    quizzes: QuizLibrary  # the live quizzes (handlers.quiz)
    quiz_tallies: QuizTallies  # aggregate figures for HR, numbers only
    training: TrainingRecords  # completions a worker chose to record with their employee number
    reminders: ReminderStores  # subscriptions, held reminders, occasions and their counts
    drafts: DraftParts  # the messages of draft accounts, one sealed row each
    rng: random.Random = field(default_factory=random.SystemRandom)
    case_deadlines: CaseDeadlineRepository = field(default_factory=CaseDeadlineRepository)  # due work, check-ins
    danger: DangerReading = field(default_factory=DangerReading)  # learned second reading (handlers.danger_model)


@dataclass
class Context:
    incoming: Incoming
    conversation: Conversation
    session: AsyncSession
    services: Services
    router: Router
    now: datetime
    text: str | None = None
    choice_id: str | None = None
    replies: list[Reply] = field(default_factory=list)
    speaking: Language | None = None  # this message's replies only (emergency help in her script, mid-flow)
    ready: Prepared = field(default_factory=dict)  # slow work done before the transaction (handlers.preparation)
    # Per owed step with a batch lookup, the workers of this batch it may owe something (Router.looks_up).
    owed_to: Mapping[object, frozenset[str]] = field(default_factory=dict)
    alarmed: bool = False  # emergency help was given: it leads this message's replies (see say_first)

    @property
    def language(self) -> Language:
        """The language of the replies: this message's, else the one she last wrote in, else the chosen one."""
        spoken = self.speaking or self.conversation.reply_language or self.conversation.language
        return "en" if spoken == "en" else "zh"

    @property
    def t(self) -> Translator:
        return self.services.translators[self.language]

    @property
    def site(self) -> SiteInfo:
        return self.services.settings.site(self.conversation.site)

    def say_first(self, text: str) -> None:
        """Puts emergency help before whatever this message queued so far (a held reminder, an owed
        receipt, an expiry notice): a worker in danger reads the numbers first. The question before
        it still stands."""
        self.replies.insert(0, Reply(text=text))
        self.alarmed = True

    def say(
        self, text: str, choices: Iterable[Choice] = (), *, carries_receipt: bool = False, keep_offered: bool = False
    ) -> None:
        """Queue a reply; the choices it offers become the only ones accepted next, unless
        ``keep_offered`` says the question before it still stands (an error message)."""
        offered = tuple(choices)
        self.replies.append(Reply(text=text, choices=offered, carries_receipt=carries_receipt))
        if keep_offered:
            return
        self.conversation.offered = [choice.id for choice in offered]
        self.conversation.offered_labels = {choice.id: choice.label for choice in offered}

    def prepared(self, preparation: Preparation[T]) -> T:
        """The result of slow work done before this transaction; if it was not done, the message is
        handled again once it is (never done here: this runs inside the worker's transaction)."""
        return result_of(self.ready, preparation)

    @property
    def faq(self) -> FaqService:
        """The FAQ, ready to answer. A question in the first seconds after a start, while the index
        is still being built, asks for that wait as slow work: the transaction is rolled back, the
        wait happens outside it, and the message is handled again, where waiting here would stop
        the event loop, and every other worker, inside the write transaction."""
        faq = self.services.faq
        loading = faq.loading()
        if loading is not None:
            self.prepared(loading)
        return faq

    def choice(self, choice_id: str, label: str) -> Choice:
        return Choice(choice_id, self.t(label))

    async def go(self, state: str) -> None:
        """Move to ``state`` and ask its question."""
        self.conversation.state = state
        await self.router.ask(self)
