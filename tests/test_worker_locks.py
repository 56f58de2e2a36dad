"""Worker locks on PostgreSQL: a batch takes all its workers' locks in one round trip, in one global
order, so two batches sharing workers wait for each other instead of interleaving or deadlocking."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text

from storage.database import Database, advisory_lock_id

pytestmark = pytest.mark.postgres


async def held_locks(database: Database) -> set[int]:
    async with database.transaction(write=False) as session:
        rows = await session.execute(
            text("SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory'")
        )
        return {int(value) for value in rows.scalars()}


async def test_a_batch_locks_every_worker_in_one_statement_and_a_sharing_batch_waits(
    pg_session_database: str,
) -> None:
    database = Database(pg_session_database, pool_size=4)
    statements: list[str] = []
    try:
        first_locked, release_first = asyncio.Event(), asyncio.Event()
        order: list[str] = []

        async def first() -> None:
            async with database.transaction() as session:
                await database.lock_users(session, ["mei", "lan", "hua"])
                first_locked.set()
                await release_first.wait()
                order.append("first done")

        async def second() -> None:
            await first_locked.wait()
            async with database.transaction() as session:
                await database.lock_users(session, ["fang", "hua"])  # shares hua with the first
                order.append("second locked")

        def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if "pg_advisory_xact_lock" in statement:
                statements.append(statement)

        event.listen(database.engine.sync_engine, "before_cursor_execute", note)
        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await first_locked.wait()
        mine = {advisory_lock_id(key) for key in ("mei", "lan", "hua")}
        signed = {value & 0xFFFFFFFFFFFFFFFF for value in mine}
        assert signed <= {value & 0xFFFFFFFFFFFFFFFF for value in await held_locks(database)}
        await asyncio.sleep(0.2)
        assert order == [], "the second batch waits for the worker both share"
        release_first.set()
        await asyncio.gather(*tasks)
        assert order == ["first done", "second locked"]
        assert len(statements) == 2, "one statement per batch, however many workers"
    finally:
        await database.engine.dispose()
