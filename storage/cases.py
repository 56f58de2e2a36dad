"""Cases and their messages, each case sealed under a data key of its own (envelope encryption).

Deleting a case's wrapped key makes everything it sealed unreadable (crypto-shredding). Times that
a reporter's own action sets are kept to the hour, so they cannot be lined up with activity
elsewhere (conversation rows, platform logs) to find who reported.

Receipts are rows of their own, bound to their case (the design is in :mod:`storage.receipts`);
a case may hold up to ``MAX_RECEIPTS_PER_CASE``, and one is only ever added, never replaced,
because the worker may already have written down any receipt they were shown.

The argon2id work is never done inside the caller's write transaction: :meth:`CaseRepository.issue_receipt`
computes a new receipt's row before the transaction that stores it, and
:meth:`CaseRepository.match_receipt` finds a receipt's row by its keyed index in a short read
transaction and verifies it after that one ended; the write transaction then only checks that
the row it names is still there (:meth:`CaseRepository.open_match`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .case_index import Audience, CaseIndex
from .case_index import deadline_order as deadline_order  # re-exported: the deadlines' order, shared with the desk
from .case_status import FINISHED_STATUSES, LEGACY_STATUSES, stored_status
from .case_status import CaseStatus as CaseStatus  # re-exported: callers know it as storage.cases.CaseStatus
from .crypto import Binding, Crypto, DecryptionError
from .database import short_hash
from .deadline_rules import FINISHED, NOT_YET_ACKNOWLEDGED, OUTCOMES, CaseDeadlines, Deadline, next_deadline
from .models import Case, CaseMessage, CaseNote, CaseReceipt, random_id
from .outbox import as_utc
from .receipts import MAX_RECEIPTS_PER_CASE, ReceiptHasher, new_receipt, normalise_receipt
from .retention import shred_cases

Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""Opens a short read-only transaction (``lambda: database.transaction(write=False)``)."""

REFERENCE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REFERENCE_PREFIX = "HAP-"
REFERENCE_PATTERN = re.compile(r"HAP-[0-9A-Z]{6}")


class Author(StrEnum):
    REPORTER = "reporter"
    HR = "hr"


@dataclass(frozen=True)
class CaseView:
    id: str
    reference: str
    site: str
    status: CaseStatus
    created_at: datetime
    updated_at: datetime
    round: int = 1
    acknowledge_due: datetime | None = None
    feedback_due: datetime | None = None
    resolve_due: datetime | None = None
    next_due: datetime | None = None
    acknowledged_at: datetime | None = None
    first_feedback_at: datetime | None = None
    closed_at: datetime | None = None
    escalated_at: datetime | None = None
    urgent: bool = False

    @property
    def escalated(self) -> bool:
        """A deadline was missed and the advocacy board was alerted: the board may see the case."""
        return self.escalated_at is not None


@dataclass(frozen=True, repr=False)
class MessageView:
    id: str
    author: Author
    text: str
    created_at: datetime
    seen_by_reporter: bool

    def __repr__(self) -> str:
        return f"MessageView(author={self.author.value!r}, chars={len(self.text)})"


@dataclass(frozen=True, repr=False)
class IssuedReceipt:
    """A fresh receipt for a case, and the values of its row, computed before the transaction that
    stores them (the argon2id hash is the slow part). Lives only while its message is handled."""

    case_id: str
    receipt: str
    index: str
    hash: str
    tag: str

    def __repr__(self) -> str:
        return "IssuedReceipt(...)"


@dataclass(frozen=True)
class ReceiptMatch:
    """What a receipt opens, verified outside any write transaction: the receipt row and its case,
    or neither (no such receipt, or a row that fails its tag or hash)."""

    row_id: str | None = None
    case_id: str | None = None


NO_MATCH = ReceiptMatch()
@dataclass(frozen=True, repr=False)
class NoteView:
    author: str
    text: str
    created_at: datetime

    def __repr__(self) -> str:
        return f"NoteView(chars={len(self.text)})"


def to_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def case_label(reference: object, case_id: str) -> str:
    """What to call a case that cannot be opened: its reference, or if even that is odd a short
    hash of its id (never the id itself)."""
    if isinstance(reference, str) and REFERENCE_PATTERN.fullmatch(reference):
        return reference
    return f"#{short_hash(case_id)}"


def _receipt_row(receipt: IssuedReceipt, number: int) -> CaseReceipt:
    return CaseReceipt(
        id=random_id(),
        case_id=receipt.case_id,
        number=number,
        receipt_index=receipt.index,
        receipt_hash=receipt.hash,
        receipt_tag=receipt.tag,
    )


def _view(row: Case) -> CaseView:
    return CaseView(
        id=row.id,
        reference=row.reference,
        site=row.site,
        status=stored_status(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        round=row.round or 1,
        acknowledge_due=_aware(row.acknowledge_due),
        feedback_due=_aware(row.feedback_due),
        resolve_due=_aware(row.resolve_due),
        next_due=_aware(row.next_due),
        acknowledged_at=_aware(row.acknowledged_at),
        first_feedback_at=_aware(row.first_feedback_at),
        closed_at=_aware(row.closed_at),
        escalated_at=_aware(row.escalated_at),
        urgent=bool(row.urgent),
    )


def _aware(moment: datetime | None) -> datetime | None:
    """Deadline times as aware UTC (SQLite hands them back naive), to compare with the clock."""
    return as_utc(moment) if moment is not None else None


def stamp_deadlines(row: Case, deadlines: CaseDeadlines, start: datetime) -> None:
    """Sets the case's due times, counted from ``start``, and its next deadline."""
    due = deadlines.due_from(start)
    row.acknowledge_due = due[Deadline.ACKNOWLEDGE]
    row.feedback_due = due[Deadline.FEEDBACK]
    row.resolve_due = due[Deadline.RESOLVE]
    refresh_next_due(row)


def refresh_next_due(row: Case) -> None:
    """Keeps ``next_due`` (what the desk sorts by) equal to the earliest unmet deadline."""
    upcoming = next_deadline(row)
    row.next_due = upcoming.due if upcoming else None


class CaseRepository:
    """Case rows; every method takes the caller's session and never commits."""

    def __init__(
        self,
        crypto: Crypto,
        hasher: ReceiptHasher | None = None,
        deadlines: Callable[[str], CaseDeadlines] | None = None,
    ) -> None:
        """``deadlines`` gives a site's deadlines, stamped on each new case; without it the
        deadlines job stamps them on its next pass."""
        self._crypto = crypto
        self._hasher = hasher or ReceiptHasher()
        self._deadlines = deadlines
        self.index = CaseIndex(crypto)

    def _data_key(self, row: Case) -> bytes:
        return self._crypto.unwrap_data_key(row.wrapped_key, Binding("cases", "wrapped_key", row.id))

    async def issue_receipt(self, case_id: str | None = None) -> IssuedReceipt:
        """A new receipt and its row for ``case_id`` (a new case's id when None), hashed now, within
        the hasher's memory budget: call it before the transaction that stores the row."""
        case_id = case_id or random_id()
        receipt = new_receipt()
        return IssuedReceipt(
            case_id=case_id,
            receipt=receipt,
            index=self._crypto.receipt_index(receipt),
            hash=await self._hasher.hash_async(receipt, case_id),
            tag=self._crypto.receipt_tag(case_id, receipt),
        )

    async def create(
        self,
        session: AsyncSession,
        *,
        site: str,
        report: dict[str, Any],
        contact: str | None,
        receipt: IssuedReceipt,
        now: datetime,
        audience: Audience | str = Audience.HR,
    ) -> CaseView:
        """Creates the case ``receipt`` was issued for, with that receipt as its first (nothing slow here)."""
        case_id = receipt.case_id
        data_key = self._crypto.new_data_key()
        row = Case(
            id=case_id,
            site=site,
            status=CaseStatus.RECEIVED.value,
            wrapped_key=self._crypto.wrap_data_key(data_key, Binding("cases", "wrapped_key", case_id)),
            report_ct=self._crypto.seal_json(data_key, report, Binding("cases", "report_ct", case_id)),
            contact_ct=(
                self._crypto.seal(data_key, contact.encode(), Binding("cases", "contact_ct", case_id))
                if contact
                else None
            ),
            created_at=to_hour(now),
            updated_at=to_hour(now),
            round=1,
            urgent=False,
            **self.index.columns(Audience(audience), report),
        )
        if self._deadlines is not None:
            stamp_deadlines(row, self._deadlines(site), to_hour(now))
        for _attempt in range(8):
            row.reference = new_reference()
            try:
                async with session.begin_nested():
                    session.add(row)
                    await session.flush()
                session.add(_receipt_row(receipt, 1))
                await session.flush()
                return _view(row)
            except IntegrityError:
                # A reference collision (1 in 2e9 per pair); the receipt index cannot collide.
                continue
        raise RuntimeError("could not allocate a unique case reference")

    async def get(self, session: AsyncSession, case_id: str) -> CaseView | None:
        row = await session.get(Case, case_id)
        return _view(row) if row else None

    async def find(
        self, session: AsyncSession, *, site: str | None = None, statuses: Sequence[CaseStatus] | None = None
    ) -> list[CaseView]:
        """Cases, oldest first, optionally of one site and some statuses (no report is opened)."""
        return (await self.find_listing(session, site=site, statuses=statuses))[0]

    async def find_listing(
        self,
        session: AsyncSession,
        *,
        site: str | None = None,
        statuses: Sequence[CaseStatus] | None = None,
        by_deadline: bool = False,
    ) -> tuple[list[CaseView], list[str]]:
        """Like :meth:`find` (``by_deadline``: the nearest deadline first, so overdue cases lead and
        cases without one come last), and apart the labels (:func:`case_label`) of rows this code cannot
        even view (a status it does not know, written by newer code): one odd row never hides the rest."""
        query = select(Case).order_by(*(deadline_order() if by_deadline else ()), Case.created_at)
        if site:
            query = query.where(Case.site == site)
        if statuses is not None:
            wanted = {status.value for status in statuses}
            wanted |= {old for old, new in LEGACY_STATUSES.items() if new in statuses}
            query = query.where(Case.status.in_(sorted(wanted)))
        views: list[CaseView] = []
        odd: list[str] = []
        for row in (await session.execute(query)).scalars():
            try:
                views.append(_view(row))
            except ValueError:
                odd.append(case_label(row.reference, row.id))
        return views, odd

    async def by_reference(self, session: AsyncSession, reference: str) -> CaseView | None:
        row = (await session.execute(select(Case).where(Case.reference == reference))).scalar_one_or_none()
        return _view(row) if row else None

    async def _receipt_row_of(self, session: AsyncSession, canonical: str) -> CaseReceipt | None:
        """The receipt row ``canonical`` names by its keyed index, if its keyed tag binds it to its case."""
        query = select(CaseReceipt).where(CaseReceipt.receipt_index == self._crypto.receipt_index(canonical))
        found = (await session.execute(query)).scalar_one_or_none()
        if found is None or not self._crypto.receipt_tag_matches(found.case_id, canonical, found.receipt_tag):
            return None
        return found

    async def match_receipt(self, read: Reader, receipt: str) -> ReceiptMatch:
        """Finds ``receipt``'s row by its keyed index in a short read transaction, then, with no
        transaction open, verifies its argon2id hash for the case the row names. A wrong receipt
        misses the index and costs no hash."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            return NO_MATCH
        async with read() as session:
            found = await self._receipt_row_of(session, canonical)
            if found is None:
                return NO_MATCH
            row_id, case_id, stored = found.id, found.case_id, found.receipt_hash
        if not await self._hasher.verify_async(stored, canonical, case_id):
            return NO_MATCH
        return ReceiptMatch(row_id=row_id, case_id=case_id)

    async def open_match(self, session: AsyncSession, match: ReceiptMatch) -> CaseView | None:
        """The case a verified match opens, if its receipt row still names it (a case deleted, or a
        row changed, since the match opens nothing)."""
        if match.row_id is None or match.case_id is None:
            return None
        query = select(CaseReceipt.case_id).where(CaseReceipt.id == match.row_id)
        if (await session.execute(query)).scalar_one_or_none() != match.case_id:
            return None
        return await self.get(session, match.case_id)

    async def by_receipt(self, session: AsyncSession, receipt: str) -> CaseView | None:
        """The case ``receipt`` opens, or None, verified inside ``session`` (for tools and tests: a
        worker's message uses :meth:`match_receipt` before its transaction and :meth:`open_match` in it)."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            return None
        found = await self._receipt_row_of(session, canonical)
        if found is None or not await self._hasher.verify_async(found.receipt_hash, canonical, found.case_id):
            return None
        return await self.get(session, found.case_id)

    async def add_receipt(self, session: AsyncSession, receipt: IssuedReceipt) -> bool:
        """Adds a receipt issued for an existing case (the earlier ones keep working); False, adding
        nothing, once the case holds ``MAX_RECEIPTS_PER_CASE``."""
        await self._row(session, receipt.case_id)
        query = select(func.count(), func.max(CaseReceipt.number)).where(CaseReceipt.case_id == receipt.case_id)
        count, highest = (await session.execute(query)).one()
        if count >= MAX_RECEIPTS_PER_CASE:
            return False
        session.add(_receipt_row(receipt, (highest or 0) + 1))
        await session.flush()
        return True

    async def receipt_count(self, session: AsyncSession, case_id: str) -> int:
        query = select(func.count()).select_from(CaseReceipt).where(CaseReceipt.case_id == case_id)
        return int((await session.execute(query)).scalar_one())

    async def read_report(self, session: AsyncSession, case_id: str) -> dict[str, Any]:
        row = await self._row(session, case_id)
        report = self._crypto.open_json(self._data_key(row), row.report_ct, Binding("cases", "report_ct", case_id))
        if not isinstance(report, dict):
            raise ValueError("sealed report is not an object")
        return report

    async def reports_of_site(self, session: AsyncSession, site: str) -> list[tuple[CaseView, dict[str, Any] | None]]:
        """Every case of ``site`` with its report, in one query (for figures over many cases); the
        report is None for a case that cannot be opened or viewed (a key this process lacks, a
        damaged row, a status written by newer code)."""
        found: list[tuple[CaseView, dict[str, Any] | None]] = []
        for row in (await session.execute(select(Case).where(Case.site == site).order_by(Case.created_at))).scalars():
            try:
                view = _view(row)
            except ValueError:
                continue
            try:
                binding = Binding("cases", "report_ct", row.id)
                report = self._crypto.open_json(self._data_key(row), row.report_ct, binding)
            except (DecryptionError, ValueError):
                report = None
            found.append((view, report if isinstance(report, dict) else None))
        return found
    async def read_reports(self, session: AsyncSession, case_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The reports of several cases in one query (for jobs that handle cases in batches);
        ``None`` for a case whose report cannot be opened."""
        reports: dict[str, dict[str, Any] | None] = {}
        if not case_ids:
            return reports
        for row in (await session.execute(select(Case).where(Case.id.in_(sorted(set(case_ids)))))).scalars():
            try:
                report = self._crypto.open_json(
                    self._data_key(row), row.report_ct, Binding("cases", "report_ct", row.id)
                )
            except (DecryptionError, ValueError):
                report = None
            reports[row.id] = report if isinstance(report, dict) else None
        return reports

    async def read_contact(self, session: AsyncSession, case_id: str) -> str | None:
        row = await self._row(session, case_id)
        if row.contact_ct is None:
            return None
        binding = Binding("cases", "contact_ct", case_id)
        return self._crypto.open(self._data_key(row), row.contact_ct, binding).decode()

    async def set_status(self, session: AsyncSession, case_id: str, status: CaseStatus, now: datetime) -> None:
        """Changes the status and records what it meets: HR leaving "received" acknowledges the case,
        an outcome closes it (check-ins count from then), going back to an open status reopens it.
        The reporter's withdrawal acknowledges nothing: HR did not act, and a time of hers to the
        second must not be kept in a plain column (her acts are kept to the hour, ``updated_at``)."""
        row = await self._row(session, case_id)
        acknowledging = status.value not in NOT_YET_ACKNOWLEDGED and status is not CaseStatus.WITHDRAWN
        if row.status in NOT_YET_ACKNOWLEDGED and acknowledging:
            row.acknowledged_at = row.acknowledged_at or now
        if status.value in OUTCOMES and row.status not in OUTCOMES:
            row.closed_at = now
        elif status.value not in FINISHED:
            row.closed_at = None
        row.status = status.value
        row.updated_at = to_hour(now)
        refresh_next_due(row)

    async def add_message(
        self, session: AsyncSession, case_id: str, author: Author, text: str, now: datetime
    ) -> str:
        row = await self._row(session, case_id)
        message_id = random_id()
        body = self._crypto.seal(self._data_key(row), text.encode(), Binding("case_messages", "body_ct", message_id))
        session.add(
            CaseMessage(
                id=message_id,
                case_id=case_id,
                author=author.value,
                body_ct=body,
                created_at=to_hour(now) if author is Author.REPORTER else now,
                seen_by_reporter=author is Author.REPORTER,
            )
        )
        row.updated_at = to_hour(now)
        if author is Author.HR and row.first_feedback_at is None:
            row.first_feedback_at = now
            refresh_next_due(row)
        await session.flush()
        return message_id

    async def messages(self, session: AsyncSession, case_id: str) -> list[MessageView]:
        row = await self._row(session, case_id)
        data_key = self._data_key(row)
        query = select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.created_at)
        views = []
        for message in (await session.execute(query)).scalars():
            text = self._crypto.open(data_key, message.body_ct, Binding("case_messages", "body_ct", message.id))
            views.append(
                MessageView(
                    id=message.id,
                    author=Author(message.author),
                    text=text.decode(),
                    created_at=message.created_at,
                    seen_by_reporter=message.seen_by_reporter,
                )
            )
        return views

    async def mark_seen_by_reporter(self, session: AsyncSession, case_id: str) -> None:
        query = select(CaseMessage).where(CaseMessage.case_id == case_id, CaseMessage.seen_by_reporter.is_(False))
        for message in (await session.execute(query)).scalars():
            message.seen_by_reporter = True

    async def delete_finished_before(self, session: AsyncSession, cutoff: datetime) -> int:
        """Deletes resolved, closed and withdrawn cases last changed before ``cutoff``, with their
        messages and evidence, key first (:func:`storage.retention.shred_cases`; the cleaner uses
        :func:`storage.retention.purge_expired`, which audits each purge too)."""
        finished = sorted({status.value for status in FINISHED_STATUSES} | set(LEGACY_STATUSES) - {"new"})
        ids = list(
            (
                await session.execute(select(Case.id).where(Case.status.in_(finished), Case.updated_at < cutoff))
            ).scalars()
        )
        await shred_cases(session, ids)
        return len(ids)

    async def assignee_name(self, session: AsyncSession, case_id: str) -> str | None:
        """The assigned person's name, from the case row already loaded."""
        row = await self._row(session, case_id)
        return self.index.assignee_of(case_id, row.assignee_ct)

    async def set_outcome(self, session: AsyncSession, case_id: str, outcome: str) -> None:
        """Seals the written outcome a case is closed with, under the case's key."""
        row = await self._row(session, case_id)
        binding = Binding("cases", "outcome_ct", case_id)
        row.outcome_ct = self._crypto.seal(self._data_key(row), outcome.encode(), binding)

    async def read_outcome(self, session: AsyncSession, case_id: str) -> str | None:
        row = await self._row(session, case_id)
        if row.outcome_ct is None:
            return None
        return self._crypto.open(self._data_key(row), row.outcome_ct, Binding("cases", "outcome_ct", case_id)).decode()

    async def add_note(self, session: AsyncSession, case_id: str, author: str, text: str, now: datetime) -> str:
        """An internal note, sealed under the case's key; the reporter never sees notes."""
        row = await self._row(session, case_id)
        data_key = self._data_key(row)
        note_id = random_id()
        session.add(
            CaseNote(
                id=note_id,
                case_id=case_id,
                author_ct=self._crypto.seal(data_key, author.encode(), Binding("case_notes", "author_ct", note_id)),
                body_ct=self._crypto.seal(data_key, text.encode(), Binding("case_notes", "body_ct", note_id)),
                created_at=now,
            )
        )
        await session.flush()
        return note_id

    async def notes(self, session: AsyncSession, case_id: str) -> list[NoteView]:
        row = await self._row(session, case_id)
        data_key = self._data_key(row)
        query = select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.created_at, CaseNote.id)
        views = []
        for note in (await session.execute(query)).scalars():
            author = self._crypto.open(data_key, note.author_ct, Binding("case_notes", "author_ct", note.id))
            body = self._crypto.open(data_key, note.body_ct, Binding("case_notes", "body_ct", note.id))
            views.append(NoteView(author=author.decode(), text=body.decode(), created_at=note.created_at))
        return views

    async def backfill_index(
        self, session: AsyncSession, audience_of: Callable[[dict[str, Any]], str], limit: int = 500, after: str = ""
    ) -> tuple[int, str | None]:
        """Gives up to ``limit`` cases past id ``after`` that were written before the desk their list
        tags (opening each report once). Returns how many it indexed and the last id it looked at
        (None when no case was left): a case this process cannot open stays unindexed and is passed
        over, so the next batch starts after it."""
        indexed = 0
        case_ids = await self.index.unindexed(session, limit, after)
        for case_id in case_ids:
            try:
                report = await self.read_report(session, case_id)
            except (DecryptionError, ValueError):
                continue
            await self.index.write_tags(session, case_id, Audience(audience_of(report)), report)
            indexed += 1
        return indexed, (case_ids[-1] if case_ids else None)

    async def _row(self, session: AsyncSession, case_id: str) -> Case:
        row = await session.get(Case, case_id)
        if row is None:
            raise LookupError("no such case")
        return row
