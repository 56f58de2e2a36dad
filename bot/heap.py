"""Keep the garbage collector's full passes from stalling every worker's reply.

CPython's full (generation 2) collection walks every container object the process holds. The
modules a running bot has imported (SQLAlchemy, python-telegram-bot, Starlette, the segmenter) are
about 110,000 of them: a walk of 50-130 ms on this project's 2-core reference machine, during which
the event loop answers nobody. In ``bench/wechat_callback.py`` that showed up as a gap of about
100 ms in which no callback was even read, in one round of 100 in three. Those objects live as long
as the process, so there is nothing in them to collect: ``gc.freeze()`` moves them to a generation
the collector never walks, and later full passes walk only what came after (Python docs,
``gc.freeze``).

Frozen objects are never collected as part of a reference cycle, so the freeze happens once, at
start-up, before the first worker's message can be in memory: nothing a worker wrote, and no
receipt, can be pinned by it. The FAQ index (about 35,000 objects, built in a thread that may
finish while messages are being handled) is not frozen, and nothing is frozen at a FAQ reload.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_loaded() -> int:
    """Freezes every object alive now; returns how many are frozen. Call it only before any
    worker's message is handled (see the module's docstring). No collection first: at that
    moment it finds a few dozen unreachable objects and would itself cost ~50 ms of the start."""
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("garbage collector: %d long-lived objects frozen", frozen)
    return frozen
