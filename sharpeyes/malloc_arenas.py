"""Cap glibc's malloc arenas for the long-lived daemon (RELIABILITY.md R2).

glibc gives each thread that meets contention its own arena, up to 8 per core, and an arena's freed memory is
seldom returned to the system. The daemon's short-lived worker threads (database writes, ``/metrics``
rendering, signature writes) then spread allocations over many arenas and the resident size creeps up with
fragmentation. Two arenas, as ``MALLOC_ARENA_MAX=2`` would give, keep it flat at a negligible cost in lock
contention (the threads mostly wait on I/O or hold the GIL anyway).

It must run before the threads start. An operator's own ``MALLOC_ARENA_MAX`` wins; on a C library without
``mallopt`` (musl, macOS) nothing happens.
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
