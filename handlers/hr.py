"""What HR case handlers may do with a case: list, read, reply, change status. Every call names
the handler and leaves an audit entry; a read of a report is itself recorded, so reporters can
be told truthfully that every reading is on record.

The reporter is never identified: a reply becomes a neutral notice ("you have a new message"),
pushed only if the reporter agreed to notifications, and its content is shown only after the
reporter enters the receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.cases import Author, CaseRepository, CaseStatus, CaseView, MessageView, case_label
from storage.crypto import DecryptionError
from storage.messages import ReporterNotice
from storage.outbox import Outbox

from .report import alert_audience


class NotAuthorised(Exception):
    """The named person is not one of the configured case handlers."""


class UnknownCase(Exception):
    """No case has that reference."""


class UnreadableCase(Exception):
    """The case exists but cannot be opened with the keys in use (a master key this process lacks,
    or a damaged row); ``label`` is its reference, or a hash of its id."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


@dataclass(frozen=True)
class CaseListing:
    """The cases a handler may list, and the labels of cases this process cannot open.

    An unreadable case is listed by its label alone so that nobody misses it; whose it is (HR's or
    the board's) cannot be told without opening it, so both roles see the label and nothing else.
    """

    cases: list[CaseView]
    unreadable: list[str]


@dataclass(frozen=True, repr=False)
class CaseFile:
    case: CaseView
    report: dict[str, Any]
    messages: list[MessageView]

    def __repr__(self) -> str:
        return f"CaseFile({self.case.reference})"


class CaseDesk:
    """HR case handlers see the cases alerted to HR; advocacy-board members see the cases about a
    supervisor, a manager or HR (alerted to the board). Neither sees the other's: an HR handler
    must not read a report about HR, as the privacy notice promises."""

    def __init__(
        self, cases: CaseRepository, outbox: Outbox, handlers: Sequence[str], board_members: Sequence[str] = ()
    ) -> None:
        self._cases = cases
        self._outbox = outbox
        self._roles = {name: "hr" for name in handlers} | {name: "board" for name in board_members}

    def _authorise(self, actor: str) -> str:
        role = self._roles.get(actor)
        if role is None:
            raise NotAuthorised(actor)
        return role

    async def _may_see(self, session: AsyncSession, role: str, case: CaseView) -> bool:
        try:
            report = await self._cases.read_report(session, case.id)
        except (DecryptionError, ValueError):
            raise UnreadableCase(case_label(case.reference, case.id)) from None
        return alert_audience(report) == role

    async def _case_for(self, session: AsyncSession, actor: str, reference: str) -> CaseView:
        """The case if this person may handle it; otherwise it does not exist for them."""
        role = self._authorise(actor)
        case = await self._case(session, reference)
        if not await self._may_see(session, role, case):
            raise UnknownCase(reference)
        return case

    async def _audit(
        self, session: AsyncSession, actor: str, action: str, reference: str | None, now: datetime
    ) -> None:
        await audit.record(session, actor, action, reference, now)

    async def _case(self, session: AsyncSession, reference: str) -> CaseView:
        case = await self._cases.by_reference(session, reference.strip().upper())
        if case is None:
            raise UnknownCase(reference)
        return case

    async def list_cases(
        self, session: AsyncSession, actor: str, now: datetime, *, site: str | None = None, open_only: bool = True
    ) -> CaseListing:
        """References, sites, statuses and dates only: listing reveals nothing of any report. A case
        that cannot be opened is listed apart and never hides the others."""
        role = self._authorise(actor)
        statuses = (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED, CaseStatus.INVESTIGATING) if open_only else None
        views, unreadable = await self._cases.find_listing(session, site=site, statuses=statuses)
        await self._audit(session, actor, "list", None, now)
        cases = []
        for view in views:
            try:
                if await self._may_see(session, role, view):
                    cases.append(view)
            except UnreadableCase as refused:
                unreadable.append(refused.label)
        return CaseListing(cases, unreadable)

    async def read(self, session: AsyncSession, actor: str, reference: str, now: datetime) -> CaseFile:
        case = await self._case_for(session, actor, reference)
        await self._audit(session, actor, "read", case.reference, now)
        if case.status is CaseStatus.NEW:
            await self._cases.set_status(session, case.id, CaseStatus.ACKNOWLEDGED, now)
            case = await self._case(session, reference)
        try:
            report = await self._cases.read_report(session, case.id)
            messages = await self._cases.messages(session, case.id)
        except (DecryptionError, ValueError):
            raise UnreadableCase(case_label(case.reference, case.id)) from None
        return CaseFile(case, report, messages)

    async def reply(self, session: AsyncSession, actor: str, reference: str, text: str, now: datetime) -> CaseView:
        """Adds HR's message and, if the reporter agreed, queues a neutral notice for them."""
        if not text.strip():
            raise ValueError("an empty reply")
        case = await self._case_for(session, actor, reference)
        await self._cases.add_message(session, case.id, Author.HR, text.strip(), now)
        if case.status is CaseStatus.NEW:
            await self._cases.set_status(session, case.id, CaseStatus.ACKNOWLEDGED, now)
        await self._audit(session, actor, "reply", case.reference, now)
        contact = await self._cases.read_contact(session, case.id)
        if contact:
            await self._outbox.enqueue(session, ReporterNotice(contact, case.site), now)
        return case

    async def set_status(
        self, session: AsyncSession, actor: str, reference: str, status: CaseStatus, now: datetime
    ) -> CaseView:
        case = await self._case_for(session, actor, reference)
        await self._cases.set_status(session, case.id, status, now)
        await self._audit(session, actor, f"status:{status.value}", case.reference, now)
        return await self._case(session, reference)

    async def audit_trail(self, session: AsyncSession, reference: str) -> list[tuple[datetime, str, str]]:
        return [(entry.at, entry.actor, entry.action) for entry in await audit.entries_for(session, reference)]
