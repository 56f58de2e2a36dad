"""The case-deadlines revision on a store with cases already in it (SQLite and PostgreSQL): what a
case already shows becomes when its deadlines were met, so old cases neither escalate for work HR
did nor miss their check-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from storage.database import Database
from storage.migrate import upgrade_to_head

from .migration_kit import downgrade_to, upgrade_to

BEFORE = "d3e5a1c7b920"
HOUR = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
async def database(empty_database_url: str) -> AsyncIterator[Database]:
    db = Database(empty_database_url)
    try:
        yield db
    finally:
        await db.dispose()


async def test_existing_cases_keep_what_they_met(database: Database) -> None:
    async with database.engine.connect() as connection:
        await connection.run_sync(upgrade_to, BEFORE)
        await connection.commit()
    cases = {"c-new": "new", "c-seen": "acknowledged", "c-answered": "investigating", "c-closed": "closed"}
    async with database.transaction() as session:
        for number, (case_id, status) in enumerate(cases.items()):
            await session.execute(
                text(
                    "INSERT INTO cases (id, reference, site, status, wrapped_key, report_ct, created_at, updated_at) "
                    "VALUES (:id, :ref, 'main', :status, :blob, :blob, :at, :at)"
                ),
                {"id": case_id, "ref": f"HAP-00000{number}", "status": status, "blob": b"x", "at": HOUR},
            )
        await session.execute(
            text(
                "INSERT INTO case_messages (id, case_id, author, body_ct, created_at, seen_by_reporter) "
                "VALUES ('m1', 'c-answered', 'hr', :blob, :at, false), ('m2', 'c-seen', 'reporter', :blob, :at, true)"
            ),
            {"blob": b"x", "at": HOUR},
        )
    await upgrade_to_head(database)
    async with database.transaction(write=False) as session:
        rows = await session.execute(
            text("SELECT id, round, urgent, acknowledged_at, first_feedback_at, closed_at, escalated_at FROM cases")
        )
        messages = (await session.execute(text("SELECT id FROM case_messages ORDER BY id"))).scalars().all()
        found = {
            case_id: (round_, bool(urgent), *(moment is not None for moment in moments))
            for case_id, round_, urgent, *moments in rows
        }
    assert list(messages) == ["m1", "m2"], "the migration must not lose a case's messages"
    # (round, urgent, acknowledged, first feedback, closed, escalated)
    assert found == {
        "c-new": (1, False, False, False, False, False),
        "c-seen": (1, False, True, False, False, False),
        "c-answered": (1, False, True, True, False, False),
        "c-closed": (1, False, True, False, True, False),
    }


async def test_downgrading_keeps_the_cases_and_their_messages(database: Database) -> None:
    async with database.engine.connect() as connection:
        await connection.run_sync(upgrade_to, BEFORE)
        await connection.commit()
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
                "INSERT INTO case_messages (id, case_id, author, body_ct, created_at, seen_by_reporter) "
                "VALUES ('m1', 'c1', 'hr', :blob, :at, false)"
            ),
            {"blob": b"x", "at": HOUR},
        )
    await upgrade_to_head(database)
    async with database.engine.connect() as connection:
        await connection.run_sync(downgrade_to, BEFORE)
        await connection.commit()
    async with database.transaction(write=False) as session:
        assert (await session.execute(text("SELECT id FROM case_messages"))).scalars().all() == ["m1"]
        assert (await session.execute(text("SELECT id FROM cases"))).scalars().all() == ["c1"]
