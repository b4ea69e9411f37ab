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
import functools
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit (malloc.h)."""

DAEMON_ARENAS = 2


def cap_malloc_arenas(limit: int = DAEMON_ARENAS) -> bool:
    """Limit glibc to ``limit`` arenas from now on; True when the limit is in force (set here or by env)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return True
    mallopt = _libc("mallopt")
    if mallopt is None:
        log.debug("no mallopt in this C library: malloc arenas left as they are")
        return False
    return bool(mallopt(M_ARENA_MAX, limit) == 1)


def release_free_heap() -> bool:
    """``malloc_trim(0)``: give the whole free pages of every arena back to the system. True when some memory
    was released; False also where the C library has no ``malloc_trim``."""
    malloc_trim = _libc("malloc_trim")
    return malloc_trim is not None and bool(malloc_trim(0) == 1)


M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter numbers for heap trimming and the mmap threshold (malloc.h)."""

WORKER_MMAP_THRESHOLD = 8 << 20
WORKER_TRIM_THRESHOLD = 16 << 20


def keep_worker_heap(mmap_threshold: int = WORKER_MMAP_THRESHOLD, trim_threshold: int = WORKER_TRIM_THRESHOLD) -> bool:
    """For a decode worker: keep the freed memory of one job's large buffers for the next job.

    A worker allocates the same few large buffers for every frame (the decoder's tables, the scaled planes,
    the analysers' images: 0.1–3 MB each). With glibc's defaults some of them come from ``mmap`` and go back
    with ``munmap``, or the heap's top is trimmed after the job, and the next job touches fresh pages again:
    measured 320–1,400 minor page faults per 1080p job (1.3–5.6 MB), 1.8–4 ms of a job's ~15 ms of CPU. Served
    from the heap and not trimmed below ``trim_threshold`` of free space, they cost no fault after the first
    jobs; the resident size grows by what one job keeps free (measured +1.7 MB, bounded by ``trim_threshold``).
    Allocations above ``mmap_threshold`` (a 4K picture) still get their own mapping. True when set; on a C
    library without ``mallopt`` nothing happens."""
    mallopt = _libc("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1)


_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "mallopt": ([ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "malloc_trim": ([ctypes.c_size_t], ctypes.c_int),
}


@functools.cache
def _libc(name: str) -> Any:
    """The C library's function ``name`` with its argument and result types set, looked up once; ``None`` where
    the C library has none (musl lacks ``malloc_trim``; macOS both)."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = _SIGNATURES[name]
    return function
