"""The content that last loaded without problems, kept in the data directory, so that a bad edit
found at a start does not stop the bot.

An admin's broken save at 6 pm is refused by the watcher and the last good content keeps serving
(see ``bot/admin/faq_watch.py``). But a restart that night (a deployment, a crash, a reboot)
would read the broken file again, and a start that stops on it would take reporting and the
emergency numbers down with the FAQ. So each library keeps a copy of every content file as it
was when it last loaded them cleanly (``<data_dir>/last-good/faq`` and ``.../quizzes``: the FAQ
and the quizzes each its own, so a broken quiz file never overwrites the FAQ's good copy). At a
start whose content has problems, the library serves that copy instead, and the watcher's first
poll tells the admins the file and line as it does for any refused edit. A start with problems
and no clean copy (a first start, a copy of another content folder, or one the config no longer
fits) stops as before, with its file and line.

A copy is of the files that loaded, never of a later save: the files are copied first and kept
only if their ``content_version`` is the one that loaded. It names the folder it came from
(``SOURCE``, as configured: a ``current`` link switched to a new release is still the same
folder), so a changed ``faq_dir`` never serves another folder's content. It is written whole
beside the old one and swapped in by renames; a crash between the renames leaves ``<part>.old``,
which is used until the next copy.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from handlers.faq.model import Problem

log = logging.getLogger(__name__)

Snapshot = TypeVar("Snapshot")

Part = Literal["faq", "quizzes"]
SOURCE = "SOURCE"
"""A file in the copy naming the folder it is a copy of (not content: its name has no .yaml)."""


def last_good_dir(data_dir: Path, part: Part) -> Path:
    """Where the last good copy of one library's content is kept."""
    return data_dir / "last-good" / part


def kept_copy(store: Path, directory: Path) -> Path | None:
    """The copy of ``directory`` kept at ``store`` (or the one a crash left beside it), if any."""
    source = os.path.abspath(directory)
    for candidate in (store, store.with_name(store.name + ".old")):
        try:
            if candidate.is_dir() and (candidate / SOURCE).read_text(encoding="utf-8") == source:
                return candidate
        except OSError:
            continue
    return None


def serve_copy(
    build: Callable[[Path], tuple[Snapshot | None, Sequence[Problem]]],
    directory: Path,
    store: Path,
    problems: Sequence[Problem],
    what: tuple[str, str],
) -> Snapshot | None:
    """At a start whose content in ``directory`` has ``problems``: what ``build`` makes of the copy
    kept at ``store``, or None when there is no clean copy. ``what`` names the content in the log
    line ("the quiz files have", "quizzes")."""
    copy = kept_copy(store, directory)
    if copy is None:
        return None
    snapshot, _ = build(copy)
    if snapshot is not None:
        log.error(
            "%s %d problem(s), the first: %s; serving the last good %s until they are fixed",
            what[0],
            len(problems),
            problems[0],
            what[1],
        )
    return snapshot


def keep(directory: Path, store: Path, version: str) -> None:
    """Makes ``store`` a copy of the content files under ``directory`` that loaded as ``version``
    (their ``content_version``), unless it is one already. Never raises: failing to keep a copy must
    not fail the load that just succeeded."""
    from handlers.faq.library import content_files, content_version

    try:
        current = kept_copy(store, directory)
        if current == store and content_version(store) == version:
            return
        staging, old = store.with_name(store.name + ".new"), store.with_name(store.name + ".old")
        shutil.rmtree(staging, ignore_errors=True)
        store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # beside the keys: the data dir's own mode
        staging.mkdir(mode=0o700)
        for path in content_files(directory):
            target = staging / path.relative_to(directory)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(path, target)
        if content_version(staging) != version:  # saved again while it loaded: not what was served
            shutil.rmtree(staging, ignore_errors=True)
            return
        (staging / SOURCE).write_text(os.path.abspath(directory), encoding="utf-8")
        if store.exists():
            shutil.rmtree(old, ignore_errors=True)
            store.rename(old)
        staging.rename(store)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as error:
        log.warning("the last good %s content was not kept (%s)", store.name, type(error).__name__)
