"""Admin operations that are not worker conversations: reloading the FAQ and telling admins why
an edit was refused (in the log and, through the outbox, in the admins' chats)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from handlers.faq import Problem
from handlers.faq.service import LibraryFaqService
from storage.database import Database
from storage.messages import AdminNotice
from storage.outbox import Outbox

log = logging.getLogger(__name__)

MAX_PROBLEMS_SHOWN = 20


def describe_reload(problems: Sequence[Problem]) -> str:
    """The text admins read: what was refused and where, or that the new content is live."""
    if not problems:
        return "FAQ reloaded: the new content is live. / 问答内容已更新。"
    lines = [
        f"FAQ edit refused ({len(problems)} problem(s)); the previous content keeps serving. "
        "/ 问答修改未生效，以下问题需要修改，旧内容继续使用：",
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
    ) -> None:
        self._faq = faq
        self._database = database
        self._outbox = outbox
        self._admin_chats = tuple(admin_chats)
        self._clock = clock

    async def reload(self) -> str:
        """Reloads now (``/reload``); returns the text to show whoever asked."""
        problems = await asyncio.to_thread(self._faq.library.reload)
        if problems:
            await self.report_problems(problems)
        return describe_reload(problems)

    async def report_problems(self, problems: Sequence[Problem]) -> None:
        """Logs each problem with its file and line and queues a notice for every admin chat."""
        for problem in problems:
            log.error("FAQ content refused: %s", problem)
        if not self._admin_chats:
            return
        text = describe_reload(problems)
        async with self._database.transaction() as session:
            for chat in self._admin_chats:
                await self._outbox.enqueue(session, AdminNotice(chat, text), self._clock())
