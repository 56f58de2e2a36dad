"""Alembic environment: runs on the connection ``storage.migrate`` hands over, or on ``sqlalchemy.url``.

On SQLite, migrations run with foreign keys off. A batch operation (``render_as_batch``) rebuilds a
table: it creates a new one, copies the rows, drops the old table and renames the new one. With
``PRAGMA foreign_keys=ON`` (our engine turns it on, storage/database.py), dropping the old ``cases``
deletes every row that references it through ON DELETE CASCADE: messages, evidence, receipts
(tests/test_migration_foreign_keys.py). Alembic's batch documentation says so ("Dealing with
Referencing Foreign Keys", https://alembic.sqlalchemy.org/en/latest/batch.html: the pragma "must be
disabled when the workflow mode proceeds"), as does SQLite's own procedure for table changes
(https://www.sqlite.org/lang_altertable.html#otheralter, step 1). The pragma is a no-op inside a
transaction (https://www.sqlite.org/foreignkeys.html#fk_enable), so it is issued before Alembic's
transaction begins, and read back; the connection must reach here outside a transaction. The
whole upgrade is one transaction; before it commits, ``PRAGMA foreign_key_check`` must find
nothing, else all of it rolls back; afterwards the pragma is restored, since the pool hands this connection out again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage.models import Base

config = context.config
target_metadata = Base.metadata


class ForeignKeysNotOff(RuntimeError):
    """SQLite kept foreign keys on, so a batch operation would cascade deletes: nothing was migrated."""


class ForeignKeyViolations(RuntimeError):
    """The migrated store has rows whose parent is missing: the migration was rolled back."""


def _foreign_keys(connection: Connection, value: int | None = None) -> int:
    """Set (when value is given) and read SQLite's ``foreign_keys`` on the DBAPI connection itself,
    so that SQLAlchemy does not begin a transaction first (in which the pragma does nothing)."""
    cursor = connection.connection.cursor()
    try:
        if value is not None:
            cursor.execute(f"PRAGMA foreign_keys={int(value)}")
        cursor.execute("PRAGMA foreign_keys")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row is not None else 0


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    if connection.in_transaction():
        raise ForeignKeysNotOff(
            "SQLite migrations need a connection outside a transaction (engine.connect(), not "
            "engine.begin()): PRAGMA foreign_keys=OFF does nothing inside one"
        )
    before = _foreign_keys(connection)
    if _foreign_keys(connection, 0) != 0:
        raise ForeignKeysNotOff("SQLite kept PRAGMA foreign_keys on; not migrating, batch operations would cascade")
    try:
        yield
    finally:
        if connection.in_transaction() or _foreign_keys(connection, before) != before:
            connection.invalidate()  # never hand a connection without foreign keys back to the pool


def _check_foreign_keys(connection: Connection) -> None:
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if rows:
        # Table names and counts only: the rows themselves are case content.
        found = Counter(f"{row[0]} -> {row[2]}" for row in rows)
        raise ForeignKeyViolations(
            "migration left rows without their parent, rolled back: "
            + ", ".join(f"{pair}: {count}" for pair, count in sorted(found.items()))
        )


def _migrate(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        # Alembic takes SQLite for non-transactional DDL and commits each revision on its own; it
        # is transactional (our engine emits BEGIN itself), so the whole upgrade is one
        # transaction, and the foreign-key check below can still roll all of it back.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            _check_foreign_keys(connection)


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        with _sqlite_foreign_keys_off(connection):
            _migrate(connection)
    else:
        _migrate(connection)


async def _run_with_url(url: str) -> None:
    engine = create_async_engine(url, hide_parameters=True)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_with_url(config.get_main_option("sqlalchemy.url") or ""))
