"""The outbox's claim protocol on SQLite and PostgreSQL: due order, leases, in-doubt re-claims,
complete / reschedule / drop with counted reasons, and SKIP LOCKED between concurrent claimers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.core import Core
from storage.database import Database
from storage.outbox import Outbox

from .conftest import Clock

LEASE = timedelta(seconds=60)


async def enqueue(runtime: Core, clock: Clock, count: int, *, kind: str = "deliver", delay: float = 0) -> list[str]:
    outbox = runtime.services.outbox
    async with runtime.database.transaction() as session:
        return [
            await outbox.enqueue(
                session, kind, {"chat": f"telegram:{n}", "text": f"m{n}"}, clock() + timedelta(seconds=delay + n)
            )
            for n in range(count)
        ]


async def claim(runtime: Core, clock: Clock, limit: int = 10, **kwargs: object) -> list[str]:
    async with runtime.database.transaction() as session:
        items = await runtime.services.outbox.claim_due(session, clock(), limit, LEASE, **kwargs)  # type: ignore[arg-type]
    return [item.id for item in items]


async def counts(runtime: Core) -> dict[str, int]:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.counts(session)


async def test_claims_only_due_rows_oldest_first_and_opens_payloads(runtime: Core, clock: Clock) -> None:
    ids = await enqueue(runtime, clock, 3)
    later = await enqueue(runtime, clock, 1, delay=3600)
    clock.advance(seconds=2)
    async with runtime.database.transaction() as session:
        items = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE)
    assert [item.id for item in items] == ids
    assert [item.payload["text"] for item in items] == ["m0", "m1", "m2"]
    assert all(item.attempts == 1 and not item.in_doubt for item in items)
    assert "m0" not in repr(items[0]), "a claimed item's repr must not show its payload"
    assert later[0] not in [item.id for item in items]
    assert await claim(runtime, clock) == [], "claimed rows are not claimed again during the lease"


async def test_limit_and_kinds_filter(runtime: Core, clock: Clock) -> None:
    await enqueue(runtime, clock, 3)
    alerts = await enqueue(runtime, clock, 2, kind="case_alert")
    clock.advance(seconds=5)
    assert len(await claim(runtime, clock, limit=2, kinds=("deliver",))) == 2
    assert await claim(runtime, clock, kinds=("case_alert",)) == alerts


async def test_expired_lease_is_claimed_again_and_counted_in_doubt(runtime: Core, clock: Clock) -> None:
    (item_id,) = await enqueue(runtime, clock, 1)
    assert await claim(runtime, clock) == [item_id]
    # The sender "crashes" here: it never completes or reschedules the row.
    clock.advance(seconds=59)
    assert await claim(runtime, clock) == []
    clock.advance(seconds=2)
    async with runtime.database.transaction() as session:
        (again,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE)
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
        (item,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE)
    assert item.attempts == 2 and not item.in_doubt
    async with runtime.database.transaction() as session:
        await runtime.services.outbox.reschedule(session, item_id, clock(), attempted=False)
    async with runtime.database.transaction() as session:
        (item,) = await runtime.services.outbox.claim_due(session, clock(), 10, LEASE)
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


async def test_undecryptable_row_is_dropped_and_counted(runtime: Core, clock: Clock) -> None:
    good, bad = await enqueue(runtime, clock, 2)
    outbox = runtime.services.outbox
    async with runtime.database.transaction() as session:
        rows = {row.id: row for row in await outbox.pending(session)}
        rows[bad].payload_ct = rows[good].payload_ct  # a ciphertext moved to another row must not open
    clock.advance(seconds=5)
    assert await claim(runtime, clock) == [good]
    assert (await counts(runtime))["undecryptable"] == 1


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
            mine = await outbox.claim_due(first, clock(), 4, LEASE)
            async with other.transaction() as second:
                theirs = await asyncio.wait_for(outbox.claim_due(second, clock(), 10, LEASE), timeout=5)
        assert len(mine) == 4 and len(theirs) == 6
        assert not {i.id for i in mine} & {i.id for i in theirs}
    finally:
        await other.dispose()
