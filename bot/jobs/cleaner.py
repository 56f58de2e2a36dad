"""The hourly cleaning job: rows past their ``expires_hour``, and finished cases past retention.

Journal rows that were never handled are kept even when old: they are a worker's message the bot
has not processed yet, and dropping one would lose it silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete

from handlers.context import Services
from storage.database import Database
from storage.models import (
    CaseLink,
    ChatTrace,
    Conversation,
    DraftFile,
    InboundUpdate,
    PendingNotice,
    SeenNonce,
    StatusThrottle,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class ExpiredRowCleaner:
    """Deletes rows whose ``expires_hour`` has passed: abandoned conversations and drafts, status
    throttles, draft evidence files, /hide traces, WeChat notices held past their time and replay
    nonces past the freshness window, and handled update-journal tombstones.

    Journal rows that were never handled are kept even when old: they are a worker's message the
    bot has not processed yet, and dropping one would lose it silently.
    """

    EXPIRING_TABLES = (Conversation, StatusThrottle, DraftFile, ChatTrace, PendingNotice, SeenNonce, CaseLink)

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def run_once(self) -> dict[str, int]:
        """One cleaning pass; returns how many rows went, by table (numbers only are logged)."""
        now_hour = int(self._clock().timestamp() // 3600)
        deleted: dict[str, int] = {}
        async with self._database.transaction() as session:
            for model in self.EXPIRING_TABLES:
                result = await session.execute(delete(model).where(model.expires_hour < now_hour))
                deleted[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
            result = await session.execute(
                delete(InboundUpdate).where(InboundUpdate.handled.is_(True), InboundUpdate.expires_hour < now_hour)
            )
            deleted[InboundUpdate.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
        if any(deleted.values()):
            log.info("cleaning removed expired rows: %s", deleted)
        return deleted



class Cleaner:
    """The hourly cleaning: expired rows, and finished cases past the retention period."""

    def __init__(self, database: Database, services: Services) -> None:
        self._database = database
        self._services = services
        self._expired = ExpiredRowCleaner(database, services.clock)

    async def run_once(self) -> dict[str, int]:
        counts = await self._expired.run_once()
        services = self._services
        cutoff = services.clock() - timedelta(days=services.settings.retention_days)
        async with self._database.transaction() as session:
            counts["cases"] = await services.cases.delete_finished_before(session, cutoff)
        return counts
