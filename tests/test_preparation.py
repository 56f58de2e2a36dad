"""Tests for handlers.preparation and the dispatcher's preparation phase: the argon2id work of a
submit, a receipt re-issue and a status lookup runs with no write transaction open and no
worker's lock held, on SQLite and PostgreSQL, whether the work was predicted or a step asked for
it unexpectedly; and a missed prediction gives the same result as a predicted one."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Core
from handlers.preparation import Preparation, Unprepared, result_of
from storage.cases import CaseRepository
from storage.database import Database
from storage.models import Case, CaseReceipt
from storage.receipts import ReceiptHasher

from .conftest import QuickReceiptHasher, Worker
from .flows import receipt_in


class WatchedHasher(QuickReceiptHasher):
    """Records, at every hash and verify, how many write transactions were open then."""

    def __init__(self) -> None:
        super().__init__()
        self.open_writes: Callable[[], int] = lambda: 0
        self.seen: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def hash(self, receipt: str, case_id: str) -> str:
        with self._lock:
            self.seen.append(("hash", self.open_writes()))
        return super().hash(receipt, case_id)

    def verify(self, stored_hash: str, receipt: str, case_id: str) -> bool:
        with self._lock:
            self.seen.append(("verify", self.open_writes()))
        return super().verify(stored_hash, receipt, case_id)


@pytest.fixture
def receipt_hasher() -> ReceiptHasher:
    return WatchedHasher()


@pytest.fixture
def watched(runtime: Core, monkeypatch: pytest.MonkeyPatch) -> WatchedHasher:
    """The runtime's hasher, told how many write transactions (each holding worker locks, and on
    SQLite the only writer) are open at any moment."""
    hasher = runtime.services.hasher
    assert isinstance(hasher, WatchedHasher)
    database = runtime.database
    opened = [0]
    original = Database.transaction

    @asynccontextmanager
    async def counted(self: Database, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        async with original(self, write=write) as session:
            opened[0] += write
            try:
                yield session
            finally:
                opened[0] -= write

    monkeypatch.setattr(database, "transaction", counted.__get__(database))
    hasher.open_writes = lambda: opened[0]
    return hasher


async def report(worker: Worker, *, typed_submit: bool) -> str:
    """Files a report; submits by typing "1" at the review (no button: nothing predicts it from the
    message) or by the Submit button."""
    for choice in ("report", "agree"):
        await worker.choose(choice)
    await worker.send("He keeps touching my shoulder at the line.")
    for choice in ("done", "physical", "this_week", "workshop", "coworker", "skip", "normal", "notify_no"):
        await worker.choose(choice)
    if typed_submit:
        await worker.send("1")
    else:
        await worker.choose("submit")
    return receipt_in(worker.text)


async def receipts_stored(runtime: Core) -> int:
    async with runtime.database.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(CaseReceipt))).scalar_one())


class TestNothingSlowInsideTheTransaction:
    @pytest.mark.parametrize("typed_submit", [False, True], ids=["button", "typed"])
    async def test_submit_hashes_before_the_transaction(
        self, runtime: Core, watched: WatchedHasher, typed_submit: bool
    ) -> None:
        worker = Worker(runtime, "submitter")
        await report(worker, typed_submit=typed_submit)
        hashes = [open_then for kind, open_then in watched.seen if kind == "hash"]
        assert hashes, "the receipt was hashed"
        assert set(hashes) == {0}, "no write transaction was open while hashing"
        assert await receipts_stored(runtime) == 1

    async def test_a_typed_submit_after_a_restart_is_prepared_when_asked(
        self, runtime: Core, watched: WatchedHasher
    ) -> None:
        """Nothing anticipated (another replica, or a restart, handled the review): the step asks,
        the transaction is rolled back, the hash is done outside, and the message runs again."""
        worker = Worker(runtime, "restarted")
        for choice in ("report", "agree"):
            await worker.choose(choice)
        await worker.send("It happened in the canteen.")
        for choice in ("done", "verbal", "today", "canteen", "coworker", "skip", "normal", "notify_no"):
            await worker.choose(choice)
        runtime.dispatcher._anticipated.clear()  # as a fresh process would have it
        await worker.send("1")
        receipt_in(worker.text)
        assert [kind for kind, _ in watched.seen] == ["hash"], "hashed once, outside"
        assert set(open_then for _, open_then in watched.seen) == {0}
        async with runtime.database.transaction(write=False) as session:
            assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 1
        assert await receipts_stored(runtime) == 1

    async def test_status_lookup_verifies_outside_the_transaction(
        self, runtime: Core, watched: WatchedHasher
    ) -> None:
        receipt = await report(Worker(runtime, "reporter"), typed_submit=False)
        watched.seen.clear()
        other_phone = Worker(runtime, "other-phone")
        await other_phone.send(f"我的查询码是 {receipt.lower()}")
        assert "HAP-" in other_phone.text, "the pasted receipt opened the case"
        assert watched.seen == [("verify", 0)]
        watched.seen.clear()
        await other_phone.choose("status")
        await other_phone.send(receipt)
        assert "HAP-" in other_phone.text
        assert watched.seen == [("verify", 0)]

    async def test_a_wrong_receipt_costs_no_hash(self, runtime: Core, watched: WatchedHasher) -> None:
        await report(Worker(runtime, "reporter"), typed_submit=False)
        watched.seen.clear()
        guesser = Worker(runtime, "guesser")
        await guesser.choose("status")
        await guesser.send("K7QX-M2PA-X9TB-4RWE")
        assert "No report matches" in guesser.text
        assert watched.seen == [], "a receipt that misses the keyed index is never hashed"

    async def test_reissued_receipt_is_hashed_outside(self, runtime: Core, watched: WatchedHasher) -> None:
        worker = Worker(runtime, "unconfirmed")
        worker.confirm_receipts = False  # the reply with the receipt may not have arrived
        first = await report(worker, typed_submit=False)
        watched.seen.clear()
        await worker.send("hello?")
        second = receipt_in(worker.text)
        assert second != first
        assert watched.seen == [("hash", 0)]
        assert await receipts_stored(runtime) == 2


class TestPreparationContract:
    def test_a_result_nobody_prepared_raises_unprepared(self) -> None:
        async def work(_read: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> int:
            return 7

        wanted = Preparation("example:secret-part", work)
        with pytest.raises(Unprepared) as raised:
            result_of({}, wanted)
        assert raised.value.preparation is wanted
        assert result_of({"example:secret-part": 7}, wanted) == 7
        assert "secret-part" not in repr(wanted), "keys may hold a receipt: never in a repr"

    async def test_a_match_goes_stale_if_its_row_changes(self, runtime: Core) -> None:
        """The write transaction re-checks the row a match verified outside it."""
        cases: CaseRepository = runtime.services.cases
        issued = await cases.issue_receipt()
        async with runtime.database.transaction() as session:
            await cases.create(session, site="main", report={"what": ["x"]}, contact=None, receipt=issued,
                               now=runtime.services.clock())

        def read() -> Any:
            return runtime.database.transaction(write=False)

        match = await cases.match_receipt(read, issued.receipt.lower())
        assert match.case_id == issued.case_id
        async with runtime.database.transaction() as session:
            assert (await cases.open_match(session, match)) is not None
            await session.execute(CaseReceipt.__table__.delete())
        async with runtime.database.transaction() as session:
            assert await cases.open_match(session, match) is None
