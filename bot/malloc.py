"""Hand big freed buffers back to the system, so one busy minute does not set the process's size.

Every receipt hash (argon2id) takes a buffer of ``memory_cost`` (19 MiB) in a worker thread. glibc
serves allocations above ``M_MMAP_THRESHOLD`` with ``mmap`` and returns them on ``free``, but by
default it *raises* that threshold to the size of each mmapped chunk freed (the "dynamic mmap
threshold", mallopt(3)), so after the first hash the next ones come from the heap and stay in it;
and each thread gets its own arena (up to 8 per core), which keeps its free memory too. Measured
with bench/memory.py, 100 workers submitting: the resident size stayed at the peak afterwards.
Fixing the threshold (which turns the dynamic adjustment off) and capping the arenas makes hash
buffers ``mmap``-ed and unmapped each time.

Only on glibc; elsewhere this does nothing. Called once, by ``hapbot run``, before threads start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 20
ARENA_MAX = 2


def return_big_buffers() -> bool:
    """Applies the two settings; True when the C library took them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(M_ARENA_MAX, ARENA_MAX) == 1)
    if not applied:
        log.info("the C library did not take the malloc settings; memory may stay at its peak after busy spells")
    return applied
