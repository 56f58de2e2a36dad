"""Reload the FAQ (or the quizzes beside it) when admins change the files, and tell them when a
change is rejected.

Polling (every ``interval`` seconds) rather than inotify keeps this working on every
platform and on network or container mounts. A file counts as changed when its mtime,
size or SHA-256 changes, so a save that rewrites identical bytes triggers nothing and an
edit within the same second (same mtime) is still noticed.

A change is acted on only once it has settled: the files the same at two polls in a row and
none written in the last ``settle`` seconds. An editor saving in two writes (or an admin copying
a folder file by file) would otherwise have a half-saved file, often still valid YAML, go live.
A failure telling the admins (the database busy) is logged and the telling tried again at the
next poll; it never ends the watcher.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from handlers.faq.library import content_files, content_version
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
    """Path -> (mtime_ns, size, sha256) of every content file under ``directory`` (``content_files``).

    The hash is recomputed only when mtime or size moved, so an idle poll reads no file.
    """
    current: Fingerprint = {}
    for path in content_files(directory):
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


def _quiet_for(files: Fingerprint, seconds: float) -> bool:
    """Whether no file was written in the last ``seconds``."""
    newest = max((mtime for mtime, _size, _digest in files.values()), default=0)
    return time.time_ns() - newest >= seconds * 1e9


async def _call(callback: Callable[..., Awaitable[None] | None], *args: object) -> None:
    result = callback(*args)
    if result is not None:
        await result


async def watch_faq(
    library: Reloadable,
    on_problems: ProblemCallback,
    *,
    interval: float = 2.0,
    settle: float | None = None,
    on_reloaded: ReloadCallback | None = None,
) -> None:
    """Poll ``library.directory`` forever; reload on change and report problems to ``on_problems``.

    The first poll compares the files with the content the library was built from, so an
    edit made between start-up and the first poll is not missed. The reload runs in a worker
    thread so loading and indexing never stall the event loop. A rejected edit is reported
    once per distinct content, not on every poll. ``settle`` (default: one second, or the
    interval when that is shorter) is how long the files must be left alone before a change counts.
    """
    settle = min(1.0, interval) if settle is None else settle
    seen: Fingerprint = {}
    checked: Fingerprint | None = None  # the files as they were when their version was last compared
    attempted = library.snapshot.version
    while True:
        try:
            current = await asyncio.to_thread(fingerprint, library.directory, seen)
            settled = _same_content(current, seen) and _quiet_for(current, settle)
            seen = current
            if not settled or (checked is not None and _same_content(current, checked)):
                await asyncio.sleep(interval)
                continue
            checked = current
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
        try:
            if problems:
                logger.warning("faq content rejected", extra={"problems": len(problems)})
                await _call(on_problems, problems)
            else:
                logger.info("faq content reloaded", extra={"version": library.snapshot.version})
                if on_reloaded is not None:
                    await _call(on_reloaded)
        except Exception as error:  # e.g. the outbox's database busy: tell them at the next poll instead
            # The type only: a database error's text can carry the statement's parameters.
            logger.error("telling the admins about a faq reload failed (%s); trying again", type(error).__name__)
            checked, attempted = None, ""
        await asyncio.sleep(interval)
