"""What people on the HR desk may do with a case: list, open, download evidence, reply, write
internal notes, change the status, take or hand over a case, declare themselves involved, read the
audit trail.

Every call takes the signed-in :class:`~storage.people.Person` and runs its own transaction, so
that every action, and every refusal, leaves an audit entry: an action's entry commits with it,
and a refusal's entry is written in a transaction of its own after the refused one rolled back,
so it survives. Who may see what is decided in :mod:`handlers.desk_access` alone; a case somebody
may not see is, to them, a case that does not exist (:class:`CaseNotFound`).

The reporter is never identified: a reply becomes a neutral notice ("you have a new message"),
pushed only if the reporter agreed to notifications, and its content is shown only after the
reporter enters the receipt. Internal notes are never shown to the reporter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.case_index import Audience, CasePage, IndexedCase, ListQuery
from storage.case_status import HR_SETTABLE
from storage.cases import REFERENCE_PATTERN, Author, CaseRepository, CaseStatus, MessageView, NoteView, case_label
from storage.crypto import DecryptionError
from storage.database import Database
from storage.evidence import EvidenceRepository
from storage.messages import ReporterNotice
from storage.outbox import Outbox
from storage.people import Person, Role
from storage.retention import due_for_purge

from .desk_access import CaseNotFound, is_board, may_see, scope_of
from .report import CATEGORIES, URGENCY, alert_audience

MAX_TEXT = 8000

__all__ = [
    "CaseDesk",
    "CaseFile",
    "CaseListing",
    "CaseNotFound",
    "EmptyText",
    "NotPermitted",
    "OutcomeRequired",
    "UnreadableCase",
]


class UnreadableCase(Exception):
    """The case exists but cannot be opened with the keys in use (a master key this process lacks,
    or a damaged row); ``label`` is its reference, or a hash of its id."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


class OutcomeRequired(ValueError):
    """A case is closed only with a written outcome."""


class EmptyText(ValueError):
    """A reply or note with nothing in it (or longer than the desk takes)."""


class NotPermitted(Exception):
    """A step this person's role does not take (a status change the desk does not allow, the audit
    page for a handler). Not used for cases they may not see: those are :class:`CaseNotFound`."""


@dataclass(frozen=True)
class CaseListing:
    """A page of the cases a person may list, and the labels of cases nobody's list can show yet
    (not indexed: this process could not open them)."""

    page: CasePage
    unreadable: list[str]
    purge_soon: frozenset[str] = frozenset()  # references purged within 7 days (storage.retention)


@dataclass(frozen=True, repr=False)
class CaseFile:
    case: IndexedCase
    report: dict[str, Any]
    messages: list[MessageView]
    notes: list[NoteView]
    evidence: int
    outcome: str | None
    assignee: str | None
    created_at: datetime
    next_due: datetime | None = None
    escalated_at: datetime | None = None
    urgent: bool = False
    purge_after: datetime | None = None  # set when the case is purged within 7 days

    def __repr__(self) -> str:
        return f"CaseFile({self.case.reference})"


def _text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_TEXT:
        raise EmptyText("a reply or note needs 1 to 8000 characters")
    return cleaned


def _audit_reference(reference: str) -> str | None:
    """A typed reference goes into the audit log only when it has a reference's shape."""
    canonical = reference.strip().upper()
    return canonical if REFERENCE_PATTERN.fullmatch(canonical) else None


class CaseDesk:
    """The HR desk's actions. ``categories`` and ``urgencies`` are the report form's values (to name
    the list's tags)."""

    def __init__(
        self,
        database: Database,
        cases: CaseRepository,
        evidence: EvidenceRepository,
        outbox: Outbox,
        *,
        categories: Iterable[str] = (),
        urgencies: Iterable[str] = (),
        retention_days: int | None = None,
    ) -> None:
        """``retention_days`` (``[bot] retention_days``): cases purged within 7 days are marked."""
        self._database = database
        self._cases = cases
        self._evidence = evidence
        self._outbox = outbox
        self._categories = tuple(categories)
        self._urgencies = tuple(urgencies)
        self._retention_days = retention_days

    async def _purge_soon(self, session: AsyncSession, now: datetime) -> dict[str, datetime]:
        """Reference → purge time of the finished cases purged within the week (any scope: the
        caller shows only those it lists or opens)."""
        if self._retention_days is None:
            return {}
        return {due.reference: due.purge_after for due in await due_for_purge(session, now, self._retention_days)}

    @asynccontextmanager
    async def _acting(
        self, person: Person, action: str, reference: str | None, now: datetime
    ) -> AsyncIterator[AsyncSession]:
        """One transaction for an action; a refusal (or a case that cannot be opened) is audited
        after the action's transaction rolled back, in a transaction of its own."""
        try:
            async with self._database.transaction() as session:
                yield session
        except (CaseNotFound, NotPermitted, UnreadableCase) as stopped:
            label = _audit_reference(reference) if reference else None
            outcome = "unreadable" if isinstance(stopped, UnreadableCase) else "refused"
            # The refused transaction has ended here: its own commit now (on SQLite a write
            # transaction opened inside the first would wait for it forever).
            await audit.record_refusal(self._database, person.name, f"{outcome}:{action}", label, now)
            raise

    async def _case_for(self, session: AsyncSession, person: Person, reference: str) -> IndexedCase:
        """The case if this person may see it; otherwise, for them, it does not exist."""
        case = await self._cases.index.locate(session, reference.strip().upper())
        if case is None or not may_see(person, case):
            raise CaseNotFound(reference)
        return case

    async def list_cases(self, person: Person, query: ListQuery, now: datetime) -> CaseListing:
        """A page of the person's cases; opens no report. Audited as ``list``."""
        async with self._acting(person, "list", None, now) as session:
            page = await self._cases.index.page(
                session, scope_of(person), query, now, categories=self._categories, urgencies=self._urgencies
            )
            purge_soon = await self._purge_soon(session, now)
            await audit.record(session, person.name, "list", None, now)
        unreadable = [case_label(reference, case_id) for reference, case_id in page.unlisted]
        listed = {case.reference for case in page.cases}
        return CaseListing(page, unreadable, frozenset(listed & purge_soon.keys()))

    async def open(self, person: Person, reference: str, now: datetime) -> CaseFile:
        """The case with its report, thread, notes and outcome; a received case becomes acknowledged."""
        async with self._acting(person, "read", reference, now) as session:
            case = await self._case_for(session, person, reference)
            await audit.record(session, person.name, "read", case.reference, now)
            if case.status is CaseStatus.RECEIVED:
                await self._cases.set_status(session, case.id, CaseStatus.ACKNOWLEDGED, now)
                case = IndexedCase(case.id, case.reference, case.site, CaseStatus.ACKNOWLEDGED, case.audience)
            view = await self._cases.get(session, case.id)
            try:
                report = await self._cases.read_report(session, case.id)
                messages = await self._cases.messages(session, case.id)
                notes = await self._cases.notes(session, case.id)
                outcome = await self._cases.read_outcome(session, case.id)
            except (DecryptionError, ValueError):
                raise UnreadableCase(case_label(case.reference, case.id)) from None
            evidence = await self._evidence.count(session, case.id)
            assignee = await self._cases.assignee_name(session, case.id)
            purge_after = (await self._purge_soon(session, now)).get(case.reference)
        assert view is not None
        return CaseFile(
            case, report, messages, notes, evidence, outcome, assignee, view.created_at,
            next_due=view.next_due, escalated_at=view.escalated_at, urgent=view.urgent, purge_after=purge_after,
        )

    async def evidence(self, person: Person, reference: str, number: int, now: datetime) -> tuple[str, bytes]:
        """One evidence file (``number`` from 1) as ``(mime, bytes)``; audited as ``download``."""
        async with self._acting(person, "download", reference, now) as session:
            case = await self._case_for(session, person, reference)
            try:
                found = await self._evidence.one(session, case.id, number - 1) if number >= 1 else None
            except DecryptionError:
                raise UnreadableCase(case_label(case.reference, case.id)) from None
            if found is None:
                raise CaseNotFound(reference)
            await audit.record(session, person.name, "download", case.reference, now)
        return found

    async def reply(self, person: Person, reference: str, text: str, now: datetime) -> IndexedCase:
        """Adds a message for the reporter and, if they agreed, queues a neutral notice for them."""
        body = _text(text)
        async with self._acting(person, "reply", reference, now) as session:
            case = await self._case_for(session, person, reference)
            await self._cases.add_message(session, case.id, Author.HR, body, now)
            if case.status is CaseStatus.RECEIVED:
                await self._cases.set_status(session, case.id, CaseStatus.ACKNOWLEDGED, now)
            await audit.record(session, person.name, "reply", case.reference, now)
            contact = await self._cases.read_contact(session, case.id)
            if contact:
                await self._outbox.enqueue(session, ReporterNotice(contact, case.site), now)
        return case

    async def note(self, person: Person, reference: str, text: str, now: datetime) -> None:
        """Adds an internal note (sealed; the reporter never sees it)."""
        body = _text(text)
        async with self._acting(person, "note", reference, now) as session:
            case = await self._case_for(session, person, reference)
            await self._cases.add_note(session, case.id, person.name, body, now)
            await audit.record(session, person.name, "note", case.reference, now)

    async def set_status(
        self, person: Person, reference: str, status: CaseStatus, now: datetime, *, outcome: str = ""
    ) -> CaseStatus:
        """Changes the status; closing needs a written ``outcome`` (sealed with the case). A
        withdrawn case stays withdrawn; only a reporter withdraws."""
        if status is CaseStatus.CLOSED and not outcome.strip():
            raise OutcomeRequired("closing a case needs a written outcome")
        async with self._acting(person, f"status:{status.value}", reference, now) as session:
            case = await self._case_for(session, person, reference)
            if status not in HR_SETTABLE or case.status is CaseStatus.WITHDRAWN:
                raise NotPermitted("that status change")
            if status is CaseStatus.CLOSED:
                await self._cases.set_outcome(session, case.id, _text(outcome))
            await self._cases.set_status(session, case.id, status, now)
            await audit.record(session, person.name, f"status:{status.value}", case.reference, now)
        return status

    async def assign(self, person: Person, reference: str, assignee: Person, now: datetime) -> None:
        """Makes ``assignee`` (who must be able to see the case) the case's handler."""
        async with self._acting(person, "assign", reference, now) as session:
            case = await self._case_for(session, person, reference)
            if not may_see(assignee, case):
                raise NotPermitted("an assignee who may not see the case")
            await self._cases.index.assign(session, case.id, assignee.account_id, assignee.name)
            await audit.record(session, person.name, "assign", case.reference, now)

    async def recuse(self, person: Person, reference: str, now: datetime) -> None:
        """"I am involved or conflicted": the case leaves HR and goes to the board; the handler
        (and every other handler) no longer sees it."""
        async with self._acting(person, "recuse", reference, now) as session:
            case = await self._case_for(session, person, reference)
            if person.role is not Role.HANDLER:  # a board member sees escalated HR cases, never takes them from HR
                raise NotPermitted("only a handler can declare themselves involved")
            if case.audience is not Audience.HR:
                raise NotPermitted("a case that is already the board's")
            await self._cases.index.set_audience(session, case.id, Audience.RECUSED)
            await self._cases.index.unassign(session, case.id)
            await audit.record(session, person.name, "recuse", case.reference, now)

    async def audit_trail(self, person: Person, reference: str, now: datetime) -> list[audit.AuditRecord]:
        """Who read or changed a case, and when: for board members only."""
        async with self._acting(person, "audit", reference, now) as session:
            case = await self._case_for(session, person, reference)
            if not is_board(person):
                raise NotPermitted("the audit trail")
            await audit.record(session, person.name, "audit", case.reference, now)
            return await audit.entries_for(session, case.reference)

    async def verify_audit_chain(self, person: Person, now: datetime) -> audit.ChainVerdict:
        """Checks the whole audit chain (board members only; it reads every entry, so the pages run
        it when asked, never on a page view). Audited as ``audit:verify``."""
        if not is_board(person):
            await audit.record_refusal(self._database, person.name, "refused:audit:verify", None, now)
            raise NotPermitted("verifying the audit chain")
        verdict = await audit.verify_chain(self._database)
        async with self._database.transaction() as session:
            await audit.record(session, person.name, "audit:verify", None, now)
        return verdict


async def index_cases_for_the_desk(database: Database, cases: CaseRepository, batch: int = 500) -> int:
    """Gives cases written before the desk their list tags, a batch per transaction (run at start;
    a store already indexed costs one query). Returns how many it indexed."""
    async with database.transaction(write=False) as session:
        if not await cases.index.unindexed(session, 1):
            return 0
    indexed, after = 0, ""
    while True:
        async with database.transaction() as session:
            done, last = await cases.backfill_index(session, alert_audience, batch, after)
        indexed += done
        if last is None:
            return indexed
        after = last


def desk_for(
    database: Database,
    cases: CaseRepository,
    evidence: EvidenceRepository,
    outbox: Outbox,
    retention_days: int | None = None,
) -> CaseDesk:
    """The desk with the report form's categories and urgencies."""
    return CaseDesk(
        database, cases, evidence, outbox, categories=CATEGORIES, urgencies=URGENCY, retention_days=retention_days
    )
