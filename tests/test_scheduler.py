"""The scheduler only ticks: one APScheduler job per entry of the job list, raised misfire grace,
coalescing, one run at a time without APScheduler refusing ticks; and the hourly cleaning job
deletes exactly the rows whose expiry hour has passed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from bot.core import Core
from bot.jobs import Job, JobDeps, timed_jobs
from bot.jobs.cleaner import ExpiredRowCleaner
from bot.jobs.scheduler import DueWorkScheduler, run_due_work
from storage.models import (
    CaseLink,
    ChatTrace,
    Conversation,
    DraftFile,
    DraftPart,
    InboundUpdate,
    PendingNotice,
    SeenNonce,
    StatusThrottle,
)

from .conftest import Clock


class CountingPass:
    def __init__(self, hold: float = 0.0) -> None:
        self.runs = 0
        self.running = 0
        self.most_at_once = 0
        self.hold = hold

    async def run_once(self) -> int:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.hold)
            self.runs += 1
            return 0
        finally:
            self.running -= 1


def ticking(sender: CountingPass, every: timedelta = timedelta(seconds=0.01)) -> list[Job]:
    return [Job("sender", every=every, run_once=sender.run_once)]


async def test_the_job_list_becomes_apscheduler_jobs_with_raised_grace_and_coalescing(runtime: Core) -> None:
    jobs_listed = timed_jobs(JobDeps(runtime.database, runtime.services, {}, {}, {}))
    scheduler = DueWorkScheduler(jobs_listed)
    jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
    assert set(jobs) == {
        "delivery", "cleaning", "reminders", "reminder sends", "weekly digest", "case deadlines", "check-ins"
    }
    for job in jobs.values():
        assert job.coalesce is True
        assert job.misfire_grace_time >= 3600, "APScheduler's 1 s default silently skips late runs"
        assert job.args == () and job.kwargs == {}, "jobs carry no payloads"
        assert isinstance(job.trigger, IntervalTrigger)
    assert jobs["delivery"].trigger.interval == timedelta(seconds=1)
    assert jobs["cleaning"].trigger.interval == timedelta(hours=1)
    assert jobs["reminders"].trigger.interval == jobs["reminder sends"].trigger.interval == timedelta(seconds=1)
    assert jobs["weekly digest"].trigger.interval == timedelta(minutes=1)
    assert jobs["case deadlines"].trigger.interval == jobs["check-ins"].trigger.interval == timedelta(minutes=1)


async def test_a_busy_job_is_skipped_quietly_never_run_twice_at_once(caplog: pytest.LogCaptureFixture) -> None:
    slow = CountingPass(hold=0.1)
    scheduler = DueWorkScheduler(ticking(slow))
    scheduler.start()
    try:
        for _ in range(300):
            if slow.runs >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await scheduler.stop()
    assert slow.runs >= 2 and slow.most_at_once == 1
    assert not [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]


async def test_ticks_drive_the_sender_one_pass_at_a_time_and_stop_cleanly() -> None:
    sender = CountingPass(hold=0.03)
    scheduler = DueWorkScheduler(ticking(sender))
    scheduler.start()
    try:
        for _ in range(300):
            if sender.runs >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        await scheduler.stop()
    assert sender.runs >= 3 and sender.most_at_once == 1
    assert sender.running == 0, "stop lets a running pass finish"
    assert not scheduler.scheduler.running


async def test_a_tick_handed_to_the_loop_before_stop_starts_no_pass_after_it() -> None:
    """Under load APScheduler's tick task can start after ``stop`` checked that no pass was running;
    it must not begin one then (shutdown would cut it between a send and its record)."""
    sender = CountingPass(hold=0.03)
    scheduler = DueWorkScheduler(ticking(sender, every=timedelta(hours=1)))
    scheduler.start()
    tick = scheduler.scheduler.get_job("sender").func
    late_tick = asyncio.ensure_future(tick())  # queued, not yet run: stop() gets the loop first
    await scheduler.stop()
    await late_tick
    assert sender.runs == 0 and sender.most_at_once == 0


async def test_a_failing_pass_is_logged_and_the_next_tick_runs() -> None:
    class Failing(CountingPass):
        async def run_once(self) -> int:
            self.runs += 1
            raise RuntimeError("database away")

    sender = Failing()
    scheduler = DueWorkScheduler(ticking(sender))
    scheduler.start()
    try:
        for _ in range(300):
            if sender.runs >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await scheduler.stop()
    assert sender.runs >= 2


async def test_cleaning_deletes_only_expired_rows(runtime: Core, clock: Clock) -> None:
    hour = int(clock().timestamp() // 3600)
    crypto = runtime.services
    async with runtime.database.transaction() as session:
        for n, expires in enumerate((hour - 1, hour, hour + 5)):
            await crypto.conversations.save(session, f"conv{n}", {"n": n}, expires)
            await crypto.throttles.save(session, f"thr{n}", {"n": n}, expires)
            session.add(ChatTrace(user_key=f"trace{n}", state_ct=b"sealed", expires_hour=expires))
            session.add(DraftFile(mime="image/jpeg", data_ct=b"sealed", expires_hour=expires))
            session.add(PendingNotice(user_key=f"notice{n}", state_ct=b"sealed", expires_hour=expires))
            session.add(SeenNonce(nonce_key=f"nonce{n}", expires_hour=expires))
            session.add(CaseLink(user_key=f"link{n}", state_ct=b"sealed", expires_hour=expires))
            session.add(DraftPart(user_key=f"part{n}", state_ct=b"sealed", expires_hour=expires))
            for handled in (True, False):
                session.add(
                    InboundUpdate(
                        dedup_key=f"u{n}{handled}",
                        channel="telegram",
                        sequence=n,
                        payload_ct=b"sealed",
                        handled=handled,
                        expires_hour=expires,
                    )
                )
    deleted = await ExpiredRowCleaner(runtime.database, clock).run_once()
    assert deleted == {
        "conversations": 1,
        "draft_parts": 1,
        "status_throttles": 1,
        "draft_files": 1,
        "chat_traces": 1,
        "pending_notices": 1,
        "seen_nonces": 1,
        "case_links": 1,
        "inbound_updates": 1,
        "held_reminders": 0,
        "reminder_occasions": 0,
    }
    async with runtime.database.transaction(write=False) as session:
        expiring = (Conversation, DraftPart, StatusThrottle, ChatTrace, DraftFile, PendingNotice, SeenNonce, CaseLink)
        for model in expiring:
            assert (await session.execute(select(func.min(model.expires_hour)))).scalar_one() == hour
        kept = (await session.execute(select(InboundUpdate.dedup_key))).scalars()
        assert sorted(kept) == ["u0False", "u1False", "u1True", "u2False", "u2True"], (
            "an unhandled update is a worker's message: never cleaned away"
        )
    clock.advance(hours=6)
    deleted = await ExpiredRowCleaner(runtime.database, clock).run_once()
    assert deleted["conversations"] == 2 and deleted["inbound_updates"] == 2


async def test_run_due_work_runs_until_stop() -> None:
    sender, stop = CountingPass(), asyncio.Event()
    task = asyncio.create_task(run_due_work(ticking(sender), stop))
    for _ in range(300):
        if sender.runs >= 1:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert sender.runs >= 1 and sender.running == 0
