"""Evidence files: sealed as drafts, moved under the case key on submit, shredded with the case.

Every test runs on SQLite and on a fresh PostgreSQL database (the ``runtime`` fixture).
"""

from __future__ import annotations

import io
import secrets
from datetime import UTC

import pytest
from PIL import Image
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.images import sanitise_image
from bot.core import Core
from handlers.events import Attachment, Channel, Incoming
from storage.cases import CaseView, to_hour
from storage.crypto import DecryptionError
from storage.database import sqlite_path
from storage.evidence import EvidenceRepository, hour_number
from storage.models import Case, DraftFile, Evidence

from .conftest import Clock, Worker
from .flows import reference_in, report_script

WINDOW = 32


def evidence_photo(seed: int = 7) -> bytes:
    """A real sanitised JPEG whose entropy-coded bytes are unique to this test run."""
    noise = Image.effect_noise((96, 64), 40 + seed).convert("RGB")
    noise.paste((seed * 20 % 256, 90, 200), (0, 0, 20, 20))
    out = io.BytesIO()
    noise.save(out, "PNG")
    return sanitise_image(out.getvalue()).data


def windows(plaintext: bytes) -> list[bytes]:
    """Non-overlapping 32-byte windows: any run of 63 plaintext bytes stored in clear contains one."""
    return [plaintext[i : i + WINDOW] for i in range(0, len(plaintext) - WINDOW + 1, WINDOW)]


def leaks(blob: bytes, plaintext: bytes) -> int:
    return sum(window in blob for window in windows(plaintext))


def repository(runtime: Core) -> EvidenceRepository:
    return runtime.services.evidence


async def new_case(runtime: Core, session: AsyncSession) -> CaseView:
    services = runtime.services
    return await services.cases.create(
        session,
        site="main",
        report={"version": 1, "what": ["evidence test"]},
        contact=None,
        receipt=await services.cases.issue_receipt(),
        now=services.clock(),
    )


async def count(session: AsyncSession, model: type[DraftFile] | type[Evidence]) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def store(runtime: Core, data: bytes, *, hours_left: int = 24) -> str:
    expires = hour_number(runtime.services.clock()) + hours_left
    async with runtime.database.transaction() as session:
        return await repository(runtime).store_draft_file(session, data, "image/jpeg", expires)


async def test_adopted_draft_file_reads_back_identical_and_the_draft_is_gone(runtime: Core) -> None:
    photo = evidence_photo()
    draft_id = await store(runtime, photo)
    evidence = repository(runtime)

    async with runtime.database.transaction() as session:
        case = await new_case(runtime, session)
        assert await evidence.adopt(session, case.id, [draft_id], runtime.services.clock()) == 1

    async with runtime.database.transaction(write=False) as session:
        assert await evidence.files(session, case.id) == [("image/jpeg", photo)]
        assert await count(session, DraftFile) == 0
        row = (await session.execute(select(Evidence))).scalar_one()
    assert row.id != draft_id, "evidence must not reuse the draft id (it would join the two rows)"
    created_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    assert created_at == to_hour(runtime.services.clock())
    assert created_at.minute == created_at.second == created_at.microsecond == 0


async def test_database_bytes_never_hold_the_image(runtime: Core, database_url: str) -> None:
    photo = evidence_photo(seed=3)
    assert leaks(photo + b"padding", photo) == len(windows(photo)), "the detector must see a stored plaintext"
    draft_id = await store(runtime, photo)
    evidence = repository(runtime)
    async with runtime.database.transaction() as session:
        draft_sealed = bytes((await session.execute(select(DraftFile.data_ct))).scalar_one())
        assert draft_sealed != photo and leaks(draft_sealed, photo) == 0
        case = await new_case(runtime, session)
        assert await evidence.adopt(session, case.id, [draft_id], runtime.services.clock()) == 1

    async with runtime.database.transaction(write=False) as session:
        sealed = [bytes(ct) for ct in (await session.execute(select(Evidence.data_ct))).scalars()]
    assert len(sealed) == 1 and sealed[0] != photo and leaks(sealed[0], photo) == 0

    path = sqlite_path(database_url)
    if path is None:
        return  # PostgreSQL: the bytea as the server returns it is all the test can read
    while_open = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert path.with_name(path.name + "-wal").exists(), "WAL mode must be in force"
    await runtime.database.dispose()
    after_close = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert sealed[0][-WINDOW:] in while_open + after_close, "the sealed file must really be in these bytes"
    assert leaks(while_open, photo) == 0 and leaks(after_close, photo) == 0


async def test_a_ciphertext_moved_to_another_row_does_not_open(runtime: Core) -> None:
    first, second = evidence_photo(1), evidence_photo(2)
    refs = [await store(runtime, first), await store(runtime, second)]
    evidence = repository(runtime)
    async with runtime.database.transaction() as session:
        case = await new_case(runtime, session)
        assert await evidence.adopt(session, case.id, refs, runtime.services.clock()) == 2
        assert sorted(data for _mime, data in await evidence.files(session, case.id)) == sorted([first, second])
        rows = (await session.execute(select(Evidence.id, Evidence.data_ct))).all()
        (id_a, ct_a), (id_b, ct_b) = rows
        await session.execute(update(Evidence).where(Evidence.id == id_a).values(data_ct=ct_b))
        await session.execute(update(Evidence).where(Evidence.id == id_b).values(data_ct=ct_a))

    async with runtime.database.transaction(write=False) as session:
        with pytest.raises(DecryptionError):
            await evidence.files(session, case.id)


async def test_a_draft_ciphertext_moved_to_another_draft_row_is_skipped(runtime: Core) -> None:
    victim, carrier = await store(runtime, evidence_photo(4)), await store(runtime, evidence_photo(5))
    evidence = repository(runtime)
    async with runtime.database.transaction() as session:
        sealed = (await session.execute(select(DraftFile.data_ct).where(DraftFile.id == victim))).scalar_one()
        await session.execute(update(DraftFile).where(DraftFile.id == carrier).values(data_ct=sealed))
        case = await new_case(runtime, session)
        assert await evidence.adopt(session, case.id, [carrier], runtime.services.clock()) == 0
        assert await evidence.files(session, case.id) == []
        assert await count(session, DraftFile) == 1, "the unreadable draft row is deleted, the other kept"


async def test_a_shredded_key_or_deleted_case_leaves_nothing_readable(runtime: Core) -> None:
    evidence = repository(runtime)
    cases = []
    for seed in (8, 9):
        draft_id = await store(runtime, evidence_photo(seed))
        async with runtime.database.transaction() as session:
            cases.append(case := await new_case(runtime, session))
            assert await evidence.adopt(session, case.id, [draft_id], runtime.services.clock()) == 1
    shredded, deleted = cases

    async with runtime.database.transaction() as session:
        await session.execute(update(Case).where(Case.id == shredded.id).values(wrapped_key=b""))
        await session.execute(delete(Case).where(Case.id == deleted.id))
    async with runtime.database.transaction(write=False) as session:
        assert await evidence.count(session, shredded.id) == 1
        with pytest.raises(DecryptionError):
            await evidence.files(session, shredded.id)
        assert await evidence.count(session, deleted.id) == 0, "evidence rows go with their case"
        assert await count(session, Evidence) == 1
        with pytest.raises(LookupError):
            await evidence.files(session, deleted.id)


async def test_adopt_skips_missing_expired_and_foreign_refs_without_failing(runtime: Core, clock: Clock) -> None:
    good = await store(runtime, evidence_photo(10))
    expired = await store(runtime, evidence_photo(11), hours_left=0)
    clock.advance(hours=1)  # ``expired`` was good until the end of the previous hour
    evidence = repository(runtime)
    refs = [good, secrets.token_hex(16), expired, "AgACAgIAAxkBAAIBZ2Zq-telegram-file-id", "", good]
    async with runtime.database.transaction() as session:
        case = await new_case(runtime, session)
        assert await evidence.adopt(session, case.id, refs, clock()) == 1
        assert await evidence.count(session, case.id) == 1
        assert await count(session, DraftFile) == 0, "the expired draft file is deleted, not adopted"


async def test_expired_draft_files_are_purged(runtime: Core) -> None:
    hour = hour_number(runtime.services.clock())
    for hours_left in (-1, 0, 5):
        await store(runtime, evidence_photo(12), hours_left=hours_left)
    evidence = repository(runtime)
    async with runtime.database.transaction() as session:
        assert await evidence.purge_expired_drafts(session, hour) == 1
        assert await count(session, DraftFile) == 2
        assert await evidence.purge_expired_drafts(session, hour + 6) == 2
        assert await count(session, DraftFile) == 0


async def test_store_draft_file_refuses_bad_input(runtime: Core) -> None:
    async with runtime.database.transaction() as session:
        with pytest.raises(ValueError, match="content"):
            await repository(runtime).store_draft_file(session, b"", "image/jpeg", 1)
        with pytest.raises(ValueError, match="mime"):
            await repository(runtime).store_draft_file(session, b"x", 'image/jpeg; name="gps.jpg"', 1)


async def test_a_photo_sent_while_reporting_becomes_evidence_of_the_case(runtime: Core, worker: Worker) -> None:
    photo = evidence_photo(13)
    draft_id = await store(runtime, photo)
    await worker.send("/start")
    script = report_script(["He sent me this picture at night"])
    for line in script[:2]:  # report, agree
        await worker.send(line.get("text"), choice=line.get("choice"))
    incoming = Incoming(
        channel=Channel.CONSOLE,
        user_key=worker.user_key,
        chat="worker-1",
        received_at=runtime.services.clock(),
        text="This is the picture",
        attachments=(Attachment("image", draft_id, mime="image/jpeg"),),
    )
    outcome = await runtime.dispatcher.handle(incoming)
    assert "Saved (1 messages)" in "\n".join(reply.text for reply in outcome.replies)
    for line in script[2:-1]:
        await worker.send(line.get("text"), choice=line.get("choice"))
    assert "Files attached: 1" in worker.text
    await worker.send(choice="submit")
    reference = reference_in(worker.text)

    async with runtime.database.transaction(write=False) as session:
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None
        assert await repository(runtime).files(session, case.id) == [("image/jpeg", photo)]
        assert await count(session, DraftFile) == 0
        report = await runtime.services.cases.read_report(session, case.id)
    assert report["what"] == ["This is the picture", "He sent me this picture at night"]
