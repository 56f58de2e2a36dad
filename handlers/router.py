"""Named states to steps: each state has a question (``ask``) and an answer handler (``on``).

One router per feature module; ``handlers.app.build_router`` combines them in one place. A feature
also registers here what only it knows but every message needs (its hooks): what lapses with time,
what is owed to the worker from before, whether a picture would be kept, what to note after each
message, what it does for an intent ("I want to report" starts the report), which questions take
free text, and the words workers type for its choices. So the dispatcher and the intake ask the
router, and never import a feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .context import Context, Services
from .conversation import Conversation
from .events import Incoming
from .intents import Intent, Understanding
from .preparation import Preparation

Step = Callable[[Context], Awaitable[None]]
Understood = Callable[[Context, Understanding], Awaitable[None]]
Expiry = Callable[[Context], bool]
Owed = Callable[[Context], Awaitable[bool]]
OwedLookup = Callable[[AsyncSession, Sequence[Incoming], Services], Awaitable[set[str]]]
PictureRule = Callable[[Conversation], bool]
AfterMessage = Callable[[Conversation], None]
Predict = Callable[[Incoming, Services], Iterable[Preparation[Any]]]
Anticipate = Callable[[Conversation, Services], Iterable[Preparation[Any]]]
Forget = Callable[[AsyncSession, str, Conversation, Services], Awaitable[None]]


class Router:
    def __init__(self) -> None:
        self._ask: dict[str, Step] = {}
        self._on: dict[str, Step] = {}
        self._expiries: list[Expiry] = []
        self._owed: list[Owed] = []
        self._owed_lookups: dict[Owed, OwedLookup] = {}
        self._picture_rules: list[PictureRule] = []
        self._after_message: list[AfterMessage] = []
        self._predictions: list[Predict] = []
        self._anticipations: list[Anticipate] = []
        self._forgets: list[Forget] = []
        self._understood: dict[Intent, Understood] = {}
        self._text_states: set[str] = set()
        self._story_states: set[str] = set()
        self._answer_states: set[str] = set()
        self._openers: dict[str, Step] = {}
        self._choice_words: dict[str, tuple[str, ...]] = {}

    def asks(self, state: str) -> Callable[[Step], Step]:
        """Register the step that asks the question of ``state``."""

        def register(step: Step) -> Step:
            self._ask[state] = step
            return step

        return register

    def on(self, state: str) -> Callable[[Step], Step]:
        """Register the step that handles the worker's answer in ``state``."""

        def register(step: Step) -> Step:
            self._on[state] = step
            return step

        return register

    def expires(self, rule: Expiry) -> Expiry:
        """Register what lapses with time; the rule returns True when that moved the worker out of
        what they were doing (their message is then not acted on)."""
        self._expiries.append(rule)
        return rule

    def owes(self, step: Owed) -> Owed:
        """Register what any next message brings from before, whatever it says (a receipt that may
        not have arrived); the step returns True when something was owed."""
        self._owed.append(step)
        return step

    def looks_up(self, step: Owed) -> Callable[[OwedLookup], OwedLookup]:
        """Register, for an owed step that needs a query, one query for a whole batch of messages:
        it returns the workers (user keys) who may be owed something, and the step then runs for
        those only. A batch of 64 messages costs one statement instead of 64 round trips."""

        def register(lookup: OwedLookup) -> OwedLookup:
            self._owed_lookups[step] = lookup
            return lookup

        return register

    def takes_pictures(self, rule: PictureRule) -> PictureRule:
        """Register when a picture would be kept; channels ask before downloading one."""
        self._picture_rules.append(rule)
        return rule

    def after_message(self, hook: AfterMessage) -> AfterMessage:
        """Register what to note in the conversation after each handled message."""
        self._after_message.append(hook)
        return hook

    def prepares(self, hook: Predict) -> Predict:
        """Register what slow work a message needs before its transaction, judged from the message
        alone (see ``handlers.preparation``)."""
        self._predictions.append(hook)
        return hook

    def anticipates(self, hook: Anticipate) -> Anticipate:
        """Register what slow work the worker's *next* message may need, judged from the
        conversation after this one (done before that message's transaction, used or not)."""
        self._anticipations.append(hook)
        return hook

    def forgets(self, hook: Forget) -> Forget:
        """Register what a feature keeps apart from the conversation row and deletes with it (a
        draft's parts) when a worker's chat is forgotten."""
        self._forgets.append(hook)
        return hook

    def understands(self, intent: Intent) -> Callable[[Understood], Understood]:
        """Register what this feature does when a message outside a flow means ``intent`` (see
        ``handlers.intents``); one feature per intent."""

        def register(step: Understood) -> Understood:
            self._understood[intent] = step
            return step

        return register

    def reads_text(self, *states: str, story: bool = False, answer: bool = False) -> None:
        """Register states whose question takes free text (a question, a receipt, her account), where a
        typed word is never taken for a choice by a keyword of its label. ``story`` states keep
        everything she writes as her account, even a message that also raised the alarm. In ``answer``
        states whatever she types is her answer to the question (a quiz answer, an employee number):
        what a message means is not acted on there, though commands and danger still are."""
        self._text_states.update(states)
        if story:
            self._story_states.update(states)
        if answer:
            self._answer_states.update(states)

    def opens(self, prefix: str) -> Callable[[Step], Step]:
        """Register a step for choices starting with ``prefix`` that may come at any moment outside a
        flow (a button on a pushed reminder: ``quiz:<id>`` opens that quiz), not only as an answer."""

        def register(step: Step) -> Step:
            self._openers[prefix] = step
            return step

        return register

    def opener(self, choice_id: str) -> Step | None:
        """The step registered for a choice id by its prefix, if any."""
        return next((step for prefix, step in self._openers.items() if choice_id.startswith(prefix)), None)

    def accepts_words(self, words: Mapping[str, tuple[str, ...]]) -> None:
        """Register words workers type for choices, by choice id ("线长" for ``supervisor``)."""
        self._choice_words.update(words)

    def include(self, other: Router) -> None:
        clashes = (self._ask.keys() & other._ask.keys()) | (self._on.keys() & other._on.keys())
        clashes |= {str(intent) for intent in self._understood.keys() & other._understood.keys()}
        if clashes:
            raise ValueError(f"states or intents registered twice: {sorted(clashes)}")
        self._ask.update(other._ask)
        self._on.update(other._on)
        self._expiries.extend(other._expiries)
        self._owed.extend(other._owed)
        self._owed_lookups.update(other._owed_lookups)
        self._picture_rules.extend(other._picture_rules)
        self._after_message.extend(other._after_message)
        self._predictions.extend(other._predictions)
        self._anticipations.extend(other._anticipations)
        self._forgets.extend(other._forgets)
        self._understood.update(other._understood)
        self._text_states |= other._text_states
        self._story_states |= other._story_states
        self._answer_states |= other._answer_states
        self._openers.update(other._openers)
        self._choice_words.update(other._choice_words)

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self._ask) | frozenset(self._on)

    def takes_text(self, state: str) -> bool:
        return state in self._text_states

    def keeps_story(self, state: str) -> bool:
        return state in self._story_states

    def wants_answer(self, state: str) -> bool:
        return state in self._answer_states

    @property
    def choice_words(self) -> Mapping[str, tuple[str, ...]]:
        return self._choice_words

    async def act(self, ctx: Context, understanding: Understanding) -> bool:
        """Does what the feature registered for the message's intent; False when none did."""
        step = self._understood.get(understanding.intent)
        if step is None:
            return False
        await step(ctx, understanding)
        return True

    async def ask(self, ctx: Context) -> None:
        await self._ask[ctx.conversation.state](ctx)

    async def handle(self, ctx: Context) -> None:
        await self._on[ctx.conversation.state](ctx)

    def expire(self, ctx: Context) -> bool:
        """Runs every expiry rule, in registration order; True when any moved the worker."""
        moved = [rule(ctx) for rule in self._expiries]
        return any(moved)

    async def look_up_owed(
        self, session: AsyncSession, incomings: Sequence[Incoming], services: Services
    ) -> dict[object, frozenset[str]]:
        """Every owed step's batch lookup (see :meth:`looks_up`), for ``Context.owed_to``."""
        return {
            step: frozenset(await lookup(session, incomings, services)) for step, lookup in self._owed_lookups.items()
        }

    async def deliver_owed(self, ctx: Context) -> bool:
        """Gives the worker what is owed from before; True when anything was. A step whose batch
        lookup ran skips the workers it did not find; without one (a replay) every step runs."""
        owed = [
            await step(ctx)
            for step in self._owed
            if step not in ctx.owed_to or ctx.incoming.user_key in ctx.owed_to[step]
        ]
        return any(owed)

    def wants_pictures(self, conversation: Conversation) -> bool:
        return any(rule(conversation) for rule in self._picture_rules)

    def preparations(self, incoming: Incoming, services: Services) -> dict[str, Preparation[Any]]:
        """The slow work the features expect ``incoming`` to need, by key."""
        return {p.key: p for hook in self._predictions for p in hook(incoming, services)}

    def anticipations(self, conversation: Conversation, services: Services) -> dict[str, Preparation[Any]]:
        """The slow work the features expect the worker's next message to need, by key."""
        return {p.key: p for hook in self._anticipations for p in hook(conversation, services)}

    async def forget(
        self, session: AsyncSession, user_key: str, conversation: Conversation, services: Services
    ) -> None:
        """Deletes what the features keep apart from a conversation that is being forgotten."""
        for hook in self._forgets:
            await hook(session, user_key, conversation, services)

    def finish_message(self, conversation: Conversation) -> None:
        """Runs the after-message hooks, once the message was handled."""
        for hook in self._after_message:
            hook(conversation)
