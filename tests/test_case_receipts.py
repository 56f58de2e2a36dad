"""Receipts bound to their case, added (never replaced) when reissued, and never kept in memory."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, update

from bot.config import Config
from bot.core import Core, build_core
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing, Purpose
from storage.models import CaseReceipt
from storage.receipts import MAX_RECEIPTS_PER_CASE, new_receipt

from .conftest import Clock, Worker
from .flows import receipt_in, reference_in, report_script


async def file_report(worker: Worker, story: str = "he touched me") -> str:
    await worker.send("/start")
    for line in report_script([story]):
        await worker.send(line.get("text"), choice=line.get("choice"))
    return receipt_in(worker.text)


async def opens(runtime: Core, receipt: str) -> str | None:
    """The reference of the case ``receipt`` opens through the status flow, or None."""
    reader = Worker(runtime, f"reader-{new_receipt()}")
    await reader.choose("status")
    await reader.send(receipt)
    if "No report matches" in reader.text:
        return None
    return reference_in(reader.text)


async def receipt_rows(runtime: Core) -> list[CaseReceipt]:
    async with runtime.database.transaction(write=False) as session:
        return list((await session.execute(select(CaseReceipt).order_by(CaseReceipt.id))).scalars())


async def swap(runtime: Core, first: CaseReceipt, second: CaseReceipt, columns: tuple[str, ...]) -> None:
    """Swaps ``columns`` between two receipt rows as raw SQL would (the unique constraints forbid a
    direct swap, so the first row is parked on unused values in between)."""
    async with runtime.database.transaction() as session:
        rows = {
            row.id: row
            for row in (
                await session.execute(select(CaseReceipt).where(CaseReceipt.id.in_([first.id, second.id])))
            ).scalars()
        }
        values = {key: {name: getattr(row, name) for name in (*columns, "number")} for key, row in rows.items()}
        parked = {name: f"parked-{first.id}" for name in columns if name != "case_id"} | {"number": 99}
        session.expunge_all()
        await session.execute(update(CaseReceipt).where(CaseReceipt.id == first.id).values(parked))
        await session.execute(update(CaseReceipt).where(CaseReceipt.id == second.id).values(values[first.id]))
        await session.execute(update(CaseReceipt).where(CaseReceipt.id == first.id).values(values[second.id]))


SWAPS = {
    "case id": ("case_id",),
    "hash and index": ("receipt_hash", "receipt_index"),
    "hash, index and tag": ("receipt_hash", "receipt_index", "receipt_tag"),
}


@pytest.mark.parametrize("columns", list(SWAPS.values()), ids=list(SWAPS))
async def test_swapping_two_cases_receipt_columns_opens_nothing(runtime: Core, columns: tuple[str, ...]) -> None:
    receipts = [await file_report(Worker(runtime, f"reporter-{n}"), f"story {n}") for n in range(3)]
    references = [await opens(runtime, receipt) for receipt in receipts]
    assert all(references) and len(set(references)) == 3
    rows = await receipt_rows(runtime)
    assert len(rows) == 3
    hasher = runtime.services.hasher
    moved = {row.id: r for row in rows for r in receipts if hasher.verify(row.receipt_hash, r, row.case_id)}
    assert len(moved) == 3
    for first, second in itertools.combinations(rows, 2):
        await swap(runtime, first, second, columns)
        assert await opens(runtime, moved[first.id]) is None, f"{columns} moved: a receipt opened another case"
        assert await opens(runtime, moved[second.id]) is None, f"{columns} moved: a receipt opened another case"
        await swap(runtime, first, second, columns)  # put them back for the next pair
    assert [await opens(runtime, receipt) for receipt in receipts] == references


async def test_a_receipt_row_forged_from_a_known_receipt_opens_nothing(runtime: Core) -> None:
    """A reporter who knows their own receipt and can write the database cannot re-point it at another
    case: they can compute an argon2 hash for any case id, but not the keyed tag."""
    mine = await file_report(Worker(runtime, "insider"), "my own report")
    await file_report(Worker(runtime, "victim"), "someone else's report")
    rows = await receipt_rows(runtime)
    hasher = runtime.services.hasher
    own = next(row for row in rows if hasher.verify(row.receipt_hash, mine, row.case_id))
    target = next(row for row in rows if row.id != own.id)
    async with runtime.database.transaction() as session:
        await session.execute(
            update(CaseReceipt)
            .where(CaseReceipt.id == own.id)
            .values(case_id=target.case_id, number=9, receipt_hash=await hasher.hash_async(mine, target.case_id))
        )
    assert await opens(runtime, mine) is None


async def test_restart_after_an_unconfirmed_receipt_adds_one_and_both_open(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    """A crash right after the receipt reply: the delivery was never confirmed, the process restarts
    on the same database, and the next message brings another receipt. The worker may have written
    the first one down, so both must open the case."""
    worker = Worker(runtime, "crashing-reporter")
    worker.confirm_receipts = False
    first = await file_report(worker)
    reference = reference_in(worker.text)
    await runtime.close()

    restarted = await build_core(config, keyring=keyring, clock=clock, faq=faq_service)
    try:
        again = Worker(restarted, "crashing-reporter")
        await again.send("hello")
        second = receipt_in(again.text)
        assert second != first and reference in again.text
        assert "keeps working" in again.text
        assert await opens(restarted, first) == reference
        assert await opens(restarted, second) == reference
    finally:
        await restarted.close()


async def test_reissues_are_bounded_and_never_drop_a_receipt(runtime: Core, worker: Worker) -> None:
    worker.confirm_receipts = False
    shown = [await file_report(worker)]
    reference = reference_in(worker.text)
    for _ in range(MAX_RECEIPTS_PER_CASE - 1):
        await worker.send("/start")
        shown.append(receipt_in(worker.text))
    await worker.send("/start")
    assert "use one you wrote down" in worker.text and reference in worker.text
    assert not [line for line in worker.text.splitlines() if line.count("-") == 3 and len(line) == 19]
    await worker.send("/start")
    assert "receipt" not in worker.text.lower(), "after the refusal no further receipt is offered"
    assert len(set(shown)) == MAX_RECEIPTS_PER_CASE
    assert len(await receipt_rows(runtime)) == MAX_RECEIPTS_PER_CASE
    for receipt in shown:
        assert await opens(runtime, receipt) == reference


async def test_no_receipt_or_guess_stays_in_the_pseudonym_cache(runtime: Core) -> None:
    receipt = await file_report(Worker(runtime, "reporter"))
    guess = new_receipt()
    assert await opens(runtime, receipt)
    assert await opens(runtime, guess) is None
    assert await opens(runtime, receipt.lower().replace("-", " ")) is not None
    runtime.crypto.pseudonym(Purpose.RECEIPT_INDEX, guess)  # even called directly, nothing is kept
    cache = runtime.crypto._pseudonyms  # the cache is exactly what is under test
    assert cache, "the cache should still hold worker pseudonyms"
    assert not [purpose for purpose, _value in cache if purpose is Purpose.RECEIPT_INDEX]
    kept = " ".join(value for _purpose, value in cache).upper()
    for secret in (receipt, guess):
        assert secret not in kept and secret.replace("-", "") not in kept.replace("-", "")
