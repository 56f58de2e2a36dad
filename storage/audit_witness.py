"""The audit witness: the chain head a verification saw, kept beside the audit key, outside the
database.

The chain proves itself consistent, but someone who can write the database (and has no key) can
still delete its newest entries and put back an older copy of the head row: what is left verifies.
After each successful ``hapbot audit verify`` the head it saw is written here, MAC'd with the
audit key; the next verification requires the chain to still hold that entry with that hash
(``storage.audit.verify_chain``). It detects a rollback past the last verification on the machine
that keeps this file, not one between two verifications that also removes this file's evidence:
keep it where the database's writers cannot write. Its shape::

    {"format": "hapbot-audit-witness", "version": 1, "position": 12, "last_hash": "…", "mac": "…"}
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .audit_key import AuditKeyError
from .crypto import AuditKey
from .files import private_directory

FORMAT = "hapbot-audit-witness"
VERSION = 1
AUDIT_WITNESS_FILE = "audit.witness"


@dataclass(frozen=True)
class Witness:
    position: int
    last_hash: str


def witness_path(audit_key_path: Path) -> Path:
    return audit_key_path.parent / AUDIT_WITNESS_FILE


def load_witness(path: Path, key: AuditKey) -> Witness | None:
    """The witness in ``path``, None when there is none yet; a file that is not one this key wrote
    is an error (it was edited, or belongs to another chain)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise AuditKeyError(f"{path}: the audit witness cannot be read ({type(error).__name__})") from None
    try:
        assert document["format"] == FORMAT and document["version"] == VERSION
        witness = Witness(int(document["position"]), str(document["last_hash"]))
        mac = str(document["mac"])
    except (AssertionError, KeyError, TypeError, ValueError):
        raise AuditKeyError(f"{path}: not a HAP Bot audit witness file") from None
    if not AuditKey.matches(key.witness_mac(witness.position, witness.last_hash), mac):
        raise AuditKeyError(f"{path}: the audit witness is not signed by this audit key (edited, or another chain's)")
    return witness


def save_witness(path: Path, key: AuditKey, witness: Witness) -> None:
    """Replaces the witness (0600, written whole: a new file renamed into place)."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "position": witness.position,
        "last_hash": witness.last_hash,
        "mac": key.witness_mac(witness.position, witness.last_hash),
    }
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        private_directory(path.parent)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise AuditKeyError(f"{path}: cannot write the audit witness ({error.strerror}); check the folder") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
