"""RELIABILITY.md D1 and D3: SQLite storage locked by another process, and a full disk (a real 3 MiB tmpfs).

The daemon runs in-process with the TCP-connect test prober (tests/daemon_helpers.py) against real loopback
listeners; another OS process holds the write lock; the disk really fills. D2 (kill -9) is the daemon helper's
tests/reliability/test_kill_restart.py; D4 (PostgreSQL) is tests/integration/test_results_postgres.py; D5 (a long
audit read while the daemon writes) is test_storage_audit.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from sharpeyes.daemon import Daemon, DaemonOptions
from sharpeyes.probers.base import PROBERS
from sharpeyes.registry import db
from sharpeyes.results import fetch_transitions
from tests.daemon_helpers import tcp_config, tcp_probe
from tests.integration.test_daemon import _accept, metric, until
from tests.reliability.contract import back_to_baseline

N_CAMERAS = 6


@pytest.fixture(autouse=True)
def _tcp_prober(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROBERS, "rtsp", tcp_probe)


class Cameras:
    """Loopback listeners that can be switched off; a switched-off camera's port refuses connections."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server | None] = []
        self.ports: list[int] = []

    async def start(self, n: int) -> None:
        for _ in range(n):
            srv = await asyncio.start_server(_accept, "127.0.0.1", 0)
            self.servers.append(srv)
            self.ports.append(srv.sockets[0].getsockname()[1])

    async def off(self, index: int) -> None:
        srv = self.servers[index]
        if srv is not None:
            srv.close()
            await srv.wait_closed()
            self.servers[index] = None

    async def close(self) -> None:
        for i in range(len(self.servers)):
            await self.off(i)


@contextlib.asynccontextmanager
async def cameras(n: int = N_CAMERAS) -> AsyncIterator[Cameras]:
    cams = Cameras()
    await cams.start(n)
    try:
        yield cams
    finally:
        await cams.close()


async def ready_status(base: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{base}/-/ready") as r:
        return r.status


def recorded(url: str) -> list[tuple[str, str, str]]:
    engine = db.make_engine(url)
    try:
        return sorted((t.camera_id, t.from_state, t.to_state) for t in fetch_transitions(engine))
    finally:
        engine.dispose()


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def lock_held_by_another_process(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another OS process takes SQLite's write lock (``BEGIN IMMEDIATE``) for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.wait(timeout=seconds + 10)
        if proc.stdout is not None:
            proc.stdout.close()


async def test_d1_lock_shorter_than_busy_timeout_is_waited_out_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "d1.db"
    url = f"sqlite:///{path}"
    opts = DaemonOptions(db_url=url, busy_timeout_ms=5000, flush_interval_s=0.2)
    async with back_to_baseline(wait_s=2.0), cameras() as cams:
        d = Daemon(lambda: tcp_config(cams.ports), opts)
        port = await d.start()
        base = f"http://127.0.0.1:{port}"
        try:
            rt = d.runtime
            assert rt is not None
            await until(lambda: rt.store.counters.transitions_written >= N_CAMERAS)
            with lock_held_by_another_process(path, 1.5):
                await cams.off(0)
                await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c0"), 0))
            await until(lambda: not rt.store.pending)
            assert rt.store.counters.storage_errors == 0  # the writer waited inside the busy timeout
            assert await ready_status(base) == 200
        finally:
            await d.stop()
    assert recorded(url) == sorted([(f"c{i}", "unknown", "up") for i in range(N_CAMERAS)] + [("c0", "up", "down")])
    assert integrity(path) == "ok"


async def test_d1_lock_longer_than_busy_timeout_buffers_counts_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "d1.db"
    url = f"sqlite:///{path}"
    opts = DaemonOptions(db_url=url, busy_timeout_ms=100, flush_interval_s=0.2)
    async with back_to_baseline(wait_s=2.0), cameras() as cams:
        d = Daemon(lambda: tcp_config(cams.ports), opts)
        port = await d.start()
        base = f"http://127.0.0.1:{port}"
        try:
            rt = d.runtime
            assert rt is not None
            await until(lambda: rt.store.counters.transitions_written >= N_CAMERAS)
            with lock_held_by_another_process(path, 3.0):
                await cams.off(1)
                await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c1"), 0))  # probing goes on
                await until(lambda: rt.store.counters.storage_errors > 0 and bool(rt.store.pending))
                assert rt.store.counters.dropped == 0  # buffered, nothing dropped
                assert await ready_status(base) == 503
            await until(lambda: not rt.store.pending and rt.storage_ok, timeout=10)
            assert await ready_status(base) == 200
        finally:
            await d.stop()
    assert recorded(url) == sorted([(f"c{i}", "unknown", "up") for i in range(N_CAMERAS)] + [("c1", "up", "down")])
    assert integrity(path) == "ok"


async def _down(base: str, camera: str) -> bool:
    return await metric(base, "sharpeyes_camera_up", camera) == 0


async def _is(value: object, expected: float) -> bool:
    assert asyncio.iscoroutine(value)
    return bool(await value == expected)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MiB tmpfs mounted for the test (needs root / CAP_SYS_ADMIN, which this machine has)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the file system is full (ENOSPC); returns the filler."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


async def test_d3_disk_full_keeps_probing_buffers_flags_and_recovers(small_disk: Path) -> None:
    path = small_disk / "d3.db"
    url = f"sqlite:///{path}"
    opts = DaemonOptions(db_url=url, flush_interval_s=0.2)
    async with back_to_baseline(wait_s=2.0), cameras(12) as cams:
        d = Daemon(lambda: tcp_config(cams.ports), opts)
        port = await d.start()
        base = f"http://127.0.0.1:{port}"
        try:
            rt = d.runtime
            assert rt is not None
            await until(lambda: rt.store.counters.transitions_written >= 12)
            filler = fill(small_disk)
            for i in range(0, 12, 2):
                await cams.off(i)  # six transitions to write, onto a full disk
            for i in range(0, 12, 2):  # probing goes on: every switched-off camera is seen down
                await until(functools.partial(_down, base, f"c{i}"))
            await until(lambda: rt.store.counters.storage_errors > 0 and len(rt.store.pending) == 6)
            assert rt.store.counters.dropped == 0
            assert await ready_status(base) == 503
            filler.unlink()  # space returns
            await until(lambda: not rt.store.pending and rt.storage_ok, timeout=40)
            assert await ready_status(base) == 200
        finally:
            await d.stop()
    downs = [(f"c{i}", "up", "down") for i in range(0, 12, 2)]
    assert recorded(url) == sorted([(f"c{i}", "unknown", "up") for i in range(12)] + downs)
    assert integrity(path) == "ok"
