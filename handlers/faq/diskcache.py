"""Files the FAQ search builds once and then maps from disk: written whole, read only if intact.

A cache file is a header (a magic string naming the format, and the SHA-256 of the body) and
the body. It is written to a temporary file in the same folder (mode 0600) and renamed over the
old one, so a reader sees either the old file or the new one, never half of one. A reader
checks the magic and the digest before using a byte of it; a file that fails (torn by a crash,
edited, truncated, from another format) is treated as missing: the caller rebuilds it and
writes it again. Names carry a hash of everything the content was built from (the inputs and
the code version), so changed inputs never find an old file.

The folder is ``<data_dir>/cache``, made mode 0700 like the data directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

DIGEST_BYTES = 32
STALE_SECONDS = 3600
_CHUNK = 1 << 20


def private_folder(path: Path) -> Path:
    """``path`` made mode 0700 (and each missing parent), as the data directory is."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)
    return path


def usable_folder(path: Path | None) -> Path | None:
    """``path`` made private (see :func:`private_folder`), or None when it cannot be (read-only
    disk, no permission): the caller then builds in memory, as without a cache."""
    if path is None:
        return None
    try:
        folder = private_folder(path)
        for stale in folder.glob(".tmp-*"):  # left by a process stopped mid-write
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink(missing_ok=True)
        return folder
    except OSError as error:
        log.warning("FAQ cache folder unusable (%s): building in memory at every start", type(error).__name__)
        return None


def fingerprint(*parts: bytes | str) -> str:
    """A short hex hash of ``parts`` (each length-prefixed, so parts cannot run into each other)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:24]


def code_version(*modules: str) -> str:
    """A hash of the source files of ``modules`` (found, not imported): a code change rebuilds."""
    from importlib.util import find_spec

    digest = hashlib.sha256()
    for name in modules:
        spec = find_spec(name)
        digest.update(name.encode())
        if spec is not None and spec.origin:
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


def write(path: Path, magic: bytes, chunks: Iterable[bytes | memoryview]) -> None:
    """Write ``magic``, the body's digest and the body to ``path`` atomically, mode 0600."""
    body_digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(magic)
            file.write(bytes(DIGEST_BYTES))
            for chunk in chunks:
                body_digest.update(chunk)
                file.write(chunk)
            file.seek(len(magic))
            file.write(body_digest.digest())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def open_checked(path: Path, magic: bytes) -> BinaryIO | None:
    """``path`` open for reading once its magic and digest check out, else None (missing or bad).

    The digest is checked by reading the file (into the page cache, not this process's memory).
    The file is never changed in place, only replaced, so what the open file holds stays checked.
    The body starts at ``body_start(magic)``.
    """
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("FAQ cache file unreadable (%s): rebuilding it", type(error).__name__)
        return None
    try:
        if file.read(len(magic)) != magic:
            _rejected(file, path, "wrong format")
            return None
        expected = file.read(DIGEST_BYTES)
        digest = hashlib.sha256()
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
        if digest.digest() != expected:
            _rejected(file, path, "digest does not match")
            return None
    except OSError as error:
        _rejected(file, path, type(error).__name__)
        return None
    return file


def body_start(magic: bytes) -> int:
    return len(magic) + DIGEST_BYTES


def open_mapped(path: Path, magic: bytes) -> memoryview | None:
    """The body of ``path`` mapped read-only, or None when it is missing or fails its check."""
    file = open_checked(path, magic)
    if file is None:
        return None
    with file:
        start = body_start(magic)
        if file.seek(0, os.SEEK_END) == start:
            return memoryview(b"")
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    return memoryview(mapped)[start:]


def read(path: Path, magic: bytes) -> bytes | None:
    """The body of ``path`` read into memory, or None when it is missing or fails its check."""
    body = open_mapped(path, magic)
    if body is None:
        return None
    try:
        return bytes(body)
    finally:
        body.release()


def _rejected(file: BinaryIO, path: Path, why: str) -> None:
    file.close()
    log.warning("FAQ cache file %s ignored (%s): rebuilding it", path.name, why)

