"""Reload the FAQ (or the quizzes beside it) when admins change the files, and tell them when a
change is rejected.

Polling (every ``interval`` seconds) rather than inotify keeps this working on every
platform and on network or container mounts. A file counts as changed when its mtime,
size or SHA-256 changes, so a save that rewrites identical bytes triggers nothing and an
edit within the same second (same mtime) is still noticed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from handlers.faq.library import content_version
from handlers.faq.model import Problem

logger = logging.getLogger(__name__)

Fingerprint = dict[str, tuple[int, int, str]]


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


class Reloadable(Protocol):
    """Content served from ``directory`` (the FAQ library, the quiz library): its served version
    (``content_version`` of the folder it was built from) and a reload that keeps it on problems."""

    @property
    def directory(self) -> Path: ...

    @property
    def snapshot(self) -> Versioned: ...

    def reload(self) -> list[Problem]: ...


ProblemCallback = Callable[[Sequence[Problem]], Awaitable[None] | None]
ReloadCallback = Callable[[], Awaitable[None] | None]


def fingerprint(directory: Path, previous: Fingerprint | None = None) -> Fingerprint:
    """Path -> (mtime_ns, size, sha256) of every ``.yaml`` under ``directory``.

    The hash is recomputed only when mtime or size moved, so an idle poll reads no file.
    """
    current: Fingerprint = {}
    for path in sorted(directory.rglob("*.y*ml")):
        try:
            stat = path.stat()
        except OSError:
            continue
        if not path.is_file():  # a folder named *.yaml, a pipe, a device: nothing to load
            continue
        key = str(path.relative_to(directory))
        old = (previous or {}).get(key)
        if old is not None and old[0] == stat.st_mtime_ns and old[1] == stat.st_size:
            current[key] = old
            continue
        try:
            with path.open("rb") as file:  # in chunks: a huge file pasted here must not fill the memory
                digest = hashlib.file_digest(file, "sha256").hexdigest()
        except OSError:
            continue
        current[key] = (stat.st_mtime_ns, stat.st_size, digest)
    return current


def _same_content(a: Fingerprint, b: Fingerprint) -> bool:
    return a.keys() == b.keys() and all(a[key][1:] == b[key][1:] for key in a)


async def _call(callback: Callable[..., Awaitable[None] | None], *args: object) -> None:
    result = callback(*args)
    if result is not None:
        await result


async def watch_faq(
    library: Reloadable,
    on_problems: ProblemCallback,
    *,
    interval: float = 2.0,
    on_reloaded: ReloadCallback | None = None,
) -> None:
    """Poll ``library.directory`` forever; reload on change and report problems to ``on_problems``.

    The first poll compares the files with the content the library was built from, so an
    edit made between start-up and the first poll is not missed. The reload runs in a worker
    thread so loading and indexing never stall the event loop. A rejected edit is reported
    once per distinct content, not on every poll.
    """
    seen: Fingerprint = {}
    attempted = library.snapshot.version
    while True:
        try:
            current = await asyncio.to_thread(fingerprint, library.directory, seen)
            changed = not _same_content(current, seen)
            seen = current
            if not changed:
                await asyncio.sleep(interval)
                continue
            version = await asyncio.to_thread(content_version, library.directory)
            if version == attempted:
                await asyncio.sleep(interval)
                continue
            attempted = version
            problems = await asyncio.to_thread(library.reload)
        except Exception:  # a bad poll must not end the watcher; the last good content keeps serving
            logger.exception("faq reload failed")
            await asyncio.sleep(interval)
            continue
        if problems:
            logger.warning("faq content rejected", extra={"problems": len(problems)})
            await _call(on_problems, problems)
        else:
            logger.info("faq content reloaded", extra={"version": library.snapshot.version})
            if on_reloaded is not None:
                await _call(on_reloaded)
        await asyncio.sleep(interval)
