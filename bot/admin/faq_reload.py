"""Admin operations that are not worker conversations: reloading the FAQ and the quizzes, and telling
admins why an edit was refused (in the log and, through the outbox, in the admins' chats)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.faq import Problem
from handlers.faq.service import LibraryFaqService
from handlers.quiz.library import QuizLibrary
from storage.database import Database
from storage.messages import AdminNotice
from storage.outbox import Outbox

log = logging.getLogger(__name__)

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class ContentKind:
    """How admins' messages name one kind of content (bilingual: admins may read either language)."""

    live: str
    refused: str


FAQ = ContentKind(
    "FAQ reloaded: the new content is live. / 问答内容已更新。",
    "FAQ edit refused ({count} problem(s)); the previous content keeps serving. "
    "/ 问答修改未生效，以下问题需要修改，旧内容继续使用：",
)
QUIZZES = ContentKind(
    "Quizzes reloaded: the new quizzes are live. / 测验内容已更新。",
    "Quiz edit refused ({count} problem(s)); the previous quizzes keep serving. "
    "/ 测验修改未生效，以下问题需要修改，旧测验继续使用：",
)


def describe_reload(problems: Sequence[Problem], kind: ContentKind = FAQ) -> str:
    """The text admins read: what was refused and where, or that the new content is live."""
    if not problems:
        return kind.live
    lines = [
        kind.refused.format(count=len(problems)),
        *(str(problem) for problem in problems[:MAX_PROBLEMS_SHOWN]),
    ]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more (run `hapbot faq check`).")
    return "\n".join(lines)


class FaqAdmin:
    def __init__(
        self,
        faq: LibraryFaqService,
        database: Database,
        outbox: Outbox,
        admin_chats: Sequence[str],
        clock: Callable[[], datetime],
        *,
        quizzes: QuizLibrary | None = None,
    ) -> None:
        self._faq = faq
        self._quizzes = quizzes
        self._database = database
        self._outbox = outbox
        self._admin_chats = tuple(admin_chats)
        self._clock = clock

    async def reload(self) -> str:
        """Reloads now (``/reload``), the FAQ and the quizzes; returns the text to show whoever asked."""
        problems = await asyncio.to_thread(self._faq.library.reload)
        if problems:
            await self.report_problems(problems)
        texts = [describe_reload(problems)]
        if self._quizzes is not None:
            quiz_problems = await asyncio.to_thread(self._quizzes.reload)
            if quiz_problems:
                await self.report_quiz_problems(quiz_problems)
            texts.append(describe_reload(quiz_problems, QUIZZES))
        return "\n".join(texts)

    async def report_quiz_problems(self, problems: Sequence[Problem]) -> None:
        """As :meth:`report_problems`, for a refused quiz edit."""
        await self.report_problems(problems, QUIZZES)

    async def report_problems(self, problems: Sequence[Problem], kind: ContentKind = FAQ) -> None:
        """Logs each problem with its file and line and queues a notice for every admin chat."""
        for problem in problems:
            log.error("content refused: %s", problem)
        if not self._admin_chats:
            return
        text = describe_reload(problems, kind)
        async with self._database.transaction() as session:
            for chat in self._admin_chats:
                await self._outbox.enqueue(session, AdminNotice(chat, text), self._clock())
