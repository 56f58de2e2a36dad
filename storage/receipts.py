"""Report receipts: the reporter's only proof of a report, so hard to guess and easy to type.

A receipt is 16 symbols drawn with :mod:`secrets` from a 32-symbol alphabet (80 bits,
well above the 64-bit floor), shown as four groups of four: ``K7QX-M2PA-X9TB-4RWE``.

Alphabet: the digits ``0`` and ``2``-``9`` and the letters ``A``-``Z`` without ``I``, ``L``
and ``O``. Each look-alike group keeps at most one member: ``0`` stays and ``O`` is read
as ``0`` on entry (people confuse the two, and the receipt never contains ``O``); the
``1``/``I``/``L`` group is dropped entirely, so typing any of them is rejected rather than
guessed. ``U`` stays (unlike Crockford's alphabet) because 32 symbols are needed.

Entry is tolerant because workers type receipts on phones with Chinese input methods:
NFKC folds full-width letters, digits and dashes (``Ｋ７ＱＸ－…``); case is ignored; and
spaces, dashes of every kind (``-``, ``—``, ``－``), underscores, dots and invisible
format characters are dropped wherever they appear.

Storage: a case keeps ``ReceiptHasher.hash(receipt)`` (argon2id) and a keyed lookup index
``Crypto.pseudonym(Purpose.RECEIPT_INDEX, canonical_receipt)`` from :mod:`storage.crypto`
(the HMAC lives there only). Lookup normalises, finds the row by the index, then verifies
the argon2 hash; the receipt itself is never stored.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import unicodedata

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET = "023456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 16
GROUP_SIZE = 4
LOOK_ALIKES = {"O": "0"}
SEPARATORS = frozenset(" _.-·・。\u2212")
MAX_INPUT_LENGTH = 200

_ALPHABET_SET = frozenset(ALPHABET)
_SYMBOL = f"[{ALPHABET}]"
RECEIPT_PATTERN: re.Pattern[str] = re.compile(rf"\A{_SYMBOL}{{4}}(?:-{_SYMBOL}{{4}}){{3}}\Z")

_MINIMUM = argon2.profiles.RFC_9106_LOW_MEMORY


def _format(symbols: str) -> str:
    return "-".join(symbols[start : start + GROUP_SIZE] for start in range(0, RECEIPT_LENGTH, GROUP_SIZE))


def new_receipt() -> str:
    """Return a fresh formatted receipt with 80 bits of entropy."""
    return _format("".join(secrets.choice(ALPHABET) for _ in range(RECEIPT_LENGTH)))


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


class ReceiptHasher:
    """Slow-hash receipts with argon2id so a stolen database does not reveal them."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        """Use argon2-cffi's defaults (RFC 9106 low-memory); refuse anything weaker."""
        hasher = hasher or argon2.PasswordHasher()
        if (
            hasher.type is not argon2.Type.ID
            or hasher.memory_cost < _MINIMUM.memory_cost
            or hasher.time_cost < _MINIMUM.time_cost
            or hasher.hash_len < _MINIMUM.hash_len
            or hasher.salt_len < _MINIMUM.salt_len
        ):
            raise ValueError("receipt hashing must be argon2id at least as strong as RFC 9106 low-memory")
        self._hasher = hasher

    def __repr__(self) -> str:
        parameters = f"m={self._hasher.memory_cost}, t={self._hasher.time_cost}, p={self._hasher.parallelism}"
        return f"ReceiptHasher(argon2id {parameters})"

    def hash(self, receipt: str) -> str:
        """Return the argon2id hash of the canonical form of ``receipt``."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            raise ValueError("not a receipt")
        return self._hasher.hash(canonical)

    def verify(self, stored_hash: str, receipt: str) -> bool:
        """Say whether ``receipt`` matches; False (never an exception) for wrong or malformed input."""
        canonical = normalise_receipt(receipt)
        if canonical is None:
            return False
        try:
            return self._hasher.verify(stored_hash, canonical)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Say whether a stored hash uses weaker parameters than this hasher (rehash after verifying)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def hash_async(self, receipt: str) -> str:
        """Hash in a worker thread, so the event loop keeps serving other workers meanwhile."""
        return await asyncio.to_thread(self.hash, receipt)

    async def verify_async(self, stored_hash: str, receipt: str) -> bool:
        """Verify in a worker thread, so the event loop keeps serving other workers meanwhile."""
        return await asyncio.to_thread(self.verify, stored_hash, receipt)
