"""Engines, PRAGMAs and the one ``transaction()`` helper that owns commit and rollback.

SQLite is the embedded default; PostgreSQL serves several replicas. Handling one worker message is
one write transaction, and messages of the same worker must never interleave, even across
processes: on PostgreSQL a transaction-scoped advisory lock on the worker's pseudonym does it
(other workers proceed in parallel); on SQLite ``BEGIN IMMEDIATE`` takes the single write lock,
so every writer, in any process, is serialised by SQLite itself.

A SQLite database file is created mode 0600 (in 0700 directories where we create them), like
the key file: SQLite gives its -wal and -shm files the database file's mode, so other users of the
host can read none of them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.files import private_directory

from .sqlite_driver import one_trip_dbapi

log = logging.getLogger(__name__)

SQLITE_PRAGMAS: dict[str, str] = {
    "journal_mode": "WAL",
    "secure_delete": "ON",
    "foreign_keys": "ON",
    "synchronous": "FULL",
    "busy_timeout": "30000",
}


_BEFORE_COMMIT = "hapbot.before_commit"
_DISCARD = "hapbot.discard"


def before_commit(
    session: AsyncSession, name: str, flush: Callable[[AsyncSession], Awaitable[None]], discard: Callable[[], None]
) -> None:
    """Registers, once per transaction and ``name``, buffered writes to run in one statement before
    the transaction commits (or before a savepoint is released, see :func:`flush_buffered`);
    ``discard`` drops them when a savepoint is rolled back. Repositories use it to turn one
    statement per message into one per batch."""
    session.info.setdefault(_BEFORE_COMMIT, {}).setdefault(name, flush)
    session.info.setdefault(_DISCARD, {}).setdefault(name, discard)


async def flush_buffered(session: AsyncSession) -> None:
    """Runs the buffered writes now (before a commit, or before a savepoint is released)."""
    for flush in list(session.info.get(_BEFORE_COMMIT, {}).values()):
        await flush(session)


def discard_buffered(session: AsyncSession) -> None:
    """Drops writes buffered since the last flush (their savepoint was rolled back)."""
    for discard in list(session.info.get(_DISCARD, {}).values()):
        discard()


def advisory_lock_id(user_key: str) -> int:
    """A signed 64-bit advisory lock id derived from a pseudonym (already uniformly random)."""
    digest = hashlib.sha256(user_key.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Database:
    """One engine and session factory; hands out transactions."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                _create_private_file(Path(database))
            # Every transaction ends in our commit or rollback, so the pool's extra rollback is a wasted trip.
            options: dict[str, Any] = {"pool_reset_on_return": None}
            module = one_trip_dbapi()
            if module is not None:
                options["module"] = module
            self.engine: AsyncEngine = create_async_engine(url, hide_parameters=True, **options)
            self._install_sqlite_hooks()
        elif self.dialect == "postgresql":
            self.engine = create_async_engine(url, hide_parameters=True, pool_size=pool_size, pool_pre_ping=True)
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite+aiosqlite or postgresql+asyncpg")
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # Copied into every session's ``info``: what a commit hook needs and a repository call cannot
        # pass (the audit key, for :mod:`storage.audit`).
        self.session_info: dict[str, object] = {}
        # SQLite has one writer anyway; queueing writers here avoids spinning on busy_timeout.
        self._sqlite_writer = asyncio.Lock() if self.dialect == "sqlite" else None

    def _install_sqlite_hooks(self) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let us emit BEGIN ourselves (pysqlite/aiosqlite would defer it until the first write).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for name, value in SQLITE_PRAGMAS.items():
                cursor.execute(f"PRAGMA {name}={value}")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            connection.exec_driver_sql(f"BEGIN {mode}")

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """Commit when the block ends normally, roll back when it raises; repositories never commit."""
        if self._sqlite_writer is not None and write:
            async with self._sqlite_writer, self._session(write) as session:
                yield session
        else:
            async with self._session(write) as session:
                yield session

    @asynccontextmanager
    async def _session(self, write: bool) -> AsyncIterator[AsyncSession]:
        session = self.sessions()
        session.info.update(self.session_info)
        if self.dialect == "sqlite":
            connection = await session.connection(
                execution_options={"sqlite_begin": "IMMEDIATE" if write else "DEFERRED"}
            )
            del connection
        try:
            yield session
            await flush_buffered(session)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def lock_user(self, session: AsyncSession, user_key: str) -> None:
        """Serialise work on one pseudonym until the transaction ends (no-op need on SQLite)."""
        if self.dialect == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": advisory_lock_id(user_key)})

    async def lock_users(self, session: AsyncSession, user_keys: Sequence[str]) -> None:
        """Locks several pseudonyms in one round trip, always in the order of the sorted pseudonyms
        (the order every release has used), so that two batches never deadlock, even during a
        rolling upgrade; ``unnest`` reads an array out in its order, one lock per row."""
        keys = sorted(set(user_keys))
        if self.dialect != "postgresql" or not keys:
            return
        if len(keys) == 1:
            await self.lock_user(session, keys[0])
            return
        ids = list(dict.fromkeys(advisory_lock_id(user_key) for user_key in keys))
        await session.execute(
            text("SELECT pg_advisory_xact_lock(id) FROM unnest(CAST(:ids AS bigint[])) AS id"), {"ids": ids}
        )

    async def pragmas(self) -> dict[str, str]:
        """The PRAGMAs in force (SQLite) or the server settings that matter (PostgreSQL), for benchmarks."""
        async with self.transaction(write=False) as session:
            if self.dialect == "sqlite":
                values = {}
                for name in SQLITE_PRAGMAS:
                    row = (await session.execute(text(f"PRAGMA {name}"))).scalar()
                    values[name] = str(row)
                return values
            names = ("server_version", "synchronous_commit", "fsync", "transaction_isolation")
            return {n: str((await session.execute(text(f"SHOW {n}"))).scalar()) for n in names}

    async def ping(self) -> None:
        """Opens a connection and runs ``SELECT 1``: raises whatever stops the database being reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _create_private_file(path: Path) -> None:
    """Create an empty file readable only by its owner, unless it exists; warn if an existing one is not.

    Done before SQLite first opens the file, which would otherwise create it 0644 under the usual umask.
    """
    private_directory(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "database file %s has mode %s: other users can read it; run `chmod 600 %s`",
                path,
                oct(stat.S_IMODE(mode)),
                path,
            )
        return
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (tests read its raw bytes), or None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def short_hash(value: str) -> str:
    """A non-reversible tag for correlating log lines about one row without logging the row id."""
    return base64.b32encode(hashlib.sha256(value.encode()).digest()[:5]).decode().lower()
