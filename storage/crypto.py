"""All use of keys in HAP Bot: AES-256-GCM envelopes and keyed pseudonyms.

This is the only module that encrypts, decrypts or MACs anything, so that the whole
cryptographic surface can be reviewed in one sitting (the GlobaLeaks habit). It takes
bytes and returns bytes; callers never see a cipher object.

Keys
    * master keys (32 bytes, by key id) wrap the per-case *data keys*; deleting a case's
      wrapped data key makes that case unreadable (crypto-shredding), and rotating the
      master key re-wraps the small data keys and re-seals internal data (:meth:`Crypto.reseal`;
      :mod:`storage.master_keys`), never case data itself.
    * an *internal* subkey per master key, ``HKDF-SHA256(master, info=b"hapbot internal v1")``,
      encrypts non-case data (conversation state, drafts, throttles, journals).
    * one HMAC-SHA256 key per :class:`Purpose`, so a pseudonym from one purpose cannot
      be linked to another purpose's pseudonym of the same value.
    * a *receipt binding* subkey, ``HKDF-SHA256(receipt-index key, info=b"hapbot receipt binding v1")``,
      tags a receipt together with its case id (:meth:`Crypto.receipt_tag`), so a receipt row
      moved to another case opens nothing (see :mod:`storage.receipts`).

Receipts never enter the pseudonym cache: a receipt, or a guess at one, is a secret that
opens a report, and must not outlive the request that carried it
(:meth:`Crypto.receipt_index`; :meth:`Crypto.pseudonym` does not cache receipt purposes).

Every master key id in use has a *key-check record* in the database
(:meth:`Crypto.seal_key_check`): a fingerprint of the pseudonym keys sealed under that master
key, so that a start with the wrong, an old or an incomplete key file is refused before it
writes anything (:mod:`storage.key_check`).

Ciphertext format (all integers are single unsigned bytes)::

    version (1) | kind | [key-id length | key id (ASCII)] | nonce (12, random) | AES-GCM ciphertext + tag (16)

``kind`` is 1 for data under a per-case data key (no key id: the caller holds the key),
2 for a wrapped data key and 3 for internal data (both name the master key id). The
associated data is ``header || binding.encode()``, where ``header`` is everything before
the nonce, so changing any header byte, or moving a ciphertext to another table, column
or row, makes decryption fail. Every failure raises :class:`DecryptionError`, whose
message never contains key bytes or plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
FORMAT_VERSION = 1
PSEUDONYM_BYTES = 20
INTERNAL_KEY_INFO = b"hapbot internal v1"
RECEIPT_BINDING_INFO = b"hapbot receipt binding v1"
DESK_INDEX_INFO = b"hapbot desk index v1"
DESK_TAG_BYTES = 15
KEY_CHECK_LABEL = "hapbot key check v1"
BINDING_LABEL = b"hapbot-binding-v1"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Purpose(StrEnum):
    """What a pseudonym is for; each purpose has its own HMAC key, never shared."""

    CONVERSATION = "conversation"
    RATE_LIMIT = "rate_limit"
    REMINDER = "reminder"
    RECEIPT_INDEX = "receipt_index"
    DEDUP = "dedup"
    CALLBACK = "callback"  # tags on button data, so a button cannot be forged or replayed into another chat


class Kind(IntEnum):
    """The key a ciphertext is sealed under; part of the header so kinds cannot be swapped."""

    DATA = 1
    WRAPPED_KEY = 2
    INTERNAL = 3


RECEIPT_PURPOSES = frozenset({Purpose.RECEIPT_INDEX})


class KeyCheck(StrEnum):
    """What a key-check record says about the keys in hand (:meth:`Crypto.check_key_record`)."""

    MATCHES = "matches"
    UNKNOWN_MASTER = "unknown_master"  # the key ring has no master key of that id
    WRONG_MASTER = "wrong_master"  # a master key of that id, but another key
    WRONG_PSEUDONYM = "wrong_pseudonym"  # the master key matches, the pseudonym keys do not


class DecryptionError(Exception):
    """Any failure to decrypt: tampering, wrong key or binding, unknown key id, bad format.

    One class for all of them so callers cannot (and need not) distinguish; the message
    gives a coarse, non-secret reason for operators.
    """


@dataclass(frozen=True)
class Binding:
    """Where a ciphertext is stored; used as associated data so it cannot be moved elsewhere."""

    table: str
    column: str
    row: str

    def __post_init__(self) -> None:
        for name in ("table", "column", "row"):
            if not getattr(self, name):
                raise ValueError(f"Binding.{name} must be a non-empty string")

    def encode(self) -> bytes:
        """Return a label plus length-prefixed fields, so ("ab", "c") never equals ("a", "bc")."""
        parts = [BINDING_LABEL]
        for value in (self.table, self.column, self.row):
            encoded = value.encode("utf-8")
            parts.append(len(encoded).to_bytes(4, "big") + encoded)
        return b"".join(parts)


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")


@dataclass(frozen=True, repr=False)
class KeyRing:
    """Every key the process holds. Its repr names key ids only, never key bytes."""

    master_keys: Mapping[str, bytes]
    current_master_id: str
    pseudonym_keys: Mapping[Purpose, bytes]

    def __post_init__(self) -> None:
        if not self.master_keys:
            raise ValueError("a key ring needs at least one master key")
        for key_id, key in self.master_keys.items():
            if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
                raise ValueError("master key ids must be 1-64 characters of A-Z a-z 0-9 . _ -")
            _check_key(key, f"master key {key_id!r}")
        if self.current_master_id not in self.master_keys:
            raise ValueError(f"current master key id {self.current_master_id!r} is not in the key ring")
        missing = [purpose.value for purpose in Purpose if purpose not in self.pseudonym_keys]
        if missing:
            raise ValueError(f"pseudonym keys missing for purposes: {', '.join(missing)}")
        for purpose, key in self.pseudonym_keys.items():
            _check_key(key, f"pseudonym key {Purpose(purpose).value!r}")
        all_keys = [*self.master_keys.values(), *self.pseudonym_keys.values()]
        if len(set(all_keys)) != len(all_keys):
            raise ValueError("every key in a key ring must be different")
        object.__setattr__(self, "master_keys", MappingProxyType(dict(self.master_keys)))
        pseudonym = {Purpose(purpose): key for purpose, key in self.pseudonym_keys.items()}
        object.__setattr__(self, "pseudonym_keys", MappingProxyType(pseudonym))

    def __repr__(self) -> str:
        return f"KeyRing(master ids={sorted(self.master_keys)!r}, current={self.current_master_id!r})"

    @classmethod
    def generate(cls) -> KeyRing:
        """Return a key ring of fresh random keys, for a new installation."""
        master_id = new_master_key_id()
        return cls(
            master_keys={master_id: secrets.token_bytes(KEY_SIZE)},
            current_master_id=master_id,
            pseudonym_keys={purpose: secrets.token_bytes(KEY_SIZE) for purpose in Purpose},
        )

    def with_new_master_key(self) -> KeyRing:
        """Return a copy with a fresh master key made current; old ones stay for unwrapping."""
        master_id = new_master_key_id()
        while master_id in self.master_keys:
            master_id = new_master_key_id()
        return KeyRing(
            master_keys={**self.master_keys, master_id: secrets.token_bytes(KEY_SIZE)},
            current_master_id=master_id,
            pseudonym_keys=self.pseudonym_keys,
        )


def new_master_key_id() -> str:
    """Return a random, non-secret master key id such as ``m-1f3a9c0e``."""
    return f"m-{secrets.token_hex(4)}"


def _header(kind: Kind, key_id: str | None) -> bytes:
    if key_id is None:
        return bytes((FORMAT_VERSION, kind))
    encoded = key_id.encode("ascii")
    return bytes((FORMAT_VERSION, kind, len(encoded))) + encoded


def _parse(ciphertext: bytes, kind: Kind) -> tuple[bytes, str | None, bytes, bytes]:
    """Split a ciphertext into header, key id, nonce and body, or raise DecryptionError."""
    if not isinstance(ciphertext, bytes | bytearray | memoryview):
        raise DecryptionError("ciphertext is not bytes")
    data = bytes(ciphertext)
    if len(data) < 2:
        raise DecryptionError("ciphertext is truncated")
    if data[0] != FORMAT_VERSION:
        raise DecryptionError("unsupported ciphertext version")
    if data[1] not in {known.value for known in Kind}:
        raise DecryptionError("unknown ciphertext kind")
    if data[1] != kind:
        raise DecryptionError("ciphertext is of another kind")
    key_id: str | None = None
    offset = 2
    if kind is not Kind.DATA:
        if len(data) < 3:
            raise DecryptionError("ciphertext is truncated")
        end = 3 + data[2]
        if len(data) < end:
            raise DecryptionError("ciphertext is truncated")
        try:
            key_id = data[3:end].decode("ascii")
        except UnicodeDecodeError:
            raise DecryptionError("malformed key id") from None
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise DecryptionError("malformed key id")
        offset = end
    if len(data) < offset + NONCE_SIZE + TAG_SIZE:
        raise DecryptionError("ciphertext is truncated")
    return data[:offset], key_id, data[offset : offset + NONCE_SIZE], data[offset + NONCE_SIZE :]


def _seal(key: bytes, kind: Kind, key_id: str | None, plaintext: bytes, binding: Binding) -> bytes:
    header = _header(kind, key_id)
    nonce = secrets.token_bytes(NONCE_SIZE)
    body = AESGCM(key).encrypt(nonce, plaintext, header + binding.encode())
    return header + nonce + body


def _open(key: bytes, header: bytes, nonce: bytes, body: bytes, binding: Binding) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, body, header + binding.encode())
    except InvalidTag:
        raise DecryptionError("authentication failed (tampered, wrong key or wrong binding)") from None


def _internal_key(master: bytes) -> bytes:
    """Derive the internal subkey, so non-case data never uses a master key directly."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=INTERNAL_KEY_INFO).derive(master)


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(key)


def _length_prefixed(*values: str) -> bytes:
    parts = []
    for value in values:
        encoded = value.encode("utf-8")
        parts.append(len(encoded).to_bytes(4, "big") + encoded)
    return b"".join(parts)


def master_key_id_of(ciphertext: bytes) -> str | None:
    """The master key id a wrapped-key or internal ciphertext's header names; None for case data
    (sealed under a data key) and for anything that is not a ciphertext of ours."""
    data = bytes(ciphertext)
    if len(data) < 3 or data[0] != FORMAT_VERSION or data[1] not in (Kind.WRAPPED_KEY, Kind.INTERNAL):
        return None
    end = 3 + data[2]
    try:
        key_id = data[3:end].decode("ascii")
    except UnicodeDecodeError:
        return None
    return key_id if len(data) >= end and KEY_ID_PATTERN.fullmatch(key_id) else None


def _to_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _from_json(plaintext: bytes) -> Any:
    try:
        return json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DecryptionError("decrypted data is not UTF-8 JSON") from None


PSEUDONYM_CACHE_SIZE = 8192
KEY_REFRESH_SECONDS = 30.0

KeyRefresh = Callable[[], "KeyRing | None"]


class Crypto:
    """The bytes-in/bytes-out operations the rest of HAP Bot may perform with keys."""

    def __init__(self, keyring: KeyRing, *, refresh: KeyRefresh | None = None) -> None:
        """``refresh`` (optional) returns a newer key ring when the key file changed, else None; it is
        asked when a ciphertext names a master key not held, and before sealing at most every
        ``KEY_REFRESH_SECONDS``, so a running process follows ``hapbot keys rotate`` and ``retire``."""
        self._keyring = keyring
        self._internal_keys = {key_id: _internal_key(key) for key_id, key in keyring.master_keys.items()}
        self._refresh = refresh
        self._refreshed_at = time.monotonic()
        self._receipt_binding_key = _derive(keyring.pseudonym_keys[Purpose.RECEIPT_INDEX], RECEIPT_BINDING_INFO)
        self._desk_index_key = _derive(keyring.pseudonym_keys[Purpose.RECEIPT_INDEX], DESK_INDEX_INFO)
        self._pseudonyms: dict[tuple[Purpose, str], str] = {}

    @property
    def current_master_id(self) -> str:
        """The master key id new ciphertexts are sealed under."""
        return self._keyring.current_master_id

    @property
    def master_key_ids(self) -> frozenset[str]:
        """Every master key id this process can open."""
        return frozenset(self._keyring.master_keys)

    def __repr__(self) -> str:
        return f"Crypto({self._keyring!r})"

    def adopt(self, keyring: KeyRing) -> None:
        """Switch to a newer key ring of the same installation (a master key added or retired).

        Refused (ValueError) unless the pseudonym keys are the same and every master key id held
        by both has the same key: anything else is another installation's key file.
        """
        if dict(keyring.pseudonym_keys) != dict(self._keyring.pseudonym_keys):
            raise ValueError("the new key ring has other pseudonym keys")
        for key_id, key in keyring.master_keys.items():
            if self._keyring.master_keys.get(key_id, key) != key:
                raise ValueError(f"the new key ring has another master key {key_id!r}")
        self._internal_keys = {key_id: _internal_key(key) for key_id, key in keyring.master_keys.items()}
        self._keyring = keyring

    def _maybe_refresh(self, *, needed: bool) -> None:
        """Asks ``refresh`` for a newer key ring: now if a key is ``needed``, else now and then."""
        if self._refresh is None:
            return
        now = time.monotonic()
        if not needed and now - self._refreshed_at < KEY_REFRESH_SECONDS:
            return
        self._refreshed_at = now
        keyring = self._refresh()
        if keyring is None:
            return
        try:
            self.adopt(keyring)
        except ValueError as error:
            log.error("the changed key file is not this installation's (%s); keeping the keys in use", error)

    def pseudonym(self, purpose: Purpose, value: str) -> str:
        """Return a stable, unlinkable 160-bit name for ``value``: 32 lowercase base32 characters.

        Recent results are kept in memory (the same worker's name is needed several times per
        message); the cache is bounded and lives no longer than the keys it derives from.
        Receipt purposes bypass the cache: a receipt, or a guess at one, is never kept.
        """
        purpose = Purpose(purpose)
        if purpose in RECEIPT_PURPOSES:
            return self._keyed_name(purpose, value)
        cached = self._pseudonyms.get((purpose, value))
        if cached is not None:
            return cached
        name = self._keyed_name(purpose, value)
        if len(self._pseudonyms) >= PSEUDONYM_CACHE_SIZE:
            self._pseudonyms.clear()
        self._pseudonyms[(purpose, value)] = name
        return name

    def _keyed_name(self, purpose: Purpose, value: str) -> str:
        key = self._keyring.pseudonym_keys[purpose]
        digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()[:PSEUDONYM_BYTES]
        return base64.b32encode(digest).decode("ascii").lower()

    def receipt_index(self, receipt: str) -> str:
        """The keyed lookup index of a canonical receipt (a pseudonym of purpose RECEIPT_INDEX),
        computed afresh every time: nothing about a receipt is kept in memory."""
        return self._keyed_name(Purpose.RECEIPT_INDEX, receipt)

    def receipt_tag(self, case_id: str, receipt: str) -> str:
        """A keyed tag binding a canonical receipt to its case; without the keys nobody can make one,
        so a receipt row moved to another case, or forged from a known receipt, fails."""
        message = _length_prefixed("receipt-tag", case_id, receipt)
        digest = hmac.new(self._receipt_binding_key, message, hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii").lower().rstrip("=")

    def receipt_tag_matches(self, case_id: str, receipt: str, tag: str) -> bool:
        """Whether ``tag`` binds ``receipt`` to ``case_id`` (constant-time comparison)."""
        return hmac.compare_digest(self.receipt_tag(case_id, receipt).encode(), tag.encode())

    def desk_tag(self, field: str, value: str) -> str:
        """A keyed, deterministic tag of one value of one case field (audience, category, urgency,
        assignee) that the HR desk's list filters on in SQL: equal values give equal tags, and
        without the keys nobody can tell which value a tag stands for (see :mod:`storage.case_index`).
        Derived from a pseudonym key, so rotating the master key leaves every tag valid."""
        digest = hmac.new(self._desk_index_key, _length_prefixed("desk-tag", field, value), hashlib.sha256).digest()
        return base64.b32encode(digest[:DESK_TAG_BYTES]).decode("ascii").lower()

    def _key_fingerprint(self) -> dict[str, str]:
        keys = self._keyring.pseudonym_keys
        label = KEY_CHECK_LABEL.encode()
        return {purpose.value: hmac.new(keys[purpose], label, hashlib.sha256).hexdigest() for purpose in Purpose}

    def seal_key_check(self, key_id: str, binding: Binding) -> bytes:
        """A key-check record under master key ``key_id``: the pseudonym keys' fingerprints, sealed."""
        document = _to_json({"label": KEY_CHECK_LABEL, "pseudonym": self._key_fingerprint()})
        return _seal(self._internal_keys[key_id], Kind.INTERNAL, key_id, document, binding)

    def check_key_record(self, key_id: str, record: bytes, binding: Binding) -> KeyCheck:
        """Whether the keys in hand are the ones that sealed ``record`` under master key ``key_id``."""
        if key_id not in self._internal_keys or master_key_id_of(record) != key_id:
            return KeyCheck.UNKNOWN_MASTER
        try:
            document = _from_json(self.open_internal(record, binding))
        except DecryptionError:
            return KeyCheck.WRONG_MASTER
        if not isinstance(document, dict) or document.get("label") != KEY_CHECK_LABEL:
            return KeyCheck.WRONG_MASTER
        if document.get("pseudonym") != self._key_fingerprint():
            return KeyCheck.WRONG_PSEUDONYM
        return KeyCheck.MATCHES

    def new_data_key(self) -> bytes:
        """Return a fresh random per-case data key."""
        return secrets.token_bytes(KEY_SIZE)

    def wrap_data_key(self, data_key: bytes, binding: Binding) -> bytes:
        """Encrypt a data key under the current master key, naming that key's id in the header."""
        _check_key(data_key, "data key")
        self._maybe_refresh(needed=False)
        current = self._keyring.current_master_id
        return _seal(self._keyring.master_keys[current], Kind.WRAPPED_KEY, current, data_key, binding)

    def unwrap_data_key(self, wrapped: bytes, binding: Binding) -> bytes:
        """Decrypt a wrapped data key with whichever master key its header names."""
        header, key_id, nonce, body = _parse(wrapped, Kind.WRAPPED_KEY)
        if key_id not in self._keyring.master_keys:
            self._maybe_refresh(needed=True)
        master = self._keyring.master_keys.get(key_id or "")
        if master is None:
            raise DecryptionError("unknown master key id")
        data_key = _open(master, header, nonce, body, binding)
        if len(data_key) != KEY_SIZE:
            raise DecryptionError("wrapped data key has the wrong length")
        return data_key

    def rewrap_data_key(self, wrapped: bytes, binding: Binding) -> bytes:
        """Re-encrypt a wrapped data key under the current master key (master key rotation)."""
        return self.wrap_data_key(self.unwrap_data_key(wrapped, binding), binding)

    def reseal(self, ciphertext: bytes, binding: Binding) -> bytes:
        """Re-encrypt a wrapped data key or internal ciphertext under the current master key.

        Case data sealed under a data key is returned unchanged: it depends on no master key.
        """
        data = bytes(ciphertext)
        if len(data) >= 2 and data[0] == FORMAT_VERSION and data[1] == Kind.WRAPPED_KEY:
            return self.rewrap_data_key(data, binding)
        if len(data) >= 2 and data[0] == FORMAT_VERSION and data[1] == Kind.INTERNAL:
            return self.seal_internal(self.open_internal(data, binding), binding)
        _parse(data, Kind.DATA)
        return data

    def seal(self, data_key: bytes, plaintext: bytes, binding: Binding) -> bytes:
        """Encrypt case data under its data key, bound to where it will be stored."""
        _check_key(data_key, "data key")
        return _seal(data_key, Kind.DATA, None, plaintext, binding)

    def open(self, data_key: bytes, ciphertext: bytes, binding: Binding) -> bytes:
        """Decrypt case data sealed by :meth:`seal` with the same data key and binding."""
        if not isinstance(data_key, bytes) or len(data_key) != KEY_SIZE:
            raise DecryptionError("data key has the wrong length")
        header, _, nonce, body = _parse(ciphertext, Kind.DATA)
        return _open(data_key, header, nonce, body, binding)

    def seal_json(self, data_key: bytes, value: object, binding: Binding) -> bytes:
        """Encrypt a JSON-serialisable value (compact UTF-8 JSON) under a data key."""
        return self.seal(data_key, _to_json(value), binding)

    def open_json(self, data_key: bytes, ciphertext: bytes, binding: Binding) -> Any:
        """Decrypt and parse a value sealed by :meth:`seal_json`."""
        return _from_json(self.open(data_key, ciphertext, binding))

    def seal_internal(self, plaintext: bytes, binding: Binding) -> bytes:
        """Encrypt non-case data under the current master's internal subkey."""
        self._maybe_refresh(needed=False)
        current = self._keyring.current_master_id
        return _seal(self._internal_keys[current], Kind.INTERNAL, current, plaintext, binding)

    def open_internal(self, ciphertext: bytes, binding: Binding) -> bytes:
        """Decrypt data sealed by :meth:`seal_internal` under any master key still held."""
        header, key_id, nonce, body = _parse(ciphertext, Kind.INTERNAL)
        if key_id not in self._internal_keys:
            self._maybe_refresh(needed=True)
        key = self._internal_keys.get(key_id or "")
        if key is None:
            raise DecryptionError("unknown master key id")
        return _open(key, header, nonce, body, binding)

    def seal_internal_json(self, value: object, binding: Binding) -> bytes:
        """Encrypt a JSON-serialisable value under the internal subkey."""
        return self.seal_internal(_to_json(value), binding)

    def open_internal_json(self, ciphertext: bytes, binding: Binding) -> Any:
        """Decrypt and parse a value sealed by :meth:`seal_internal_json`."""
        return _from_json(self.open_internal(ciphertext, binding))


AUDIT_ENTRY_LABEL = b"hapbot audit entry v1\x00"
AUDIT_HEAD_LABEL = b"hapbot audit head v1\x00"
AUDIT_CHECK_LABEL = b"hapbot audit key check v1"
AUDIT_WITNESS_LABEL = b"hapbot audit witness v1\x00"


class AuditKey:
    """The key that MACs the audit chain (:mod:`storage.audit`), kept in a file of its own beside
    the key file (:mod:`storage.audit_key`), never in the database: whoever can rewrite the
    database can recompute plain hashes, but not these MACs. Its repr shows no key bytes."""

    def __init__(self, key: bytes) -> None:
        _check_key(key, "the audit key")
        self._key = key

    @classmethod
    def generate(cls) -> AuditKey:
        return cls(secrets.token_bytes(KEY_SIZE))

    def __repr__(self) -> str:
        return "AuditKey(**********)"

    @property
    def secret_bytes(self) -> bytes:
        """The key itself, for writing its file (:func:`storage.audit_key.create_audit_key_file`) only."""
        return self._key

    def _mac(self, label: bytes, data: bytes) -> str:
        return hmac.new(self._key, label + data, hashlib.sha256).hexdigest()

    def entry_mac(self, entry_hash: str) -> str:
        """The MAC of one entry's hash (which covers its fields and the previous entry's hash)."""
        return self._mac(AUDIT_ENTRY_LABEL, entry_hash.encode("ascii"))

    def head_mac(self, position: int, last_hash: str) -> str:
        """The MAC of the chain head: how many entries the chain holds and the last one's hash."""
        return self._mac(AUDIT_HEAD_LABEL, f"{position}\x00{last_hash}".encode("ascii"))

    def witness_mac(self, position: int, last_hash: str) -> str:
        """The MAC of a verified head kept outside the database (:mod:`storage.audit_witness`)."""
        return self._mac(AUDIT_WITNESS_LABEL, f"{position}\x00{last_hash}".encode("ascii"))

    def check_value(self) -> str:
        """A value stored with the chain that tells whether a key is the one the chain was made with."""
        return self._mac(AUDIT_CHECK_LABEL, b"")

    @staticmethod
    def matches(expected: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
