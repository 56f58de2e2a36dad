"""The audit key file: the key that MACs the audit chain, kept beside the key file, never in the
database.

It is a file of its own (not a field of the key file) so that the key file can come from a secret
manager (``HAPBOT_KEYS``) while the audit key still lives on disk, and so that rotating master keys
never touches it. Written like the key file: 0600 in a 0700 folder, linked into place so two
processes racing to create it cannot both win, never overwritten. Its shape::

    {"format": "hapbot-audit-key", "version": 1, "key": "<base64 of 32 bytes>"}

Whether to create it is :func:`storage.audit.open_chain`'s decision (only while the chain has no
key yet); this module only reads and writes the file.
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
from pathlib import Path

from .crypto import KEY_SIZE, AuditKey
from .files import private_directory
from .keys import KeyFileError

logger = logging.getLogger(__name__)

FORMAT = "hapbot-audit-key"
VERSION = 1
AUDIT_KEY_FILE = "audit.key"
RESTORE = "restore the audit key file from your backup; do not edit it by hand"


class AuditKeyError(KeyFileError):
    """The audit key file is missing, unreadable, invalid or not this database's; the message names
    the file and the fix, never key material."""


def load_audit_key(path: Path) -> AuditKey:
    """Reads and validates the audit key file, warning if other users could read it."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AuditKeyError(f"{path}: audit key file not found; {RESTORE}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise AuditKeyError(f"{path}: cannot read the audit key file ({reason}); check its owner and mode") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("audit key file %s has mode %s: run `chmod 600 %s`", path, oct(stat.S_IMODE(mode)), path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise AuditKeyError(f"{path}: not valid JSON; {RESTORE}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        raise AuditKeyError(f"{path}: not a HAP Bot audit key file (format {FORMAT!r}, version {VERSION}); {RESTORE}")
    try:
        key = base64.b64decode(str(document.get("key", "")), validate=True)
    except (binascii.Error, ValueError):
        raise AuditKeyError(f"{path}: the key is not valid base64; {RESTORE}") from None
    if len(key) != KEY_SIZE:
        raise AuditKeyError(f"{path}: the key must be {KEY_SIZE} bytes, not {len(key)}; {RESTORE}")
    return AuditKey(key)


def create_audit_key_file(path: Path) -> AuditKey:
    """Writes a fresh audit key to ``path`` (0600); refuses to replace an existing file."""
    key = AuditKey.generate()
    document = {"format": FORMAT, "version": VERSION, "key": base64.b64encode(key.secret_bytes).decode("ascii")}
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        private_directory(path.parent)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(json.dumps(document) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise AuditKeyError(f"{path}: audit key file already exists; refusing to overwrite it") from None
    except OSError as error:
        raise AuditKeyError(f"{path}: cannot write the audit key file ({error.strerror}); check the folder") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return key


def load_or_create_audit_key(path: Path, *, may_create: bool) -> AuditKey:
    """The audit key in ``path``; if there is none and ``may_create`` (a chain never keyed), a new
    one written there. A missing file for a keyed chain is an error: a new key would make every
    existing entry fail verification."""
    if path.exists():
        return load_audit_key(path)
    if not may_create:
        raise AuditKeyError(
            f"{path}: audit key file not found, but this database's audit chain was made with one; restore it "
            "from your backup (a new key would make the whole chain fail verification)"
        )
    try:
        return create_audit_key_file(path)
    except AuditKeyError:
        if not path.exists():
            raise
        return load_audit_key(path)  # another process on this host created it first
