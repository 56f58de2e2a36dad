"""What a case's deadlines are and which one comes next: plain rules on plain values, without
SQLAlchemy, so settings, the privacy notice and the desk can use them.

A case has three deadlines, counted in calendar days from the day it was received (or reopened):
HR acknowledges it, HR first writes to the reporter, the case is resolved. Each falls at the end of
the working day (``DUE_AT``, the deployment's time zone), never at the hour of the report: every
case received on one day has the same due times, so a reminder or an escalation in a group chat
does not tell when in the day the report came (the first alert's random delay hides that too). Each is met by an act
(acknowledged, first HR message, a finishing status), never by the clock; a closed or withdrawn
case has no deadline at all. Statuses are compared as strings so the HR desk may add statuses
(``received``, ``action_taken``, ``no_case_found``) without this module changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

NOT_YET_ACKNOWLEDGED = frozenset({"new", "received"})
OUTCOMES = frozenset({"resolved", "action_taken", "no_case_found", "closed"})
"""Statuses that end a case's work: the resolution deadline is met, and check-ins follow."""
FINISHED = OUTCOMES | {"withdrawn"}
"""Statuses with no deadline left."""
CHECKIN_DAYS = (30, 60, 90)
"""Days after closing when a reporter is asked whether anything happened to them because of the report."""
DUE_AT = time(18, 0)
"""A deadline falls at this time of day (local) on its last day."""
CHECKIN_OPEN = timedelta(days=30)
"""How long after a check-in its question is asked when the reporter enters the receipt."""


class Deadline(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    FEEDBACK = "feedback"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class CaseDeadlines:
    """A site's deadlines in days, and how long before each one HR is reminded.

    Defaults: acknowledgement within 7 days (the EU Whistleblowing Directive's figure; many brands'
    codes ask for 2 working days, set ``acknowledge_days = 2`` or 3 there); first feedback within
    14 days (a worker who hears nothing for weeks assumes nothing happens and may leave the job or
    stop cooperating; two weeks is enough for HR to make first enquiries and say what comes next);
    resolution within 90 days (the Directive's three months for feedback on the outcome)."""

    acknowledge_days: int = 7
    feedback_days: int = 14
    resolve_days: int = 90
    remind_before: timedelta = timedelta(days=1)
    time_zone: str = "Asia/Shanghai"  # [bot] time_zone: whose days and working-day end count

    def days(self, deadline: Deadline) -> int:
        return {
            Deadline.ACKNOWLEDGE: self.acknowledge_days,
            Deadline.FEEDBACK: self.feedback_days,
            Deadline.RESOLVE: self.resolve_days,
        }[deadline]

    def due_from(self, start: datetime) -> dict[Deadline, datetime]:
        """Each deadline's moment: ``DUE_AT`` local time, that many days after the day of ``start``."""
        zone = ZoneInfo(self.time_zone)
        first_day = start.astimezone(zone).date()
        return {
            deadline: datetime.combine(first_day + timedelta(days=self.days(deadline)), DUE_AT, zone).astimezone(UTC)
            for deadline in Deadline
        }


class HasDeadlines(Protocol):
    """A case row or view: its status, its due times and when each was met."""

    @property
    def status(self) -> str: ...
    @property
    def acknowledge_due(self) -> datetime | None: ...
    @property
    def feedback_due(self) -> datetime | None: ...
    @property
    def resolve_due(self) -> datetime | None: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def first_feedback_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class NextDeadline:
    deadline: Deadline
    due: datetime

    def overdue(self, now: datetime) -> bool:
        return now >= self.due


def met(case: HasDeadlines, deadline: Deadline) -> bool:
    """Whether the act that meets ``deadline`` has happened (a finished case has met them all)."""
    status = str(case.status)
    if status in FINISHED:
        return True
    if deadline is Deadline.ACKNOWLEDGE:
        return case.acknowledged_at is not None or status not in NOT_YET_ACKNOWLEDGED
    if deadline is Deadline.FEEDBACK:
        return case.first_feedback_at is not None
    return False


def due(case: HasDeadlines, deadline: Deadline) -> datetime | None:
    return {
        Deadline.ACKNOWLEDGE: case.acknowledge_due,
        Deadline.FEEDBACK: case.feedback_due,
        Deadline.RESOLVE: case.resolve_due,
    }[deadline]


def unmet(case: HasDeadlines) -> list[NextDeadline]:
    """The deadlines not met yet, earliest first (none for a finished case)."""
    found = []
    for deadline in Deadline:
        when = due(case, deadline)
        if when is not None and not met(case, deadline):
            found.append(NextDeadline(deadline, when))
    return sorted(found, key=lambda item: item.due)


def next_deadline(case: HasDeadlines) -> NextDeadline | None:
    """The case's next deadline (which one and when), or None when there is none left."""
    pending = unmet(case)
    return pending[0] if pending else None


MET, MISSED = "met", "missed"


class HasOutcome(HasDeadlines, Protocol):
    """A case whose deadlines' outcomes can be told: also when it was closed with an outcome."""

    @property
    def closed_at(self) -> datetime | None: ...


def outcome(case: HasOutcome, deadline: Deadline, escalated: bool) -> str | None:
    """How ``deadline`` of the case's current round went, once its due time has passed (times
    UTC-aware): :data:`MISSED` when it was escalated, or when the act meeting it came after the due
    time or not yet; :data:`MET` when the act, or an outcome closing the case, came in time. None
    for a withdrawn case (the reporter ended it, so its times say nothing about HR) and for a
    deadline the case does not have."""
    when = due(case, deadline)
    if when is None or str(case.status) == "withdrawn":
        return None
    if escalated:
        return MISSED
    act = {
        Deadline.ACKNOWLEDGE: case.acknowledged_at,
        Deadline.FEEDBACK: case.first_feedback_at,
        Deadline.RESOLVE: case.closed_at,
    }[deadline]
    if act is not None:
        return MET if act <= when else MISSED
    if case.closed_at is not None and case.closed_at <= when:
        return MET
    if deadline is Deadline.ACKNOWLEDGE and met(case, deadline):
        return MET  # acknowledged before its time was recorded (cases older than deadlines)
    return MISSED
