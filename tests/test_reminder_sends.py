"""What the reminder sender checks again when it sends a queued reminder, and the lease of a batch.

A queued reminder may wait long in the outbox (a 429, a retry, the rate limiter, a paused
occasion): a worker who turned reminders off meanwhile gets nothing, quiet hours and the
occasion's end still hold, and a slow platform cannot make a batch outlive its lease, which would
let another replica claim and send it again with no crash at all."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.sinks import RetryLater
from bot.channels.telegram.push import TelegramPushWindow
from bot.core import build_core
from bot.jobs.broadcast import ReminderSender
from storage.crypto import KeyRing
from storage.subscriptions import Subscription

from .conftest import Clock, create_pg_database, drop_pg_database
from .reminders_kit import ChatWorker, announce, counts, jobs_for, reminder_config


@dataclass
class FloodOnce:
    """Telegram: the first send answers 429 retry_after=30, every later one goes through."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    flooded: bool = False

    async def send(self, chat_id: str, text: str) -> None:
        if not self.flooded:
            self.flooded = True
            raise RetryLater(30)
        self.sent.append((chat_id, text))


async def test_a_worker_who_turned_reminders_off_while_one_waited_out_a_429_does_not_get_it(
    database_url: str, tmp_path: Path, keyring: KeyRing
) -> None:
    clock = Clock(datetime(2026, 3, 3, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai, outside quiet hours
    runtime = await build_core(reminder_config(database_url, tmp_path / "data"), keyring=keyring, clock=clock)
    try:
        sink = FloodOnce()
        jobs = jobs_for(runtime, {"telegram": sink})
        mei = ChatWorker(runtime, "8001")
        await mei.subscribe()
        occasion = await announce(runtime, "drill", clock(), clock() + timedelta(days=1))
        await jobs.tick()  # planned, queued, first send answered 429: due again in 30 s
        assert sink.sent == [] and sink.flooded
        await mei.send("退订")
        assert "reminders are off" in mei.text
        clock.advance(seconds=31)
        await jobs.tick()
        assert sink.sent == []
        assert (await counts(runtime, occasion)).get("unsubscribed") == 1
    finally:
        await runtime.close()


async def test_a_reminder_held_by_a_pause_is_not_sent_in_quiet_hours_nor_after_its_occasion(
    database_url: str, tmp_path: Path, keyring: KeyRing
) -> None:
    clock = Clock(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # 20:00 in Shanghai; quiet hours 22:00-07:00
    runtime = await build_core(reminder_config(database_url, tmp_path / "data"), keyring=keyring, clock=clock)
    try:
        jobs = jobs_for(runtime)
        await ChatWorker(runtime, "8101").subscribe()
        occasion = await announce(runtime, "drill", clock(), clock() + timedelta(hours=2))  # ends 22:00
        await jobs.job.run_once()  # 20:00, allowed: queued in the outbox
        async with runtime.database.transaction() as session:  # hapbot remind pause drill
            await runtime.services.reminders.book.pause(session, "drill")
        await jobs.sender.run_once()
        assert jobs.sinks["telegram"].sent == []
        clock.now = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)  # 23:30: quiet, and the occasion is over
        async with runtime.database.transaction() as session:  # hapbot remind resume drill
            await runtime.services.reminders.book.resume(session, "drill")
        await jobs.tick()
        assert jobs.sinks["telegram"].sent == []
        assert (await counts(runtime, occasion)).get("expired") == 1
    finally:
        await runtime.close()


async def test_a_reminder_queued_before_quiet_hours_waits_for_their_end(
    database_url: str, tmp_path: Path, keyring: KeyRing
) -> None:
    clock = Clock(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # 20:00 in Shanghai
    runtime = await build_core(reminder_config(database_url, tmp_path / "data"), keyring=keyring, clock=clock)
    try:
        jobs = jobs_for(runtime)
        await ChatWorker(runtime, "8201").subscribe()
        await announce(runtime, "drill", clock(), clock() + timedelta(days=2))
        await jobs.job.run_once()  # queued at 20:00
        clock.now = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 23:00 before it could be sent
        await jobs.sender.run_once()
        assert jobs.sinks["telegram"].sent == []
        clock.now = datetime(2026, 3, 3, 23, 1, tzinfo=UTC)  # 07:01 the next morning
        await jobs.sender.run_once()
        assert len(jobs.sinks["telegram"].sent) == 1
    finally:
        await runtime.close()


@dataclass
class SlowWeChat:
    """WeChat taking 2.5 s a customer-service call, four at once (the sender's concurrency): the
    test clock moves 0.625 s a call, so a batch of 200 would take 125 s. Once 121 s have passed
    since replica A claimed its batch (its lease is 120 s), replica B's sender runs one pass
    (``other``), as its own one-second tick would."""

    clock: Clock
    started: datetime
    sent: list[str] = field(default_factory=list)
    other: ReminderSender | None = None

    async def send(self, chat_id: str, text: str) -> None:
        self.clock.advance(seconds=2.5 / 4)
        self.sent.append(chat_id)
        await self.let_the_other_replica_run()

    async def let_the_other_replica_run(self) -> None:
        if self.other is not None and self.clock() - self.started > timedelta(seconds=121):
            other, self.other = self.other, None
            await other.send_batch()


@pytest.mark.postgres
async def test_a_slow_batch_never_outlives_its_lease_so_a_second_replica_sends_nothing_twice(
    tmp_path: Path, keyring: KeyRing
) -> None:
    url = await create_pg_database()
    clock = Clock(datetime(2026, 3, 3, 2, 0, tzinfo=UTC))  # 10:00 Shanghai
    try:
        first = await build_core(reminder_config(url, tmp_path / "a" / "data"), keyring=keyring, clock=clock)
        (tmp_path / "b" / "data" / "keys").mkdir(parents=True, mode=0o700)
        shutil.copy2(tmp_path / "a" / "data" / "keys" / "audit.key", tmp_path / "b" / "data" / "keys" / "audit.key")
        second = await build_core(reminder_config(url, tmp_path / "b" / "data"), keyring=keyring, clock=clock)
        hour = int(clock().timestamp() // 3600)
        async with first.database.transaction() as session:
            await first.services.reminders.subscriptions.save_many(
                session, [Subscription(f"wechat:openid{n}", "main", "zh", hour) for n in range(200)]
            )
        occasion = await announce(first, "drill", clock(), clock() + timedelta(days=1))
        replica_a_job = jobs_for(first).job
        replica_a_job._windows["wechat"] = TelegramPushWindow()  # as if every worker wrote lately: push now
        await replica_a_job.run_once()
        sink = SlowWeChat(clock, clock())
        replica_a, replica_b = jobs_for(first, {"wechat": sink}), jobs_for(second, {"wechat": sink})
        sink.other = replica_b.sender
        await replica_a.sender.send_batch()  # batch 200, lease 120 s, 4 at a time
        assert clock() - sink.started < timedelta(seconds=120), "the batch was recorded within its lease"
        clock.advance(seconds=10)
        await sink.let_the_other_replica_run()  # B's tick, once A's lease would have run out
        repeated = {chat for chat in sink.sent if sink.sent.count(chat) > 1}
        assert not repeated, f"{len(repeated)} workers got it twice with no crash; {await counts(first, occasion)}"
        while (await replica_a.sender.send_batch())[1]:  # whatever was handed back goes out next
            pass
        assert sorted(sink.sent) == sorted(f"openid{n}" for n in range(200)), "everyone once"
        await first.close()
        await second.close()
    finally:
        await drop_pg_database(url)
