"""Reminder occasions and their due work: at most one reminder per worker and occasion.

An *occasion* is one firing of a schedule at one site (the March training, May's refresher quiz,
a day's onboarding step, an announcement). When it is due it is *planned*: one ``reminder_due``
row per subscribed worker, inserted in the same transaction that marks the occasion planned, with
a primary key that is a keyed hash of (occasion, address) — so a worker can be planned only once
per occasion, whatever crashes or replicas do. Due rows are then claimed in batches (``SKIP
LOCKED`` on PostgreSQL) and *settled* — turned into an outbox push, held for the worker's next
message, or dropped with a counted reason — each in the same transaction as its settlement mark.
A settled row keeps no address (its sealed payload is erased) and stays as a tombstone until its
occasion is deleted, months after it ended.

Counts are numbers per occasion and reason, never identities. Pauses are rows naming a schedule
or an occasion, so every process sees a pause at its next pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto, DecryptionError, Purpose
from .delivery import dialect_of
from .models import ReminderCount, ReminderDue, ReminderOccasion, ReminderPause
from .outbox import as_utc
from .subscriptions import HeldReminderStore, SubscriptionStore

SCHEDULED = "scheduled"
PLANNED = "planned"
MISSED = "missed"
DUE = "due"
QUEUED = "queued"
HELD = "held"
DROPPED = "dropped"
KEEP_AFTER_END = timedelta(days=180)
"""How long an ended occasion's counts (and tombstones) are kept for ``hapbot remind list``."""
INSERT_CHUNK = 500


@dataclass(frozen=True, repr=False)
class Content:
    """What an announcement says, by language, and what it opens (``""``, ``quiz``, ``quiz:<id>``
    or ``faq:<entry>``)."""

    texts: Mapping[str, str]
    opens: str = ""

    def __repr__(self) -> str:
        return f"Content(languages={sorted(self.texts)}, opens={self.opens!r})"


@dataclass(frozen=True, repr=False)
class Occasion:
    id: str
    schedule: str
    site: str
    due_at: datetime
    ends_at: datetime
    state: str = SCHEDULED
    content: Content | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Occasion({self.id!r}, state={self.state!r})"


@dataclass(frozen=True, repr=False)
class DueItem:
    """A claimed due row: whom (``contact``) to remind of which occasion, due when."""

    id: str
    occasion: str
    contact: str
    due_at: datetime

    def __repr__(self) -> str:
        return f"DueItem(occasion={self.occasion!r})"


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT (both spell ``ON CONFLICT`` the same way)."""
    return pg_insert if dialect_of(session) == "postgresql" else sqlite_insert


def _hour(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() // 3600)


class ReminderBook:
    """Occasions, due rows, counts and pauses; every method works inside the caller's transaction."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    # Occasions

    def _content_binding(self, occasion_id: str) -> Binding:
        return Binding("reminder_occasions", "content_ct", occasion_id)

    def _occasion(self, row: ReminderOccasion) -> Occasion:
        content = None
        if row.content_ct is not None:
            try:
                document = self._crypto.open_internal_json(row.content_ct, self._content_binding(row.id))
                content = Content({str(k): str(v) for k, v in document["texts"].items()}, str(document["opens"]))
            except (DecryptionError, KeyError, TypeError, AttributeError):
                content = None
        return Occasion(
            row.id, row.schedule, row.site, as_utc(row.due_at), as_utc(row.ends_at), row.state, content
        )

    async def add_occasion(self, session: AsyncSession, occasion: Occasion) -> bool:
        """Adds the occasion unless one with its id exists; True when added."""
        sealed = None
        if occasion.content is not None:
            document = {"texts": dict(occasion.content.texts), "opens": occasion.content.opens}
            sealed = self._crypto.seal_internal_json(document, self._content_binding(occasion.id))
        insert = dialect_insert(session)
        statement = insert(ReminderOccasion).values(
            id=occasion.id,
            schedule=occasion.schedule,
            site=occasion.site,
            due_at=as_utc(occasion.due_at),
            ends_at=as_utc(occasion.ends_at),
            state=occasion.state,
            content_ct=sealed,
            expires_hour=_hour(occasion.ends_at + KEEP_AFTER_END),
        ).on_conflict_do_nothing(index_elements=["id"])
        result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def occasion(self, session: AsyncSession, occasion_id: str) -> Occasion | None:
        row = await session.get(ReminderOccasion, occasion_id)
        return self._occasion(row) if row is not None else None

    async def occasions(
        self, session: AsyncSession, *, schedule: str | None = None, ending_after: datetime | None = None
    ) -> list[Occasion]:
        """Occasions by due time, optionally of one schedule or still running after a moment."""
        query = select(ReminderOccasion).order_by(ReminderOccasion.due_at, ReminderOccasion.id)
        if schedule is not None:
            query = query.where(ReminderOccasion.schedule == schedule)
        if ending_after is not None:
            query = query.where(ReminderOccasion.ends_at > as_utc(ending_after))
        return [self._occasion(row) for row in (await session.execute(query)).scalars()]

    async def lock_plannable(self, session: AsyncSession, now: datetime, limit: int = 10) -> list[Occasion]:
        """Scheduled occasions whose time has come, locked until the transaction ends (skipping
        those another replica is planning)."""
        query = (
            select(ReminderOccasion)
            .where(ReminderOccasion.state == SCHEDULED, ReminderOccasion.due_at <= as_utc(now))
            .order_by(ReminderOccasion.due_at)
            .limit(limit)
        )
        if dialect_of(session) == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [self._occasion(row) for row in (await session.execute(query)).scalars()]

    async def mark(self, session: AsyncSession, occasion_id: str, state: str) -> None:
        await session.execute(
            update(ReminderOccasion).where(ReminderOccasion.id == occasion_id).values(state=state)
        )

    async def move(self, session: AsyncSession, occasion_id: str, due_at: datetime) -> None:
        """Makes a scheduled occasion due at ``due_at`` (``hapbot remind run``)."""
        await session.execute(
            update(ReminderOccasion)
            .where(ReminderOccasion.id == occasion_id, ReminderOccasion.state == SCHEDULED)
            .values(due_at=as_utc(due_at))
        )

    # Due work

    def due_id(self, occasion_id: str, contact: str) -> str:
        """The due row of a worker for an occasion: a keyed hash, the same every time it is planned."""
        return self._crypto.pseudonym(Purpose.REMINDER, f"due:{occasion_id}:{contact}")

    def _payload_binding(self, due_id: str) -> Binding:
        return Binding("reminder_due", "payload_ct", due_id)

    async def plan(self, session: AsyncSession, occasion_id: str, entries: Iterable[tuple[str, datetime]]) -> int:
        """One due row per (address, due time) not planned before; returns how many were added."""
        added = 0
        chunk: dict[str, tuple[str, datetime]] = {}
        for contact, due_at in entries:
            chunk[self.due_id(occasion_id, contact)] = (contact, due_at)
            if len(chunk) >= INSERT_CHUNK:
                added += await self._insert_due(session, occasion_id, chunk)
                chunk = {}
        if chunk:
            added += await self._insert_due(session, occasion_id, chunk)
        return added

    async def _insert_due(
        self, session: AsyncSession, occasion_id: str, chunk: Mapping[str, tuple[str, datetime]]
    ) -> int:
        existing = set((await session.execute(select(ReminderDue.id).where(ReminderDue.id.in_(list(chunk))))).scalars())
        values = [
            {
                "id": due_id,
                "occasion_id": occasion_id,
                "due_at": as_utc(due_at),
                "state": DUE,
                "payload_ct": self._crypto.seal_internal_json({"contact": contact}, self._payload_binding(due_id)),
            }
            for due_id, (contact, due_at) in chunk.items()
            if due_id not in existing
        ]
        if values:
            statement = dialect_insert(session)(ReminderDue).on_conflict_do_nothing(index_elements=["id"])
            await session.execute(statement, values)
        return len(values)

    async def claim_due(self, session: AsyncSession, now: datetime, limit: int) -> list[DueItem]:
        """Up to ``limit`` due rows of occasions that are not paused, oldest first, locked until
        the transaction ends (skipping rows another replica holds). A row whose address cannot be
        read is dropped and counted (``undecryptable``)."""
        paused = await self.paused(session)
        query = (
            select(ReminderDue)
            .join(ReminderOccasion, ReminderOccasion.id == ReminderDue.occasion_id)
            .where(ReminderDue.state == DUE, ReminderDue.due_at <= as_utc(now))
            .order_by(ReminderDue.due_at)
            .limit(limit)
        )
        if paused:
            query = query.where(ReminderOccasion.schedule.not_in(paused), ReminderOccasion.id.not_in(paused))
        if dialect_of(session) == "postgresql":
            query = query.with_for_update(skip_locked=True, of=ReminderDue)
        items: list[DueItem] = []
        unreadable: dict[str, str] = {}
        for row in (await session.execute(query)).scalars():
            try:
                document = self._crypto.open_internal_json(row.payload_ct or b"", self._payload_binding(row.id))
                items.append(DueItem(row.id, row.occasion_id, str(document["contact"]), as_utc(row.due_at)))
            except (DecryptionError, KeyError, TypeError):
                unreadable[row.id] = row.occasion_id
        if unreadable:
            await self.settle(session, {due_id: DROPPED for due_id in unreadable})
            for occasion_id in unreadable.values():
                await self.count(session, occasion_id, "undecryptable")
        return items

    async def settle(self, session: AsyncSession, states: Mapping[str, str]) -> None:
        """Marks due rows ``queued``, ``held`` or ``dropped`` and erases their addresses."""
        by_state: dict[str, list[str]] = {}
        for due_id, state in states.items():
            by_state.setdefault(state, []).append(due_id)
        for state, ids in by_state.items():
            for start in range(0, len(ids), INSERT_CHUNK):
                await session.execute(
                    update(ReminderDue)
                    .where(ReminderDue.id.in_(ids[start : start + INSERT_CHUNK]))
                    .values(state=state, payload_ct=None)
                    .execution_options(synchronize_session=False)
                )

    async def postpone(self, session: AsyncSession, due_id: str, due_at: datetime) -> None:
        """Keeps a due row for later (quiet hours)."""
        await session.execute(
            update(ReminderDue)
            .where(ReminderDue.id == due_id)
            .values(due_at=as_utc(due_at))
            .execution_options(synchronize_session=False)
        )

    async def waiting(self, session: AsyncSession) -> dict[str, int]:
        """Due rows not yet settled, by occasion."""
        query = (
            select(ReminderDue.occasion_id, func.count())
            .where(ReminderDue.state == DUE)
            .group_by(ReminderDue.occasion_id)
        )
        return {occasion: int(n) for occasion, n in await session.execute(query)}

    # Counts

    async def count(self, session: AsyncSession, occasion_id: str, reason: str, by: int = 1) -> None:
        """Adds ``by`` to an occasion's counter of ``reason``, atomically across replicas."""
        if by <= 0:
            return
        insert = dialect_insert(session)
        statement = insert(ReminderCount).values(occasion_id=occasion_id, reason=reason, count=by)
        statement = statement.on_conflict_do_update(
            index_elements=["occasion_id", "reason"], set_={"count": ReminderCount.count + statement.excluded.count}
        )
        await session.execute(statement)

    async def add_counts(self, session: AsyncSession, counts: Mapping[tuple[str, str], int]) -> None:
        for (occasion_id, reason), by in sorted(counts.items()):
            await self.count(session, occasion_id, reason, by)

    async def counts(self, session: AsyncSession) -> dict[str, dict[str, int]]:
        """Every occasion's counters, by reason."""
        found: dict[str, dict[str, int]] = {}
        rows = await session.execute(select(ReminderCount.occasion_id, ReminderCount.reason, ReminderCount.count))
        for occasion_id, reason, count in rows:
            found.setdefault(occasion_id, {})[reason] = int(count)
        return found

    # Pauses

    async def pause(self, session: AsyncSession, name: str) -> None:
        insert = dialect_insert(session)
        await session.execute(insert(ReminderPause).values(name=name).on_conflict_do_nothing(index_elements=["name"]))

    async def resume(self, session: AsyncSession, name: str) -> bool:
        result = await session.execute(delete(ReminderPause).where(ReminderPause.name == name))
        return bool(getattr(result, "rowcount", 0))

    async def paused(self, session: AsyncSession) -> set[str]:
        return set((await session.execute(select(ReminderPause.name))).scalars())



@dataclass(frozen=True)
class ReminderStores:
    """Everything of reminders the conversation and the jobs use, built from one key ring."""

    subscriptions: SubscriptionStore
    held: HeldReminderStore
    book: ReminderBook

    @classmethod
    def from_crypto(cls, crypto: Crypto) -> ReminderStores:
        return cls(SubscriptionStore(crypto), HeldReminderStore(crypto), ReminderBook(crypto))
