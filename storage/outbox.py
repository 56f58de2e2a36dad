"""The durable outbox: every push the bot makes is first a row here, written in the same
transaction as the change that causes it, so a crash can delay a push but never lose it.

Sending is at-least-once. A sender *claims* due rows for a lease (one short transaction), sends
without holding any transaction open, then deletes the row (``complete``) or gives it a new due
time (``reschedule``) in another short transaction. A row whose lease ran out while it was still
there was claimed by a sender that died or stalled after perhaps sending it: claiming it again is
counted as ``in_doubt`` (a possible duplicate, never a loss). On PostgreSQL claims use
``FOR UPDATE SKIP LOCKED`` so replicas claiming at the same moment take disjoint rows; on SQLite
the single writer lock serialises claims.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto, DecryptionError
from .database import short_hash
from .delivery import delivery_counts, dialect_of, increment_count
from .models import OutboxItem, random_id

log = logging.getLogger(__name__)

IN_DOUBT = "in_doubt"
UNDECRYPTABLE = "undecryptable"


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (it stores UTC text without an offset): make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, repr=False)
class ClaimedItem:
    """A row this sender may work on until its lease ends; the payload is already opened."""

    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    in_doubt: bool

    def __repr__(self) -> str:
        return f"ClaimedItem(kind={self.kind!r}, attempts={self.attempts}, in_doubt={self.in_doubt})"


class Outbox:
    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def enqueue(self, session: AsyncSession, kind: str, payload: dict[str, Any], due_at: datetime) -> str:
        item_id = random_id()
        sealed = self._crypto.seal_internal_json(payload, Binding("outbox", "payload_ct", item_id))
        session.add(OutboxItem(id=item_id, kind=kind, due_at=as_utc(due_at), attempts=0, payload_ct=sealed))
        return item_id

    def open_payload(self, item: OutboxItem) -> dict[str, Any]:
        payload = self._crypto.open_internal_json(item.payload_ct, Binding("outbox", "payload_ct", item.id))
        if not isinstance(payload, dict):
            raise ValueError("sealed outbox payload is not an object")
        return payload

    async def pending(self, session: AsyncSession, kind: str | None = None) -> list[OutboxItem]:
        query = select(OutboxItem).order_by(OutboxItem.due_at)
        if kind is not None:
            query = query.where(OutboxItem.kind == kind)
        return list((await session.execute(query)).scalars())

    async def count(self, session: AsyncSession) -> int:
        return int((await session.execute(select(func.count()).select_from(OutboxItem))).scalar_one())

    async def lock_due(
        self, session: AsyncSession, now: datetime, kinds: Collection[str], limit: int
    ) -> list[OutboxItem]:
        """Due rows of ``kinds``, oldest first, locked until the transaction ends (skipping rows
        another replica holds). For work done entirely inside one transaction, such as turning an
        alert into deliveries, where a lease would only add a way to fail."""
        now = as_utc(now)
        query = (
            select(OutboxItem)
            .where(OutboxItem.kind.in_(list(kinds)), OutboxItem.due_at <= now)
            .order_by(OutboxItem.due_at)
            .limit(limit)
        )
        if dialect_of(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list((await session.execute(query)).scalars())

    async def claim_due(
        self,
        session: AsyncSession,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        kinds: Collection[str] | None = None,
    ) -> list[ClaimedItem]:
        """Claim up to ``limit`` due, unclaimed (or lease-expired) rows, oldest first, until
        ``now + lease``; counts re-claims of expired leases as ``in_doubt``. A payload that no
        longer decrypts can never be sent, so its row is dropped and counted instead."""
        now = as_utc(now)
        unclaimed = OutboxItem.claimed_until.is_(None) | (OutboxItem.claimed_until < now)
        query = select(OutboxItem).where(OutboxItem.due_at <= now, unclaimed).order_by(OutboxItem.due_at).limit(limit)
        if kinds is not None:
            query = query.where(OutboxItem.kind.in_(list(kinds)))
        if dialect_of(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.execute(query)).scalars())
        if not rows:
            return []
        claimed: list[ClaimedItem] = []
        in_doubt = 0
        for row in rows:
            try:
                payload = self.open_payload(row)
            except (DecryptionError, ValueError):
                log.error("outbox row %s does not decrypt; dropped", short_hash(row.id))
                await self.drop(session, row.id, UNDECRYPTABLE)
                continue
            doubtful = row.claimed_until is not None
            in_doubt += doubtful
            claimed.append(ClaimedItem(row.id, row.kind, payload, row.attempts + 1, doubtful))
        ids = [item.id for item in claimed]
        if ids:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids))
                .values(claimed_until=now + lease, attempts=OutboxItem.attempts + 1)
                .execution_options(synchronize_session=False)
            )
        await increment_count(session, IN_DOUBT, in_doubt)
        return claimed

    async def complete(self, session: AsyncSession, item_id: str) -> bool:
        """The push happened: delete its row. False when the row was already gone."""
        result = await session.execute(delete(OutboxItem).where(OutboxItem.id == item_id))
        return bool(getattr(result, "rowcount", 0))

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

    async def drop(self, session: AsyncSession, item_id: str, reason: str) -> None:
        """Give up on a row for good: delete it and count why."""
        if await self.complete(session, item_id):
            await increment_count(session, reason)

    async def counts(self, session: AsyncSession) -> dict[str, int]:
        """Counters of outcomes that are not plain successes, by reason."""
        return await delivery_counts(session)
