"""Neutral notices to reporters ("you have a new message about your report"), routed per platform.

Telegram may push at any time. WeChat allows customer-service messages only within 48 hours of
the worker's last message, so outside that window (and on the console, which cannot push) the
notice waits for the worker's next message, where the core shows it first; the content itself is
only ever shown after the worker enters the receipt.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Services
from handlers.dispatcher import PUSH_NOTICE
from handlers.events import Channel
from storage.crypto import Purpose
from storage.messages import Delivery, ReporterNotice

log = logging.getLogger(__name__)

WECHAT_WINDOW = timedelta(hours=48)
WINDOW_MARGIN = timedelta(minutes=10)


class ReporterNotices:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def route_due(self, session: AsyncSession, now: datetime, limit: int = 100) -> int:
        """Turns due reporter notices into pushes or held notices; returns how many were routed."""
        outbox = self._services.outbox
        items = await outbox.lock_due(session, now, (ReporterNotice,), limit)
        for item in items:
            try:
                async with session.begin_nested():
                    await self._route(session, item.message.contact, now)
            except Exception as error:  # one bad row must not hold up every other push
                log.error("reporter notice dropped: %s", type(error).__name__)
            await outbox.complete(session, item.id)
        return len(items)

    async def _route(self, session: AsyncSession, contact: str, now: datetime) -> None:
        services = self._services
        channel, _, chat = contact.partition(":")
        user_key = services.crypto.pseudonym(Purpose.CONVERSATION, contact)
        conversation = await services.conversations.load(session, user_key) or {}
        language = conversation.get("language")
        text = services.translators["en" if language == "en" else "zh"](PUSH_NOTICE)
        if channel == Channel.TELEGRAM.value:
            await services.outbox.enqueue(session, Delivery(contact, text), now)
            return
        last_seen = conversation.get("last_seen")
        in_window = last_seen is not None and now.timestamp() - float(last_seen) < (
            WECHAT_WINDOW - WINDOW_MARGIN
        ).total_seconds()
        if channel == Channel.WECHAT.value and in_window and chat:
            await services.outbox.enqueue(session, Delivery(contact, text), now)
            return
        if services.notices is not None:
            # A month-sized bucket, not an offset from now: the plaintext expiry must not give
            # away when HR replied (the audit log has that time next to the case reference).
            bucket = 30 * 24
            expires = (int(now.timestamp() // 3600) // bucket + 4) * bucket
            await services.notices.save(session, user_key, {"notice": True}, expires)
