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
and no clean copy (a first start, or a copy from before a config change the content no longer
fits) stops as before, with its file and line.

The copy is written whole beside the old one and swapped in by renames, so a crash while
writing leaves the previous copy (or none), never half of one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Part = Literal["faq", "quizzes"]


def last_good_dir(data_dir: Path, part: Part) -> Path:
    """Where the last good copy of one library's content is kept."""
    return data_dir / "last-good" / part


def keep(directory: Path, store: Path, version: str) -> None:
    """Makes ``store`` a copy of the content files under ``directory`` (whose ``content_version``
    is ``version``), unless it is one already. Never raises: failing to keep a copy must not fail
    the load that just succeeded."""
    from handlers.faq.library import content_files, content_version

    try:
        if store.is_dir() and content_version(store) == version:
            return
        staging, old = store.with_name(store.name + ".new"), store.with_name(store.name + ".old")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o700)
        for path in content_files(directory):
            target = staging / path.relative_to(directory)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(path, target)
        shutil.rmtree(old, ignore_errors=True)
        if store.exists():
            store.rename(old)
        staging.rename(store)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as error:
        log.warning("the last good %s content was not kept (%s)", store.name, type(error).__name__)
