"""The weekly digest's figures, with small groups protected: what HR and the board may read.

One site, one audience (``hr``: the cases alerted to HR; ``board``: the cases about a supervisor,
a manager or HR, which HR never sees), one ISO week in the site's time zone. The figures are
numbers only: no reference, no date finer than the week, nothing a reporter wrote.

**Small groups.** No figure below :data:`SMALL_GROUP` (5) is ever shown. A total under 5 is shown
as "<5" and nothing of it is broken down. A breakdown (by category, status, age...) whose total is
5 or more shows each group of 5 or more; groups under 5 are *merged* with each other, and with the
smallest shown groups when needed, into one combined group of at least two groups and at least 5
cases (:func:`protect`). So every number shown is a total or a group of 5 or more, the shown groups
add up to the total, and nothing can be subtracted from the total to find a small group: the only
thing left over is the combined group, itself 5 or more, made of groups whose shares are not shown.
We chose merging over "<5" cells with complementary suppression because hidden cells plus their
known sum still give bounds (two hidden cells adding to 8 must both be 4); a merged group gives
none. Zero counts as small: "no physical harassment this week" beside a total of 3 would say what
the other three were. Breakdowns are one-way only (category, or status, or age; never category
by status), so no cross-table cell can be worked out either.

What this leaves: consecutive weeks' open counts can be compared (10 open last week, 11 now), which
tells a net change, not who or what; the weekly totals themselves are shown once they reach 5.

**Deadlines** are the case deadlines of :mod:`storage.deadline_rules` (acknowledge, first
feedback, resolve, in the site's days): each one whose due time fell in the week, and has passed,
counts once as met or missed (:func:`storage.deadline_rules.outcome`: missed when it was escalated
or its act came late; withdrawn cases are left out). A reopened case's earlier rounds count from the
outcomes recorded when it was reopened. The six kinds (acknowledge met, acknowledge missed, ...)
form one breakdown, protected like the others, and no other line shows any of them, so no cell of
deadline by outcome can be worked out from a margin.

**Retaliation reports** are the reporters who answered a check-in "yes, something happened to me
because of the report" during the week (each reopened their case as urgent): a count only, shown
from 5, in the digest of the audience the case belongs to (the board's for cases about a
supervisor, a manager or HR, HR's for the rest).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.case_deadlines import CaseEventView, escalation_key
from storage.case_status import CaseStatus
from storage.cases import CaseView
from storage.deadline_rules import MET, MISSED, Deadline, due, outcome
from storage.outbox import as_utc
from storage.quiz_tallies import WHOLE_QUIZ

from .context import Services
from .report import CATEGORIES, case_audience

Audience = Literal["hr", "board"]
SMALL_GROUP = 5
"""Smallest number the digest shows: below it a figure could describe one or two people."""
COMBINED = "combined"
OPEN = (CaseStatus.RECEIVED, CaseStatus.ACKNOWLEDGED, CaseStatus.INVESTIGATING)
# A finding (action taken, no case found) counts as closed for the digest, as ``resolved`` did.
FINISHED = (CaseStatus.ACTION_TAKEN, CaseStatus.NO_CASE_FOUND, CaseStatus.CLOSED, CaseStatus.WITHDRAWN)
AGE_BANDS: tuple[tuple[str, int | None], ...] = (("0-7", 7), ("8-30", 30), ("31-90", 90), ("90+", None))
"""Age of an open case at the end of the week, in days: each band's name and its last day."""
DEADLINE_KINDS: tuple[str, ...] = tuple(
    f"{deadline.value}:{result}" for deadline in Deadline for result in (MET, MISSED)
)
"""The deadline breakdown's groups, in order: ``acknowledge:met``, ``acknowledge:missed``, ..."""


@dataclass(frozen=True)
class Week:
    """An ISO week in a site's time zone: Monday 00:00 to the next Monday 00:00 (UTC-aware)."""

    year: int
    number: int
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> Week:
        local = moment.astimezone(tz)
        monday = local.date() - timedelta(days=local.weekday())
        return cls.of(monday, tz)

    @classmethod
    def of(cls, monday: date, tz: ZoneInfo) -> Week:
        year, number, _ = monday.isocalendar()
        start = datetime.combine(monday, time(), tz)
        end = datetime.combine(monday + timedelta(days=7), time(), tz)
        return cls(year, number, start, end)

    def previous(self, tz: ZoneInfo) -> Week:
        return Week.of(self.start.date() - timedelta(days=7), tz)


@dataclass(frozen=True)
class Group:
    """One shown group: ``key`` (a category, status or band), or :data:`COMBINED` with its ``members``."""

    key: str
    value: int
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Breakdown:
    """A total and its groups as they may be shown. ``total`` is None when it is under 5 ("<5"),
    and then there are no groups; ``groups`` is empty when every group had to be merged."""

    total: int | None
    groups: tuple[Group, ...] = ()


def protect(parts: Mapping[str, int]) -> Breakdown:
    """The breakdown of ``parts`` (in their order) that shows no group under 5 and lets none be
    worked out: groups under 5 are merged, with the smallest others when needed, until the merged
    group holds at least two groups and at least 5; when that takes every group, only the total
    is shown."""
    total = sum(parts.values())
    if total < SMALL_GROUP:
        return Breakdown(None)
    merged = [key for key, value in parts.items() if value < SMALL_GROUP]
    if merged:
        shown = sorted((key for key in parts if key not in merged), key=lambda key: (parts[key], key))
        while shown and (len(merged) < 2 or sum(parts[key] for key in merged) < SMALL_GROUP):
            merged.append(shown.pop(0))
    if len(merged) == len(parts):
        return Breakdown(total)
    groups = [Group(key, value) for key, value in parts.items() if key not in merged]
    if merged:
        members = tuple(key for key in parts if key in merged)
        groups.append(Group(COMBINED, sum(parts[key] for key in merged), members))
    return Breakdown(total, tuple(groups))


def protect_count(value: int) -> int | None:
    """One number on its own: itself from 5, else None ("<5")."""
    return value if value >= SMALL_GROUP else None


@dataclass(frozen=True)
class Training:
    """Refresher quizzes in the month of the week's last day, summed over the quizzes taken by at
    least 5 workers (``hidden`` quizzes had fewer and are left out), and the training records
    workers chose to keep during the week."""

    month: str
    quizzes: int
    completions: int
    passes: int
    hidden: int
    records: int | None


@dataclass(frozen=True)
class DigestFigures:
    """Everything a digest shows, already protected; safe to render, send and serve."""

    site: str
    week: Week
    audience: Audience
    received: Breakdown
    open_by_status: Breakdown
    open_by_age: Breakdown
    closed: Breakdown
    deadlines: Breakdown
    retaliation: int | None
    training: Training | None = field(default=None)


@dataclass(frozen=True)
class _Case:
    view: CaseView
    status: CaseStatus
    created_at: datetime
    updated_at: datetime
    category: str

    @classmethod
    def of(cls, view: CaseView, category: str) -> _Case:
        return cls(view, view.status, as_utc(view.created_at), as_utc(view.updated_at), category)


async def _cases(session: AsyncSession, services: Services, site: str, audience: Audience) -> list[_Case]:
    """The site's cases for this audience, with their category; a case that cannot be opened is
    left out (its audience cannot be told without opening it)."""
    found = []
    cases = await services.cases.reports_of_site(session, site)
    tags = await services.cases.index.audiences(session, [view.id for view, _ in cases])
    for view, report in cases:
        if report is None or case_audience(tags.get(view.id), report) != audience:
            continue
        category = report.get("category")
        found.append(_Case.of(view, category if isinstance(category, str) and category in CATEGORIES else "other"))
    return found


def _count(keys: Iterable[str], order: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(order, 0)
    for key in keys:
        counts[key] += 1
    return counts


def _band(age: timedelta) -> str:
    for name, last_day in AGE_BANDS:
        if last_day is None or age <= timedelta(days=last_day):
            return name
    return AGE_BANDS[-1][0]


def deadline_outcomes(
    cases: Sequence[_Case], events: Mapping[str, Sequence[CaseEventView]], week: Week, now: datetime
) -> dict[str, int]:
    """Deadlines that fell due in the week (and have passed), by kind and outcome
    (:data:`DEADLINE_KINDS`): the current round's from the case, earlier rounds' from the outcomes
    recorded when the case was reopened."""
    end = min(week.end, now)
    counts = dict.fromkeys(DEADLINE_KINDS, 0)
    for case in cases:
        view = case.view
        recorded = events.get(view.id, ())
        keys = {event.key for event in recorded}
        for deadline in Deadline:
            when = due(view, deadline)
            if when is None or not week.start <= as_utc(when) < end:
                continue
            result = outcome(view, deadline, escalation_key(view.round, deadline) in keys)
            if result is not None:
                counts[f"{deadline.value}:{result}"] += 1
        for event in recorded:
            ended = event.outcome_of()
            if ended is not None and event.round < view.round and week.start <= event.at < end:
                counts[f"{ended.value}:{event.state}"] += 1
    return counts


def retaliation_reports(cases: Sequence[_Case], events: Mapping[str, Sequence[CaseEventView]], week: Week) -> int:
    """Check-ins answered "yes, something happened because of the report" in the week (each one
    reopened its case), among this audience's cases."""
    return sum(
        1
        for case in cases
        for event in events.get(case.view.id, ())
        if event.is_retaliation and week.start <= event.at < week.end
    )


async def _training(session: AsyncSession, services: Services, site: str, week: Week) -> Training:
    month = week.last_day.strftime("%Y-%m")
    everything = [t for t in await services.quiz_tallies.all(session, site, month) if t.question == WHOLE_QUIZ]
    shown = [t for t in await services.quiz_tallies.report(session, site, month) if t.question == WHOLE_QUIZ]
    records = await services.training.count_between(session, site, week.start.date(), week.last_day)
    return Training(
        month=month,
        quizzes=len(shown),
        completions=sum(t.completions for t in shown),
        passes=sum(t.passes for t in shown),
        hidden=len(everything) - len(shown),
        records=protect_count(records),
    )


async def digest_figures(
    session: AsyncSession,
    services: Services,
    site: str,
    week: Week,
    audience: Audience = "hr",
) -> DigestFigures:
    """The digest of ``site`` for ``week`` and ``audience``, protected (for the job and the desk).

    Open cases are those open now (statuses are not kept by week); ages count to the week's end."""
    now = services.clock()
    cases = await _cases(session, services, site, audience)
    events = await services.case_deadlines.events(session, [case.view.id for case in cases])
    in_week = [c for c in cases if week.start <= c.created_at < week.end]
    still_open = [c for c in cases if c.status in OPEN and c.created_at < week.end]
    closed = [c for c in cases if c.status in FINISHED and week.start <= c.updated_at < week.end]
    return DigestFigures(
        site=site,
        week=week,
        audience=audience,
        received=protect(_count((c.category for c in in_week), list(CATEGORIES))),
        open_by_status=protect(_count((c.status.value for c in still_open), [s.value for s in OPEN])),
        open_by_age=protect(
            _count((_band(week.end - c.created_at) for c in still_open), [name for name, _ in AGE_BANDS])
        ),
        closed=protect(_count((c.status.value for c in closed), [s.value for s in FINISHED])),
        deadlines=protect(deadline_outcomes(cases, events, week, now)),
        retaliation=protect_count(retaliation_reports(cases, events, week)),
        training=await _training(session, services, site, week) if audience == "hr" else None,
    )
