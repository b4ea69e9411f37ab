"""The L1–L5 contract checks shared by the reliability tests (RELIABILITY.md): leaks and deadline bounds."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sharpeyes.onvif.client import PARSER_THREAD_PREFIX
from tests.integration.onvif.conftest import Peers


def open_fds() -> int:
    """Open file descriptors of this process."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def child_pids() -> set[int]:
    """Direct children of this process (every thread's children), from /proc."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def zombies(pids: set[int]) -> set[int]:
    """Those of ``pids`` that have exited but were never reaped."""
    dead: set[int] = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":
            dead.add(pid)
    return dead


POOLED = (PARSER_THREAD_PREFIX, "asyncio_")


def other_threads() -> int:
    """Threads except the bounded pools that live as long as the process: the ONVIF client's SOAP parser pool
    and the event loop's default executor (``asyncio.to_thread``; its workers are reused, not leaked)."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith(POOLED))


@dataclass
class Baseline:
    """What the process held before a fault (L5: it must return here after the fault clears)."""

    fds: int
    threads: int
    children: set[int]


async def _settled(base: Baseline, me: asyncio.Task[object] | None, wait_s: float) -> list[str]:
    problems: list[str] = []
    end = time.monotonic() + wait_s
    while True:
        tasks = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        new_children = child_pids() - base.children
        problems = []
        if tasks:
            problems.append(f"leaked tasks: {tasks}")
        if open_fds() > base.fds:
            problems.append(f"leaked fds: {open_fds()} > {base.fds}")
        if other_threads() > base.threads:
            problems.append(f"leaked threads: {other_threads()} > {base.threads}")
        if new_children:
            problems.append(f"leftover child processes: {new_children} (zombies: {zombies(new_children)})")
        if not problems or time.monotonic() > end:
            return problems
        await asyncio.sleep(0.02)


@asynccontextmanager
async def back_to_baseline(wait_s: float = 1.0) -> AsyncIterator[Baseline]:
    """L5: no task, fd, thread or child process (zombie or not) outlives the block (waits up to ``wait_s``)."""
    await asyncio.sleep(0)
    base = Baseline(open_fds(), other_threads(), child_pids())
    yield base
    problems = await _settled(base, asyncio.current_task(), wait_s)
    assert not problems, "; ".join(problems)


@asynccontextmanager
async def within(seconds: float) -> AsyncIterator[None]:
    """The block ends within ``seconds`` (a generous deadline bound, not a speed claim)."""
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    assert elapsed <= seconds, f"took {elapsed:.2f} s, bound {seconds:.2f} s"


@asynccontextmanager
async def onvif_case(peers: Peers, bound_s: float) -> AsyncIterator[None]:
    """Runs an ONVIF fault within ``bound_s``; then stops the fake cameras it started, and checks L5 after."""
    async with back_to_baseline():
        async with within(bound_s):
            yield
        await peers.stop()
        peers._started.clear()  # the fixture's own teardown has nothing left to stop


def descendants(pid: int | None = None) -> set[int]:
    """Every process below ``pid`` (default: this one), from /proc: children, grandchildren (decode workers are
    the forkserver's children, not ours) and so on."""
    found: set[int] = set()
    todo = [pid if pid is not None else os.getpid()]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = {int(p) for p in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found
