"""The daemon's malloc arena cap: eight threads allocating at once use at most two glibc arenas, not eight."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COUNT_ARENAS = textwrap.dedent(
    """
    import ctypes, sys, threading
    from sharpeyes.malloc_arenas import cap_malloc_arenas
    if sys.argv[1] == "cap":
        assert cap_malloc_arenas(2)
    barrier = threading.Barrier(8)
    def churn():
        barrier.wait()
        for _ in range(20000):
            blocks = [bytearray(4096) for _ in range(8)]  # > 512 bytes: glibc malloc, not pymalloc
            del blocks
    threads = [threading.Thread(target=churn) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    fp = libc.fopen(sys.argv[2].encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    """
)


def arenas_used(mode: str, tmp_path: Path) -> int:
    out = tmp_path / f"{mode}.xml"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode, str(out)], check=True, env=env, timeout=60)
    return out.read_text().count("<heap nr=")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_info and mallopt are glibc's (Linux)")
def test_capped_threads_share_two_arenas_where_uncapped_threads_spread(tmp_path: Path) -> None:
    uncapped, capped = arenas_used("free", tmp_path), arenas_used("cap", tmp_path)
    assert capped <= 2 < uncapped, (capped, uncapped)


FRAGMENT_AND_RELEASE = textwrap.dedent(
    """
    import sys
    from sharpeyes.malloc_arenas import release_free_heap
    def rss_mb():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
    blocks = [bytes(16384) for _ in range(8000)]  # 128 MB of heap blocks (< the mmap threshold)
    for i in range(0, len(blocks), 2):
        blocks[i] = None  # every other one freed: 64 MB free, none of it at the heap's top
    before = rss_mb()
    released = release_free_heap()
    print(before, rss_mb(), released)
    """
)


FAULTS_PER_JOB = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from sharpeyes.malloc_arenas import keep_worker_heap
    if sys.argv[1] == "keep":
        assert keep_worker_heap()
    def job():  # a worker's job in small: a few large buffers at once, written, then freed
        planes = [np.ones((1080, 1920), np.uint8) for _ in range(4)]
        return sum(int(p[0, 0]) for p in planes)
    for _ in range(5):
        job()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        job()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 20)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's (Linux)")
def test_release_free_heap_gives_freed_pages_in_the_middle_of_the_heap_back() -> None:
    out = subprocess.run([sys.executable, "-c", FRAGMENT_AND_RELEASE], check=True, capture_output=True, text=True)
    before, after, released = out.stdout.split()
    assert released == "True"
    assert float(before) - float(after) > 25, out.stdout  # of the 64 MB freed, 44 MB went back when measured


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_a_kept_worker_heap_serves_each_jobs_large_buffers_without_fresh_pages() -> None:
    def faults(mode: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", FAULTS_PER_JOB, mode], check=True, capture_output=True, text=True, timeout=60
        )
        return int(run.stdout)

    kept, default = faults("keep"), faults("default")
    assert kept < 10 < default, (kept, default)  # default: the heap's top is trimmed after each job
