"""Tests for storage.keys: file modes, refusal to overwrite, strict loading, env precedence, rotation."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from storage.crypto import Binding, Crypto, DecryptionError, KeyRing, Purpose
from storage.keys import (
    KeyFileError,
    KeyFileWatcher,
    add_master_key,
    create_key_file,
    ensure_development_keys,
    load_key_file,
    load_keyring_from_env_or_file,
    remove_master_key,
)

BINDING = Binding("cases", "data_key_ct", "case-1")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def key_material(keyring: KeyRing) -> list[str]:
    """Every printable form of every key, to assert none leaks into a message."""
    keys = [*keyring.master_keys.values(), *keyring.pseudonym_keys.values()]
    return [form for key in keys for form in (base64.b64encode(key).decode(), key.hex())]


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "hapbot" / "keys.json"


def rewrite(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


class TestCreate:
    def test_file_is_0600_in_0700_directory(self, key_path: Path) -> None:
        keyring = create_key_file(key_path)
        assert mode_of(key_path) == 0o600
        assert mode_of(key_path.parent) == 0o700
        assert load_key_file(key_path) == keyring
        assert [p.name for p in key_path.parent.iterdir()] == ["keys.json"]

    def test_modes_hold_under_a_permissive_umask(self, key_path: Path) -> None:
        previous = os.umask(0)
        try:
            create_key_file(key_path)
        finally:
            os.umask(previous)
        assert mode_of(key_path) == 0o600 and mode_of(key_path.parent) == 0o700

    def test_document_shape(self, key_path: Path) -> None:
        keyring = create_key_file(key_path)
        document = json.loads(key_path.read_text())
        assert document["format"] == "hapbot-keys" and document["version"] == 1
        assert document["master"]["current"] == keyring.current_master_id
        assert set(document["master"]["keys"]) == {keyring.current_master_id}
        assert set(document["pseudonym"]) == {purpose.value for purpose in Purpose}
        for purpose in Purpose:
            assert base64.b64decode(document["pseudonym"][purpose.value]) == keyring.pseudonym_keys[purpose]

    def test_refuses_to_overwrite(self, key_path: Path) -> None:
        create_key_file(key_path)
        before = key_path.read_bytes()
        with pytest.raises(KeyFileError) as raised:
            create_key_file(key_path)
        assert str(key_path) in str(raised.value) and "already exists" in str(raised.value)
        assert key_path.read_bytes() == before
        assert [p.name for p in key_path.parent.iterdir()] == ["keys.json"]

    def test_overwrite_when_asked(self, key_path: Path) -> None:
        first = create_key_file(key_path)
        second = create_key_file(key_path, overwrite=True)
        assert second != first and load_key_file(key_path) == second
        assert mode_of(key_path) == 0o600


class TestLoad:
    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (lambda d: d["pseudonym"].pop("dedup"), "dedup"),
            (lambda d: d["pseudonym"].update(reminder=base64.b64encode(bytes(16)).decode()), "32 bytes"),
            (lambda d: d["master"]["keys"].update({d["master"]["current"]: "AAAA"}), "32 bytes"),
            (lambda d: d["master"].update(current="m-00000000"), "m-00000000"),
            (lambda d: d.update(format="something-else"), "format"),
            (lambda d: d.update(version=2), "version"),
            (lambda d: d.update(version=True), "version"),
            (lambda d: d["pseudonym"].update(conversation="not base64!"), "base64"),
            (lambda d: d["pseudonym"].update(extra=d["pseudonym"]["dedup"]), "unknown"),
            (lambda d: d["master"].update(keys={}), "master"),
            (lambda d: d["pseudonym"].update(dedup=d["pseudonym"]["reminder"]), "different"),
        ],
        ids=[
            "missing-purpose",
            "short-pseudonym-key",
            "short-master-key",
            "unknown-current-id",
            "wrong-format",
            "newer-version",
            "boolean-version",
            "bad-base64",
            "unknown-purpose",
            "no-master-keys",
            "shared-key",
        ],
    )
    def test_rejects_invalid_documents(self, key_path: Path, change: Any, expected: str) -> None:
        keyring = create_key_file(key_path)
        rewrite(key_path, change)
        with pytest.raises(KeyFileError) as raised:
            load_key_file(key_path)
        message = str(raised.value)
        assert str(key_path) in message and expected in message
        for secret in key_material(keyring):
            assert secret not in message

    @pytest.mark.parametrize("text", ["{not json", "", "[]", '{"format": "hapbot-keys", "format": "x"}'])
    def test_rejects_malformed_json(self, key_path: Path, text: str) -> None:
        create_key_file(key_path)
        key_path.write_text(text)
        with pytest.raises(KeyFileError) as raised:
            load_key_file(key_path)
        assert str(key_path) in str(raised.value)

    def test_missing_file_says_how_to_fix(self, key_path: Path) -> None:
        with pytest.raises(KeyFileError, match="hapbot keys init") as raised:
            load_key_file(key_path)
        assert str(key_path) in str(raised.value)

    def test_warns_when_others_can_read(self, key_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        keyring = create_key_file(key_path)
        with caplog.at_level(logging.WARNING, logger="storage.keys"):
            load_key_file(key_path)
        assert not caplog.records
        key_path.chmod(0o644)
        with caplog.at_level(logging.WARNING, logger="storage.keys"):
            assert load_key_file(key_path) == keyring
        assert len(caplog.records) == 1 and "chmod 600" in caplog.records[0].getMessage()
        assert all(secret not in caplog.text for secret in key_material(keyring))


class TestEnvironment:
    def test_hapbot_keys_wins_over_files(self, tmp_path: Path) -> None:
        from_env = create_key_file(tmp_path / "secret-manager.json")
        from_file = create_key_file(tmp_path / "file.json")
        from_path = create_key_file(tmp_path / "path.json")
        env = {
            "HAPBOT_KEYS": (tmp_path / "secret-manager.json").read_text(),
            "HAPBOT_KEYS_FILE": str(tmp_path / "file.json"),
        }
        assert load_keyring_from_env_or_file(tmp_path / "path.json", env) == from_env
        env.pop("HAPBOT_KEYS")
        assert load_keyring_from_env_or_file(tmp_path / "path.json", env) == from_file
        assert load_keyring_from_env_or_file(tmp_path / "path.json", {}) == from_path
        assert (
            len({from_env.current_master_id, from_file.current_master_id, from_path.current_master_id}) == 3
        )

    def test_none_only_when_nothing_is_configured(self, tmp_path: Path) -> None:
        assert load_keyring_from_env_or_file(None, {}) is None

    def test_a_configured_but_missing_key_file_is_an_error_not_nothing(self, tmp_path: Path) -> None:
        with pytest.raises(KeyFileError, match=r"absent\.json: key file not found; restore it") as raised:
            load_keyring_from_env_or_file(tmp_path / "absent.json", {})
        assert "\n" not in str(raised.value)
        assert not (tmp_path / "absent.json").exists()

    @pytest.mark.parametrize(
        ("env", "named"),
        [
            ({"HAPBOT_KEYS": ""}, "HAPBOT_KEYS is set but empty"),
            ({"HAPBOT_KEYS_FILE": " "}, "HAPBOT_KEYS_FILE is set but empty"),
            ({"HAPBOT_KEYS_FILE": "/nonexistent/keys.json"}, "/nonexistent/keys.json"),
        ],
        ids=["empty-keys", "empty-file", "missing-file"],
    )
    def test_explicit_but_broken_configuration_is_loud(
        self, tmp_path: Path, env: dict[str, str], named: str
    ) -> None:
        create_key_file(tmp_path / "keys.json")
        with pytest.raises(KeyFileError) as raised:
            load_keyring_from_env_or_file(tmp_path / "keys.json", env)
        assert named in str(raised.value)

    def test_bad_env_document_names_variable_not_content(self, tmp_path: Path) -> None:
        keyring = create_key_file(tmp_path / "keys.json")
        document = json.loads((tmp_path / "keys.json").read_text())
        document["master"]["current"] = "m-ffffffff"
        with pytest.raises(KeyFileError, match="HAPBOT_KEYS") as raised:
            load_keyring_from_env_or_file(None, {"HAPBOT_KEYS": json.dumps(document)})
        assert all(secret not in str(raised.value) for secret in key_material(keyring))


class TestDevelopmentKeys:
    def test_creates_once_then_reloads(self, tmp_path: Path) -> None:
        directory = tmp_path / "data"
        first, path, created = ensure_development_keys(directory)
        assert created and path == directory / "keys.json"
        assert mode_of(path) == 0o600 and mode_of(directory) == 0o700
        second, again, created_again = ensure_development_keys(directory)
        assert not created_again and again == path and second == first

    def test_broken_development_file_is_not_replaced(self, tmp_path: Path) -> None:
        ensure_development_keys(tmp_path)
        (tmp_path / "keys.json").write_text("{}")
        with pytest.raises(KeyFileError):
            ensure_development_keys(tmp_path)
        assert (tmp_path / "keys.json").read_text() == "{}"


class TestRotation:
    def test_add_master_key_keeps_old_data_readable(self, key_path: Path) -> None:
        original = create_key_file(key_path)
        data_key = Crypto(original).new_data_key()
        wrapped = Crypto(original).wrap_data_key(data_key, BINDING)
        conversation_name = Crypto(original).pseudonym(Purpose.CONVERSATION, "telegram:42")

        new_id = add_master_key(key_path)
        rotated = load_key_file(key_path)
        assert rotated.current_master_id == new_id != original.current_master_id
        assert set(rotated.master_keys) == {original.current_master_id, new_id}
        assert rotated.pseudonym_keys == original.pseudonym_keys
        assert mode_of(key_path) == 0o600
        crypto = Crypto(rotated)
        assert crypto.unwrap_data_key(wrapped, BINDING) == data_key
        assert crypto.pseudonym(Purpose.CONVERSATION, "telegram:42") == conversation_name
        rewrapped = crypto.rewrap_data_key(wrapped, BINDING)

        remove_master_key(key_path, original.current_master_id)
        shredded = Crypto(load_key_file(key_path))
        assert shredded.unwrap_data_key(rewrapped, BINDING) == data_key
        with pytest.raises(DecryptionError, match="unknown master key id"):
            shredded.unwrap_data_key(wrapped, BINDING)

    def test_cannot_remove_current_or_unknown_key(self, key_path: Path) -> None:
        keyring = create_key_file(key_path)
        with pytest.raises(KeyFileError, match="current"):
            remove_master_key(key_path, keyring.current_master_id)
        with pytest.raises(KeyFileError, match="no master key"):
            remove_master_key(key_path, "m-00000000")
        assert load_key_file(key_path) == keyring


class TestKeyFileWatcher:
    def test_a_running_process_follows_rotation_and_refuses_a_foreign_file(
        self, key_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        original = create_key_file(key_path)
        crypto = Crypto(original, refresh=KeyFileWatcher(key_path))
        assert KeyFileWatcher(key_path)() is None, "an unchanged file gives nothing"

        other_process = Crypto(original)
        add_master_key(key_path)
        rotated = load_key_file(key_path)
        sealed = Crypto(rotated).seal_internal(b"state", BINDING)
        assert crypto.open_internal(sealed, BINDING) == b"state", "an unknown key id re-reads the key file"
        assert crypto.current_master_id == rotated.current_master_id
        with pytest.raises(DecryptionError, match="unknown master key id"):
            other_process.open_internal(sealed, BINDING)

        create_key_file(key_path, overwrite=True)  # another installation's file
        with caplog.at_level(logging.ERROR, logger="storage.crypto"):
            with pytest.raises(DecryptionError):
                crypto.open_internal(Crypto(load_key_file(key_path)).seal_internal(b"x", BINDING), BINDING)
        assert "not this installation's" in caplog.text
        assert crypto.current_master_id == rotated.current_master_id
        assert all(secret not in caplog.text for secret in key_material(load_key_file(key_path)))

    def test_adopt_refuses_other_pseudonym_keys_or_another_key_under_a_known_id(self) -> None:
        keyring = KeyRing.generate()
        crypto = Crypto(keyring)
        with pytest.raises(ValueError, match="pseudonym"):
            crypto.adopt(KeyRing.generate())
        other = KeyRing.generate()
        same_id = KeyRing({keyring.current_master_id: other.master_keys[other.current_master_id]},
                          keyring.current_master_id, keyring.pseudonym_keys)
        with pytest.raises(ValueError, match="another master key"):
            crypto.adopt(same_id)
        crypto.adopt(keyring.with_new_master_key())
