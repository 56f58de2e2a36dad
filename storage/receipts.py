"""Report receipts: the reporter's only proof of a report, so hard to guess and easy to type.

A receipt is 16 symbols drawn with :mod:`secrets` from a 32-symbol alphabet (80 bits,
well above the 64-bit floor), at least one of them a digit from 2 to 9, shown as four groups of four:
``K7QX-M2PA-X9TB-4RWE``.

Alphabet: the digits ``0`` and ``2``-``9`` and the letters ``A``-``Z`` without ``I``, ``L``
and ``O``. Each look-alike group keeps at most one member: ``0`` stays and ``O`` is read
as ``0`` on entry (people confuse the two, and the receipt never contains ``O``); the
``1``/``I``/``L`` group is dropped entirely, so typing any of them is rejected rather than
guessed. ``U`` stays (unlike Crockford's alphabet) because 32 symbols are needed.

Entry is tolerant because workers type receipts on phones with Chinese input methods:
NFKC folds full-width letters, digits and dashes (``Ｋ７ＱＸ－…``); case is ignored; and
spaces, dashes of every kind (``-``, ``—``, ``－``), underscores, dots and invisible
format characters are dropped wherever they appear.

Storage (``case_receipts``, one row per receipt, at most :data:`MAX_RECEIPTS_PER_CASE` per
case; :class:`storage.cases.CaseRepository` reads and writes them). Each row holds three values
computed from the canonical receipt ``r`` and the case id ``c``:

* ``receipt_index = HMAC(k_index, r)`` (:meth:`storage.crypto.Crypto.receipt_index`): the
  lookup key. It cannot cover ``c``, because a worker brings only the receipt and the case must
  be found from it alone; it is unique, so one receipt names one row.
* ``receipt_hash = argon2id("hapbot-receipt-v2|" r "|" c)`` (:meth:`ReceiptHasher.hash`): a slow
  hash, so a stolen database does not let anyone test receipts quickly without the keys.
* ``receipt_tag = HMAC(k_bind, len(c) c len(r) r)`` (:meth:`storage.crypto.Crypto.receipt_tag`;
  ``k_bind`` is derived from ``k_index``): binds the receipt to the case under a key kept
  outside the database.

Lookup normalises, finds the row by the index, then requires *both* the tag and the argon2
hash to match for the row's own case id. Someone with write access to the database alone
who swaps the receipt columns of two cases, or points a receipt row at another case, gets a
row whose ``c`` differs from the one its hash and tag were made for: it opens nothing. The
tag is what stops a reporter who knows their own receipt (and so could compute an argon2
hash for any case id, argon2 being unkeyed) from re-pointing it at someone else's case.
The receipt itself is never stored, and it never enters the pseudonym cache.

Hash parameters, and why (the threat model). The hash matters only to someone who has the
database *without* the key file (a stolen backup, a database administrator): with the keys they
would use the index. Such a thief has, per row, a salt, the case id and the hash, and must find
an 80-bit random receipt. Even at 10^12 guesses a second, a rate no memory-hard hash allows,
2^80 guesses take about 38,000 years: the receipt's entropy is the protection, and the cost
factor is a margin on top of it, not the thing that makes guessing infeasible. NIST SP 800-63B
(section 5.1.2.2, look-up secrets) asks exactly this for random secrets under 112 bits: salted
and hashed with a key-derivation function that has a cost factor, not a particular cost.
RFC 9106 (section 4) sizes its profiles (2 GiB, or 64 MiB with t=3, p=4) for low-entropy
passwords, where every extra unit of cost matters; here it would buy nothing but latency and
memory that every report submission and status lookup pays, on a server that hashes for many
workers at once. So we use the OWASP Password Storage Cheat Sheet's argon2id minimum, m=19 MiB,
t=2, p=1 (one lane: the server's other cores keep serving other workers), with RFC 9106's 128-bit
salt and 256-bit tag. A stolen hash still costs ~19 MiB and two passes per guess.

Hashes made with earlier parameters (argon2-cffi's RFC 9106 low-memory profile, m=64 MiB, t=3,
p=4) keep verifying: argon2 hash strings carry their own parameters. Hashing and verifying run
off the event loop, never inside a write transaction or a worker's lock (see
``handlers.preparation``), and at most as many at once as fit :class:`MemoryBudget`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET = "023456789ABCDEFGHJKMNPQRSTUVWXYZ"
UNMISTAKABLE_DIGITS = frozenset("23456789")
"""Digits no one types as a letter (``0`` may be typed ``O``): every receipt holds at least one."""
RECEIPT_LENGTH = 16
GROUP_SIZE = 4
LOOK_ALIKES = {"O": "0"}
SEPARATORS = frozenset(" _.-·・。\u2212")
MAX_INPUT_LENGTH = 200

_ALPHABET_SET = frozenset(ALPHABET)
_SYMBOL = f"[{ALPHABET}]"
RECEIPT_PATTERN: re.Pattern[str] = re.compile(rf"\A{_SYMBOL}{{4}}(?:-{_SYMBOL}{{4}}){{3}}\Z")

log = logging.getLogger(__name__)
T = TypeVar("T")

# OWASP Password Storage Cheat Sheet, argon2id minimum; RFC 9106's 128-bit salt and 256-bit tag.
PARAMETERS = argon2.Parameters(
    type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=19 * 1024, parallelism=1
)
_MINIMUM = PARAMETERS
DEFAULT_MEMORY_BUDGET_MIB = 40
"""Two hashes at once: argon2id with p=1 keeps one core busy, so more at once than the cores
(2 on the machine we size for) adds memory, not throughput. Raise it with the cores."""
LARGEST_STORED_HASH_KIB = 64 * 1024
"""Receipts hashed before 2026-12 used m=64 MiB; such a hash may run alone, taking the whole budget
if it is smaller. Anything larger can only have been written by someone with database access."""
MAX_RECEIPTS_PER_CASE = 5
HASH_LABEL = "hapbot-receipt-v2"


def _bound(canonical: str, case_id: str) -> str:
    if not case_id or "|" in case_id:
        raise ValueError("a receipt is bound to a non-empty case id without '|'")
    return f"{HASH_LABEL}|{canonical}|{case_id}"


def _format(symbols: str) -> str:
    return "-".join(symbols[start : start + GROUP_SIZE] for start in range(0, RECEIPT_LENGTH, GROUP_SIZE))


def new_receipt() -> str:
    """Return a fresh formatted receipt with (just under) 80 bits of entropy.

    A draw without a digit from 2 to 9 (about 1 in 50) is thrown away and drawn again: a worker may
    paste her receipt inside a sentence with spaces for dashes, and there only a digit tells four
    groups of four letters from four English words (``handlers.intents.find_receipt``). ``0`` does
    not count, because she may type it as the letter ``O``. Redrawing keeps the choice uniform over
    the receipts that have such a digit and costs 0.03 bits.
    """
    while True:
        symbols = "".join(secrets.choice(ALPHABET) for _ in range(RECEIPT_LENGTH))
        if any(symbol in UNMISTAKABLE_DIGITS for symbol in symbols):
            return _format(symbols)


def _is_separator(character: str) -> bool:
    category = unicodedata.category(character)
    return character in SEPARATORS or character.isspace() or category in ("Pd", "Cf")


def normalise_receipt(text: str) -> str | None:
    """Return the canonical formatted receipt a person meant by ``text``, or None if it is none."""
    if len(text) > MAX_INPUT_LENGTH:
        return None
    folded = unicodedata.normalize("NFKC", text).upper()
    symbols = "".join(LOOK_ALIKES.get(char, char) for char in folded if not _is_separator(char))
    if len(symbols) != RECEIPT_LENGTH or not set(symbols) <= _ALPHABET_SET:
        return None
    return _format(symbols)


def hash_lanes() -> int:
    """How many hashes may run at once: one core fewer than the machine has. The event loop serves
    every other worker on one core; hashes taking all of them made a burst of submissions slow
    every draft message behind it."""
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class MemoryBudget:
    """Admits argon2 work while the memory it needs fits a budget and fewer than ``lanes`` run: a
    weighted semaphore, first come first served, so a burst of submissions can neither push the
    process out of memory nor take every core from the event loop."""

    def __init__(self, kib: int, *, lanes: int = 1_000_000) -> None:
        if kib <= 0:
            raise ValueError("a memory budget must be positive")
        if lanes <= 0:
            raise ValueError("at least one hash must be able to run")
        self.total = kib
        self._free = kib
        self._lanes = lanes
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def reserve(self, kib: int) -> AsyncIterator[None]:
        await self.acquire(kib)
        try:
            yield
        finally:
            self._release(kib)

    async def acquire(self, kib: int) -> None:
        """Waits until ``kib`` and a lane are free and takes them; :meth:`run_in_thread` gives
        them back. Cancelled while waiting, it takes nothing."""
        if kib > self.total:
            raise ValueError("more memory than the whole budget")
        if not self._waiters and self._free >= kib and self._lanes > 0:
            self._free -= kib
            self._lanes -= 1
            return
        admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (kib, admitted)
        self._waiters.append(entry)
        try:
            await admitted
        except asyncio.CancelledError:
            if admitted.done() and not admitted.cancelled():
                self._release(kib)  # admitted, then cancelled before running: give it back
            else:
                with contextlib.suppress(ValueError):  # a release may have dropped it already
                    self._waiters.remove(entry)
            raise

    async def run_in_thread(self, kib: int, work: Callable[[], T]) -> T:
        """Runs ``work`` in a worker thread within the budget. The memory and the lane are given
        back when the thread finishes, not when the caller stops waiting: a cancelled caller
        cannot stop the thread, which still holds its memory and its core until it ends."""
        await self.acquire(kib)
        try:
            running = asyncio.get_running_loop().run_in_executor(None, work)
        except BaseException:
            self._release(kib)
            raise

        def finished(done: asyncio.Future[T]) -> None:
            self._release(kib)
            if not done.cancelled():
                done.exception()  # retrieved: a caller that stopped waiting is not told twice

        running.add_done_callback(finished)
        return await asyncio.shield(running)

    def _release(self, kib: int) -> None:
        self._free += kib
        self._lanes += 1
        while self._waiters and self._waiters[0][0] <= self._free and self._lanes > 0:
            needed, admitted = self._waiters.popleft()
            if not admitted.done():
                self._free -= needed
                self._lanes -= 1
                admitted.set_result(None)


class ReceiptHasher:
    """Slow-hash receipts with argon2id so a stolen database does not reveal them."""

    def __init__(
        self,
        hasher: argon2.PasswordHasher | None = None,
        *,
        memory_budget_mib: int = DEFAULT_MEMORY_BUDGET_MIB,
        lanes: int | None = None,
    ) -> None:
        """Use :data:`PARAMETERS` unless given a hasher; refuse anything weaker. At most as many
        hashes run at once as fit ``memory_budget_mib`` (at least one always fits), and no more
        than ``lanes`` (default :func:`hash_lanes`)."""
        hasher = hasher or argon2.PasswordHasher.from_parameters(PARAMETERS)
        if (
            hasher.type is not argon2.Type.ID
            or hasher.memory_cost < _MINIMUM.memory_cost
            or hasher.time_cost < _MINIMUM.time_cost
            or hasher.hash_len < _MINIMUM.hash_len
            or hasher.salt_len < _MINIMUM.salt_len
        ):
            raise ValueError("receipt hashing must be argon2id at least as strong as OWASP's minimum (19 MiB, t=2)")
        self._hasher = hasher
        self.budget = MemoryBudget(
            max(memory_budget_mib * 1024, hasher.memory_cost), lanes=hash_lanes() if lanes is None else lanes
        )

    def __repr__(self) -> str:
        parameters = f"m={self._hasher.memory_cost}, t={self._hasher.time_cost}, p={self._hasher.parallelism}"
        return f"ReceiptHasher(argon2id {parameters})"

    def hash(self, receipt: str, case_id: str) -> str:
        """Return the argon2id hash of the canonical form of ``receipt`` bound to ``case_id``."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            raise ValueError("not a receipt")
        return self._hasher.hash(_bound(canonical, case_id))

    def verify(self, stored_hash: str, receipt: str, case_id: str) -> bool:
        """Say whether ``receipt`` matches for ``case_id``; False (never an exception) for wrong or
        malformed input, or a hash made for another case."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            return False
        try:
            return self._hasher.verify(stored_hash, _bound(canonical, case_id))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Say whether a stored hash uses other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def _memory_of(self, stored_hash: str) -> int | None:
        """KiB that verifying ``stored_hash`` takes (its own parameters), or None if it is not one."""
        try:
            return argon2.extract_parameters(stored_hash).memory_cost
        except InvalidHashError:
            return None

    async def hash_async(self, receipt: str, case_id: str) -> str:
        """Hash in a worker thread within the memory budget, so the event loop keeps serving others."""
        return await self.budget.run_in_thread(self._hasher.memory_cost, lambda: self.hash(receipt, case_id))

    async def verify_async(self, stored_hash: str, receipt: str, case_id: str) -> bool:
        """Verify in a worker thread within the memory budget. An old hash larger than the budget
        (m=64 MiB) runs alone; a stored hash larger than both is refused (False): only someone
        writing to the database could have put it there, to exhaust the server's memory."""
        memory = self._memory_of(stored_hash)
        if memory is None:
            return False
        if memory > max(self.budget.total, LARGEST_STORED_HASH_KIB):
            log.warning("a stored receipt hash asks for more memory than the hashing budget: refused")
            return False
        # A larger old hash runs alone.
        return await self.budget.run_in_thread(
            min(memory, self.budget.total), lambda: self.verify(stored_hash, receipt, case_id)
        )
