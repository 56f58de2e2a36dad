"""Keep the garbage collector's full passes from stalling every worker's reply.

CPython's full (generation 2) collection walks every container object the process holds. Once the
FAQ index, the segmenter's dictionary and SQLAlchemy's caches are loaded, that is a walk of about
130 ms on this project's 2-core reference machine, during which the event loop answers nobody: in
``bench/wechat_callback.py`` it showed up as a 100 ms gap in which no callback was even read, in
one round of 100 in three. Those objects live as long as the process, so there is nothing in them
to collect: ``gc.freeze()`` moves them to a generation the collector never walks, and later full
passes walk only what came after (Python docs, ``gc.freeze``; the same is done by Instagram's
Django servers). Reference counting still frees frozen objects that stop being used (an old FAQ
index after a reload), unless they sit in a reference cycle, which the index does not.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_loaded() -> int:
    """Freezes every object alive now; returns how many are frozen. Called when the process is
    ready (the FAQ loaded) and after each content reload. No collection first: at that moment it
    finds a few dozen unreachable objects and would itself cost the ~100 ms this avoids, in the
    start time."""
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("garbage collector: %d long-lived objects frozen", frozen)
    return frozen
