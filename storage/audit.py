"""The audit log: who read or changed a case, and when, as a tamper-evident hash chain.

HR staff are not anonymous here, reporters are never named: an entry holds the handler's name,
the action and the case reference, nothing of the report. Entries outlive the cases they name
(retention purges cases, never this log). An entry is added in the same transaction as the action
it records (:func:`record`), so an action and its entry commit or vanish together; a *refused*
action, whose transaction rolls back, is recorded by :func:`record_refusal` in a transaction of
its own.

The chain: each entry carries its ``position`` (1, 2, ...), the previous entry's hash, its own
hash (SHA-256 of a canonical encoding of all its fields and the previous hash) and a MAC of that
hash under the audit key, which lives in a file beside the key file and never in the database
(:mod:`storage.audit_key`). The one row of ``audit_chain_head`` holds the chain's length and last
hash, MAC'd too. Rewriting an entry and recomputing every later hash still fails: the MACs cannot
be recomputed without the key. Deleting the newest entries fails at the head.

Appends are serialised on the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one
writer): :func:`record` only adds the row, and a ``before_commit`` hook numbers, hashes and MACs
the transaction's entries just before it commits. So the head is locked from the end of the
action to its commit, nothing slow runs meanwhile, and it is always the last lock a transaction
takes (no lock-order deadlock with per-worker locks).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Row, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from .audit_key import AuditKeyError, load_or_create_audit_key
from .audit_witness import Witness
from .crypto import AuditKey
from .database import Database
from .models import AuditChainHead, AuditEntry, random_id

HEAD_ID = 1
GENESIS = "0" * 64
ENCODING = "hapbot-audit-v1"
KEY_INFO = "hapbot.audit.key"
PENDING_INFO = "hapbot.audit.pending"
VERIFY_BATCH = 2000


class AuditChainError(RuntimeError):
    """An entry cannot be appended (no audit key given to the database, or a chain head that is
    missing or made with another key); the action's transaction rolls back with it."""


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as read back: when, who, and what they did."""

    at: datetime
    actor: str
    action: str


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_hash(
    position: int, entry_id: str, at: datetime, actor: str, action: str, case_reference: str | None, prev_hash: str
) -> str:
    """SHA-256 of the canonical encoding of an entry: every field, its position and the previous hash."""
    fields = [ENCODING, position, entry_id, _utc(at).isoformat(timespec="microseconds"), actor, action,
              case_reference, prev_hash]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


async def record(session: AsyncSession, actor: str, action: str, case_reference: str | None, at: datetime) -> None:
    """Adds an entry (``case_reference`` is None for actions on no one case, such as listing); it is
    chained when the caller's transaction commits. Record in a write transaction: on SQLite a read
    transaction that writes at its commit can fail if another writer committed meanwhile."""
    entry = AuditEntry(id=random_id(), at=_utc(at), actor=actor, action=action, case_reference=case_reference)
    session.add(entry)
    session.info.setdefault(PENDING_INFO, []).append(entry)


async def record_refusal(
    database: Database, actor: str, action: str, case_reference: str | None, at: datetime
) -> None:
    """Records a refused action in a transaction of its own, so it stays when the refused one rolls
    back. Call it once the refused transaction has ended: on SQLite a second write transaction
    opened inside the first would wait for it forever."""
    async with database.transaction() as session:
        await record(session, actor, action, case_reference, at)


async def entries_for(session: AsyncSession, case_reference: str) -> list[AuditRecord]:
    """The entries about one case, oldest first."""
    query = (
        select(AuditEntry.at, AuditEntry.actor, AuditEntry.action)
        .where(AuditEntry.case_reference == case_reference)
        .order_by(AuditEntry.at, AuditEntry.position)
    )
    return [AuditRecord(at, actor, action) for at, actor, action in await session.execute(query)]


def attach_key(database: Database, key: AuditKey) -> None:
    """Gives every transaction of ``database`` the audit key its commits chain entries with."""
    database.session_info[KEY_INFO] = key


def _lock_head(session: Session, key: AuditKey, *, create: bool = False) -> Row[int, str, str | None]:
    """Locks the chain head until the transaction ends (``create``: making it first if missing)."""
    lock = (
        select(AuditChainHead.position, AuditChainHead.last_hash, AuditChainHead.key_check)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
    )
    head = session.execute(lock).one_or_none()
    if head is None and create:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(AuditChainHead)
            .values(id=HEAD_ID, position=0, last_hash=GENESIS, mac=key.head_mac(0, GENESIS), key_check=None)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        head = session.execute(lock).one_or_none()
    if head is None:
        raise AuditChainError("the audit chain head is missing; run `hapbot audit verify`")
    return head


def _chain(session: Session, entries: list[AuditEntry], key: AuditKey) -> None:
    """Numbers, hashes and MACs ``entries`` after the chain head, under the head's lock."""
    head = _lock_head(session, key)
    position, last_hash, key_check = head
    if key_check is not None and not AuditKey.matches(key.check_value(), key_check):
        raise AuditChainError("the audit key is not the one this database's audit chain was made with")
    for entry in entries:
        position += 1
        entry.position = position
        entry.prev_hash = last_hash
        entry.entry_hash = entry_hash(
            position, entry.id, entry.at, entry.actor, entry.action, entry.case_reference, last_hash
        )
        entry.mac = key.entry_mac(entry.entry_hash)
        last_hash = entry.entry_hash
    values: dict[str, Any] = {"position": position, "last_hash": last_hash, "mac": key.head_mac(position, last_hash)}
    if key_check is None:
        values["key_check"] = key.check_value()
    session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(**values))


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending: list[AuditEntry] = session.info.pop(PENDING_INFO, [])
    entries = [entry for entry in pending if entry in session]  # a rolled-back savepoint drops its entries
    if not entries:
        return
    key = session.info.get(KEY_INFO)
    if not isinstance(key, AuditKey):
        raise AuditChainError("no audit key: open the chain (storage.audit.open_chain) before recording")
    _chain(session, entries, key)


async def open_chain(database: Database, path: Path) -> AuditKey:
    """Loads the audit key from ``path`` and gives it to ``database``; at the first start (no key
    file and a chain never keyed) creates the file and links the entries written before the chain
    existed into it, oldest first. Raises :class:`AuditKeyError` when the file is missing for a
    chain made with a key, or holds another key than the chain's."""
    async with database.transaction(write=False) as session:
        head = (await session.execute(select(AuditChainHead.key_check).where(AuditChainHead.id == HEAD_ID))).first()
        chained = (await session.execute(select(func.count()).where(AuditEntry.position.is_not(None)))).scalar_one()
    keyed = (head is not None and head.key_check is not None) or chained > 0
    key = load_or_create_audit_key(path, may_create=not keyed)
    if head is not None and head.key_check is not None and not AuditKey.matches(key.check_value(), head.key_check):
        raise AuditKeyError(_wrong_key(path))
    if head is None or head.key_check is None:
        await _adopt_legacy_entries(database, key, path)
    attach_key(database, key)
    return key


async def _adopt_legacy_entries(database: Database, key: AuditKey, path: Path) -> None:
    """The first keying of the chain: entries written before it existed join it in time order."""
    try:
        async with database.transaction() as session:
            await session.run_sync(lambda sync: _lock_head(sync, key, create=True))
            # Selected under the lock: a replica starting at the same moment has chained them, or not yet.
            query = select(AuditEntry).where(AuditEntry.position.is_(None)).order_by(AuditEntry.at, AuditEntry.id)
            legacy = list((await session.execute(query)).scalars())
            await session.run_sync(lambda sync: _chain(sync, legacy, key))
    except AuditChainError:
        raise AuditKeyError(_wrong_key(path)) from None


async def key_problem(database: Database, path: Path) -> str | None:
    """What would stop :func:`open_chain` at the start, for ``check-config`` (reads only, creates
    nothing): an audit key file missing although the chain was made with one, or another key."""
    async with database.transaction(write=False) as session:
        head = (await session.execute(select(AuditChainHead.key_check).where(AuditChainHead.id == HEAD_ID))).first()
    if head is None or head.key_check is None:
        return None
    try:
        key = load_or_create_audit_key(path, may_create=False)
    except AuditKeyError as error:
        return str(error)
    if not AuditKey.matches(key.check_value(), head.key_check):
        return _wrong_key(path)
    return None


def _wrong_key(path: Path) -> str:
    return (
        f"{path}: this audit key is not the one this database's audit chain was made with (another "
        "replica's or an old file); copy the right audit key file here"
    )


class Fault(StrEnum):
    """What is wrong with the chain, at the first place it goes wrong."""

    WRONG_KEY = "wrong_key"  # the key given is not the chain's
    NO_HEAD = "no_head"  # entries, or a key, but no chain head row
    UNCHAINED = "unchained"  # an entry outside the chain (inserted with no position)
    MISSING = "missing"  # a position without its entry: deleted
    LINK = "link"  # the previous-hash link does not match: deleted, reordered or inserted
    HASH = "hash"  # the entry's fields do not give its hash: edited
    MAC = "mac"  # the hash is consistent but not MAC'd by the key: rewritten and recomputed
    BEYOND_HEAD = "beyond_head"  # an entry after the head's last position: appended outside the chain
    HEAD = "head"  # the head's count, last hash or MAC do not match: newest entries deleted, or the head edited
    ROLLED_BACK = "rolled_back"  # behind what an earlier verification saw: newest deleted, an older head put back


@dataclass(frozen=True)
class ChainVerdict:
    """The result of :func:`verify_chain`: ``fault`` is None when the whole chain verifies; else
    the first bad entry's position, id and time where there is one."""

    entries: int
    fault: Fault | None = None
    position: int | None = None
    entry_id: str | None = None
    at: datetime | None = None
    last_hash: str | None = None  # of the newest entry, when the chain verifies (for the next witness)

    @property
    def ok(self) -> bool:
        return self.fault is None

    def describe(self) -> str:
        """One line for an operator: the verdict and, on failure, which entry and why."""
        if self.fault is None:
            return f"audit chain verifies: {self.entries} entries"
        where = []
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.entry_id is not None:
            where.append(f"id {self.entry_id}")
        if self.at is not None:
            where.append(f"at {_utc(self.at):%Y-%m-%d %H:%M:%S} UTC")
        entry = f"entry {', '.join(where)}: " if where else ""
        if self.fault is Fault.MISSING:
            after = ", ".join(where[1:])
            entry = f"position {self.position}: " + (f"(next entry present: {after}) " if after else "")
        return f"audit chain FAILS at {entry}{FAULT_TEXT[self.fault]} ({self.entries} entries checked before it)"


FAULT_TEXT = {
    Fault.WRONG_KEY: "the audit key is not the one the chain was made with (wrong or replaced audit key file)",
    Fault.NO_HEAD: "the chain head row is missing",
    Fault.UNCHAINED: "an entry outside the chain (added without going through the chain)",
    Fault.MISSING: "the entry at this position is missing (deleted)",
    Fault.LINK: "its link to the previous entry is broken (an entry deleted, reordered or inserted here)",
    Fault.HASH: "its contents do not match its hash (edited)",
    Fault.MAC: "its hash is not signed by the audit key (rewritten, with later hashes recomputed)",
    Fault.BEYOND_HEAD: "it lies beyond the chain head (appended outside the chain)",
    Fault.HEAD: "the chain head does not match the last entry (newest entries deleted, or the head edited)",
    Fault.ROLLED_BACK: (
        "the chain is behind what an earlier verification saw there (the newest entries deleted and an older "
        "head put back)"
    ),
}


async def verify_chain(
    database: Database, key: AuditKey | None = None, witness: Witness | None = None
) -> ChainVerdict:
    """Checks the whole chain, streaming it in position order; ``key`` defaults to the one
    :func:`open_chain` attached. Reads only.

    A chain is consistent on its own even after its newest entries were deleted and an older copy
    of its head row put back (a database writer can do that without the key). ``witness``, the
    head an earlier verification saw, kept outside the database (:mod:`storage.audit_witness`),
    catches that: the chain must still hold that entry, with that hash."""
    key = key or _attached_key(database)
    async with database.transaction(write=False) as session:
        if database.dialect == "postgresql":  # head and entries from one snapshot, whatever commits meanwhile
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head = (await session.execute(select(AuditChainHead).where(AuditChainHead.id == HEAD_ID))).scalar_one_or_none()
        loose = (
            await session.execute(
                select(AuditEntry.id, AuditEntry.at).where(AuditEntry.position.is_(None))
                .order_by(AuditEntry.at, AuditEntry.id).limit(1)
            )
        ).first()
        if head is not None and not AuditKey.matches(key.check_value(), head.key_check):
            return ChainVerdict(0, Fault.WRONG_KEY)
        if loose is not None:
            return ChainVerdict(0, Fault.UNCHAINED, None, loose.id, loose.at)
        columns = (AuditEntry.position, AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
                   AuditEntry.case_reference, AuditEntry.prev_hash, AuditEntry.entry_hash, AuditEntry.mac)
        query = select(*columns).order_by(AuditEntry.position).execution_options(yield_per=VERIFY_BATCH)
        checked = 0
        last_hash = GENESIS
        stream = await session.stream(query)
        async for position, entry_id, at, actor, action, reference, prev_hash, stored_hash, mac in stream:
            fault = None
            if head is None:
                fault = Fault.NO_HEAD
            elif position != checked + 1:
                await stream.close()
                return ChainVerdict(checked, Fault.MISSING, checked + 1, entry_id, at)
            elif prev_hash != last_hash:
                fault = Fault.LINK
            elif stored_hash != entry_hash(position, entry_id, at, actor, action, reference, prev_hash):
                fault = Fault.HASH
            elif not AuditKey.matches(key.entry_mac(str(stored_hash)), mac):
                fault = Fault.MAC
            elif position > head.position:
                fault = Fault.BEYOND_HEAD
            elif witness is not None and position == witness.position and stored_hash != witness.last_hash:
                fault = Fault.ROLLED_BACK
            if fault is not None:
                await stream.close()
                return ChainVerdict(checked, fault, position, entry_id, at)
            checked += 1
            last_hash = str(stored_hash)
    if head is None:
        return ChainVerdict(0, Fault.NO_HEAD)
    head_ok = head.position == checked and head.last_hash == last_hash
    if not (head_ok and AuditKey.matches(key.head_mac(head.position, head.last_hash), head.mac)):
        return ChainVerdict(checked, Fault.HEAD, checked + 1 if head.position > checked else None)
    if witness is not None and witness.position > checked:
        return ChainVerdict(checked, Fault.ROLLED_BACK, checked + 1)
    return ChainVerdict(checked, last_hash=last_hash)


def _attached_key(database: Database) -> AuditKey:
    key = database.session_info.get(KEY_INFO)
    if not isinstance(key, AuditKey):
        raise AuditChainError("no audit key: open the chain (storage.audit.open_chain) first")
    return key
