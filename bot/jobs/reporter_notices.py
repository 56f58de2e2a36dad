"""Neutral notices to reporters ("you have a new message about your report"), routed per platform.

Whether a notice may be pushed now is the channel's push window (``bot.channels.push``): Telegram
any time, WeChat within 48 hours of the worker's last message, the console never. Otherwise the
notice waits for the worker's next message, where the core shows it first; the content itself is
only ever shown after the worker enters the receipt. A push the platform refuses as too late (the
window closed while it waited or was retried) is held the same way (:meth:`ReporterNotices.hold`,
called by the sender), never simply dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.push import PushMode, PushWindow
from handlers.context import Services
from handlers.dispatcher import PUSH_NOTICE
from handlers.notice_texts import PUSH_ACKNOWLEDGED, PUSH_CHECKIN
from storage.crypto import Purpose
from storage.messages import NoticePush, ReporterNotice
from storage.outbox import as_utc

log = logging.getLogger(__name__)

PUSH_TEXTS = {"message": PUSH_NOTICE, "acknowledged": PUSH_ACKNOWLEDGED, "checkin": PUSH_CHECKIN}
# Held for the next message, every kind shows the dispatcher's one held notice (it asks for the
# receipt, after which the status flow shows the update or asks the check-in question).


class ReporterNotices:
    """Routes due :class:`ReporterNotice` messages; ``push_windows`` maps a channel name (the part
    of a contact before ``:``) to its push window, and a channel without one never pushes."""

    def __init__(self, services: Services, push_windows: Mapping[str, PushWindow]) -> None:
        self._services = services
        self._push_windows = dict(push_windows)

    async def route_due(self, session: AsyncSession, now: datetime, limit: int = 100) -> int:
        """Turns due reporter notices into pushes or held notices; returns how many were routed."""
        outbox = self._services.outbox
        items = await outbox.lock_due(session, now, (ReporterNotice,), limit)
        for item in items:
            try:
                async with session.begin_nested():
                    await self._route(session, item.message, now)
            except Exception as error:  # one bad row must not hold up every other push
                log.error("reporter notice dropped: %s", type(error).__name__)
            await outbox.complete(session, item.id)
        return len(items)

    async def _route(self, session: AsyncSession, notice: ReporterNotice, now: datetime) -> None:
        services = self._services
        contact = notice.contact
        channel, _, chat = contact.partition(":")
        user_key = services.crypto.pseudonym(Purpose.CONVERSATION, contact)
        # A conversation this process cannot open (a key it lacks) is read as unknown, never
        # rewritten: the notice waits for the worker's next message.
        documents, _unreadable = await services.conversations.load_readable(session, [user_key])
        conversation = documents.get(user_key, {})
        language = conversation.get("language")
        text = services.translators["en" if language == "en" else "zh"](PUSH_TEXTS[notice.about])
        if chat and self._mode(channel, conversation.get("last_seen"), now) is PushMode.NOW:
            await services.outbox.enqueue(session, NoticePush(contact, text), now)
            return
        await self._hold(session, user_key, now)

    async def hold(self, session: AsyncSession, contact: str, now: datetime) -> None:
        """Holds a notice for the worker at ``contact`` until her next message: for a push the
        platform refused as outside its window."""
        await self._hold(session, self._services.crypto.pseudonym(Purpose.CONVERSATION, contact), now)

    async def _hold(self, session: AsyncSession, user_key: str, now: datetime) -> None:
        # A month-sized bucket, not an offset from now: the plaintext expiry must not give
        # away when HR replied (the audit log has that time next to the case reference).
        bucket = 30 * 24
        expires = (int(now.timestamp() // 3600) // bucket + 4) * bucket
        await self._services.notices.save(session, user_key, {"notice": True}, expires)

    def _mode(self, channel: str, last_seen: object, now: datetime) -> PushMode:
        """The channel's push mode for a worker last seen at ``last_seen`` (epoch seconds, as the
        conversation stores it)."""
        window = self._push_windows.get(channel)
        if window is None:
            return PushMode.NEXT_CONTACT
        seen = datetime.fromtimestamp(float(last_seen), UTC) if isinstance(last_seen, int | float) else None
        return window.mode(seen, as_utc(now))
