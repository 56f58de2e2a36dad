"""Bring the schema to the newest Alembic revision at start-up (every replica may call it)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

import migrations

from .database import Database

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
_PG_MIGRATION_LOCK = 0x4841_5042_4F54  # "HAPBOT": one replica migrates at a time


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def script_heads() -> tuple[str, ...]:
    """The head revisions of the migration scripts (read once: the scripts ship with the process)."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def _at_head(connection: Connection) -> bool:
    """Whether the database already records exactly the script heads, as on every start but the first."""
    return set(MigrationContext.configure(connection).get_current_heads()) == set(script_heads())


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_to_head(database: Database) -> None:
    """Migrate unless the schema is at head already; the check is a query, Alembic's full start is not."""
    async with database.engine.connect() as connection:
        if await connection.run_sync(_at_head):
            return
        await connection.run_sync(_upgrade)
        await connection.commit()
