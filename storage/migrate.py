"""Bring the schema to the newest Alembic revision at start-up (every replica may call it).

A store already at the newest revision costs one ``SELECT`` of ``alembic_version``: the head is
read from the revision files' ``revision``/``down_revision`` lines, without loading Alembic
(which takes a noticeable part of a start, in time and memory). Anything else goes to Alembic.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

import migrations

from .database import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
_PG_MIGRATION_LOCK = 0x4841_5042_4F54  # "HAPBOT": one replica migrates at a time
_REVISION = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"""['"]([0-9A-Za-z_]+)['"]""")


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def script_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def declared_heads(directory: Path = MIGRATIONS_DIR / "versions") -> frozenset[str] | None:
    """The head revisions as the revision files declare them (revisions no other revises), or
    None when a file cannot be read this simply (then Alembic decides)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in directory.glob("*.py"):
        if path.name == "__init__.py":
            continue
        found = dict((name, value) for name, value in _REVISION.findall(path.read_text(encoding="utf-8")))
        own = _QUOTED.findall(found.get("revision", ""))
        if len(own) != 1 or "down_revision" not in found:
            return None
        revisions.add(own[0])
        revised.update(_QUOTED.findall(found["down_revision"]))
    heads = frozenset(revisions - revised)
    return heads or None


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def at_head(database: Database) -> bool:
    """Whether the store's schema is at the declared head already (one SELECT)."""
    heads = declared_heads()
    if heads is None:
        return False
    try:
        async with database.transaction(write=False) as session:
            versions = frozenset((await session.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except DBAPIError:  # no alembic_version table: a new store
        return False
    return versions == heads


SQLITE_PEER_WAIT_SECONDS = 30.0


async def upgrade_to_head(database: Database) -> None:
    if await at_head(database):
        return
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_upgrade)
            await connection.commit()
    except DBAPIError:
        # SQLite has no migration lock: a replica that started at the same moment may have migrated
        # first ("table already exists", "database is locked"). That is success once the store
        # records the head; anything else is raised.
        if database.engine.dialect.name != "sqlite" or not await _peer_reached_head(database):
            raise


async def _peer_reached_head(database: Database) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SQLITE_PEER_WAIT_SECONDS
    while loop.time() < deadline:
        if await at_head(database):
            return True
        await asyncio.sleep(0.1)
    return False
