"""Reminders with a clock the tests move: schedules fire on their days in the site's time zone,
opted-out workers get nothing, quiet hours move a reminder, onboarding goes in order and stops on
opt-out, a reminder due while the bot was down goes out within the grace and never after its
occasion, and a pause is a row that stops sends at the next pass. Both databases."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.core import Core, build_core
from handlers.events import Channel, Incoming
from storage.crypto import KeyRing
from storage.subscriptions import Subscription

from .conftest import Clock
from .reminders_kit import ChatWorker, announce, counts, jobs_for, reminder_config

TRAINING = {"rule": "first wednesday of march, september", "at": "14:00", "remind_days_before": 2, "send_at": "09:00"}


async def core_with(database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, **reminders: object) -> Core:
    return await build_core(reminder_config(database_url, tmp_path / "data", **reminders), keyring=keyring, clock=clock)


@pytest.fixture
async def shanghai(database_url: str, tmp_path: Path, keyring: KeyRing) -> AsyncIterator[tuple[Core, Clock]]:
    """A site in Asia/Shanghai with the training twice a year and the quiz monthly; 1 March 2026."""
    clock = Clock(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    core = await core_with(
        database_url, tmp_path, keyring, clock, training=TRAINING, quiz={"rule": "first monday of every month"}
    )
    try:
        yield core, clock
    finally:
        await core.close()


async def test_each_schedule_fires_on_its_days_in_the_site_time_zone(shanghai: tuple[Core, Clock]) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    mei = ChatWorker(runtime, "1001")
    await mei.subscribe()
    telegram = jobs.sinks["telegram"]

    # The first Wednesday of March 2026 is the 4th; two days before at 09:00 Shanghai is 01:00 UTC
    # on the 2nd. The first Monday of March is the 2nd too: its quiz at 10:00 Shanghai, 02:00 UTC.
    clock.now = datetime(2026, 3, 2, 0, 59, tzinfo=UTC)
    await jobs.tick()
    assert telegram.texts("1001") == []
    clock.now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    await jobs.tick()
    assert telegram.texts("1001") == [
        "Training reminder: refresher training on 4 March at 14:00, canteen 2F.\n"
        "Send 退订 (stop) to turn reminders off."
    ]
    clock.now = datetime(2026, 3, 2, 1, 59, tzinfo=UTC)
    await jobs.tick()
    assert len(telegram.texts("1001")) == 1
    clock.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    await jobs.tick()
    quiz = telegram.texts("1001")[-1]
    assert quiz.startswith("Training reminder: this month's refresher quiz") and "Send 测验 (quiz)" in quiz

    # April's quiz: the first Monday is the 6th. September's training: Wednesday the 2nd.
    for moment, expected in [
        (datetime(2026, 4, 6, 1, 59, tzinfo=UTC), 2),
        (datetime(2026, 4, 6, 2, 0, tzinfo=UTC), 3),
        (datetime(2026, 8, 31, 0, 59, tzinfo=UTC), 3),
        (datetime(2026, 8, 31, 1, 0, tzinfo=UTC), 4),
    ]:
        clock.now = moment
        await jobs.tick()
        assert len(telegram.texts("1001")) == expected, moment
    assert "on 2 September at 14:00" in telegram.texts("1001")[-1]
    for _ in range(3):
        await jobs.tick()
    assert len(telegram.texts("1001")) == 4, "each occasion once"


async def test_a_rule_reads_the_days_of_the_site_not_of_utc(
    database_url: str, tmp_path: Path, keyring: KeyRing
) -> None:
    """A site far east of UTC: 07:30 on Monday the 2nd is still Sunday in UTC."""
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    quiz = {"rule": "first monday of every month", "send_at": "07:30"}
    runtime = await core_with(database_url, tmp_path, keyring, clock, time_zone="Pacific/Auckland", quiz=quiz)
    try:
        jobs = jobs_for(runtime)
        mei = ChatWorker(runtime, "1002")
        await mei.subscribe()
        clock.now = datetime(2026, 3, 1, 18, 29, tzinfo=UTC)  # 07:29 on Monday 2 March in Auckland (UTC+13)
        await jobs.tick()
        assert jobs.sinks["telegram"].texts("1002") == []
        clock.now = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
        await jobs.tick()
        assert len(jobs.sinks["telegram"].texts("1002")) == 1
    finally:
        await runtime.close()


async def test_an_opted_out_worker_gets_nothing(shanghai: tuple[Core, Clock]) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    stays, leaves_early, leaves_late = (ChatWorker(runtime, chat) for chat in ("2001", "2002", "2003"))
    for worker in (stays, leaves_early, leaves_late):
        await worker.subscribe()
    await leaves_early.send("退订")
    assert "reminders are off" in leaves_early.text
    occasion = await announce(runtime, "drill", clock(), clock() + timedelta(days=1))
    await jobs.job.plan_due(clock())  # planned with two subscribers
    await leaves_late.send("/remind off")
    await jobs.tick()
    telegram = jobs.sinks["telegram"]
    assert len(telegram.texts("2001")) == 1
    assert telegram.texts("2002") == [] and telegram.texts("2003") == []
    found = await counts(runtime, occasion)
    assert found["planned"] == 2 and found["sent"] == 1 and found["unsubscribed"] == 1
    await leaves_late.send("stop")
    assert "You get no training reminders" in leaves_late.text


async def test_stop_in_the_middle_of_a_report_turns_reminders_off_and_asks_again(shanghai: tuple[Core, Clock]) -> None:
    runtime, _ = shanghai
    mei = ChatWorker(runtime, "2101")
    await mei.subscribe()
    await mei.send(choice="report")
    notice = mei.text
    await mei.send("stop")
    assert "reminders are off" in mei.text and notice.splitlines()[0] in mei.text, "the report's question again"
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.reminders.subscriptions.get(session, mei.contact) is None


async def test_quiet_hours_move_a_reminder_to_the_next_allowed_time(shanghai: tuple[Core, Clock]) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    sleeper, night_shift = ChatWorker(runtime, "3001"), ChatWorker(runtime, "3002")
    for worker in (sleeper, night_shift):
        await worker.subscribe()
    await night_shift.send(choice="remind")
    await night_shift.send(choice="remind_quiet")
    await night_shift.send(choice="quiet_off")
    assert "Quiet hours: none" in night_shift.text
    late = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    clock.now = late
    await announce(runtime, "drill", late, late + timedelta(days=2))
    await jobs.tick()
    telegram = jobs.sinks["telegram"]
    assert len(telegram.texts("3002")) == 1 and telegram.texts("3001") == []
    clock.now = datetime(2026, 3, 3, 22, 59, tzinfo=UTC)  # 06:59
    await jobs.tick()
    assert telegram.texts("3001") == []
    clock.now = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)  # 07:00, the quiet hours' end
    await jobs.tick()
    assert len(telegram.texts("3001")) == 1


async def test_onboarding_steps_come_in_order_and_stop_on_opt_out(shanghai: tuple[Core, Clock]) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    clock.now = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, day 0
    stays, leaves = ChatWorker(runtime, "4001"), ChatWorker(runtime, "4002")
    for worker in (stays, leaves):
        await worker.subscribe()
        assert "Welcome. The policy in short" in worker.text, "day 0: the welcome with the policy summary"
    for day in range(1, 32):
        clock.now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC) + timedelta(days=day)  # 10:00 Shanghai
        await jobs.tick()
        if day == 4:
            await leaves.send("提醒 关")
    onboarding = [(chat, text) for chat, text in jobs.sinks["telegram"].sent if "monthly" not in text]
    onboarding = [(chat, text) for chat, text in onboarding if "this month's refresher quiz" not in text]
    day3, day30 = [text for chat, text in onboarding if chat == "4001"]
    assert "a short quiz for new colleagues" in day3 and "Send 测验 (quiz) to start." in day3
    assert "one month in" in day30 and "Ms Li" in day30
    assert [text for chat, text in onboarding if chat == "4002"] == [day3], "nothing after opting out"


async def test_a_reminder_due_while_down_goes_within_the_grace_and_never_after_its_occasion(
    shanghai: tuple[Core, Clock],
) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    mei = ChatWorker(runtime, "5001")
    await mei.subscribe()
    start = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    within = await announce(runtime, "within", start, start + timedelta(days=2))
    too_late = await announce(runtime, "too-late", start - timedelta(hours=7), start + timedelta(days=2))
    over = await announce(runtime, "over", start - timedelta(hours=3), start - timedelta(minutes=1))
    clock.now = start + timedelta(hours=5)  # the bot was down for five hours; the grace is six
    await jobs.tick()
    assert len([text for text in jobs.sinks["telegram"].texts("5001") if "Fire drill" in text]) == 1
    assert (await counts(runtime, within))["sent"] == 1
    assert (await counts(runtime, too_late))["missed"] == 1 and (await counts(runtime, over))["missed"] == 1


async def test_a_pause_is_a_row_that_stops_sends_at_the_next_pass(shanghai: tuple[Core, Clock]) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    for chat in ("6001", "6002"):
        await ChatWorker(runtime, chat).subscribe()
    occasion = await announce(runtime, "drill", clock(), clock() + timedelta(days=1))
    await jobs.job.run_once()  # planned and queued in the outbox
    async with runtime.database.transaction() as session:  # another process: hapbot remind pause drill
        await runtime.services.reminders.book.pause(session, "drill")
    await jobs.sender.run_once()
    assert jobs.sinks["telegram"].sent == []
    async with runtime.database.transaction() as session:
        await runtime.services.reminders.book.resume(session, "drill")
    clock.advance(seconds=31)
    await jobs.tick()
    assert sorted(chat for chat, _ in jobs.sinks["telegram"].sent) == ["6001", "6002"]
    assert (await counts(runtime, occasion))["sent"] == 2


async def test_a_blocked_worker_is_dropped_once_counted_and_unsubscribed(shanghai: tuple[Core, Clock]) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    jobs.sinks["telegram"].blocked.add("7002")
    for chat in ("7001", "7002"):
        await ChatWorker(runtime, chat).subscribe()
    occasion = await announce(runtime, "drill", clock(), clock() + timedelta(days=1))
    for _ in range(3):
        await jobs.tick()
    assert (await counts(runtime, occasion)) == {"planned": 2, "queued": 2, "sent": 1, "blocked": 1}
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.reminders.subscriptions.count(session) == 1


async def test_the_console_holds_one_reminder_for_the_next_message_until_its_occasion_passes(
    shanghai: tuple[Core, Clock],
) -> None:
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    mei = ChatWorker(runtime, "mei", Channel.CONSOLE)
    await mei.subscribe()
    await announce(runtime, "first", clock(), clock() + timedelta(days=3), text="Old news")
    await jobs.tick()
    await announce(runtime, "second", clock(), clock() + timedelta(days=1), text="Training moved to Friday")
    await jobs.tick()
    first = await mei.send("hello")
    assert first.startswith("Training reminder: Training moved to Friday") and "Old news" not in first
    assert "Training reminder" not in await mei.send("hello"), "shown once"
    await announce(runtime, "third", clock(), clock() + timedelta(hours=1), text="Gone soon")
    await jobs.tick()
    clock.advance(hours=2)
    assert "Gone soon" not in await mei.send("hello"), "not after its occasion"


async def test_a_batch_looks_up_held_reminders_once_and_shows_each_to_its_worker(
    shanghai: tuple[Core, Clock],
) -> None:
    """Group commit: one statement finds who in a batch has a reminder held, not one per message."""
    runtime, clock = shanghai
    jobs = jobs_for(runtime)
    workers = [ChatWorker(runtime, name, Channel.CONSOLE) for name in ("mei", "lan", "hua", "fang")]
    await workers[0].subscribe()
    await workers[2].subscribe()
    for worker in (workers[1], workers[3]):
        await worker.send("hello")
    await announce(runtime, "drill", clock(), clock() + timedelta(days=1), text="Fire drill on Friday")
    await jobs.tick()
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        batch = [
            Incoming(channel=Channel.CONSOLE, user_key=w.user_key, chat=w.chat, received_at=clock(), text="hello",
                     language_hint="en")
            for w in workers
        ]
        outcomes = await runtime.dispatcher.handle_many(batch)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    shown = ["Fire drill on Friday" in "\n".join(r.text for r in outcome.replies) for outcome in outcomes]
    assert shown == [True, False, True, False]
    lookups = [s for s in statements if "held_reminders" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(lookups) == 1 + 2, "one lookup for the batch, then one read for each of the two held reminders"


async def test_subscriptions_stream_in_chunks(shanghai: tuple[Core, Clock]) -> None:
    runtime, _ = shanghai
    store = runtime.services.reminders.subscriptions
    async with runtime.database.transaction() as session:
        await store.save_many(session, [Subscription(f"telegram:{n}", "main", "zh", 0) for n in range(25)])
    async with runtime.database.transaction(write=False) as session:
        found = [s.contact async for s in store.stream(session, chunk=7)]
    assert sorted(found) == sorted(f"telegram:{n}" for n in range(25))


@pytest.mark.postgres
async def test_two_replicas_settle_disjoint_rows_and_plan_once(
    tmp_path: Path, keyring: KeyRing
) -> None:
    """On PostgreSQL two processes claim due rows with SKIP LOCKED: each worker gets one push."""
    from .conftest import create_pg_database, drop_pg_database

    url = await create_pg_database()
    clock = Clock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    try:
        first = await core_with(url, tmp_path / "a", keyring, clock)
        (tmp_path / "b" / "data" / "keys").mkdir(parents=True, mode=0o700)  # replicas share the audit key
        shutil.copy2(tmp_path / "a" / "data" / "keys" / "audit.key", tmp_path / "b" / "data" / "keys" / "audit.key")
        second = await core_with(url, tmp_path / "b", keyring, clock)
        store = first.services.reminders.subscriptions
        async with first.database.transaction() as session:
            await store.save_many(session, [Subscription(f"telegram:{n}", "main", "zh", 0) for n in range(60)])
        occasion = await announce(first, "drill", clock(), clock() + timedelta(days=1))
        jobs = [jobs_for(first, batch_size=7), jobs_for(second, batch_size=7)]
        await asyncio.gather(*(job.job.plan_due(clock()) for job in jobs))
        rounds = []
        while sum(done := await asyncio.gather(*(job.job.settle_due(clock()) for job in jobs))):
            rounds.append(done)
        assert all(a and b for a, b in rounds[:3]), f"both replicas settled rows at once: {rounds}"
        async with first.database.transaction(write=False) as session:
            pushes = [item.message for item in await first.services.outbox.pending(session)]
        assert sorted(push.chat for push in pushes) == sorted(f"telegram:{n}" for n in range(60))  # type: ignore[attr-defined]
        found = await counts(first, occasion)
        assert found == {"planned": 60, "queued": 60}
        await first.close()
        await second.close()
    finally:
        await drop_pg_database(url)
