"""APScheduler as a metronome: it ticks each job of ``bot.jobs.timed_jobs`` at its interval.

What is due is never APScheduler's business. Due work lives in our own tables (the outbox with
its ``due_at``, rows with an ``expires_hour``) and is judged against our injectable clock, so
tests move time without APScheduler, a restart loses nothing (a tick missed while the process
was down just finds more work due), and replicas share work by claiming rows (``SKIP LOCKED``)
instead of electing a scheduler leader. The jobs carry no arguments at all, so even a persistent
job store would hold nothing but their ids.

APScheduler's default ``misfire_grace_time`` of one second silently skips a run that starts
late (a busy event loop, a suspended VM); the grace is raised to an hour and runs that piled up
are coalesced into one. A job never runs twice at once: a tick that finds the previous run still
going returns at once (our own lock), instead of APScheduler refusing it with a warning every
second of a busy spell.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import Job

log = logging.getLogger(__name__)

MISFIRE_GRACE = timedelta(hours=1)
# Above one so APScheduler never refuses a tick (and logs it); our lock makes extra ticks no-ops.
TICKS_IN_FLIGHT = 3


class _Ticker:
    """One job's runs, one at a time; a failing run is logged and the next tick tries again."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.lock = asyncio.Lock()
        self.stopping = False

    async def tick(self) -> None:
        # A tick APScheduler handed to the loop just before ``stop`` may start after it: it must not
        # begin a pass then, or shutdown would cancel it between a send and its record.
        if self.stopping or self.lock.locked():
            return
        async with self.lock:
            try:
                await self.job.run_once()
            except Exception:
                log.exception("%s run failed; the next tick retries", self.job.name)


class DueWorkScheduler:
    """Owns the ``AsyncIOScheduler``; ``start`` inside the running loop, ``await stop()`` to end."""

    def __init__(self, jobs: Sequence[Job], *, misfire_grace: timedelta = MISFIRE_GRACE) -> None:
        self._tickers = [_Ticker(job) for job in jobs]
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        for ticker in self._tickers:
            job = ticker.job
            options: dict[str, Any] = {
                "trigger": "interval",
                "seconds": job.every.total_seconds(),
                "coalesce": True,
                "max_instances": TICKS_IN_FLIGHT,
                "misfire_grace_time": int(misfire_grace.total_seconds()),
                "replace_existing": True,
            }
            if job.first_after is not None:
                options["next_run_time"] = datetime.now(UTC) + min(job.first_after, job.every)
            self.scheduler.add_job(ticker.tick, id=job.name, **options)

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        """No new runs; let a running pass finish (a send is never cut between send and record)."""
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        for ticker in self._tickers:
            ticker.stopping = True
        for ticker in self._tickers:
            async with ticker.lock:
                pass
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # APScheduler shuts down on the loop's next turn


async def run_due_work(jobs: Sequence[Job], stop: asyncio.Event) -> None:
    """Background task for ``hapbot run``: tick the jobs until ``stop`` is set.
    Even when the task is cancelled during shutdown, the pass in flight finishes (shielded)."""
    scheduler = DueWorkScheduler(jobs)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        await asyncio.shield(scheduler.stop())
