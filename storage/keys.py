"""Creating, loading and rotating the key file (key *use* lives only in storage.crypto).

The key file is the one secret that makes every report readable; losing it loses every
report, leaking it leaks them. So it is written atomically with mode 0600 into a 0700
directory, never silently overwritten, and validated strictly on load with errors that
name the file and the fix but never show key material. Its shape::

    {"format": "hapbot-keys", "version": 1,
     "master": {"current": "m-1f3a9c0e", "keys": {"m-1f3a9c0e": "<base64 of 32 bytes>"}},
     "pseudonym": {"conversation": "<base64>", "rate_limit": "<base64>", ...every Purpose...}}

For secret managers the same JSON document may be given in ``HAPBOT_KEYS`` instead.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storage.crypto import KEY_SIZE, KeyRing, Purpose
from storage.files import private_directory

logger = logging.getLogger(__name__)

FORMAT = "hapbot-keys"
VERSION = 1
ENV_KEYS = "HAPBOT_KEYS"
ENV_KEYS_FILE = "HAPBOT_KEYS_FILE"
DEVELOPMENT_KEY_FILE = "keys.json"
INIT_HINT = "run `hapbot keys init` to create a new key file, or restore it from your backup"
RESTORE_HINT = "restore the key file from your backup; do not edit it by hand"


class KeyFileError(Exception):
    """The key file is missing, unreadable or invalid; the message names it and the fix."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate names in a JSON object")
    return dict(pairs)


def _decode_key(value: object, where: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{source}: {where} must be a base64 string; {RESTORE_HINT}")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{source}: {where} is not valid base64; {RESTORE_HINT}") from None
    if len(key) != KEY_SIZE:
        raise KeyFileError(f"{source}: {where} must be {KEY_SIZE} bytes, not {len(key)}; {RESTORE_HINT}")
    return key


def _parse_document(text: str, source: str) -> KeyRing:
    """Validate a key document and build the key ring; ``source`` names the file or variable."""
    try:
        document = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as error:
        raise KeyFileError(
            f"{source}: not valid JSON (line {error.lineno} column {error.colno}); {RESTORE_HINT}"
        ) from None
    except ValueError:
        raise KeyFileError(f"{source}: a JSON object repeats a name; {RESTORE_HINT}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise KeyFileError(f'{source}: not a HAP Bot key file ("format" is not {FORMAT!r}); {INIT_HINT}')
    if type(document.get("version")) is not int or document["version"] != VERSION:
        raise KeyFileError(
            f"{source}: unsupported key file version {document.get('version')!r} (expected {VERSION}); "
            "use the HAP Bot release that wrote it"
        )
    master = document.get("master")
    if not isinstance(master, dict) or not isinstance(master.get("keys"), dict) or not master["keys"]:
        raise KeyFileError(f'{source}: "master" must hold "current" and a non-empty "keys"; {RESTORE_HINT}')
    master_keys = {
        str(key_id): _decode_key(value, f"master key {key_id!r}", source)
        for key_id, value in master["keys"].items()
    }
    current = master.get("current")
    if not isinstance(current, str) or current not in master_keys:
        raise KeyFileError(
            f"{source}: current master key id {current!r} is not among the master keys; {RESTORE_HINT}"
        )
    pseudonym = document.get("pseudonym")
    if not isinstance(pseudonym, dict):
        raise KeyFileError(f'{source}: "pseudonym" must be an object of keys by purpose; {RESTORE_HINT}')
    missing = [purpose.value for purpose in Purpose if purpose.value not in pseudonym]
    unknown = sorted(set(pseudonym) - {purpose.value for purpose in Purpose})
    if missing:
        raise KeyFileError(f"{source}: no pseudonym key for purposes {missing}; {RESTORE_HINT}")
    if unknown:
        raise KeyFileError(f"{source}: pseudonym keys for unknown purposes {unknown}; {RESTORE_HINT}")
    pseudonym_keys = {
        purpose: _decode_key(pseudonym[purpose.value], f"pseudonym key {purpose.value!r}", source)
        for purpose in Purpose
    }
    try:
        return KeyRing(master_keys=master_keys, current_master_id=current, pseudonym_keys=pseudonym_keys)
    except ValueError as error:
        raise KeyFileError(f"{source}: {error}; {RESTORE_HINT}") from None


def _document(keyring: KeyRing) -> str:
    def encode(key: bytes) -> str:
        return base64.b64encode(key).decode("ascii")

    document = {
        "format": FORMAT,
        "version": VERSION,
        "master": {
            "current": keyring.current_master_id,
            "keys": {key_id: encode(key) for key_id, key in keyring.master_keys.items()},
        },
        "pseudonym": {purpose.value: encode(keyring.pseudonym_keys[purpose]) for purpose in Purpose},
    }
    return json.dumps(document, indent=2) + "\n"


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _write_key_file(path: Path, keyring: KeyRing, *, overwrite: bool) -> None:
    """Write atomically: a complete 0600 temporary file is linked or renamed into place.

    Linking (rather than checking, then renaming) means two processes racing to create
    the same file cannot both succeed, and a reader never sees a half-written file.
    """
    directory = path.parent
    temporary = directory / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        private_directory(directory)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(_document(keyring))
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise KeyFileError(
                    f"{path}: key file already exists; refusing to overwrite it, because new keys would "
                    "make every stored report unreadable. Move it away first if you really mean to."
                ) from None
        _fsync_directory(directory)
    except OSError as error:
        raise KeyFileError(
            f"{path}: cannot write the key file ({error.strerror}); check the directory"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def create_key_file(path: Path, *, overwrite: bool = False) -> KeyRing:
    """Create a key file of fresh keys; refuse to replace an existing one unless ``overwrite``."""
    keyring = KeyRing.generate()
    _write_key_file(path, keyring, overwrite=overwrite)
    return keyring


def load_key_file(path: Path) -> KeyRing:
    """Load and validate a key file, warning if other users could read it."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(
            f"{path}: key file not found; restore it from your backup (only for a new installation, "
            f"create one with `hapbot keys init --file {path}`)"
        ) from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a folder, not a key file; give the key file's own path") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise KeyFileError(f"{path}: cannot read the key file ({reason}); check its owner and mode") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "key file %s has mode %s: other users can read it; run `chmod 600 %s`",
            path,
            oct(stat.S_IMODE(mode)),
            path,
        )
    return _parse_document(text, str(path))


def load_keyring_from_env_or_file(path: Path | None, env: Mapping[str, str]) -> KeyRing | None:
    """Load keys from ``HAPBOT_KEYS``, else ``HAPBOT_KEYS_FILE``, else ``path``; None only if none is set.

    Whatever is configured must load: a variable that is set but empty, or a configured file that
    is missing, is an error rather than "nothing", because falling back would make a
    misconfigured server create fresh keys and run on with a store it cannot read.
    """
    if ENV_KEYS in env:
        if not env[ENV_KEYS].strip():
            raise KeyFileError(f"environment variable {ENV_KEYS} is set but empty; unset it or fill it")
        return _parse_document(env[ENV_KEYS], f"environment variable {ENV_KEYS}")
    if ENV_KEYS_FILE in env:
        if not env[ENV_KEYS_FILE].strip():
            raise KeyFileError(f"environment variable {ENV_KEYS_FILE} is set but empty; unset it or fill it")
        return load_key_file(Path(env[ENV_KEYS_FILE]))
    if path is not None:
        return load_key_file(path)
    return None


def key_source(path: Path | None, env: Mapping[str, str]) -> str:
    """Where :func:`load_keyring_from_env_or_file` takes the keys from, for messages (never the keys)."""
    if ENV_KEYS in env:
        return f"the keys in environment variable {ENV_KEYS}"
    if ENV_KEYS_FILE in env:
        return f"key file {env[ENV_KEYS_FILE]} (from {ENV_KEYS_FILE})"
    if path is not None:
        return f"key file {path}"
    return "the development keys"


class KeyFileWatcher:
    """Returns the key file's keys when the file has changed since last asked, else None.

    Given to :class:`storage.crypto.Crypto` as ``refresh``, so a running process follows
    ``hapbot keys rotate`` (a new current key) and ``hapbot keys retire`` (an old key gone)
    without a restart. A file that cannot be read or parsed is logged and ignored: the keys
    in use stay.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            status = self._path.stat()
        except OSError:
            return None
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    def __call__(self) -> KeyRing | None:
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return None
        try:
            keyring = load_key_file(self._path)
        except KeyFileError as error:
            logger.error("key file changed but cannot be used (%s); keeping the keys in use", error)
            return None
        self._seen = stamp
        return keyring


def ensure_development_keys(directory: Path) -> tuple[KeyRing, Path, bool]:
    """Load ``directory/keys.json`` or create it; the flag says it was created (the caller warns)."""
    path = directory / DEVELOPMENT_KEY_FILE
    if path.exists():
        return load_key_file(path), path, False
    try:
        return create_key_file(path), path, True
    except KeyFileError:
        if path.exists():
            return load_key_file(path), path, False
        raise


def add_master_key(path: Path) -> str:
    """Add a new current master key, keeping old ones to unwrap existing data; return its id.

    ``hapbot keys rotate`` (:func:`storage.master_keys.rotate`) calls this, then re-seals the
    store under the new key; only then may the old key be removed (``hapbot keys retire``).
    """
    keyring = load_key_file(path).with_new_master_key()
    _write_key_file(path, keyring, overwrite=True)
    return keyring.current_master_id


def remove_master_key(path: Path, key_id: str) -> None:
    """Delete an old master key: everything still wrapped under it becomes unreadable."""
    keyring = load_key_file(path)
    if key_id == keyring.current_master_id:
        raise KeyFileError(f"{path}: {key_id!r} is the current master key; add a new one before removing it")
    if key_id not in keyring.master_keys:
        raise KeyFileError(f"{path}: no master key {key_id!r}")
    remaining = {other: key for other, key in keyring.master_keys.items() if other != key_id}
    reduced = KeyRing(remaining, keyring.current_master_id, keyring.pseudonym_keys)
    _write_key_file(path, reduced, overwrite=True)
