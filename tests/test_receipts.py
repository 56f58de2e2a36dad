"""Tests for storage.receipts: format, entropy, tolerant entry, argon2id hashing."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections import Counter

import argon2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.intents import find_receipt
from storage.receipts import (
    ALPHABET,
    PARAMETERS,
    RECEIPT_PATTERN,
    MemoryBudget,
    ReceiptHasher,
    hash_lanes,
    new_receipt,
    normalise_receipt,
)

FORMAT = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$")
LOOK_ALIKE_GROUPS = [{"0", "O"}, {"1", "I", "L"}]
RECEIPT = "K7QX-M2PA-X9TB-4RWE"


def widen(text: str) -> str:
    """Turn ASCII into its full-width form, as Chinese input methods type it."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


receipts = st.text(alphabet=ALPHABET, min_size=16, max_size=16).map(
    lambda symbols: "-".join(symbols[i : i + 4] for i in range(0, 16, 4))
)


@st.composite
def typed_variants(draw: st.DrawFn, receipt: str) -> str:
    """The receipt as a person might type it: any case, widths, separators and O for 0."""
    typed = []
    for char in receipt.replace("-", ""):
        if char == "0" and draw(st.booleans()):
            char = draw(st.sampled_from("Oo"))
        if draw(st.booleans()):
            char = char.lower()
        if draw(st.booleans()):
            char = widen(char)
        typed.append(char)
        typed.append(draw(st.sampled_from(["", "", " ", "-", "—", "－", "_", ".", "　", "\u200b"])))
    return draw(st.sampled_from(["", " ", "\n"])) + "".join(typed)


class TestAlphabet:
    def test_exactly_32_distinct_symbols_without_ambiguous_pairs(self) -> None:
        assert len(ALPHABET) == len(set(ALPHABET)) == 32
        assert set(ALPHABET) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for group in LOOK_ALIKE_GROUPS:
            assert len(group & set(ALPHABET)) <= 1, group

    def test_entropy_is_at_least_64_bits(self) -> None:
        assert len(ALPHABET) ** 16 >= 2**64
        assert len(ALPHABET) ** 16 == 2**80


class TestNewReceipt:
    def test_format_and_symbols(self) -> None:
        for _ in range(200):
            receipt = new_receipt()
            assert FORMAT.match(receipt) and RECEIPT_PATTERN.match(receipt)
            assert set(receipt.replace("-", "")) <= set(ALPHABET)
            assert normalise_receipt(receipt) == receipt

    def test_every_symbol_appears_at_every_position(self) -> None:
        """With 2000 receipts a missing symbol at a position has probability about e**-62."""
        columns = [Counter[str]() for _ in range(16)]
        for _ in range(2000):
            for position, symbol in enumerate(new_receipt().replace("-", "")):
                columns[position][symbol] += 1
        assert all(set(column) == set(ALPHABET) for column in columns)

    def test_a_draw_without_a_digit_is_drawn_again(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """About 1 draw in 50 has no digit from 2 to 9; pasted with spaces inside a sentence (and its 0
        typed as O) it would not be recognised (``find_receipt`` needs a digit there), so such a draw
        is never issued."""
        draws = iter("ABCDEFGHJKMNPQRS" + "ABCDEFGHJKMNPQR0" + "ABCDEFGHJKMNPQR7")
        monkeypatch.setattr("storage.receipts.secrets.choice", lambda alphabet: next(draws))
        assert new_receipt() == "ABCD-EFGH-JKMN-PQR7"

    def test_every_receipt_is_found_inside_a_sentence_with_spaces(self) -> None:
        for _ in range(1000):
            receipt = new_receipt()
            assert any(symbol in "23456789" for symbol in receipt)
            typed = receipt.lower().replace("-", " ").replace("0", "o")
            assert find_receipt(f"我的查询码是 {typed}") == receipt

    def test_pattern_rejects_non_receipts(self) -> None:
        for text in [
            "K7QX-M2PA-X9TB-4RW",
            "K7QX-M2PA-X9TB-4RWE\n",
            "K7QXM2PAX9TB4RWE",
            "K7QX-M2PA-X9TB-4RWO",
        ]:
            assert not RECEIPT_PATTERN.match(text)


class TestNormalise:
    @pytest.mark.parametrize(
        "typed",
        [
            "K7QX-M2PA-X9TB-4RWE",
            "k7qx-m2pa-x9tb-4rwe",
            "K7QX M2PA X9TB 4RWE",
            "K7QXM2PAX9TB4RWE",
            "  k7 qx_m2.pa—x9tb – 4rwe \n",
            "Ｋ７ＱＸ－Ｍ２ＰＡ－Ｘ９ＴＢ－４ＲＷＥ",
            "ｋ７ｑｘ　ｍ２ｐａ　ｘ９ｔｂ　４ｒｗｅ",
            "K7QX\u200b-M2PA-X9TB-4RWE",
        ],
    )
    def test_accepts_how_people_type(self, typed: str) -> None:
        assert normalise_receipt(typed) == RECEIPT

    def test_accepts_widened_input(self) -> None:
        assert widen("k7qx-m2pa-x9tb-4rwe") != "k7qx-m2pa-x9tb-4rwe"
        assert normalise_receipt(widen("k7qx-m2pa-x9tb-4rwe")) == RECEIPT

    def test_letter_o_is_read_as_zero(self) -> None:
        assert normalise_receipt("O7QX-M2PA-X9TB-4RWo") == "07QX-M2PA-X9TB-4RW0"

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "K7QX-M2PA-X9TB-4RW",
            "K7QX-M2PA-X9TB-4RWEE",
            "K7QX-M2PA-X9TB-4RW1",
            "K7QX-M2PA-X9TB-4RWI",
            "K7QX-M2PA-X9TB-4RWL",
            "K7QX-M2PA-X9TB-4RW骚",
            "K7QX-M2PA-X9TB-4RW!",
            "K7QX-M2PA-X9TB-4RWÉ",
            "K7QX-" * 100,
        ],
    )
    def test_rejects_wrong_length_and_foreign_symbols(self, typed: str) -> None:
        assert normalise_receipt(typed) is None

    @given(st.data(), receipts)
    def test_typed_variants_normalise_to_the_receipt(self, data: st.DataObject, receipt: str) -> None:
        assert normalise_receipt(data.draw(typed_variants(receipt))) == receipt

    @given(st.text(max_size=60))
    def test_result_is_none_or_canonical(self, text: str) -> None:
        result = normalise_receipt(text)
        assert result is None or (RECEIPT_PATTERN.match(result) and normalise_receipt(result) == result)


CASE = "0123456789abcdef0123456789abcdef"
OTHER_CASE = "fedcba9876543210fedcba9876543210"


@pytest.fixture(scope="module")
def hasher() -> ReceiptHasher:
    return ReceiptHasher()


class TestHasher:
    def test_right_receipt_verifies_and_wrong_does_not(self, hasher: ReceiptHasher) -> None:
        stored = hasher.hash(RECEIPT, CASE)
        assert hasher.verify(stored, RECEIPT, CASE)
        assert hasher.verify(stored, "k7qx m2pa x9tb 4rwe", CASE)
        assert not hasher.verify(stored, "K7QX-M2PA-X9TB-4RWF", CASE)
        assert not hasher.verify(stored, "not a receipt", CASE)
        assert not hasher.verify(stored, "", CASE)

    def test_hash_is_bound_to_its_case(self, hasher: ReceiptHasher) -> None:
        stored = hasher.hash(RECEIPT, CASE)
        assert hasher.verify(stored, RECEIPT, CASE)
        assert not hasher.verify(stored, RECEIPT, OTHER_CASE)
        unbound = argon2.PasswordHasher().hash(RECEIPT)
        assert not hasher.verify(unbound, RECEIPT, CASE), "an unbound hash must not verify"

    def test_malformed_hash_is_false_not_an_error(self, hasher: ReceiptHasher) -> None:
        for stored in ["", "garbage", "$argon2id$v=19$m=65536,t=3,p=4$bad", "$2b$12$" + "a" * 53]:
            assert hasher.verify(stored, RECEIPT, CASE) is False

    def test_hash_is_salted_argon2id_and_hides_the_receipt(self, hasher: ReceiptHasher) -> None:
        stored = hasher.hash(RECEIPT, CASE)
        assert stored != hasher.hash(RECEIPT, CASE)
        assert stored.startswith("$argon2id$")
        for form in (RECEIPT, RECEIPT.replace("-", ""), RECEIPT.lower(), RECEIPT.replace("-", "").lower()):
            assert form not in stored
        assert argon2.extract_parameters(stored) == PARAMETERS
        assert (PARAMETERS.memory_cost, PARAMETERS.time_cost, PARAMETERS.parallelism) == (19 * 1024, 2, 1)
        assert (PARAMETERS.salt_len, PARAMETERS.hash_len) == (16, 32)
        assert not hasher.needs_rehash(stored)

    def test_hash_rejects_non_receipts(self, hasher: ReceiptHasher) -> None:
        with pytest.raises(ValueError) as raised:
            hasher.hash("K7QX-M2PA-X9TB-4RW1", CASE)
        assert "K7QX" not in str(raised.value)

    @pytest.mark.parametrize(
        "weak",
        [
            argon2.PasswordHasher(time_cost=1),
            argon2.PasswordHasher(memory_cost=1024),
            argon2.PasswordHasher(type=argon2.Type.I),
            argon2.PasswordHasher(hash_len=8),
        ],
        ids=["time", "memory", "argon2i", "hash-length"],
    )
    def test_weaker_hashers_are_refused(self, weak: argon2.PasswordHasher) -> None:
        with pytest.raises(ValueError):
            ReceiptHasher(weak)

    def test_weak_stored_hash_needs_rehash(self, hasher: ReceiptHasher) -> None:
        old = argon2.PasswordHasher(time_cost=1, memory_cost=1024).hash(f"hapbot-receipt-v2|{RECEIPT}|{CASE}")
        assert hasher.verify(old, RECEIPT, CASE) and hasher.needs_rehash(old)
        assert hasher.needs_rehash("garbage")

    async def test_async_variants(self, hasher: ReceiptHasher) -> None:
        stored = await hasher.hash_async(RECEIPT, CASE)
        assert await hasher.verify_async(stored, "k7qx-m2pa-x9tb-4rwe", CASE)
        assert not await hasher.verify_async(stored, "K7QX-M2PA-X9TB-4RWF", CASE)
        assert hasher.verify(stored, RECEIPT, CASE)


BOUND = f"hapbot-receipt-v2|{RECEIPT}|{CASE}"


class TestEarlierParameters:
    """Receipts hashed before the parameters changed (argon2-cffi's RFC 9106 low-memory profile)
    keep working: a hash string carries its own parameters."""

    async def test_a_receipt_hashed_with_the_old_profile_still_verifies(self, hasher: ReceiptHasher) -> None:
        old = argon2.PasswordHasher.from_parameters(argon2.profiles.RFC_9106_LOW_MEMORY).hash(BOUND)
        assert argon2.extract_parameters(old).memory_cost == 64 * 1024
        assert hasher.verify(old, RECEIPT, CASE)
        assert await hasher.verify_async(old, "k7qx m2pa x9tb 4rwe", CASE)
        assert not await hasher.verify_async(old, "K7QX-M2PA-X9TB-4RWF", CASE)
        assert not await hasher.verify_async(old, RECEIPT, OTHER_CASE)

    async def test_an_old_hash_larger_than_the_budget_runs_alone_and_a_larger_one_is_refused(self) -> None:
        small = ReceiptHasher(memory_budget_mib=32)
        old = argon2.PasswordHasher.from_parameters(argon2.profiles.RFC_9106_LOW_MEMORY).hash(BOUND)
        assert await small.verify_async(old, RECEIPT, CASE), "the old 64 MiB parameters still verify"
        huge_parameters = argon2.Parameters(
            type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=128 * 1024,
            parallelism=1,
        )
        planted = argon2.PasswordHasher.from_parameters(huge_parameters).hash(BOUND)
        assert small.verify(planted, RECEIPT, CASE), "the hash itself is right"
        assert not await small.verify_async(planted, RECEIPT, CASE), "but 128 MiB is more than any receipt needs"

    async def test_a_hash_larger_than_the_budget_waits_until_it_runs_alone(self) -> None:
        budget = MemoryBudget(10)
        async with budget.reserve(5):
            alone = asyncio.create_task(budget.reserve(10).__aenter__())
            await asyncio.sleep(0)
            assert budget.waiting == 1, "it waits while another runs"
        await alone
        assert budget.waiting == 0


class SlowHasher(ReceiptHasher):
    """Blocks inside hash() until released, counting how many hashes run at once."""

    def __init__(self, budget_mib: int, lanes: int = 8) -> None:
        super().__init__(memory_budget_mib=budget_mib, lanes=lanes)
        self.lock = threading.Condition()
        self.active = 0
        self.peak = 0
        self.released = False

    def hash(self, receipt: str, case_id: str) -> str:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.released, timeout=10)
            self.active -= 1
        return "$argon2id$stand-in"

    def wait_until_active(self, count: int) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.active >= count, timeout=10)

    def release(self) -> None:
        with self.lock:
            self.released = True
            self.lock.notify_all()


class TestMemoryBudget:
    async def test_concurrent_hashes_are_bounded_by_the_memory_budget(self) -> None:
        hasher = SlowHasher(budget_mib=2 * 19 + 10)  # room for two 19 MiB hashes, not three
        assert hasher.budget.total == 48 * 1024
        tasks = [asyncio.create_task(hasher.hash_async(RECEIPT, CASE)) for _ in range(6)]
        assert await asyncio.to_thread(hasher.wait_until_active, 2)
        for _ in range(5):
            await asyncio.sleep(0)
        assert hasher.budget.waiting == 4, "four wait for memory while two hash"
        hasher.release()
        assert await asyncio.gather(*tasks) == ["$argon2id$stand-in"] * 6
        assert hasher.peak == 2
        assert hasher.budget.waiting == 0

    async def test_hashes_leave_the_event_loop_a_core(self) -> None:
        hasher = SlowHasher(budget_mib=10 * 19, lanes=1)  # memory for ten, one lane
        tasks = [asyncio.create_task(hasher.hash_async(RECEIPT, CASE)) for _ in range(3)]
        assert await asyncio.to_thread(hasher.wait_until_active, 1)
        for _ in range(5):
            await asyncio.sleep(0)
        assert hasher.budget.waiting == 2, "two wait for the lane, though memory is free"
        hasher.release()
        assert await asyncio.gather(*tasks) == ["$argon2id$stand-in"] * 3
        assert hasher.peak == 1

    def test_hash_lanes_are_one_fewer_than_the_cores_we_may_use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
        assert hash_lanes() == 1
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
        assert hash_lanes() == 7
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3})
        assert hash_lanes() == 1

    async def test_a_cancelled_hash_keeps_its_lane_until_its_thread_ends(self) -> None:
        hasher = SlowHasher(budget_mib=10 * 19, lanes=1)
        first = asyncio.create_task(hasher.hash_async(RECEIPT, CASE))
        assert await asyncio.to_thread(hasher.wait_until_active, 1)
        first.cancel()  # a dropped request: the thread cannot be stopped
        with pytest.raises(asyncio.CancelledError):
            await first
        second = asyncio.create_task(hasher.hash_async(RECEIPT, CASE))
        for _ in range(5):
            await asyncio.sleep(0)
        assert hasher.budget.waiting == 1, "the lane is still taken by the running thread"
        hasher.release()
        assert await second == "$argon2id$stand-in"
        assert hasher.peak == 1

    async def test_a_waiter_cancelled_as_the_memory_frees_raises_cancelled_not_value_error(self) -> None:
        budget = MemoryBudget(10)
        async with budget.reserve(10):
            waiter = asyncio.create_task(budget.acquire(5))
            await asyncio.sleep(0)
            waiter.cancel()  # cancelled before the release below drops its entry
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert budget.waiting == 0
        async with budget.reserve(10):  # all of it is free
            pass

    def test_zero_lanes_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least one"):
            ReceiptHasher(lanes=0)

    def test_the_budget_always_admits_one_hash(self) -> None:
        assert ReceiptHasher(memory_budget_mib=1).budget.total == PARAMETERS.memory_cost

    async def test_a_cancelled_waiter_gives_its_memory_back(self) -> None:
        budget = MemoryBudget(10)
        async with budget.reserve(10):
            waiter = asyncio.create_task(budget.reserve(5).__aenter__())
            await asyncio.sleep(0)
            assert budget.waiting == 1
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert budget.waiting == 0
        async with budget.reserve(10):  # all of it is free again
            pass
