"""What a benchmark's measured bot process shares with ``hapbot run`` on its second and later starts.

A benchmark child starts in an empty data folder; left alone, it would build the FAQ index in its own
heap (a deployment does that once, at its first start) and keep glibc's default malloc settings,
which ``hapbot run`` changes before anything else (bot/malloc.py). Both made the children's RSS
figures far larger than the bot's: 240–360 MiB idle against 141 MiB for ``hapbot run`` itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BUILD_FAQ_CACHE = (
    "import sys; from bot.config import Config; from bot.core import load_faq; "
    "load_faq(Config.model_validate({'bot': {'data_dir': sys.argv[1]}}))"
)


def like_hapbot_run(data_dir: str) -> None:
    """Call first in a measured child: the FAQ cache of ``data_dir`` is built by a short process of
    its own (as a first start would), and the malloc settings ``hapbot run`` makes are made."""
    from bot.malloc import return_big_buffers

    subprocess.run([sys.executable, "-c", _BUILD_FAQ_CACHE, data_dir], cwd=ROOT, check=True)
    return_big_buffers()
