"""The outbox sender with scripted sinks: crash semantics (at-least-once, counted in doubt),
two replicas never sending one row twice, backoff, missing sinks, and the run loop."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import pytest

from bot.channels.sinks import TransientFailure
from bot.core import Core
from bot.jobs.sender import OutboxSender, backoff_delay
from storage.database import Database
from storage.messages import Delivery

from .conftest import Clock


class RecordingSink:
    """Remembers every send; optionally fails or blocks on the next sends."""

    def __init__(self, delay: float = 0.0) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: list[BaseException] = []
        self.delay = delay
        self.block: asyncio.Event | None = None
        self.sending = asyncio.Event()

    async def send(self, chat_id: str, text: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append((chat_id, text))
        self.sending.set()
        if self.block is not None:
            await self.block.wait()


def make_sender(
    runtime: Core, sink: RecordingSink, database: Database | None = None, **kwargs: object
) -> OutboxSender:
    return OutboxSender(
        database or runtime.database,
        runtime.services.outbox,
        {"telegram": sink},
        runtime.services.clock,
        rng=random.Random(3),
        **kwargs,  # type: ignore[arg-type]
    )


async def deliver_rows(runtime: Core, clock: Clock, chats: list[str]) -> None:
    async with runtime.database.transaction() as session:
        for n, chat in enumerate(chats):
            await runtime.services.outbox.enqueue(session, Delivery(chat, f"m{n}"), clock())


async def counts(runtime: Core) -> dict[str, int]:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.counts(session)


async def remaining(runtime: Core) -> int:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.count(session)


async def test_crash_after_send_resends_once_in_doubt_and_never_after_completion(
    runtime: Core, clock: Clock
) -> None:
    await deliver_rows(runtime, clock, ["telegram:-4001"])
    crashing = RecordingSink()
    crashing.block = asyncio.Event()  # sent, then "killed" before the row is completed
    task = asyncio.create_task(make_sender(runtime, crashing).run_once())
    await asyncio.wait_for(crashing.sending.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    restarted = RecordingSink()
    sender = make_sender(runtime, restarted)
    assert await sender.run_once() == 0, "the dead sender's lease still holds"
    clock.advance(minutes=5, seconds=1)
    assert await sender.run_once() == 1
    assert crashing.sent == restarted.sent == [("-4001", "m0")], "at least once: repeated, never lost"
    assert await counts(runtime) == {"in_doubt": 1}
    for _ in range(3):
        clock.advance(minutes=10)
        assert await sender.run_once() == 0
    assert len(restarted.sent) == 1 and await remaining(runtime) == 0


async def test_two_senders_on_separate_connections_deliver_each_row_exactly_once(
    runtime: Core, clock: Clock
) -> None:
    chats = [f"telegram:{7000 + n}" for n in range(50)]
    await deliver_rows(runtime, clock, chats)
    other_db = Database(runtime.config.storage_url)
    sinks = [RecordingSink(delay=0.002), RecordingSink(delay=0.002)]
    senders = [make_sender(runtime, sinks[0], batch_size=10), make_sender(runtime, sinks[1], other_db, batch_size=10)]
    try:
        for _ in range(40):
            await asyncio.gather(*(sender.run_once() for sender in senders))
            if await remaining(runtime) == 0:
                break
            clock.advance(seconds=1)
    finally:
        await other_db.dispose()
    delivered = Counter(text for sink in sinks for _chat, text in sink.sent)
    assert sorted(delivered) == sorted(f"m{n}" for n in range(50))
    assert set(delivered.values()) == {1}, "no row is sent by both replicas"
    assert all(sink.sent for sink in sinks), "both replicas took part"
    assert "in_doubt" not in await counts(runtime)


async def test_transient_failures_back_off_and_never_give_up(runtime: Core, clock: Clock) -> None:
    await deliver_rows(runtime, clock, ["telegram:5001"])
    sink = RecordingSink()
    sink.failures = [TransientFailure("TimedOut")] * 6 + [RuntimeError("unexpected")]
    sender = make_sender(runtime, sink)
    due_times = []
    for _ in range(7):
        assert await sender.run_once() == 0
        async with runtime.database.transaction(write=False) as session:
            (row,) = await runtime.services.outbox.pending(session)
        due_times.append(row.due_at.replace(tzinfo=None) - clock().replace(tzinfo=None))
        clock.now = clock.now + due_times[-1]
    assert due_times == sorted(due_times), "each wait at least as long as the last"
    assert due_times[0] >= timedelta(seconds=1) and due_times[-1] <= timedelta(minutes=5)
    assert await sender.run_once() == 1
    assert (await counts(runtime))["network_error"] == 7


def test_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(11)
    for attempts in range(1, 40):
        step = min(300.0, 2.0 * 2 ** (attempts - 1))
        delay = backoff_delay(attempts, rng).total_seconds()
        assert step / 2 <= delay <= step <= 300.0
    assert len({backoff_delay(8, rng) for _ in range(20)}) > 1, "jitter spreads retries"


async def test_rows_for_a_platform_without_sink_wait_and_are_counted_once(runtime: Core, clock: Clock) -> None:
    await deliver_rows(runtime, clock, ["wecom:hr-robot", "telegram:5001"])
    sink = RecordingSink()
    sender = make_sender(runtime, sink)
    assert await sender.run_once() == 1
    for _ in range(3):
        clock.advance(hours=1, seconds=1)
        await sender.run_once()
    assert await remaining(runtime) == 1 and await counts(runtime) == {"no_sink": 1}


async def test_run_forever_drains_and_stops(runtime: Core, clock: Clock) -> None:
    await deliver_rows(runtime, clock, ["telegram:5001", "telegram:5002"])
    sink = RecordingSink()
    stop = asyncio.Event()
    loop = asyncio.create_task(make_sender(runtime, sink).run_forever(stop, idle=0.01))
    for _ in range(200):
        if len(sink.sent) == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, 2)
    assert sorted(sink.sent) == [("5001", "m0"), ("5002", "m1")]
