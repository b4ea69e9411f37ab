"""Cap glibc's malloc arenas and hand freed heap pages back, for the long-lived daemon (RELIABILITY.md R2).

glibc gives each thread that meets contention its own arena, up to 8 per core, and an arena's freed memory is
seldom returned to the system. The daemon's short-lived worker threads (database writes, ``/metrics``
rendering, signature writes) then spread allocations over many arenas and the resident size creeps up with
fragmentation. Two arenas, as ``MALLOC_ARENA_MAX=2`` would give, keep it flat at a negligible cost in lock
contention (the threads mostly wait on I/O or hold the GIL anyway).

It must run before the threads start. An operator's own ``MALLOC_ARENA_MAX`` wins; on a C library without
``mallopt`` (musl, macOS) nothing happens.

glibc returns a heap's free memory to the system only from its top. Blocks freed in the middle stay resident
until reused: each frame sweep replaces every camera's ~5 KB signature and decodes the workers' answers, and
with 5,000 cameras the main heap held 47 MB free against 90 MB in use after the second sweep (soak, `mallinfo2`).
:func:`release_free_heap` (``malloc_trim(0)``) gives the whole free pages inside the heap back; the daemon
calls it from a worker thread every minute. It took 3-8 ms on a 150 MB heap.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit (malloc.h)."""

DAEMON_ARENAS = 2


def cap_malloc_arenas(limit: int = DAEMON_ARENAS) -> bool:
    """Limit glibc to ``limit`` arenas from now on; True when the limit is in force (set here or by env)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.debug("no mallopt in this C library: malloc arenas left as they are")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, limit) == 1)


def release_free_heap() -> bool:
    """``malloc_trim(0)``: give the whole free pages of every arena back to the system. True when some memory
    was released; False also where the C library has no ``malloc_trim``."""
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(malloc_trim(0) == 1)
