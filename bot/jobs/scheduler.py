"""APScheduler as a metronome: it ticks the outbox sender every second and the cleaning job hourly.

What is due is never APScheduler's business. Due work lives in our own tables (the outbox with
its ``due_at``, rows with an ``expires_hour``) and is judged against our injectable clock, so
tests move time without APScheduler, a restart loses nothing (a tick missed while the process
was down just finds more work due), and replicas share work by claiming rows (``SKIP LOCKED``)
instead of electing a scheduler leader. The jobs carry no arguments at all, so even a persistent
job store would hold nothing but their ids.

APScheduler's default ``misfire_grace_time`` of one second silently skips a run that starts
late (a busy event loop, a suspended VM); the grace is raised to an hour, runs that piled up are
coalesced into one, and a job never runs twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete

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

SENDER_JOB_ID = "outbox-sender"
CLEANING_JOB_ID = "cleaning"
MISFIRE_GRACE = timedelta(hours=1)
FIRST_CLEANING_AFTER = timedelta(minutes=1)

Clock = Callable[[], datetime]


class PassRunner(Protocol):
    """Anything with an async ``run_once`` (the outbox sender, the cleaner)."""

    async def run_once(self) -> Any: ...


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


class DueWorkScheduler:
    """Owns the ``AsyncIOScheduler``; ``start`` inside the running loop, ``await stop()`` to end."""

    def __init__(
        self,
        sender: PassRunner,
        cleaner: PassRunner,
        *,
        tick: timedelta = timedelta(seconds=1),
        cleaning_every: timedelta = timedelta(hours=1),
        misfire_grace: timedelta = MISFIRE_GRACE,
    ) -> None:
        self._sender = sender
        self._cleaner = cleaner
        self._sending = asyncio.Lock()
        self._cleaning = asyncio.Lock()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        common: dict[str, Any] = {
            "trigger": "interval",
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(misfire_grace.total_seconds()),
            "replace_existing": True,
        }
        self.scheduler.add_job(self._send, id=SENDER_JOB_ID, seconds=tick.total_seconds(), **common)
        self.scheduler.add_job(
            self._clean,
            id=CLEANING_JOB_ID,
            seconds=cleaning_every.total_seconds(),
            next_run_time=datetime.now(UTC) + min(FIRST_CLEANING_AFTER, cleaning_every),
            **common,
        )

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        """No new runs; let a running pass finish (a send is never cut between send and record)."""
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        async with self._sending, self._cleaning:
            self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # APScheduler shuts down on the loop's next turn

    async def _send(self) -> None:
        await self._run(self._sender, self._sending, "outbox")

    async def _clean(self) -> None:
        await self._run(self._cleaner, self._cleaning, "cleaning")

    @staticmethod
    async def _run(runner: PassRunner, lock: asyncio.Lock, name: str) -> None:
        async with lock:
            try:
                await runner.run_once()
            except Exception:
                log.exception("%s pass failed; the next tick retries", name)


async def run_due_work(
    sender: PassRunner, cleaner: PassRunner, stop: asyncio.Event, *, tick: timedelta = timedelta(seconds=1)
) -> None:
    """Background task for ``hapbot run``: tick the sender and the cleaner until ``stop`` is set.
    Even when the task is cancelled during shutdown, the pass in flight finishes (shielded)."""
    scheduler = DueWorkScheduler(sender, cleaner, tick=tick)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        await asyncio.shield(scheduler.stop())
