"""The hourly cleaning job: rows past their ``expires_hour``, finished cases past retention, and
training records past theirs.

Journal rows that were never handled are kept even when old: they are a worker's message the bot
has not processed yet, and dropping one would lose it silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.context import Services
from storage import web_sessions
from storage.cleaning import delete_expired
from storage.database import Database
from storage.retention import RETENTION_ACTOR, purge_expired, reclaim_space

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class ExpiredRowCleaner:
    """Deletes rows whose ``expires_hour`` has passed, in one transaction per pass.

    Which tables and rows go is storage's rule (:func:`storage.cleaning.delete_expired`: handled
    journal tombstones only); this job supplies the hour and logs the counts.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def run_once(self) -> dict[str, int]:
        """One cleaning pass; returns how many rows went, by table (numbers only are logged)."""
        now_hour = int(self._clock().timestamp() // 3600)
        async with self._database.transaction() as session:
            deleted = await delete_expired(session, now_hour)
        if any(deleted.values()):
            log.info("cleaning removed expired rows: %s", deleted)
        return deleted


class Cleaner:
    """The hourly cleaning: expired rows, finished cases past the retention period (crypto-shredded,
    each purge audited as ``retention``, then the WAL checkpointed or the case tables vacuumed),
    training records past theirs (counted by the day, as they are kept), and desk sessions and
    sign-in throttles past their time."""

    def __init__(self, database: Database, services: Services) -> None:
        self._database = database
        self._services = services
        self._expired = ExpiredRowCleaner(database, services.clock)
        self._reclaim_owed = False  # a purge's rewrite was held back: the next passes try again until it is done

    async def run_once(self) -> dict[str, int]:
        counts = await self._expired.run_once()
        services = self._services
        settings = services.settings
        now = services.clock()
        today = now.astimezone(ZoneInfo(settings.time_zone)).date()
        async with self._database.transaction() as session:
            purged = await purge_expired(session, now, settings.retention_days, RETENTION_ACTOR)
            counts["training_records"] = await services.training.delete_before(
                session, today - timedelta(days=settings.training_retention_days)
            )
            counts["desk_sessions"] = await web_sessions.delete_expired(session, now)
        counts["cases"] = len(purged)
        if purged:
            log.info("retention purged %d finished cases", len(purged))
        if purged or self._reclaim_owed:
            self._reclaim_owed = not await reclaim_space(self._database)
        return counts
