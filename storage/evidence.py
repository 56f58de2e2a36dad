"""Evidence files: sealed as draft files while a report is written, then moved under the case key.

A worker sends a photo before the case exists, so the channel adapter stores it (already
sanitised, see ``bot.channels.images``) as a *draft file* sealed under the internal key, with a coarse
expiry hour so an abandoned draft's files are purged without decrypting them. On submit,
:meth:`EvidenceRepository.adopt` re-seals each file under the new case's own data key and deletes
the draft row in the same transaction, so the file is readable exactly as long as the case is:
deleting the case (or its wrapped key) shreds its evidence too.

Evidence rows get fresh random ids rather than the draft ids, so nothing joins a draft row (still
in a WAL or a dead PostgreSQL tuple for a while) to a case. ``created_at`` is kept to the hour,
like every time a reporter's own action sets.

Files are handled one at a time through Core statements, never loaded all at once or kept in the
session's identity map, so memory stays bounded by the largest single file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .cases import to_hour
from .crypto import Binding, Crypto, DecryptionError
from .models import Case, DraftFile, Evidence, random_id

log = logging.getLogger(__name__)

DRAFT_FILE_ID = re.compile(r"[0-9a-f]{32}")
MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,30}/[a-z0-9][a-z0-9!#$&^_.+-]{0,30}")


def is_draft_file_id(ref: object) -> bool:
    """Whether ``ref`` has the shape of a draft file id (platform handles and junk do not)."""
    return isinstance(ref, str) and DRAFT_FILE_ID.fullmatch(ref) is not None


def hour_number(moment: datetime) -> int:
    """Hours since the epoch: the unit of ``expires_hour`` columns."""
    return int(moment.timestamp() // 3600)


def _draft_binding(file_id: str) -> Binding:
    return Binding("draft_files", "data_ct", file_id)


def _evidence_binding(evidence_id: str) -> Binding:
    return Binding("evidence", "data_ct", evidence_id)


class EvidenceRepository:
    """Draft files and case evidence; every method takes the caller's session and never commits."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def store_draft_file(self, session: AsyncSession, data: bytes, mime: str, expires_hour: int) -> str:
        """Seals a (sanitised) file received during a draft; returns its id for ``Attachment.ref``."""
        if not data:
            raise ValueError("a draft file needs content")
        if not MIME_TYPE.fullmatch(mime):
            raise ValueError("mime must be a lowercase type/subtype of at most 64 characters")
        file_id = random_id()
        sealed = self._crypto.seal_internal(data, _draft_binding(file_id))
        await session.execute(
            insert(DraftFile).values(id=file_id, mime=mime, data_ct=sealed, expires_hour=expires_hour)
        )
        return file_id

    async def adopt(self, session: AsyncSession, case_id: str, refs: Sequence[str], now: datetime) -> int:
        """Moves the draft files named by ``refs`` into the case's evidence; returns how many moved.

        A ref that is not a draft file id, names no row, has expired or no longer decrypts is
        skipped (and its row, if any, deleted): a lost photo must never lose the worker their
        report. The number skipped is logged, never which ones.
        """
        data_key = await self._data_key(session, case_id)
        created_at = to_hour(now)
        now_hour = hour_number(now)
        adopted = skipped = 0
        for ref in dict.fromkeys(refs):  # in order, each once
            if not is_draft_file_id(ref):
                skipped += 1
                continue
            query = select(DraftFile.mime, DraftFile.data_ct, DraftFile.expires_hour).where(DraftFile.id == ref)
            row = (await session.execute(query)).one_or_none()
            if row is None:
                skipped += 1
                continue
            await session.execute(delete(DraftFile).where(DraftFile.id == ref))
            if row.expires_hour < now_hour:
                skipped += 1
                continue
            try:
                plaintext = self._crypto.open_internal(row.data_ct, _draft_binding(ref))
            except DecryptionError:
                skipped += 1
                continue
            evidence_id = random_id()
            sealed = self._crypto.seal(data_key, plaintext, _evidence_binding(evidence_id))
            await session.execute(
                insert(Evidence).values(
                    id=evidence_id, case_id=case_id, mime=row.mime, data_ct=sealed, created_at=created_at
                )
            )
            adopted += 1
        if skipped:
            log.warning("evidence adoption skipped %d of %d draft files", skipped, adopted + skipped)
        return adopted

    async def files(self, session: AsyncSession, case_id: str) -> list[tuple[str, bytes]]:
        """Every evidence file of a case as ``(mime, plaintext)``, for an authorised HR reader.

        Ordered by hour, then by random id: the schema keeps no finer time on purpose, so the order
        the worker sent the files in is not kept (that would need a ``position`` column).
        Raises ``LookupError`` for an unknown case and ``DecryptionError`` when a file or the
        case's key cannot be opened (tampering, a moved ciphertext, a shredded key).
        """
        data_key = await self._data_key(session, case_id)
        query = (
            select(Evidence.id, Evidence.mime, Evidence.data_ct)
            .where(Evidence.case_id == case_id)
            .order_by(Evidence.created_at, Evidence.id)
        )
        return [
            (row.mime, self._crypto.open(data_key, row.data_ct, _evidence_binding(row.id)))
            for row in await session.execute(query)
        ]

    async def one(self, session: AsyncSession, case_id: str, index: int) -> tuple[str, bytes] | None:
        """The ``index``-th evidence file (from 0, in :meth:`files` order) as ``(mime, plaintext)``,
        or None when the case has fewer; only that file is decrypted."""
        query = (
            select(Evidence.id, Evidence.mime, Evidence.data_ct)
            .where(Evidence.case_id == case_id)
            .order_by(Evidence.created_at, Evidence.id)
            .offset(index)
            .limit(1)
        )
        row = (await session.execute(query)).one_or_none()
        if row is None:
            return None
        data_key = await self._data_key(session, case_id)
        return row.mime, self._crypto.open(data_key, row.data_ct, _evidence_binding(row.id))

    async def count(self, session: AsyncSession, case_id: str) -> int:
        """How many evidence files a case has, without decrypting any."""
        return len((await session.execute(select(Evidence.id).where(Evidence.case_id == case_id))).all())

    async def purge_expired_drafts(self, session: AsyncSession, now_hour: int) -> int:
        """Deletes draft files whose expiry hour has passed (abandoned drafts); returns how many went."""
        result = await session.execute(
            delete(DraftFile).where(DraftFile.expires_hour < now_hour).returning(DraftFile.id)
        )
        return len(result.all())

    async def _data_key(self, session: AsyncSession, case_id: str) -> bytes:
        wrapped = (await session.execute(select(Case.wrapped_key).where(Case.id == case_id))).scalar_one_or_none()
        if wrapped is None:
            raise LookupError("no such case")
        return self._crypto.unwrap_data_key(wrapped, Binding("cases", "wrapped_key", case_id))
