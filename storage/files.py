"""Directories that only the bot's user may enter: the data directory, the key directory."""

from __future__ import annotations

import os
from pathlib import Path


def private_directory(path: Path) -> None:
    """Create ``path`` and each missing parent mode 0700; a directory that exists keeps its mode.

    ``Path.mkdir(parents=True)`` would give the parents the umask's mode (usually 0755), so a first
    start that creates ``data/keys`` would leave ``data/``, which holds the database, open to listing.
    """
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it meanwhile, with a mode of its choosing
        os.chmod(directory, 0o700)  # mkdir's mode passes through the umask
