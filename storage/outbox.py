"""The durable outbox: every push the bot makes is first a row here, written in the same
transaction as the change that causes it, so a crash can delay a push but never lose it.

Rows hold typed messages (:mod:`storage.messages`): ``enqueue`` takes one, and ``claim_due`` and
``lock_due`` hand back decoded ones, so no caller sees a string kind or a dict payload.

Sending is at-least-once. A sender *claims* due rows for a lease (one short transaction), sends
without holding any transaction open, then deletes the row (``complete``) or gives it a new due
time (``reschedule``) in another short transaction. A row whose lease ran out while it was still
there was claimed by a sender that died or stalled after perhaps sending it: claiming it again is
counted as ``in_doubt`` (a possible duplicate, never a loss). On PostgreSQL claims use
``FOR UPDATE SKIP LOCKED`` so replicas claiming at the same moment take disjoint rows; on SQLite
the single writer lock serialises claims.

A row this process cannot read is *set aside*, never deleted and never handed on: its reason is
stored in the row and counted once, and the rows after it go on. Another process may read what
this one cannot (one holding a newer master key, or newer code knowing a newer kind or payload
version), so such rows are looked at again every ``SET_ASIDE_RECHECK`` and go out as soon as a
process can read them. A payload that decodes to the wrong fields stays set aside for good.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto, DecryptionError
from .database import short_hash
from .delivery import delivery_counts, dialect_of, increment_count
from .messages import MESSAGE_KINDS, Message, MessageError, UnknownKind, UnsupportedVersion, decode, encode
from .models import OutboxItem, random_id

log = logging.getLogger(__name__)

IN_DOUBT = "in_doubt"
UNDECRYPTABLE = "undecryptable"
SET_ASIDE_RECHECK = timedelta(minutes=10)
RECHECKED = (UNDECRYPTABLE, UnknownKind.reason, UnsupportedVersion.reason)
"""Reasons another process may not share; rows set aside for any other reason stay aside."""

M = TypeVar("M", bound=Message)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (it stores UTC text without an offset): make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, repr=False)
class ClaimedItem(Generic[M]):
    """A row this process may work on (until its lease ends, or its transaction does), decoded."""

    id: str
    message: M
    due_at: datetime
    attempts: int
    in_doubt: bool = False

    @property
    def kind(self) -> str:
        return self.message.kind

    def __repr__(self) -> str:
        return f"ClaimedItem(kind={self.kind!r}, attempts={self.attempts}, in_doubt={self.in_doubt})"


@dataclass(frozen=True, repr=False)
class Pending:
    """A row waiting to be sent, for inspection (tests, operators): its message and when it is due."""

    id: str
    message: Message
    due_at: datetime

    def __repr__(self) -> str:
        return f"Pending(message={self.message!r})"


def _binding(item_id: str) -> Binding:
    return Binding("outbox", "payload_ct", item_id)


class Outbox:
    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def enqueue(self, session: AsyncSession, message: Message, due_at: datetime) -> str:
        """Add ``message``, due at ``due_at``, to the caller's transaction; returns the row id."""
        item_id = random_id()
        sealed = self._crypto.seal_internal_json(encode(message), _binding(item_id))
        session.add(
            OutboxItem(id=item_id, kind=message.kind, due_at=as_utc(due_at), attempts=0, payload_ct=sealed)
        )
        return item_id

    def _read(self, row: OutboxItem) -> Message:
        """The row's message; raises :class:`MessageError` or :class:`DecryptionError`."""
        if row.kind not in MESSAGE_KINDS:  # before opening: the reason is the kind, whatever the payload
            raise UnknownKind("an outbox message of a kind this code does not know")
        return decode(row.kind, self._crypto.open_internal_json(row.payload_ct, _binding(row.id)))

    async def pending(self, session: AsyncSession, kind: type[Message] | None = None) -> list[Pending]:
        """Rows waiting to be sent (not set aside), due first; rows this process cannot read are left out."""
        query = select(OutboxItem).where(OutboxItem.set_aside.is_(None)).order_by(OutboxItem.due_at)
        if kind is not None:
            query = query.where(OutboxItem.kind == kind.kind)
        found: list[Pending] = []
        for row in (await session.execute(query)).scalars():
            try:
                found.append(Pending(row.id, self._read(row), as_utc(row.due_at)))
            except (DecryptionError, MessageError):
                continue
        return found

    async def set_aside_rows(self, session: AsyncSession) -> dict[str, str]:
        """Every row set aside, by id, with its reason."""
        query = select(OutboxItem.id, OutboxItem.set_aside).where(OutboxItem.set_aside.is_not(None))
        return {item_id: str(reason) for item_id, reason in await session.execute(query)}

    async def count(self, session: AsyncSession) -> int:
        """Every row, set aside or not."""
        return int((await session.execute(select(func.count()).select_from(OutboxItem))).scalar_one())

    def _due(self, now: datetime, kinds: Collection[type[M]], limit: int) -> Select[OutboxItem]:
        """Due rows of ``kinds``, oldest first, with set-aside rows due a re-check and rows of kinds
        nobody here knows (so they are counted and set aside rather than waiting unseen)."""
        names = sorted({kind.kind for kind in kinds})
        return (
            select(OutboxItem)
            .where(
                OutboxItem.due_at <= now,
                OutboxItem.set_aside.is_(None) | OutboxItem.set_aside.in_(RECHECKED),
                OutboxItem.kind.in_(names) | OutboxItem.kind.not_in(sorted(MESSAGE_KINDS)),
            )
            .order_by(OutboxItem.due_at)
            .limit(limit)
        )

    async def _readable(
        self, session: AsyncSession, rows: Sequence[OutboxItem], kinds: Collection[type[M]], now: datetime
    ) -> list[tuple[OutboxItem, M]]:
        """The rows this process can read, with their messages; every other row is set aside."""
        wanted = tuple(kinds)
        readable: list[tuple[OutboxItem, M]] = []
        for row in rows:
            try:
                message = self._read(row)
            except MessageError as error:
                await self._set_aside(session, row, error.reason, now)
                continue
            except DecryptionError:
                await self._set_aside(session, row, UNDECRYPTABLE, now)
                continue
            if not isinstance(message, wanted):  # never: the query selected these kinds
                continue
            if row.set_aside is not None:
                log.warning("outbox row %s is readable again (was %s)", short_hash(row.id), row.set_aside)
                row.set_aside = None
            readable.append((row, message))
        await session.flush()  # set-aside marks land now, outside any savepoint the caller opens next
        return readable

    async def _set_aside(self, session: AsyncSession, row: OutboxItem, reason: str, now: datetime) -> None:
        """Keep a row nobody may send as it is; count and log it when its reason is new."""
        if row.set_aside != reason:
            log.error("outbox row %s set aside: %s", short_hash(row.id), reason)
            await increment_count(session, reason)
        row.set_aside = reason
        row.claimed_until = None
        if reason in RECHECKED:
            row.due_at = as_utc(now) + SET_ASIDE_RECHECK

    async def set_aside(self, session: AsyncSession, item_id: str, reason: str) -> None:
        """Keep a claimed or locked row that can never be sent (``reason`` says why) out of every
        claim, without deleting it; counted once."""
        result = await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id, OutboxItem.set_aside.is_distinct_from(reason))
            .values(set_aside=reason, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            log.error("outbox row %s set aside: %s", short_hash(item_id), reason)
            await increment_count(session, reason)

    async def lock_due(
        self, session: AsyncSession, now: datetime, kinds: Collection[type[M]], limit: int
    ) -> list[ClaimedItem[M]]:
        """Due messages of ``kinds``, oldest first, locked until the transaction ends (skipping rows
        another replica holds). For work done entirely inside one transaction, such as turning an
        alert into deliveries, where a lease would only add a way to fail."""
        now = as_utc(now)
        query = self._due(now, kinds, limit)
        if dialect_of(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.execute(query)).scalars())
        return [
            ClaimedItem(row.id, message, as_utc(row.due_at), row.attempts)
            for row, message in await self._readable(session, rows, kinds, now)
        ]

    async def claim_due(
        self,
        session: AsyncSession,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        kinds: Collection[type[M]],
    ) -> list[ClaimedItem[M]]:
        """Claim up to ``limit`` due, unclaimed (or lease-expired) messages of ``kinds``, oldest
        first, until ``now + lease``; counts re-claims of expired leases as ``in_doubt``. Rows this
        process cannot read are set aside and counted, not claimed."""
        now = as_utc(now)
        unclaimed = OutboxItem.claimed_until.is_(None) | (OutboxItem.claimed_until < now)
        query = self._due(now, kinds, limit).where(unclaimed)
        if dialect_of(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.execute(query)).scalars())
        if not rows:
            return []
        claimed: list[ClaimedItem[M]] = []
        for row, message in await self._readable(session, rows, kinds, now):
            doubtful = row.claimed_until is not None
            claimed.append(ClaimedItem(row.id, message, as_utc(row.due_at), row.attempts + 1, doubtful))
        ids = [item.id for item in claimed]
        if ids:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids))
                .values(claimed_until=now + lease, attempts=OutboxItem.attempts + 1)
                .execution_options(synchronize_session=False)
            )
        await increment_count(session, IN_DOUBT, sum(item.in_doubt for item in claimed))
        return claimed

    async def complete(self, session: AsyncSession, item_id: str) -> bool:
        """The push happened: delete its row. False when the row was already gone."""
        result = await session.execute(delete(OutboxItem).where(OutboxItem.id == item_id))
        return bool(getattr(result, "rowcount", 0))

    async def complete_many(self, session: AsyncSession, item_ids: Sequence[str]) -> int:
        """Many pushes happened (a batch): delete their rows in a few statements; returns how many went."""
        deleted = 0
        for start in range(0, len(item_ids), 500):
            chunk = list(item_ids[start : start + 500])
            result = await session.execute(
                delete(OutboxItem).where(OutboxItem.id.in_(chunk)).execution_options(synchronize_session=False)
            )
            deleted += int(getattr(result, "rowcount", 0) or 0)
        return deleted

    async def reschedule(
        self, session: AsyncSession, item_id: str, due_at: datetime, *, attempted: bool = True
    ) -> None:
        """Release the claim and make the row due again at ``due_at``. ``attempted=False`` says
        the claim was handed back unused (a rate limit), so it does not count as an attempt."""
        values: dict[str, Any] = {"due_at": as_utc(due_at), "claimed_until": None}
        if not attempted:
            values["attempts"] = case((OutboxItem.attempts > 0, OutboxItem.attempts - 1), else_=0)
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def postpone(self, session: AsyncSession, item_id: str, due_at: datetime) -> None:
        """Keep a locked row for later: due again at ``due_at``, with one more attempt recorded
        (so a caller that holds a message can count the hold once, at ``attempts == 0``)."""
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id)
            .values(due_at=as_utc(due_at), attempts=OutboxItem.attempts + 1)
            .execution_options(synchronize_session=False)
        )

    async def drop(self, session: AsyncSession, item_id: str, reason: str) -> None:
        """Give up on a row for good: delete it and count why."""
        if await self.complete(session, item_id):
            await increment_count(session, reason)

    async def counts(self, session: AsyncSession) -> dict[str, int]:
        """Counters of outcomes that are not plain successes, by reason."""
        return await delivery_counts(session)
