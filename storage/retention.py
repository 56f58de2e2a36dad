"""Retention: finished cases are crypto-shredded ``retention_days`` after their last change.

A finished case (resolved, closed or withdrawn) whose ``updated_at`` is older than the retention
period is purged: first its wrapped data key is overwritten (from then on nothing it sealed can be
opened, wherever a copy of a ciphertext survives), then its rows go: the case, its receipts,
messages and evidence, and rows of any other table that references ``cases.id``. Each
purge leaves an audit entry (``purge``, the case reference), and the audit log is never purged.

A purge that commits is not yet gone from the disk: SQLite keeps old page images in its WAL until
a checkpoint, PostgreSQL keeps dead tuples in the table files until a vacuum (and in its own WAL
until recycled). :func:`reclaim_space` runs those after a purge; README "Retention" says what is
left and what the operator does about it.

Handlers are warned a week ahead: :func:`due_for_purge` lists the cases that will go within a
period (references, sites, statuses and dates only), for the HR desk to show.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Select, Table, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from . import audit
from .case_status import FINISHED_STATUSES, LEGACY_STATUSES, CaseStatus, stored_status
from .database import Database
from .models import Base, Case

log = logging.getLogger(__name__)

# Finished statuses as stored, with ``resolved`` that older rows may still carry.
FINISHED = tuple(sorted({status.value for status in FINISHED_STATUSES} | set(LEGACY_STATUSES) - {"new"}))
WARNING_PERIOD = timedelta(days=7)
PURGE_ACTION = "purge"
RETENTION_ACTOR = "retention"  # the cleaner's own purges; an operator's carry their name
SHREDDED_KEY = b""


def _case_data_tables() -> list[tuple[Table, Column[str]]]:
    """Every table that references ``cases.id`` (receipts, messages, evidence, and any added later,
    such as notes), with its referencing column: all of them hold a case's data."""
    found = []
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column is Case.__table__.c.id:
                found.append((table, key.parent))
    return found


CASE_DATA = _case_data_tables()
CASE_TABLES = (*(table.name for table, _ in CASE_DATA), Case.__tablename__)
PG_LOCK_TIMEOUT = "5s"
PG_SNAPSHOT_WAIT_SECONDS = 5.0
"""How long a purge waits for older transactions of other sessions to end before its rewrite: a table
rewrite keeps every deleted row that such a transaction might still see (an auto-analyze, a long read)."""
# A plain VACUUM (not FULL, not ANALYZE) never holds back what another vacuum may remove, so it is not waited for.
_OLDER_SNAPSHOTS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND NOT (query ILIKE 'autovacuum: VACUUM%' AND query NOT ILIKE '%ANALYZE%') "
    "AND NOT (query ILIKE 'vacuum%' AND query NOT ILIKE '%full%' AND query NOT ILIKE '%analyze%') "
    "AND ((backend_xmin IS NOT NULL AND age(backend_xmin) > age(CAST(:marker AS xid))) "
    "OR (backend_xid IS NOT NULL AND age(backend_xid) > age(CAST(:marker AS xid))))"
)


@dataclass(frozen=True)
class DueCase:
    """A finished case and when it is purged: ``purge_after`` is its last change plus the
    retention period; it goes at the first cleaning after that."""

    id: str
    reference: str
    site: str
    status: CaseStatus
    last_changed: datetime
    purge_after: datetime


def _finished_before(moment: datetime, *, lock: bool = False) -> Select[str, str, str, str, datetime]:
    query = (
        select(Case.id, Case.reference, Case.site, Case.status, Case.updated_at)
        .where(Case.status.in_(FINISHED), Case.updated_at < moment)
        .order_by(Case.updated_at, Case.reference)
    )
    return query.with_for_update() if lock else query


async def _due(session: AsyncSession, moment: datetime, retention: timedelta, *, lock: bool = False) -> list[DueCase]:
    rows = await session.execute(_finished_before(moment - retention, lock=lock))
    return [
        DueCase(case_id, reference, site, stored_status(status), changed, changed + retention)
        for case_id, reference, site, status, changed in rows
    ]


async def due_for_purge(
    session: AsyncSession, now: datetime, retention_days: int, within: timedelta = WARNING_PERIOD
) -> list[DueCase]:
    """Finished cases that will be purged within ``within`` of ``now`` (or are already due), the
    soonest first: what the HR desk warns handlers about. Opens no report."""
    return await _due(session, now + within, timedelta(days=retention_days))


async def purge_expired(session: AsyncSession, now: datetime, retention_days: int, actor: str) -> list[DueCase]:
    """Shreds and deletes every finished case past retention in the caller's transaction, with an
    audit entry for each by ``actor``; returns them. Call :func:`reclaim_space` after the commit."""
    due = await _due(session, now, timedelta(days=retention_days), lock=True)
    await shred_cases(session, [case.id for case in due])
    for case in due:
        await audit.record(session, actor, PURGE_ACTION, case.reference, now)
    return due


async def shred_cases(session: AsyncSession, case_ids: list[str]) -> None:
    """Overwrites the cases' wrapped data keys, then deletes them with everything they sealed."""
    if not case_ids:
        return
    await session.execute(update(Case).where(Case.id.in_(case_ids)).values(wrapped_key=SHREDDED_KEY))
    for table, column in CASE_DATA:
        await session.execute(delete(table).where(column.in_(case_ids)))
    await session.execute(delete(Case).where(Case.id.in_(case_ids)))


async def _older_transactions_ended(autocommit: AsyncConnection) -> bool:
    """Waits until no other session of this database holds a snapshot or a transaction begun before
    now (after the purge committed); False when one still does after ``PG_SNAPSHOT_WAIT_SECONDS``."""
    marker = (await autocommit.execute(text("SELECT txid_current() % 4294967296"))).scalar_one()
    deadline = time.monotonic() + PG_SNAPSHOT_WAIT_SECONDS
    while (await autocommit.execute(_OLDER_SNAPSHOTS, {"marker": int(marker)})).scalar_one():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def reclaim_space(database: Database) -> bool:
    """Makes deleted case rows leave the database files, as far as the database allows; True when
    it did all it could.

    SQLite (``secure_delete`` zeroes deleted cells and freed pages): a TRUNCATE checkpoint copies
    the WAL into the file and empties the WAL; False if a reader held it back (the next purge
    finishes it). PostgreSQL: a plain VACUUM only marks dead tuples free, their bytes stay in the
    pages; ``VACUUM FULL`` rewrites each case table (and its TOAST and indexes) into new files
    holding live rows only, except rows a transaction older than the purge might still see: it first
    waits up to ``PG_SNAPSHOT_WAIT_SECONDS`` for those to end (False if one is still open: the cleaner
    tries again at its next pass, ``hapbot cases purge`` when run again). It takes an exclusive lock for
    the rewrite (small tables: a moment), so it waits at most ``PG_LOCK_TIMEOUT`` for the lock and falls
    back to a plain VACUUM (False)."""
    if database.dialect == "sqlite":
        async with database.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
            busy, _, _ = await cursor.fetchone()
            await cursor.close()
        if busy:
            log.warning("after a purge, the WAL checkpoint was held back by a reader; the next one completes it")
        return not busy
    rewritten = True
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if not await _older_transactions_ended(autocommit):
            rewritten = False
            log.warning("after a purge, a transaction older than it was still open; its rows go at the next rewrite")
        await autocommit.execute(text(f"SET lock_timeout = '{PG_LOCK_TIMEOUT}'"))
        for table in CASE_TABLES:
            try:
                await autocommit.execute(text(f"VACUUM FULL {table}"))
            except DBAPIError:
                rewritten = False
                log.warning("after a purge, VACUUM FULL %s waited too long for its lock; vacuuming it plainly", table)
                await autocommit.execute(text(f"VACUUM {table}"))
    return rewritten
