"""Cases and their messages, each case sealed under a data key of its own (envelope encryption).

Deleting a case's wrapped key makes everything it sealed unreadable (crypto-shredding). Times that
a reporter's own action sets are kept to the hour, so they cannot be lined up with activity
elsewhere (conversation rows, platform logs) to find who reported.

Receipts are rows of their own, bound to their case (the design is in :mod:`storage.receipts`);
a case may hold up to ``MAX_RECEIPTS_PER_CASE``, and one is only ever added, never replaced,
because the worker may already have written down any receipt they were shown.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .case_index import Audience, CaseIndex
from .case_status import FINISHED_STATUSES, LEGACY_STATUSES, stored_status
from .case_status import CaseStatus as CaseStatus  # re-exported: callers know it as storage.cases.CaseStatus
from .crypto import Binding, Crypto, DecryptionError
from .database import short_hash
from .models import Case, CaseMessage, CaseNote, CaseReceipt, Evidence, random_id
from .receipts import MAX_RECEIPTS_PER_CASE, ReceiptHasher, normalise_receipt

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


def _view(row: Case) -> CaseView:
    return CaseView(
        id=row.id,
        reference=row.reference,
        site=row.site,
        status=stored_status(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class CaseRepository:
    """Case rows; every method takes the caller's session and never commits."""

    def __init__(self, crypto: Crypto, hasher: ReceiptHasher | None = None) -> None:
        self._crypto = crypto
        self._hasher = hasher or ReceiptHasher()
        self.index = CaseIndex(crypto)

    def _data_key(self, row: Case) -> bytes:
        return self._crypto.unwrap_data_key(row.wrapped_key, Binding("cases", "wrapped_key", row.id))

    async def create(
        self,
        session: AsyncSession,
        *,
        site: str,
        report: dict[str, Any],
        contact: str | None,
        receipt: str,
        now: datetime,
        audience: Audience | str = Audience.HR,
    ) -> CaseView:
        """Creates a case and its first receipt (``receipt`` is the canonical receipt shown to the
        worker), with the keyed tags the HR desk lists it by (``audience``: whose case it is)."""
        case_id = random_id()
        first_receipt = await self._receipt_row(case_id, 1, receipt)
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
            **self.index.columns(Audience(audience), report),
        )
        for _attempt in range(8):
            row.reference = new_reference()
            try:
                async with session.begin_nested():
                    session.add(row)
                    await session.flush()
                session.add(first_receipt)
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
        self, session: AsyncSession, *, site: str | None = None, statuses: Sequence[CaseStatus] | None = None
    ) -> tuple[list[CaseView], list[str]]:
        """Like :meth:`find`, and apart the labels (:func:`case_label`) of rows this code cannot
        even view (a status it does not know, written by newer code): one odd row never hides the rest."""
        query = select(Case).order_by(Case.created_at)
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

    async def by_receipt(self, session: AsyncSession, receipt: str) -> CaseView | None:
        """The case ``receipt`` opens, or None: found by its keyed index, then both its keyed tag and
        its argon2id hash must match for the case the row names."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            return None
        query = select(CaseReceipt).where(CaseReceipt.receipt_index == self._crypto.receipt_index(canonical))
        found = (await session.execute(query)).scalar_one_or_none()
        if found is None or not self._crypto.receipt_tag_matches(found.case_id, canonical, found.receipt_tag):
            return None
        if not await self._hasher.verify_async(found.receipt_hash, canonical, found.case_id):
            return None
        return await self.get(session, found.case_id)

    async def add_receipt(self, session: AsyncSession, case_id: str, receipt: str) -> bool:
        """Adds another receipt to a case (the earlier ones keep working); False, adding nothing,
        once the case holds ``MAX_RECEIPTS_PER_CASE``."""
        await self._row(session, case_id)
        query = select(func.count(), func.max(CaseReceipt.number)).where(CaseReceipt.case_id == case_id)
        count, highest = (await session.execute(query)).one()
        if count >= MAX_RECEIPTS_PER_CASE:
            return False
        session.add(await self._receipt_row(case_id, (highest or 0) + 1, receipt))
        await session.flush()
        return True

    async def receipt_count(self, session: AsyncSession, case_id: str) -> int:
        query = select(func.count()).select_from(CaseReceipt).where(CaseReceipt.case_id == case_id)
        return int((await session.execute(query)).scalar_one())

    async def _receipt_row(self, case_id: str, number: int, receipt: str) -> CaseReceipt:
        canonical = normalise_receipt(receipt)
        if canonical is None:
            raise ValueError("not a receipt")
        return CaseReceipt(
            id=random_id(),
            case_id=case_id,
            number=number,
            receipt_index=self._crypto.receipt_index(canonical),
            receipt_hash=await self._hasher.hash_async(canonical, case_id),
            receipt_tag=self._crypto.receipt_tag(case_id, canonical),
        )

    async def read_report(self, session: AsyncSession, case_id: str) -> dict[str, Any]:
        row = await self._row(session, case_id)
        report = self._crypto.open_json(self._data_key(row), row.report_ct, Binding("cases", "report_ct", case_id))
        if not isinstance(report, dict):
            raise ValueError("sealed report is not an object")
        return report

    async def read_contact(self, session: AsyncSession, case_id: str) -> str | None:
        row = await self._row(session, case_id)
        if row.contact_ct is None:
            return None
        binding = Binding("cases", "contact_ct", case_id)
        return self._crypto.open(self._data_key(row), row.contact_ct, binding).decode()

    async def set_status(self, session: AsyncSession, case_id: str, status: CaseStatus, now: datetime) -> None:
        row = await self._row(session, case_id)
        row.status = status.value
        row.updated_at = to_hour(now)

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
        messages and evidence (the retention period the privacy notice states)."""
        finished = sorted({status.value for status in FINISHED_STATUSES} | set(LEGACY_STATUSES) - {"new"})
        ids = list(
            (
                await session.execute(select(Case.id).where(Case.status.in_(finished), Case.updated_at < cutoff))
            ).scalars()
        )
        if ids:
            await session.execute(delete(CaseMessage).where(CaseMessage.case_id.in_(ids)))
            await session.execute(delete(CaseNote).where(CaseNote.case_id.in_(ids)))
            await session.execute(delete(Evidence).where(Evidence.case_id.in_(ids)))
            await session.execute(delete(CaseReceipt).where(CaseReceipt.case_id.in_(ids)))
            await session.execute(delete(Case).where(Case.id.in_(ids)))
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
        self, session: AsyncSession, audience_of: Callable[[dict[str, Any]], str], limit: int = 500
    ) -> int:
        """Gives up to ``limit`` cases written before the desk their list tags (opening each report
        once); returns how many it indexed. A case this process cannot open stays unindexed."""
        indexed = 0
        for case_id in await self.index.unindexed(session, limit):
            try:
                report = await self.read_report(session, case_id)
            except (DecryptionError, ValueError):
                continue
            await self.index.write_tags(session, case_id, Audience(audience_of(report)), report)
            indexed += 1
        return indexed

    async def _row(self, session: AsyncSession, case_id: str) -> Case:
        row = await session.get(Case, case_id)
        if row is None:
            raise LookupError("no such case")
        return row
