"""RELIABILITY.md L1/L2/D2: kill -9 mid-sweep, restart, SIGTERM. The database stays intact, the recorded
transitions form one unbroken chain per camera (none lost, none doubled) and the last one matches reality."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from sharpeyes.registry import db
from sharpeyes.registry.history import Transition
from sharpeyes.results import fetch_transitions
from tests.prometheus_server import free_port

N_CAMERAS = 12
ROOT = Path(__file__).resolve().parents[2]


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


class Cameras:
    """Loopback listeners that can be switched off and on again on the same port."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.servers: dict[int, asyncio.Server] = {}

    async def set(self, index: int, on: bool) -> None:
        port = self.ports[index]
        if on and port not in self.servers:
            self.servers[port] = await asyncio.start_server(_accept, "127.0.0.1", port, reuse_address=True)
        elif not on and port in self.servers:
            srv = self.servers.pop(port)
            srv.close()
            await srv.wait_closed()

    async def flap(self, rounds: int, period: float) -> None:
        for r in range(rounds):
            for i in range(len(self.ports)):
                await self.set(i, (i + r) % 3 != 0)
            await asyncio.sleep(period)

    def close(self) -> None:
        for srv in self.servers.values():
            srv.close()


@contextlib.asynccontextmanager
async def child(url: str, http_port: int, ports: list[int], log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.daemon_child", url, str(http_port), *map(str, ports)],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        await _wait_ready(f"http://127.0.0.1:{http_port}", proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out.close()


async def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "daemon exited early"
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{base}/-/ready") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("daemon not ready in 20 s")


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def assert_chains(rows: list[Transition]) -> dict[str, str]:
    """Per camera: from_state of each transition == to_state of the previous; never from == to."""
    last: dict[str, str] = {}
    for t in rows:
        assert t.from_state != t.to_state, t
        assert t.from_state == last.get(t.camera_id, "unknown"), (t, last.get(t.camera_id))
        last[t.camera_id] = t.to_state
    return last


async def test_kill_9_then_restart_then_sigterm(tmp_path: Path) -> None:
    db_path = tmp_path / "sharpeyes.db"
    url = f"sqlite:///{db_path}"
    cams = Cameras([free_port() for _ in range(N_CAMERAS)])
    log = tmp_path / "daemon.log"
    try:
        async with child(url, free_port(), cams.ports, log) as proc:
            await cams.flap(rounds=5, period=0.7)
            proc.send_signal(signal.SIGKILL)  # mid-sweep: a sweep is always running at a 1 s interval
            proc.wait()
        assert integrity(db_path) == "ok"
        engine = db.make_engine(url)
        try:
            before = fetch_transitions(engine)
            assert len(before) > N_CAMERAS
            assert_chains(before)
            async with child(url, free_port(), cams.ports, log) as proc:
                await cams.flap(rounds=4, period=0.7)
                await asyncio.sleep(2.5)  # stable: every camera probed again in its final state
                t = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=15) == 0
                assert time.monotonic() - t < 10
            assert integrity(db_path) == "ok"
            after = fetch_transitions(engine)
        finally:
            engine.dispose()
        assert after[: len(before)] == before
        final = assert_chains(after)
        expected = {f"c{i}": ("up" if cams.ports[i] in cams.servers else "down") for i in range(N_CAMERAS)}
        assert final == expected, log.read_text()[-3000:]
    finally:
        cams.close()
