"""Migrations that rebuild ``cases`` keep what hangs off it (SQLite and PostgreSQL).

On SQLite a batch operation copies a table into a new one, drops the old one and renames the new
one. With foreign keys on, dropping the old ``cases`` deletes every case's messages, evidence and
receipts through ON DELETE CASCADE. The case-receipts revision (b3f1c2d4e5a6) does this both ways;
these tests cross it with rows in every child table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.database import Database
from storage.migrate import upgrade_to_head
from storage.receipts import new_receipt, normalise_receipt

from .conftest import QuickReceiptHasher
from .migration_kit import downgrade_to, upgrade_to

BEFORE_RECEIPTS = "7ecd8fb3cd03"
HOUR = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
async def database(empty_database_url: str) -> AsyncIterator[Database]:
    db = Database(empty_database_url)
    try:
        yield db
    finally:
        await db.dispose()


async def _children(database: Database) -> dict[str, list[str]]:
    async with database.transaction(write=False) as session:
        return {
            table: list((await session.execute(text(f"SELECT id FROM {table} ORDER BY id"))).scalars())
            for table in ("cases", "case_messages", "evidence")
        }


async def _add_children(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO case_messages (id, case_id, author, body_ct, created_at, seen_by_reporter) "
                "VALUES ('m1', 'c1', 'reporter', :blob, :at, true), ('m2', 'c1', 'hr', :blob, :at, false)"
            ),
            {"blob": b"x", "at": HOUR},
        )
        await session.execute(
            text(
                "INSERT INTO evidence (id, case_id, mime, data_ct, created_at) "
                "VALUES ('e1', 'c1', 'image/jpeg', :blob, :at)"
            ),
            {"blob": b"x", "at": HOUR},
        )


WHOLE_CASE = {"cases": ["c1"], "case_messages": ["m1", "m2"], "evidence": ["e1"]}


async def test_upgrading_across_the_receipts_revision_keeps_messages_and_evidence(database: Database) -> None:
    async with database.engine.connect() as connection:
        await connection.run_sync(upgrade_to, BEFORE_RECEIPTS)
        await connection.commit()
    async with database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO cases (id, reference, site, status, wrapped_key, receipt_index, receipt_hash, "
                "report_ct, created_at, updated_at) "
                "VALUES ('c1', 'HAP-000001', 'main', 'new', :blob, 'old-index', 'old-hash', :blob, :at, :at)"
            ),
            {"blob": b"x", "at": HOUR},
        )
    await _add_children(database)

    await upgrade_to_head(database)

    assert await _children(database) == WHOLE_CASE
    async with database.transaction(write=False) as session:
        receipts = (await session.execute(text("SELECT count(*) FROM case_receipts"))).scalar()
    # The revision drops receipts of the old, unbound scheme on purpose (see its docstring).
    assert receipts == 0


async def test_downgrading_across_the_receipts_revision_keeps_the_receipt_and_the_case(
    database: Database,
) -> None:
    await upgrade_to_head(database)
    hasher = QuickReceiptHasher()
    receipt = normalise_receipt(new_receipt())
    assert receipt is not None
    receipt_hash = hasher.hash(receipt, "c1")
    async with database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO cases (id, reference, site, status, wrapped_key, report_ct, created_at, updated_at) "
                "VALUES ('c1', 'HAP-000001', 'main', 'new', :blob, :blob, :at, :at)"
            ),
            {"blob": b"x", "at": HOUR},
        )
        await session.execute(
            text(
                "INSERT INTO case_receipts (id, case_id, number, receipt_index, receipt_hash, receipt_tag) "
                "VALUES ('r1', 'c1', 1, 'index-1', :hash, 'tag-1')"
            ),
            {"hash": receipt_hash},
        )
    await _add_children(database)

    async with database.engine.connect() as connection:
        await connection.run_sync(downgrade_to, BEFORE_RECEIPTS)
        await connection.commit()

    assert await _children(database) == WHOLE_CASE
    async with database.transaction(write=False) as session:
        index, stored = (
            await session.execute(text("SELECT receipt_index, receipt_hash FROM cases WHERE id = 'c1'"))
        ).one()
    assert index == "index-1", "the downgrade puts the case's first receipt back on the case"
    assert hasher.verify(stored, receipt, "c1"), "the receipt put back still opens its case"

    await upgrade_to_head(database)
    assert await _children(database) == WHOLE_CASE


async def test_foreign_keys_are_on_again_after_migrating(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PRAGMA foreign_keys is SQLite's")
    await upgrade_to_head(database)
    # The pool hands the migration's connection out again: it must enforce foreign keys like any other.
    async with database.transaction(write=False) as session:
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    async with database.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


async def test_a_migration_leaving_orphans_fails_and_rolls_back(database: Database, empty_database_url: str) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL enforces foreign keys during the migration itself")
    await upgrade_to_head(database)
    head = await _version(database)
    async with database.engine.connect() as connection:
        await connection.run_sync(downgrade_to, "d3e5a1c7b920")
        await connection.commit()
    # A row whose case is gone, as a careless migration could leave with foreign keys off.
    raw = sqlite3.connect(make_url(empty_database_url).database or "")
    try:
        raw.execute(
            "INSERT INTO case_messages (id, case_id, author, body_ct, created_at, seen_by_reporter) "
            "VALUES ('m1', 'no-such-case', 'hr', x'00', '2026-03-02 09:00:00', 0)"
        )
        raw.commit()
    finally:
        raw.close()

    with pytest.raises(RuntimeError, match="case_messages -> cases: 1"):
        await upgrade_to_head(database)

    assert await _version(database) == "d3e5a1c7b920", "the failed upgrade is rolled back whole"
    assert head != "d3e5a1c7b920"
    async with database.transaction(write=False) as session:
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        tables = (await session.execute(text("SELECT name FROM sqlite_master WHERE name = 'case_events'"))).all()
    assert tables == [], "the head revision's table went with the rollback"


async def test_sqlite_migrations_refuse_a_connection_inside_a_transaction(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PRAGMA foreign_keys is SQLite's")
    with pytest.raises(RuntimeError, match="outside a transaction"):
        async with database.engine.begin() as connection:
            await connection.run_sync(upgrade_to, "head")


async def _version(database: Database) -> str:
    async with database.transaction(write=False) as session:
        return str((await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one())
