"""Master key rotation: which rows still depend on which master key, and re-sealing them online.

Every ciphertext that depends on a master key names it in its header (wrapped case data keys and
internal data, see :mod:`storage.crypto`); case data sealed under a case's data key names none
and needs nothing (its data key is re-wrapped instead). So the dependents of a key are found by
reading headers, and the list of places to look is not kept by hand: it is every binary column
of every table in :mod:`storage.models`, each bound to ``(table, column, primary key)`` as every
repository binds them. ``key_checks`` is left out: each of its rows is sealed under its own key
on purpose (:mod:`storage.key_check`).

Re-sealing runs while the bot serves workers: in short transactions of ``batch_size`` rows,
walking each table in primary-key order, and each row is written only if its ciphertext is still
the one that was read (compare-and-swap), so a row the bot rewrote meanwhile is never overwritten
with older content; it is picked up by the next run. A run can stop anywhere; running it again
continues, since rows already under the current key are skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, LargeBinary, Table, exists, func, or_, select, update

from .crypto import Binding, Crypto, DecryptionError, master_key_id_of
from .database import Database
from .models import Base, KeyCheckRecord

log = logging.getLogger(__name__)

HEADER_BYTES = 3 + 64  # version, kind, key-id length, the longest key id
BATCH_SIZE = 200
EXCLUDED_TABLES = frozenset({KeyCheckRecord.__tablename__})


@dataclass(frozen=True)
class SealedColumn:
    """A binary column whose values are ciphertexts bound to ``(table, column, primary key)``."""

    table: Table
    column: Column[bytes]
    key: Column[str]

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"

    def binding(self, row_key: object) -> Binding:
        return Binding(self.table.name, self.column.name, str(row_key))


def sealed_columns() -> list[SealedColumn]:
    """Every binary column of the schema, in a stable order."""
    found: list[SealedColumn] = []
    for table in Base.metadata.sorted_tables:
        if table.name in EXCLUDED_TABLES:
            continue
        binary = [column for column in table.columns if isinstance(column.type, LargeBinary)]
        if not binary:
            continue
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            raise RuntimeError(f"{table.name}: sealed columns need a one-column primary key for their binding")
        found.extend(SealedColumn(table, column, keys[0]) for column in binary)
    return found


@dataclass
class Dependents:
    """Rows per master key id per sealed column, and one row per key id to try opening."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    samples: dict[str, tuple[SealedColumn, object]] = field(default_factory=dict)

    def add(self, key_id: str, column: SealedColumn, row_key: object) -> None:
        self.counts.setdefault(key_id, Counter())[column.name] += 1
        self.samples.setdefault(key_id, (column, row_key))

    def total(self, key_id: str) -> int:
        return sum(self.counts.get(key_id, Counter()).values())

    def key_ids(self) -> set[str]:
        return set(self.counts)


async def _header_batches(
    database: Database, column: SealedColumn, batch_size: int
) -> AsyncIterator[list[tuple[object, str | None]]]:
    """Yields ``(primary key, master key id or None)`` in primary-key order, one short read
    transaction per batch; only the header bytes are read, never whole ciphertexts."""
    prefix = func.substr(column.column, 1, HEADER_BYTES, type_=LargeBinary)
    last: object = None
    while True:
        query = select(column.key, prefix).where(column.column.is_not(None)).order_by(column.key).limit(batch_size)
        if last is not None:
            query = query.where(column.key > last)
        async with database.transaction(write=False) as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return
        yield [(row_key, master_key_id_of(header) if header is not None else None) for row_key, header in rows]
        last = rows[-1][0]


async def find_dependents(database: Database, *, batch_size: int = 1000) -> Dependents:
    """Counts, by master key id and column, every row sealed under a master key (headers only)."""
    found = Dependents()
    for column in sealed_columns():
        async for batch in _header_batches(database, column, batch_size):
            for row_key, key_id in batch:
                if key_id is not None:
                    found.add(key_id, column, row_key)
    return found


async def any_sealed(database: Database) -> bool:
    """Whether any row of any sealed column holds a value, in one query: a new store's first start
    answers this instead of walking every sealed column in batches (26 read transactions)."""
    probes = [exists().where(column.column.is_not(None)) for column in sealed_columns()]
    async with database.transaction(write=False) as session:
        return bool((await session.execute(select(or_(*probes)))).scalar_one())


async def read_ciphertext(database: Database, column: SealedColumn, row_key: object) -> bytes | None:
    """One row's ciphertext (for trying a key on a sample)."""
    async with database.transaction(write=False) as session:
        query = select(column.column).where(column.key == row_key)
        value = (await session.execute(query)).scalar_one_or_none()
    return bytes(value) if value is not None else None


@dataclass
class RotationReport:
    """What one run did: rows re-sealed, rows changed meanwhile (left for the next run), failures."""

    resealed: Counter[str] = field(default_factory=Counter)
    changed_meanwhile: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)

    @property
    def complete(self) -> bool:
        return not self.changed_meanwhile and not self.unreadable


async def reseal_all(
    database: Database,
    crypto: Crypto,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-seals, under the current master key, every row that depends on another master key."""
    report = RotationReport()
    current = crypto.current_master_id
    for column in sealed_columns():
        async for batch in _header_batches(database, column, batch_size):
            stale = [row_key for row_key, key_id in batch if key_id is not None and key_id != current]
            if stale:
                await _reseal_rows(database, crypto, column, stale, report)
                if progress is not None:
                    progress(column.name, report.resealed[column.name])
    return report


async def _reseal_rows(
    database: Database, crypto: Crypto, column: SealedColumn, row_keys: list[object], report: RotationReport
) -> None:
    async with database.transaction() as session:
        query = select(column.key, column.column).where(column.key.in_(row_keys))
        for row_key, sealed in (await session.execute(query)).all():
            if sealed is None:
                continue
            old = bytes(sealed)
            try:
                new = crypto.reseal(old, column.binding(row_key))
            except DecryptionError as error:
                log.warning("cannot re-seal a row of %s (%s)", column.name, error)
                report.unreadable[column.name] += 1
                continue
            statement = (
                update(column.table)
                .where(column.key == row_key, column.column == old)
                .values({column.column.name: new})
                .execution_options(synchronize_session=False)
            )
            if (await session.execute(statement)).rowcount == 1:  # type: ignore[attr-defined]
                report.resealed[column.name] += 1
            else:
                report.changed_meanwhile[column.name] += 1
