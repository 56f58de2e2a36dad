"""Alembic: one head, migrations that build exactly the models' schema, upgrades safe to repeat."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.migrate import alembic_config, at_head, declared_heads, script_heads, upgrade_to_head
from storage.models import Base

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def database(empty_database_url: str) -> AsyncIterator[Database]:
    db = Database(empty_database_url)
    try:
        yield db
    finally:
        await db.dispose()


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, Base.metadata))


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


async def schema_differences(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_differences)


async def current_heads(database: Database) -> tuple[str, ...]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_current_heads)


def test_alembic_has_exactly_one_head() -> None:
    heads = script_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"


def test_heads_read_from_the_revision_files_are_alembics(tmp_path: Path) -> None:
    assert declared_heads() == frozenset(script_heads())
    (tmp_path / "odd.py").write_text("revision = make_one()\ndown_revision = None\n", encoding="utf-8")
    assert declared_heads(tmp_path) is None, "a file it cannot read simply leaves the decision to Alembic"


async def test_a_store_at_head_is_recognised_without_alembic(database: Database) -> None:
    assert not await at_head(database), "a new store has no alembic_version table"
    await upgrade_to_head(database)
    assert await at_head(database)
    async with database.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '7ecd8fb3cd03'"))
    assert not await at_head(database), "an older store goes to Alembic"


def test_revisions_form_one_line_from_base_to_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = list(scripts.walk_revisions())
    assert revisions, "no migrations at all"
    assert sum(1 for revision in revisions if revision.down_revision is None) == 1, "more than one base"
    assert all(not revision.is_merge_point or revision.revision == script_heads()[0] for revision in revisions)


async def test_upgraded_schema_matches_the_models(database: Database) -> None:
    assert await current_heads(database) == (), "the migrations must be tested from an empty database"
    await upgrade_to_head(database)
    assert await current_heads(database) == script_heads()
    differences = await schema_differences(database)
    assert differences == [], f"migrations and storage.models differ on {database.dialect}: {differences}"


async def test_upgrading_twice_is_harmless(database: Database) -> None:
    await upgrade_to_head(database)
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        await session.execute(
            text("INSERT INTO audit_log (id, at, actor, action) VALUES ('a1', :at, 'hr:li', 'read')"), {"at": moment}
        )
    await upgrade_to_head(database)
    await upgrade_to_head(database)
    async with database.transaction(write=False) as session:
        versions = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        rows = (await session.execute(text("SELECT id, actor FROM audit_log"))).all()
    assert list(versions) == list(script_heads()), "the version table must hold exactly the head, once"
    assert [tuple(row) for row in rows] == [("a1", "hr:li")], "a repeated upgrade touched existing data"
    assert await schema_differences(database) == []


UPGRADE_IN_A_PROCESS = """
import asyncio, sys
from storage.database import Database
from storage.migrate import upgrade_to_head

async def main():
    database = Database(sys.argv[1])
    try:
        await upgrade_to_head(database)
    finally:
        await database.dispose()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_replicas_starting_at_the_same_time_all_upgrade(database: Database, empty_database_url: str) -> None:
    """Three processes on one fresh database (replicas starting together) all start; the schema is built once."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPGRADE_IN_A_PROCESS,
            empty_database_url,
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=60)
    failures = [
        err.decode(errors="replace")[-600:]
        for p, (_out, err) in zip(processes, results, strict=True)
        if p.returncode != 0
    ]
    assert not failures, "a replica failed to start:\n" + "\n---\n".join(failures)
    assert await current_heads(database) == script_heads()
    assert await schema_differences(database) == []


def _downgrade_to_base(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def test_downgrade_to_base_then_upgrade_again(database: Database) -> None:
    await upgrade_to_head(database)
    async with database.engine.connect() as connection:
        await connection.run_sync(_downgrade_to_base)
        await connection.commit()
    assert await current_heads(database) == ()
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert tables <= {"alembic_version"}, f"downgrade left tables behind: {sorted(tables)}"
    await upgrade_to_head(database)
    assert await schema_differences(database) == []
