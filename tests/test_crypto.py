"""Tests for storage.crypto: round trips, tamper/move/truncate failures, rotation, pseudonyms, repr."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto import (
    FORMAT_VERSION,
    NONCE_SIZE,
    TAG_SIZE,
    Binding,
    Crypto,
    DecryptionError,
    KeyRing,
    Kind,
    Purpose,
)

BINDING = Binding("cases", "body_ct", "case-1")
PLAINTEXT = "工厂主管在夜班骚扰我 canary-7f3a".encode()

Sealer = Callable[[Crypto, bytes, bytes, Binding], bytes]
Opener = Callable[[Crypto, bytes, bytes, Binding], bytes]

# Every sealed form as (seal, open) over (crypto, data_key, payload, binding).
SCHEMES: dict[str, tuple[Sealer, Opener]] = {
    "data": (
        lambda c, k, p, b: c.seal(k, p, b),
        lambda c, k, ct, b: c.open(k, ct, b),
    ),
    "wrapped": (
        lambda c, k, p, b: c.wrap_data_key(k, b),
        lambda c, k, ct, b: c.unwrap_data_key(ct, b),
    ),
    "internal": (
        lambda c, k, p, b: c.seal_internal(p, b),
        lambda c, k, ct, b: c.open_internal(ct, b),
    ),
}


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def crypto(keyring: KeyRing) -> Crypto:
    return Crypto(keyring)


@pytest.fixture(params=sorted(SCHEMES))
def scheme(request: pytest.FixtureRequest) -> tuple[Sealer, Opener]:
    return SCHEMES[request.param]


def payload_for(crypto: Crypto, data_key: bytes, scheme: tuple[Sealer, Opener]) -> bytes:
    """The wrapped scheme seals the data key itself; the others seal the canary plaintext."""
    return data_key if scheme is SCHEMES["wrapped"] else PLAINTEXT


def flip(ciphertext: bytes, position: int, mask: int = 0x01) -> bytes:
    changed = bytearray(ciphertext)
    changed[position] ^= mask
    return bytes(changed)


class TestRoundTrips:
    def test_every_scheme_round_trips(self, crypto: Crypto, scheme: tuple[Sealer, Opener]) -> None:
        seal, open_ = scheme
        data_key = crypto.new_data_key()
        payload = payload_for(crypto, data_key, scheme)
        ciphertext = seal(crypto, data_key, payload, BINDING)
        assert open_(crypto, data_key, ciphertext, BINDING) == payload
        assert PLAINTEXT not in ciphertext and data_key not in ciphertext

    def test_empty_plaintext(self, crypto: Crypto) -> None:
        data_key = crypto.new_data_key()
        assert crypto.open(data_key, crypto.seal(data_key, b"", BINDING), BINDING) == b""
        assert crypto.open_internal(crypto.seal_internal(b"", BINDING), BINDING) == b""

    def test_json_round_trips(self, crypto: Crypto) -> None:
        value = {"text": "被骚扰了", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
        data_key = crypto.new_data_key()
        assert crypto.open_json(data_key, crypto.seal_json(data_key, value, BINDING), BINDING) == value
        assert crypto.open_internal_json(crypto.seal_internal_json(value, BINDING), BINDING) == value

    def test_json_is_compact_utf8(self, crypto: Crypto) -> None:
        sealed = crypto.seal_internal_json({"a": "骚扰"}, BINDING)
        assert crypto.open_internal(sealed, BINDING) == '{"a":"骚扰"}'.encode()

    def test_open_json_rejects_non_json_plaintext(self, crypto: Crypto) -> None:
        sealed = crypto.seal_internal(b"\xff not json", BINDING)
        with pytest.raises(DecryptionError) as raised:
            crypto.open_internal_json(sealed, BINDING)
        assert raised.value.__cause__ is None and raised.value.__suppress_context__

    def test_same_plaintext_gives_different_ciphertexts(self, crypto: Crypto) -> None:
        data_key = crypto.new_data_key()
        assert crypto.seal(data_key, PLAINTEXT, BINDING) != crypto.seal(data_key, PLAINTEXT, BINDING)
        assert crypto.new_data_key() != crypto.new_data_key()
        assert len(crypto.new_data_key()) == 32


class TestFormat:
    def test_data_ciphertext_layout(self, crypto: Crypto) -> None:
        ciphertext = crypto.seal(crypto.new_data_key(), PLAINTEXT, BINDING)
        assert ciphertext[:2] == bytes((FORMAT_VERSION, Kind.DATA))
        assert len(ciphertext) == 2 + NONCE_SIZE + len(PLAINTEXT) + TAG_SIZE

    def test_documented_layout_opens_and_header_is_authenticated(self, crypto: Crypto) -> None:
        data_key, nonce = crypto.new_data_key(), bytes(NONCE_SIZE)
        header = bytes((FORMAT_VERSION, Kind.DATA))
        by_the_docs = AESGCM(data_key).encrypt(nonce, PLAINTEXT, header + BINDING.encode())
        assert crypto.open(data_key, header + nonce + by_the_docs, BINDING) == PLAINTEXT
        binding_only = AESGCM(data_key).encrypt(nonce, PLAINTEXT, BINDING.encode())
        with pytest.raises(DecryptionError):
            crypto.open(data_key, header + nonce + binding_only, BINDING)

    @pytest.mark.parametrize("kind", [Kind.WRAPPED_KEY, Kind.INTERNAL])
    def test_keyed_ciphertext_names_master_id(self, keyring: KeyRing, crypto: Crypto, kind: Kind) -> None:
        if kind is Kind.WRAPPED_KEY:
            ciphertext, length = crypto.wrap_data_key(crypto.new_data_key(), BINDING), 32
        else:
            ciphertext, length = crypto.seal_internal(PLAINTEXT, BINDING), len(PLAINTEXT)
        key_id = keyring.current_master_id.encode("ascii")
        assert re.fullmatch(rb"m-[0-9a-f]{8}", key_id)
        assert ciphertext[:3] == bytes((FORMAT_VERSION, kind, len(key_id)))
        assert ciphertext[3 : 3 + len(key_id)] == key_id
        assert len(ciphertext) == 3 + len(key_id) + NONCE_SIZE + length + TAG_SIZE


class TestFailures:
    def test_flipped_byte_at_every_position_fails(
        self, crypto: Crypto, scheme: tuple[Sealer, Opener]
    ) -> None:
        seal, open_ = scheme
        data_key = crypto.new_data_key()
        ciphertext = seal(crypto, data_key, payload_for(crypto, data_key, scheme), BINDING)
        for position in range(len(ciphertext)):
            for mask in (0x01, 0x80, 0xFF):
                with pytest.raises(DecryptionError):
                    open_(crypto, data_key, flip(ciphertext, position, mask), BINDING)

    def test_every_truncation_fails(self, crypto: Crypto, scheme: tuple[Sealer, Opener]) -> None:
        seal, open_ = scheme
        data_key = crypto.new_data_key()
        ciphertext = seal(crypto, data_key, payload_for(crypto, data_key, scheme), BINDING)
        for length in range(len(ciphertext)):
            with pytest.raises(DecryptionError):
                open_(crypto, data_key, ciphertext[:length], BINDING)
        with pytest.raises(DecryptionError):
            open_(crypto, data_key, ciphertext + b"\x00", BINDING)

    @pytest.mark.parametrize(
        "elsewhere",
        [
            Binding("cases", "body_ct", "case-2"),
            Binding("cases", "summary_ct", "case-1"),
            Binding("drafts", "body_ct", "case-1"),
            Binding("cases", "body_c", "tcase-1"),
        ],
        ids=["other-row", "other-column", "other-table", "shifted-boundary"],
    )
    def test_moved_ciphertext_fails(
        self, crypto: Crypto, scheme: tuple[Sealer, Opener], elsewhere: Binding
    ) -> None:
        seal, open_ = scheme
        data_key = crypto.new_data_key()
        ciphertext = seal(crypto, data_key, payload_for(crypto, data_key, scheme), BINDING)
        with pytest.raises(DecryptionError):
            open_(crypto, data_key, ciphertext, elsewhere)

    def test_wrong_data_key_fails(self, crypto: Crypto) -> None:
        ciphertext = crypto.seal(crypto.new_data_key(), PLAINTEXT, BINDING)
        with pytest.raises(DecryptionError):
            crypto.open(crypto.new_data_key(), ciphertext, BINDING)
        with pytest.raises(DecryptionError):
            crypto.open(b"short", ciphertext, BINDING)

    def test_wrong_master_key_with_same_id_fails(self, keyring: KeyRing, crypto: Crypto) -> None:
        impostor = Crypto(
            dataclasses.replace(
                KeyRing.generate(),
                master_keys={keyring.current_master_id: bytes(range(32))},
                current_master_id=keyring.current_master_id,
            )
        )
        wrapped = crypto.wrap_data_key(crypto.new_data_key(), BINDING)
        internal = crypto.seal_internal(PLAINTEXT, BINDING)
        with pytest.raises(DecryptionError):
            impostor.unwrap_data_key(wrapped, BINDING)
        with pytest.raises(DecryptionError):
            impostor.open_internal(internal, BINDING)

    def test_unknown_master_id_fails(self, crypto: Crypto) -> None:
        other = Crypto(KeyRing.generate())
        with pytest.raises(DecryptionError, match="unknown master key id"):
            other.unwrap_data_key(crypto.wrap_data_key(crypto.new_data_key(), BINDING), BINDING)
        with pytest.raises(DecryptionError, match="unknown master key id"):
            other.open_internal(crypto.seal_internal(PLAINTEXT, BINDING), BINDING)

    def test_unknown_version_and_kind_fail(self, crypto: Crypto) -> None:
        data_key = crypto.new_data_key()
        ciphertext = crypto.seal(data_key, PLAINTEXT, BINDING)
        with pytest.raises(DecryptionError, match="version"):
            crypto.open(data_key, bytes((2,)) + ciphertext[1:], BINDING)
        with pytest.raises(DecryptionError, match="unknown ciphertext kind"):
            crypto.open(data_key, ciphertext[:1] + bytes((9,)) + ciphertext[2:], BINDING)

    def test_kinds_cannot_be_swapped(self, crypto: Crypto) -> None:
        data_key = crypto.new_data_key()
        wrapped = crypto.wrap_data_key(data_key, BINDING)
        internal = crypto.seal_internal(data_key, BINDING)
        with pytest.raises(DecryptionError, match="another kind"):
            crypto.unwrap_data_key(internal, BINDING)
        with pytest.raises(DecryptionError, match="another kind"):
            crypto.open_internal(wrapped, BINDING)
        relabelled = internal[:1] + bytes((Kind.WRAPPED_KEY,)) + internal[2:]
        with pytest.raises(DecryptionError, match="authentication failed"):
            crypto.unwrap_data_key(relabelled, BINDING)

    def test_errors_never_show_key_or_plaintext(self, crypto: Crypto) -> None:
        data_key = crypto.new_data_key()
        ciphertext = crypto.seal(data_key, PLAINTEXT, BINDING)
        with pytest.raises(DecryptionError) as raised:
            crypto.open(data_key, flip(ciphertext, len(ciphertext) - 1), BINDING)
        message = repr(raised.value) + str(raised.value)
        for secret in (data_key.hex(), base64.b64encode(data_key).decode(), "canary", repr(data_key)[2:-1]):
            assert secret not in message

    def test_seal_rejects_bad_data_key(self, crypto: Crypto) -> None:
        with pytest.raises(ValueError):
            crypto.seal(b"x" * 16, PLAINTEXT, BINDING)
        with pytest.raises(ValueError):
            crypto.wrap_data_key(b"x" * 31, BINDING)


class TestRotation:
    def test_rotation_keeps_old_data_readable_and_rewrap_moves_it(self, keyring: KeyRing) -> None:
        old = Crypto(keyring)
        data_key = old.new_data_key()
        wrapped = old.wrap_data_key(data_key, BINDING)
        internal = old.seal_internal(PLAINTEXT, BINDING)

        rotated_ring = keyring.with_new_master_key()
        new_id = rotated_ring.current_master_id
        assert new_id != keyring.current_master_id and keyring.current_master_id in rotated_ring.master_keys
        rotated = Crypto(rotated_ring)
        assert rotated.unwrap_data_key(wrapped, BINDING) == data_key
        assert rotated.open_internal(internal, BINDING) == PLAINTEXT

        rewrapped = rotated.rewrap_data_key(wrapped, BINDING)
        assert rewrapped[3 : 3 + len(new_id)] == new_id.encode()
        assert rotated.unwrap_data_key(rewrapped, BINDING) == data_key
        assert rotated.seal_internal(PLAINTEXT, BINDING)[3 : 3 + len(new_id)] == new_id.encode()
        with pytest.raises(DecryptionError):
            rotated.rewrap_data_key(wrapped, Binding("cases", "data_key_ct", "case-2"))

        shredded = Crypto(
            KeyRing({new_id: rotated_ring.master_keys[new_id]}, new_id, rotated_ring.pseudonym_keys)
        )
        assert shredded.unwrap_data_key(rewrapped, BINDING) == data_key
        with pytest.raises(DecryptionError):
            shredded.unwrap_data_key(wrapped, BINDING)
        with pytest.raises(DecryptionError):
            shredded.open_internal(internal, BINDING)


class TestPseudonyms:
    def test_matches_truncated_hmac_sha256(self, keyring: KeyRing, crypto: Crypto) -> None:
        key = keyring.pseudonym_keys[Purpose.CONVERSATION]
        digest = hmac.new(key, b"telegram:42", hashlib.sha256).digest()[:20]
        expected = base64.b32encode(digest).decode().lower()
        assert crypto.pseudonym(Purpose.CONVERSATION, "telegram:42") == expected

    def test_deterministic_and_shaped(self, keyring: KeyRing, crypto: Crypto) -> None:
        value = "wechat:oAbC123_用户"
        first = crypto.pseudonym(Purpose.REMINDER, value)
        assert (
            first
            == crypto.pseudonym(Purpose.REMINDER, value)
            == Crypto(keyring).pseudonym(Purpose.REMINDER, value)
        )
        assert re.fullmatch(r"[a-z2-7]{32}", first)
        assert crypto.pseudonym(Purpose.REMINDER, value + "x") != first

    def test_differs_across_purposes_and_keyrings(self, crypto: Crypto) -> None:
        names = {crypto.pseudonym(purpose, "telegram:42") for purpose in Purpose}
        assert len(names) == len(Purpose)
        other = Crypto(KeyRing.generate())
        for purpose in Purpose:
            assert other.pseudonym(purpose, "telegram:42") != crypto.pseudonym(purpose, "telegram:42")


class TestKeyRing:
    def test_repr_and_str_hide_key_bytes(self, keyring: KeyRing, crypto: Crypto) -> None:
        keys = [*keyring.master_keys.values(), *keyring.pseudonym_keys.values()]
        for text in (repr(keyring), str(keyring), repr(crypto), str(crypto), f"{keyring}", f"{crypto!r}"):
            assert keyring.current_master_id in text
            for key in keys:
                for form in (key.hex(), base64.b64encode(key).decode(), repr(key), str(key)):
                    assert form not in text

    def test_generate_gives_distinct_complete_keys(self, keyring: KeyRing) -> None:
        assert set(keyring.pseudonym_keys) == set(Purpose)
        keys = [*keyring.master_keys.values(), *keyring.pseudonym_keys.values()]
        assert all(len(key) == 32 for key in keys) and len(set(keys)) == len(keys)
        assert KeyRing.generate().current_master_id != keyring.current_master_id

    def test_keyring_is_immutable(self, keyring: KeyRing) -> None:
        with pytest.raises(TypeError):
            keyring.master_keys["m-evil"] = bytes(32)  # type: ignore[index]
        with pytest.raises(dataclasses.FrozenInstanceError):
            keyring.current_master_id = "m-other"  # type: ignore[misc]

    @pytest.mark.parametrize(
        "change",
        [
            {"current_master_id": "m-missing"},
            {"master_keys": {}},
            {"master_keys": {"bad id!": bytes(32)}, "current_master_id": "bad id!"},
            {"master_keys": {"m-1": bytes(31)}, "current_master_id": "m-1"},
            {"pseudonym_keys": {}},
        ],
        ids=["unknown-current", "no-master", "bad-id", "short-master", "missing-purpose"],
    )
    def test_invalid_keyrings_are_rejected(self, keyring: KeyRing, change: dict[str, object]) -> None:
        with pytest.raises(ValueError) as raised:
            dataclasses.replace(keyring, **change)  # type: ignore[arg-type]
        for key in keyring.pseudonym_keys.values():
            assert key.hex() not in str(raised.value)

    def test_shared_keys_are_rejected(self, keyring: KeyRing) -> None:
        shared = dict(keyring.pseudonym_keys)
        shared[Purpose.DEDUP] = shared[Purpose.CONVERSATION]
        with pytest.raises(ValueError, match="different"):
            dataclasses.replace(keyring, pseudonym_keys=shared)


class TestBinding:
    def test_encoding_is_unambiguous_and_labelled(self) -> None:
        assert Binding("ab", "c", "d").encode() != Binding("a", "bc", "d").encode()
        assert Binding("a", "b", "cd").encode() != Binding("a", "bc", "d").encode()
        assert Binding("t", "c", "r").encode().startswith(b"hapbot-binding-v1")
        assert Binding("表", "列", "行").encode() == Binding("表", "列", "行").encode()

    @pytest.mark.parametrize("fields", [("", "c", "r"), ("t", "", "r"), ("t", "c", "")])
    def test_empty_fields_are_rejected(self, fields: tuple[str, str, str]) -> None:
        with pytest.raises(ValueError):
            Binding(*fields)
