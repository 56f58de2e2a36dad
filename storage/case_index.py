"""What the HR desk's case list needs, kept so the list never decrypts a report.

Deciding who may see a case used to mean opening its report (unwrapping the case key, decrypting
the whole report) for every case on every listing. The list now reads columns of ``cases``:

* ``audience_tag``, ``category_tag``, ``urgency_tag``, ``assignee_tag``: **keyed tags**
  (:meth:`storage.crypto.Crypto.desk_tag`, an HMAC under a key derived from a pseudonym key kept
  outside the database). SQL filters, counts and pages on them directly, so a page of a 10,000-case
  store costs a few indexed queries, not 10,000 decryptions.
* ``assignee_ct``: the assigned person's account id and name, sealed under the internal key,
  opened only for the rows of the page shown.
* ``next_due`` (the deadlines' own column, :mod:`storage.case_deadlines`): the earliest unmet
  deadline, so the list sorts by it (:func:`deadline_order`: overdue first) and finds overdue cases;
  ``escalated_at``: set when a missed deadline went to the board, which then sees the case too.

Why tags, and what they leak. Someone holding the database alone sees which cases share a value
(equality classes and their sizes) but not the value: they can tell that 30 cases share one
category tag, not which category it is. They might guess from sizes (the smallest audience class is
probably the board's), which is what the choice costs. The alternatives were worse for this page:
plaintext columns name the value outright (a board case would announce "about a supervisor or
HR"); a sealed summary per row leaks nothing more than the row, but filtering, counting and
ordering would then mean opening every summary of the store on every list. Sealed summaries are
used where nothing filters on the value (the assignee's name). The site and status were already
plaintext, and the times are the hours the schema already keeps.

Who may see which audience is decided in one place, :mod:`handlers.desk_access`, which hands a
:class:`Scope` in; this module only applies it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .case_status import LEGACY_STATUSES, CaseStatus, stored_status
from .crypto import Binding, Crypto, DecryptionError
from .models import Case

AUDIENCE = "audience"
CATEGORY = "category"
URGENCY = "urgency"
ASSIGNEE = "assignee"
URGENCY_ORDER = ("danger_now", "soon", "normal")


class Audience(StrEnum):
    """Whose a case is: HR's, the board's (about a supervisor, a manager or HR), or the board's
    because a handler declared themselves involved or conflicted."""

    HR = "hr"
    BOARD = "board"
    RECUSED = "recused"


class SortOrder(StrEnum):
    OLDEST = "oldest"
    NEWEST = "newest"
    DEADLINE = "deadline"
    URGENCY = "urgency"


def deadline_order() -> tuple[ColumnElement[Any], ...]:
    """ORDER BY terms that put the nearest (so any overdue) deadline first and cases without one
    last, on SQLite and PostgreSQL alike."""
    return (case((Case.next_due.is_(None), 1), else_=0), Case.next_due.asc())


@dataclass(frozen=True)
class Scope:
    """The cases a person may see: ``sites`` (None for every site) and ``audiences``, and with
    ``escalated`` also every case escalated for a missed deadline, whatever its audience and site;
    built only by :func:`handlers.desk_access.scope_of`."""

    sites: frozenset[str] | None
    audiences: frozenset[Audience]
    escalated: bool = False


@dataclass(frozen=True)
class ListQuery:
    """Filters, order and page of the case list; ``assignee`` is an account id ("mine")."""

    statuses: frozenset[CaseStatus] | None = None
    site: str | None = None
    category: str | None = None
    urgency: str | None = None
    overdue: bool = False
    assignee: str | None = None
    sort: SortOrder = SortOrder.OLDEST
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class ListedCase:
    id: str
    reference: str
    site: str
    status: CaseStatus
    audience: Audience | None
    category: str | None
    urgency: str | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    next_due: datetime | None
    escalated: bool = False
    urgent: bool = False


@dataclass(frozen=True)
class CasePage:
    """One page of the list, the number of matching cases, counts by status (and overdue) over
    everything the scope allows, before the filters, and ``(reference, id)`` of cases no list can
    show (see :meth:`CaseIndex._unlisted`)."""

    cases: list[ListedCase]
    total: int
    page: int
    pages: int
    counts: Mapping[str, int] = field(default_factory=dict)
    unlisted: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class IndexedCase:
    """What access decisions need about one case, read without opening it."""

    id: str
    reference: str
    site: str
    status: CaseStatus
    audience: Audience | None
    escalated: bool = False


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _assignee_binding(case_id: str) -> Binding:
    return Binding("cases", "assignee_ct", case_id)


class CaseIndex:
    """Reads and writes the list columns; every method takes the caller's session and never commits."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto
        self._audiences = {crypto.desk_tag(AUDIENCE, a.value): a for a in Audience}

    def tag(self, field_name: str, value: str) -> str:
        return self._crypto.desk_tag(field_name, value)

    def columns(self, audience: Audience, report: Mapping[str, Any]) -> dict[str, str | None]:
        """The tag columns of a new case."""
        category, urgency = report.get("category"), report.get("urgency")
        return {
            "audience_tag": self.tag(AUDIENCE, audience.value),
            "category_tag": self.tag(CATEGORY, category) if isinstance(category, str) else None,
            "urgency_tag": self.tag(URGENCY, urgency) if isinstance(urgency, str) else None,
        }

    def audience_of_tag(self, tag: str | None) -> Audience | None:
        return self._audiences.get(tag) if tag else None

    async def locate(self, session: AsyncSession, reference: str) -> IndexedCase | None:
        """The case with this reference, as access decisions need it (None if there is none). The
        whole row is loaded into the session, so what the caller does next reads no row again."""
        row = (await session.execute(select(Case).where(Case.reference == reference))).scalar_one_or_none()
        if row is None:
            return None
        try:
            status = stored_status(row.status)
        except ValueError:
            return None
        audience = self.audience_of_tag(row.audience_tag)
        return IndexedCase(row.id, row.reference, row.site, status, audience, row.escalated_at is not None)

    async def audiences(self, session: AsyncSession, case_ids: Sequence[str]) -> dict[str, Audience | None]:
        """Whose each case is by its tag (None for a case without one), in one query."""
        if not case_ids:
            return {}
        query = select(Case.id, Case.audience_tag).where(Case.id.in_(sorted(set(case_ids))))
        return {row.id: self.audience_of_tag(row.audience_tag) for row in await session.execute(query)}

    async def set_audience(self, session: AsyncSession, case_id: str, audience: Audience) -> None:
        await session.execute(
            update(Case).where(Case.id == case_id).values(audience_tag=self.tag(AUDIENCE, audience.value))
        )

    async def assign(self, session: AsyncSession, case_id: str, account_id: str, name: str) -> None:
        sealed = self._crypto.seal_internal_json({"id": account_id, "name": name}, _assignee_binding(case_id))
        await session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(assignee_tag=self.tag(ASSIGNEE, account_id), assignee_ct=sealed)
        )

    async def unassign(self, session: AsyncSession, case_id: str) -> None:
        await session.execute(update(Case).where(Case.id == case_id).values(assignee_tag=None, assignee_ct=None))

    def assignee_of(self, case_id: str, sealed: bytes | None) -> str | None:
        """The name in a case's sealed ``assignee_ct`` ("?" if it cannot be opened)."""
        if sealed is None:
            return None
        try:
            value = self._crypto.open_internal_json(sealed, _assignee_binding(case_id))
        except (DecryptionError, ValueError):
            return "?"
        return str(value.get("name", "?")) if isinstance(value, dict) else "?"

    def _scope(self, scope: Scope) -> ColumnElement[bool]:
        if not scope.audiences and not scope.escalated:
            return false()
        tags = [self.tag(AUDIENCE, a.value) for a in sorted(scope.audiences)]
        condition: ColumnElement[bool] = Case.audience_tag.in_(tags) if tags else false()
        if scope.sites is not None:
            condition = and_(condition, Case.site.in_(sorted(scope.sites)))
        if scope.escalated:
            # Escalated for a missed deadline (storage.case_deadlines sets ``escalated_at``): the
            # board sees the case too. An unindexed case stays out (it is listed apart, unlisted).
            condition = or_(condition, and_(Case.escalated_at.is_not(None), Case.audience_tag.is_not(None)))
        return condition

    async def page(
        self,
        session: AsyncSession,
        scope: Scope,
        query: ListQuery,
        now: datetime,
        *,
        categories: Iterable[str],
        urgencies: Iterable[str],
    ) -> CasePage:
        """One page of the cases ``scope`` allows, filtered and ordered as ``query`` asks.
        ``categories`` and ``urgencies`` are the values the report form offers, to name each tag."""
        in_scope = self._scope(scope)
        conditions: list[ColumnElement[bool]] = [in_scope]
        if query.statuses is not None:
            wanted = {s.value for s in query.statuses}
            wanted |= {old for old, new in LEGACY_STATUSES.items() if new in query.statuses}
            conditions.append(Case.status.in_(sorted(wanted)))
        if query.site:
            conditions.append(Case.site == query.site)
        if query.category:
            conditions.append(Case.category_tag == self.tag(CATEGORY, query.category))
        if query.urgency:
            conditions.append(Case.urgency_tag == self.tag(URGENCY, query.urgency))
        if query.assignee:
            conditions.append(Case.assignee_tag == self.tag(ASSIGNEE, query.assignee))
        overdue = and_(Case.next_due.is_not(None), Case.next_due < now)
        if query.overdue:
            conditions.append(overdue)
        where = and_(*conditions)
        # Counts by status, and overdue, over the whole scope: one query on the covering index.
        counts: dict[str, int] = {}
        odd: list[str] = []
        overdue_total = 0
        by_status = select(Case.status, func.count(), func.sum(case((overdue, 1), else_=0))).where(in_scope)
        for status_value, count, late in await session.execute(by_status.group_by(Case.status)):
            overdue_total += int(late or 0)
            try:
                key = stored_status(status_value).value
            except ValueError:
                odd.append(status_value)
                continue
            counts[key] = counts.get(key, 0) + int(count)
        counts["overdue"] = overdue_total
        if len(conditions) == 1 or (len(conditions) == 2 and query.statuses is not None):
            chosen = query.statuses if query.statuses is not None else frozenset(CaseStatus)
            total = sum(counts.get(status.value, 0) for status in chosen)
        else:
            total = int((await session.execute(select(func.count()).select_from(Case).where(where))).scalar_one())
        pages = max(1, math.ceil(total / query.per_page))
        page = min(max(1, query.page), pages)
        # The page's ids from the covering index alone, then only those rows: one statement.
        order = self._order(query.sort)
        page_ids = (
            select(Case.id).where(where).order_by(*order).limit(query.per_page).offset((page - 1) * query.per_page)
        )
        rows = await session.execute(
            select(
                Case.id,
                Case.reference,
                Case.site,
                Case.status,
                Case.audience_tag,
                Case.category_tag,
                Case.urgency_tag,
                Case.assignee_ct,
                Case.created_at,
                Case.updated_at,
                Case.next_due,
                Case.escalated_at,
                Case.urgent,
            )
            .where(Case.id.in_(page_ids.scalar_subquery()))
            .order_by(*order)
        )
        category_names = {self.tag(CATEGORY, value): value for value in categories}
        urgency_names = {self.tag(URGENCY, value): value for value in urgencies}
        cases = []
        for row in rows:
            try:
                status = stored_status(row.status)
            except ValueError:
                continue  # a status newer code wrote: named apart in ``unlisted``
            cases.append(
                ListedCase(
                    id=row.id,
                    reference=row.reference,
                    site=row.site,
                    status=status,
                    audience=self.audience_of_tag(row.audience_tag),
                    category=category_names.get(row.category_tag or ""),
                    urgency=urgency_names.get(row.urgency_tag or ""),
                    assignee=self.assignee_of(row.id, row.assignee_ct),
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    next_due=_utc(row.next_due),
                    escalated=row.escalated_at is not None,
                    urgent=bool(row.urgent),
                )
            )
        unlisted = await self._unlisted(session, in_scope, odd)
        return CasePage(cases, total, page, pages, counts, unlisted)

    async def _unlisted(
        self, session: AsyncSession, in_scope: ColumnElement[bool], odd_statuses: Sequence[str]
    ) -> list[tuple[str, str]]:
        """``(reference, id)`` of the cases no list can show: without an audience tag (they could not
        be opened to index them; whose they are is unknown, so everyone is told), and those in
        scope with a status newer code wrote. Both found through indexes, never a scan."""
        condition: ColumnElement[bool] = Case.audience_tag.is_(None)
        if odd_statuses:
            condition = or_(condition, and_(in_scope, Case.status.in_(sorted(odd_statuses))))
        query = select(Case.reference, Case.id).where(condition).order_by(Case.reference)
        return [(reference, case_id) for reference, case_id in await session.execute(query)]

    def _order(self, sort: SortOrder) -> Sequence[Any]:
        if sort is SortOrder.NEWEST:
            return (Case.created_at.desc(), Case.id.desc())
        if sort is SortOrder.DEADLINE:
            return (*deadline_order(), Case.created_at, Case.id)
        if sort is SortOrder.URGENCY:
            rank = case(
                *[(Case.urgency_tag == self.tag(URGENCY, value), i) for i, value in enumerate(URGENCY_ORDER)],
                else_=len(URGENCY_ORDER),
            )
            # A case reopened after a retaliation check-in is urgent whatever the report said.
            return (case((Case.urgent.is_(True), 0), else_=1), rank, Case.created_at, Case.id)
        return (Case.created_at, Case.id)

    async def unindexed(self, session: AsyncSession, limit: int, after: str = "") -> list[str]:
        """Ids of cases without an audience tag (written before the desk, or not yet openable), in id
        order from past ``after``, so a pass can step over cases it cannot open."""
        query = (
            select(Case.id).where(Case.audience_tag.is_(None), Case.id > after).order_by(Case.id).limit(limit)
        )
        return list((await session.execute(query)).scalars())

    async def write_tags(
        self, session: AsyncSession, case_id: str, audience: Audience, report: Mapping[str, Any]
    ) -> None:
        await session.execute(update(Case).where(Case.id == case_id).values(**self.columns(audience, report)))


def status_filter(values: Iterable[str]) -> frozenset[CaseStatus] | None:
    """Statuses named in a filter (unknown names dropped); None when none is named."""
    known = {status.value: status for status in CaseStatus}
    chosen = frozenset(known[value] for value in values if value in known)
    return chosen or None
