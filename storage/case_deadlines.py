"""Case deadlines and check-ins as due work: which cases need a reminder, an escalation, a notice
or a check-in now, and the once-only record of each (``case_events``).

Each piece of work is claimed by inserting its key (``"<round>:remind:acknowledge"``,
``"<round>:escalate:feedback"``, ``"<round>:notice:acknowledged"``, ``"<round>:checkin:30"``) in
the caller's transaction, together with the outbox rows it sends: a second pass, a restart or a
second replica finds the key taken and does nothing, and a crash before commit leaves neither.
Nothing here reads a report or a contact; the job does that only for work it has claimed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Select, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from .case_status import CaseStatus
from .cases import CaseView, _view, refresh_next_due, stamp_deadlines, to_hour
from .deadline_rules import (
    CHECKIN_DAYS,
    CHECKIN_OPEN,
    FINISHED,
    MET,
    MISSED,
    OUTCOMES,
    CaseDeadlines,
    Deadline,
    NextDeadline,
    due,
    met,
    outcome,
    unmet,
)
from .delivery import dialect_of
from .models import Case, CaseEvent
from .outbox import as_utc

WITHOUT_SEALED = (defer(Case.wrapped_key), defer(Case.report_ct), defer(Case.contact_ct))
"""Scans of due work read times and statuses only, never the sealed columns."""
_EVENTS = cast(Table, CaseEvent.__table__)
DONE = "done"
ASKED = "asked"
ACKNOWLEDGED_NOTICE_WITHIN = timedelta(days=7)
"""How far back the scan looks for acknowledgements not yet told to the reporter (a bound on the
scan; after the migration, cases acknowledged in the week before it get their notice too)."""


def reminder_key(round_: int, deadline: Deadline) -> str:
    return f"{round_}:remind:{deadline.value}"


def escalation_key(round_: int, deadline: Deadline) -> str:
    return f"{round_}:escalate:{deadline.value}"


def acknowledged_notice_key(round_: int) -> str:
    return f"{round_}:notice:acknowledged"


def checkin_key(round_: int, days: int) -> str:
    return f"{round_}:checkin:{days}"


def outcome_key(round_: int, deadline: Deadline) -> str:
    """A deadline's outcome in a round that has ended (the case was reopened): state ``met`` or
    ``missed``, at its due time."""
    return f"{round_}:outcome:{deadline.value}"


def reopened_key(round_: int) -> str:
    """The reopening that started ``round_``: state ``retaliation`` (the reporter answered a
    check-in "yes, something happened"), at the hour of the answer."""
    return f"{round_}:reopened"


RETALIATION = "retaliation"


@dataclass(frozen=True)
class CaseEventView:
    """One recorded event of a case: its key, state and time (UTC-aware)."""

    key: str
    state: str
    at: datetime

    @property
    def round(self) -> int:
        return int(self.key.partition(":")[0])

    def outcome_of(self) -> Deadline | None:
        """The deadline whose outcome this event records, or None for other events."""
        parts = self.key.split(":")
        if len(parts) != 3 or parts[1] != "outcome" or self.state not in (MET, MISSED):
            return None
        try:
            return Deadline(parts[2])
        except ValueError:
            return None

    @property
    def is_retaliation(self) -> bool:
        return self.key == reopened_key(self.round) and self.state == RETALIATION


@dataclass(frozen=True)
class DueDeadline:
    """A deadline of ``case`` for which a reminder (``overdue`` False) or an escalation is due."""

    case: CaseView
    deadline: NextDeadline
    overdue: bool

    @property
    def key(self) -> str:
        make = escalation_key if self.overdue else reminder_key
        return make(self.case.round, self.deadline.deadline)


@dataclass(frozen=True)
class DueCheckin:
    """Check-ins of a closed case that are due; ``days`` is the latest, the one worth a push."""

    case: CaseView
    keys: tuple[str, ...]
    days: int


class CaseDeadlineRepository:
    """Due deadline work and its once-only records; every method takes the caller's session."""

    async def any_unstamped(self, session: AsyncSession) -> bool:
        """Whether an open case has no due times yet (a read, so a pass need not take the write lock)."""
        query = select(Case.id).where(Case.acknowledge_due.is_(None), Case.status.not_in(sorted(FINISHED))).limit(1)
        return (await session.execute(query)).first() is not None

    async def stamp_missing(
        self, session: AsyncSession, deadlines_for: Callable[[str], CaseDeadlines], limit: int = 500
    ) -> int:
        """Gives open cases without due times (received before deadlines existed, or created
        without the site's deadlines) theirs, counted from when they were received."""
        query = (
            select(Case)
            .where(Case.acknowledge_due.is_(None), Case.status.not_in(sorted(FINISHED)))
            .options(*WITHOUT_SEALED)
            .limit(limit)
        )
        rows = list((await session.execute(query)).scalars())
        for row in rows:
            stamp_deadlines(row, deadlines_for(row.site), as_utc(row.created_at))
        return len(rows)

    async def due_deadlines(
        self,
        session: AsyncSession,
        now: datetime,
        deadlines_for: Callable[[str], CaseDeadlines],
        max_lead: timedelta,
    ) -> list[DueDeadline]:
        """Reminders and escalations due now whose keys are not taken yet. Every open case with a
        deadline within ``max_lead`` is looked at (no batch limit: cases escalated long ago stay
        overdue and would otherwise crowd out newer ones); sealed columns are not loaded."""
        query = (
            select(Case)
            .where(
                Case.status.not_in(sorted(FINISHED)),
                Case.next_due.is_not(None),
                Case.next_due <= now + max_lead,
            )
            .order_by(Case.next_due)
            .options(*WITHOUT_SEALED)
        )
        cases = await self._views(session, query)
        taken = await self._keys(session, [case.id for case in cases])
        found: list[DueDeadline] = []
        for case in cases:
            lead = deadlines_for(case.site).remind_before
            for upcoming in unmet(case):
                due = as_utc(upcoming.due)
                upcoming = NextDeadline(upcoming.deadline, due)
                if now >= due:
                    # A missed deadline escalates; its reminder, if never sent, is no longer useful.
                    item = DueDeadline(case, upcoming, overdue=True)
                elif now >= due - lead:
                    item = DueDeadline(case, upcoming, overdue=False)
                else:
                    continue
                if item.key not in taken[case.id]:
                    found.append(item)
        return found

    async def acknowledged_unnoticed(self, session: AsyncSession, now: datetime) -> list[CaseView]:
        """Cases acknowledged lately whose reporter has not been sent the acknowledgement notice."""
        query = (
            select(Case)
            .where(
                Case.acknowledged_at.is_not(None),
                Case.acknowledged_at >= now - ACKNOWLEDGED_NOTICE_WITHIN,
                Case.status != CaseStatus.WITHDRAWN.value,
            )
            .options(*WITHOUT_SEALED)
        )
        cases = await self._views(session, query)
        taken = await self._keys(session, [case.id for case in cases])
        return [case for case in cases if acknowledged_notice_key(case.round) not in taken[case.id]]

    async def due_checkins(self, session: AsyncSession, now: datetime) -> list[DueCheckin]:
        """Closed cases with a check-in due (30, 60, 90 days after closing) and not yet made."""
        query = (
            select(Case)
            .where(
                Case.status.in_(sorted(OUTCOMES)),
                Case.closed_at.is_not(None),
                Case.closed_at <= now - timedelta(days=min(CHECKIN_DAYS)),
                Case.closed_at > now - timedelta(days=max(CHECKIN_DAYS)) - CHECKIN_OPEN,
            )
            .options(*WITHOUT_SEALED)
        )
        cases = await self._views(session, query)
        taken = await self._keys(session, [case.id for case in cases])
        found = []
        for case in cases:
            assert case.closed_at is not None
            closed = as_utc(case.closed_at)
            due = [days for days in CHECKIN_DAYS if now >= closed + timedelta(days=days)]
            keys = tuple(
                checkin_key(case.round, days) for days in due if checkin_key(case.round, days) not in taken[case.id]
            )
            if keys:
                found.append(DueCheckin(case, keys, max(due)))
        return found

    async def still_due(self, session: AsyncSession, items: Sequence[DueDeadline]) -> list[DueDeadline]:
        """Those of ``items`` whose case, read again in this transaction, still has that deadline
        unmet in the same round (HR may have acted since the scan). The rows are loaded whole, so
        opening their reports next reads no more rows."""
        ids = sorted({item.case.id for item in items})
        now_cases = {view.id: view for view in await self._views(session, select(Case).where(Case.id.in_(ids)))}
        kept = []
        for item in items:
            current = now_cases.get(item.case.id)
            if current is not None and current.round == item.case.round and not met(current, item.deadline.deadline):
                kept.append(item)
        return kept

    async def still_closed(self, session: AsyncSession, items: Sequence[DueCheckin]) -> list[DueCheckin]:
        """Those of ``items`` whose case is still closed in the same round."""
        ids = sorted({item.case.id for item in items})
        now_cases = {view.id: view for view in await self._views(session, select(Case).where(Case.id.in_(ids)))}
        kept = []
        for item in items:
            current = now_cases.get(item.case.id)
            if current is not None and current.round == item.case.round and current.status.value in OUTCOMES:
                kept.append(item)
        return kept

    async def claim(self, session: AsyncSession, case_id: str, key: str, now: datetime, state: str = DONE) -> bool:
        """Records ``key`` for the case; False (and nothing changed) when it was already recorded."""
        return (case_id, key) in await self.claim_many(session, [(case_id, key)], now, state)

    async def claim_many(
        self, session: AsyncSession, wanted: Sequence[tuple[str, str]], now: datetime, state: str = DONE
    ) -> set[tuple[str, str]]:
        """Records each (case id, key) not recorded yet, in one statement; returns those this call
        recorded. A replica recording the same key at the same moment waits for the other's commit
        (PostgreSQL) or for the write lock (SQLite), then finds it taken."""
        if not wanted:
            return set()
        insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
        statement = (
            insert(_EVENTS)
            .on_conflict_do_nothing(index_elements=["case_id", "key"])
            .returning(_EVENTS.c.case_id, _EVENTS.c.key)
        )
        rows = [{"case_id": case_id, "key": key, "state": state, "at": now} for case_id, key in dict.fromkeys(wanted)]
        return {(case_id, key) for case_id, key in await session.execute(statement, rows)}

    async def mark_escalated(self, session: AsyncSession, case_ids: Sequence[str], now: datetime) -> None:
        """Marks the cases escalated (the first escalation's time stays), in one statement."""
        if case_ids:
            await session.execute(
                update(Case)
                .where(Case.id.in_(sorted(set(case_ids))), Case.escalated_at.is_(None))
                .values(escalated_at=now)
                .execution_options(synchronize_session=False)
            )

    async def checkin_open(self, session: AsyncSession, case: CaseView, now: datetime) -> bool:
        """Whether the reporter of this closed case was asked to check in lately (so the status
        flow asks whether anything happened to them because of the report)."""
        if case.status.value not in OUTCOMES:
            return False
        keys = [checkin_key(case.round, days) for days in CHECKIN_DAYS]
        query = select(CaseEvent.at).where(
            CaseEvent.case_id == case.id, CaseEvent.key.in_(keys), CaseEvent.state == ASKED
        )
        return any(as_utc(at) > now - CHECKIN_OPEN for at in (await session.execute(query)).scalars())

    async def reopen_urgent(
        self, session: AsyncSession, case_id: str, now: datetime, deadlines: CaseDeadlines
    ) -> CaseView:
        """Opens a closed case again, urgent, as newly received: a new round of deadlines counted
        from this hour (the reporter's act, so the hour only). Records how the ending round's
        deadlines went (their due times are overwritten) and the reopening itself, for the digest."""
        row = await session.get(Case, case_id)
        if row is None:
            raise LookupError("no such case")
        hour = to_hour(now)
        ended = _view(row)
        taken = (await self._keys(session, [case_id]))[case_id]
        for deadline in Deadline:
            result = outcome(ended, deadline, escalation_key(ended.round, deadline) in taken)
            when = due(ended, deadline)
            if result is not None and when is not None and outcome_key(ended.round, deadline) not in taken:
                session.add(CaseEvent(case_id=case_id, key=outcome_key(ended.round, deadline), state=result, at=when))
        session.add(CaseEvent(case_id=case_id, key=reopened_key(ended.round + 1), state=RETALIATION, at=hour))
        row.round = (row.round or 1) + 1
        row.status = CaseStatus.RECEIVED.value
        row.urgent = True
        row.acknowledged_at = None
        row.first_feedback_at = None
        row.closed_at = None
        row.updated_at = hour
        stamp_deadlines(row, deadlines, hour)
        refresh_next_due(row)
        await session.flush()
        return _view(row)

    async def events(self, session: AsyncSession, case_ids: Iterable[str]) -> dict[str, list[CaseEventView]]:
        """Every recorded event of the cases (for the digest: escalations, ended rounds' outcomes,
        reopenings); read in chunks, so any number of cases takes a few queries."""
        ids = sorted(set(case_ids))
        found: dict[str, list[CaseEventView]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            query = select(CaseEvent.case_id, CaseEvent.key, CaseEvent.state, CaseEvent.at).where(
                CaseEvent.case_id.in_(ids[start : start + 500])
            )
            for case_id, key, state, at in await session.execute(query):
                found[case_id].append(CaseEventView(key, state, as_utc(at)))
        return found

    async def _views(self, session: AsyncSession, query: Select[Case]) -> list[CaseView]:
        views = []
        for row in (await session.execute(query)).scalars():
            try:
                views.append(_view(row))
            except ValueError:  # a status this code does not know: left for newer code
                continue
        return views

    async def _keys(self, session: AsyncSession, case_ids: Iterable[str]) -> dict[str, set[str]]:
        ids = list(case_ids)
        taken: dict[str, set[str]] = defaultdict(set)
        if ids:
            query = select(CaseEvent.case_id, CaseEvent.key).where(CaseEvent.case_id.in_(ids))
            for case_id, key in await session.execute(query):
                taken[case_id].add(key)
        return taken
