"""The delivery job: reporter notices are routed first (they become pushes or held notices), then
the outbox sender's pass fans out alerts and delivers what is due."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.jobs.reporter_notices import ReporterNotices
from bot.jobs.sender import OutboxSender
from storage.database import Database

log = logging.getLogger(__name__)


class DeliveryPass:
    def __init__(
        self, database: Database, notices: ReporterNotices, sender: OutboxSender, clock: Callable[[], datetime]
    ) -> None:
        self._database = database
        self._notices = notices
        self._sender = sender
        self._clock = clock

    async def run_once(self) -> int:
        """One pass; returns how many messages were sent."""
        try:
            async with self._database.transaction() as session:
                await self._notices.route_due(session, self._clock())
        except Exception as error:  # notices must never hold up HR alerts
            log.error("routing reporter notices failed: %s", type(error).__name__)
        return await self._sender.run_once()
