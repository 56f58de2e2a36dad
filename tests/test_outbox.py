"""The outbox on SQLite and PostgreSQL: every message kind round-trips; the claim protocol (due
order, leases, in-doubt re-claims, complete / reschedule / drop with counted reasons, SKIP LOCKED
between concurrent claimers); rows this process cannot read are set aside, never deleted, and
sent by a process that can."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.core import Core, build_core
from bot.jobs.sender import OutboxSender
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing
from storage.database import Database
from storage.messages import MESSAGE_TYPES, CaseAlert, Delivery, Message, ReporterNotice
from storage.models import OutboxItem
from storage.outbox import SET_ASIDE_RECHECK, Outbox

from .conftest import Clock
from .outbox_rows import corrupt, insert_raw
from .test_delivery_sender import RecordingSink
from .test_messages import EXAMPLES, SECRET

LEASE = timedelta(seconds=60)


def delivery(n: int) -> Message:
    return Delivery(f"telegram:{n}", f"m{n}")


def alert(n: int) -> Message:
    return CaseAlert("north", f"HAP-{n}", "verbal", "normal", "hr")


async def enqueue(
    runtime: Core, clock: Clock, count: int, *, make: Callable[[int], Message] = delivery, delay: float = 0
) -> list[str]:
    outbox = runtime.services.outbox
    async with runtime.database.transaction() as session:
        return [
            await outbox.enqueue(session, make(n), clock() + timedelta(seconds=delay + n)) for n in range(count)
        ]


async def claim(
    runtime: Core, clock: Clock, limit: int = 10, kinds: tuple[type[Message], ...] = MESSAGE_TYPES
) -> list[str]:
    async with runtime.database.transaction() as session:
        items = await runtime.services.outbox.claim_due(session, clock(), limit, LEASE, kinds=kinds)
    return [item.id for item in items]


async def set_aside(runtime: Core) -> dict[str, str]:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.set_aside_rows(session)


async def rows(runtime: Core) -> int:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.count(session)


async def counts(runtime: Core) -> dict[str, int]:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.counts(session)


async def test_every_kind_round_trips_sealed(runtime: Core, clock: Clock) -> None:
    outbox = runtime.services.outbox
    async with runtime.database.transaction() as session:
        for example in EXAMPLES:
            await outbox.enqueue(session, example, clock())
    async with runtime.database.transaction(write=False) as session:
        assert {item.message for item in await outbox.pending(session)} == set(EXAMPLES)
        for example in EXAMPLES:
            assert [item.message for item in await outbox.pending(session, type(example))] == [example]
        sealed = b"".join((await session.execute(select(OutboxItem.payload_ct))).scalars())
    assert SECRET.encode() not in sealed and b"HAP-7K3M9Q" not in sealed, "payloads are sealed"
    async with runtime.database.transaction() as session:
        locked = await outbox.lock_due(session, clock(), (CaseAlert, ReporterNotice), 10)
        assert {item.message for item in locked} == set(EXAMPLES[:2])
    for example in EXAMPLES:
        async with runtime.database.transaction() as session:
            (item,) = await outbox.claim_due(session, clock(), 10, LEASE, kinds=(type(example),))
        assert item.message == example and item.kind == example.kind
        assert SECRET not in repr(item) and "HAP-7K3M9Q" not in repr(item)


async def test_payload_written_before_versions_reads_as_version_one(runtime: Core, clock: Clock) -> None:
    legacy = await insert_raw(runtime, "deliver", {"chat": "telegram:5001", "text": "old"}, clock())
    async with runtime.database.transaction() as session:
        (item,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE, kinds=(Delivery,))
    assert item.id == legacy and item.message == Delivery("telegram:5001", "old")


async def test_claims_only_due_rows_oldest_first_and_opens_payloads(runtime: Core, clock: Clock) -> None:
    ids = await enqueue(runtime, clock, 3)
    later = await enqueue(runtime, clock, 1, delay=3600)
    clock.advance(seconds=2)
    async with runtime.database.transaction() as session:
        items = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE, kinds=(Delivery,))
    assert [item.id for item in items] == ids
    assert [item.message.text for item in items] == ["m0", "m1", "m2"]
    assert all(item.attempts == 1 and not item.in_doubt for item in items)
    assert "m0" not in repr(items[0]), "a claimed item's repr must not show its payload"
    assert later[0] not in [item.id for item in items]
    assert await claim(runtime, clock) == [], "claimed rows are not claimed again during the lease"


async def test_limit_and_kinds_filter(runtime: Core, clock: Clock) -> None:
    await enqueue(runtime, clock, 3)
    alerts = await enqueue(runtime, clock, 2, make=alert)
    clock.advance(seconds=5)
    assert len(await claim(runtime, clock, limit=2, kinds=(Delivery,))) == 2
    assert await claim(runtime, clock, kinds=(CaseAlert,)) == alerts


async def test_expired_lease_is_claimed_again_and_counted_in_doubt(runtime: Core, clock: Clock) -> None:
    (item_id,) = await enqueue(runtime, clock, 1)
    assert await claim(runtime, clock) == [item_id]
    # The sender "crashes" here: it never completes or reschedules the row.
    clock.advance(seconds=59)
    assert await claim(runtime, clock) == []
    clock.advance(seconds=2)
    async with runtime.database.transaction() as session:
        (again,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE, kinds=(Delivery,))
    assert again.id == item_id and again.in_doubt and again.attempts == 2
    assert (await counts(runtime))["in_doubt"] == 1


async def test_completed_row_is_never_claimed_again(runtime: Core, clock: Clock) -> None:
    (item_id,) = await enqueue(runtime, clock, 1)
    assert await claim(runtime, clock) == [item_id]
    async with runtime.database.transaction() as session:
        assert await runtime.services.outbox.complete(session, item_id)
    for _ in range(3):
        clock.advance(seconds=120)
        assert await claim(runtime, clock) == []
    assert "in_doubt" not in await counts(runtime)


async def test_reschedule_releases_the_claim_without_doubt(runtime: Core, clock: Clock) -> None:
    (item_id,) = await enqueue(runtime, clock, 1)
    await claim(runtime, clock)
    async with runtime.database.transaction() as session:
        await runtime.services.outbox.reschedule(session, item_id, clock() + timedelta(seconds=30))
    clock.advance(seconds=29)
    assert await claim(runtime, clock) == []
    clock.advance(seconds=1)
    async with runtime.database.transaction() as session:
        (item,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE, kinds=(Delivery,))
    assert item.attempts == 2 and not item.in_doubt
    async with runtime.database.transaction() as session:
        await runtime.services.outbox.reschedule(session, item_id, clock(), attempted=False)
    async with runtime.database.transaction() as session:
        (item,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE, kinds=(Delivery,))
    assert item.attempts == 2, "a claim handed back unused is not an attempt"


async def test_drop_deletes_and_counts_each_reason(runtime: Core, clock: Clock) -> None:
    ids = await enqueue(runtime, clock, 3)
    clock.advance(seconds=5)
    await claim(runtime, clock)
    async with runtime.database.transaction() as session:
        await runtime.services.outbox.drop(session, ids[0], "blocked")
        await runtime.services.outbox.drop(session, ids[1], "blocked")
        await runtime.services.outbox.drop(session, ids[2], "chat_not_found")
        await runtime.services.outbox.drop(session, ids[2], "chat_not_found")  # already gone: not counted twice
    assert await counts(runtime) == {"blocked": 2, "chat_not_found": 1}
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.count(session) == 0


async def test_ciphertext_moved_to_another_row_is_set_aside_not_deleted(runtime: Core, clock: Clock) -> None:
    good, bad = await enqueue(runtime, clock, 2)
    async with runtime.database.transaction() as session:
        sealed = {row.id: row for row in (await session.execute(select(OutboxItem))).scalars()}
        sealed[bad].payload_ct = sealed[good].payload_ct  # a ciphertext moved to another row must not open
    clock.advance(seconds=5)
    assert await claim(runtime, clock) == [good]
    assert await counts(runtime) == {"undecryptable": 1}
    assert await set_aside(runtime) == {bad: "undecryptable"} and await rows(runtime) == 2


async def test_unreadable_rows_are_set_aside_counted_once_and_the_rows_after_them_sent(
    runtime: Core, clock: Clock
) -> None:
    """An unknown kind, a damaged ciphertext, wrong fields and a newer payload version: each is kept
    with its reason and counted once, never handed to a sink, and never stops the rows behind it."""
    outbox = runtime.services.outbox
    start = clock()
    async with runtime.database.transaction() as session:
        first = await outbox.enqueue(session, Delivery("telegram:5001", "first"), start)
        damaged = await outbox.enqueue(session, Delivery("telegram:5001", "damaged"), start + timedelta(seconds=2))
    unknown = await insert_raw(runtime, "from_the_future", {"v": 1}, start + timedelta(seconds=1))
    await corrupt(runtime, damaged)
    mistyped = await insert_raw(runtime, "deliver", {"v": 1, "chat": ["telegram:5001"], "text": "x"}, start)
    newer = await insert_raw(runtime, "deliver", {"v": 2, "chat": "telegram:5001", "to": "x"}, start)
    async with runtime.database.transaction() as session:
        last = await outbox.enqueue(session, Delivery("telegram:5002", "last"), start + timedelta(seconds=3))
    clock.advance(seconds=5)
    sink = RecordingSink()
    sender = OutboxSender(runtime.database, outbox, {"telegram": sink}, clock, rng=random.Random(4))
    assert await sender.run_once() == 2
    assert sorted(sink.sent) == [("5001", "first"), ("5002", "last")]
    expected = {unknown: "unknown_kind", damaged: "undecryptable", mistyped: "bad_payload", newer: "unknown_version"}
    assert await set_aside(runtime) == expected and await rows(runtime) == 4, "set aside, never deleted"
    counted = {"unknown_kind": 1, "undecryptable": 1, "bad_payload": 1, "unknown_version": 1}
    assert await counts(runtime) == counted
    for _ in range(3):
        clock.advance(seconds=SET_ASIDE_RECHECK.total_seconds() + 1)
        assert await sender.run_once() == 0
    assert await counts(runtime) == counted, "looked at again, but counted once"
    assert await set_aside(runtime) == expected and len(sink.sent) == 2
    assert first not in expected and last not in expected


async def test_row_sealed_under_a_key_this_process_lacks_waits_for_a_process_that_has_it(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    """During a key rotation a replica still on the old keys must not destroy a row sealed under
    the new master key: it sets the row aside, and a replica holding the new key sends it."""
    rotated = await build_core(config, keyring=keyring.with_new_master_key(), clock=clock, faq=faq_service)
    try:
        async with rotated.database.transaction() as session:
            item_id = await rotated.services.outbox.enqueue(session, Delivery("telegram:5001", "sealed anew"), clock())
        old_sink, new_sink = RecordingSink(), RecordingSink()
        old = OutboxSender(runtime.database, runtime.services.outbox, {"telegram": old_sink}, clock)
        new = OutboxSender(rotated.database, rotated.services.outbox, {"telegram": new_sink}, clock)
        assert await old.run_once() == 0
        assert await set_aside(runtime) == {item_id: "undecryptable"} and await rows(runtime) == 1
        clock.advance(seconds=SET_ASIDE_RECHECK.total_seconds())
        assert await old.run_once() == 0, "the old replica looks again and still cannot read it"
        clock.advance(seconds=SET_ASIDE_RECHECK.total_seconds())
        assert await new.run_once() == 1
        assert new_sink.sent == [("5001", "sealed anew")] and old_sink.sent == []
        assert await rows(runtime) == 0 and await counts(runtime) == {"undecryptable": 1}
    finally:
        await rotated.close()


async def test_concurrent_claims_skip_locked_rows(runtime: Core, clock: Clock) -> None:
    """While one replica's claim transaction is open, another claims other rows at once
    instead of waiting (FOR UPDATE SKIP LOCKED); a plain FOR UPDATE would block here."""
    if runtime.database.dialect != "postgresql":
        pytest.skip("SQLite serialises writers; SKIP LOCKED is a PostgreSQL property")
    await enqueue(runtime, clock, 10)
    clock.advance(seconds=20)
    other = Database(runtime.config.storage_url)
    outbox: Outbox = runtime.services.outbox
    try:
        async with runtime.database.transaction() as first:
            mine = await outbox.claim_due(first, clock(), 4, LEASE, kinds=(Delivery,))
            async with other.transaction() as second:
                theirs = await asyncio.wait_for(
                    outbox.claim_due(second, clock(), 10, LEASE, kinds=(Delivery,)), timeout=5
                )
        assert len(mine) == 4 and len(theirs) == 6
        assert not {i.id for i in mine} & {i.id for i in theirs}
    finally:
        await other.dispose()
