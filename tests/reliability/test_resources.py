"""RELIABILITY.md R3: the daemon under a small file-descriptor budget (``RLIMIT_NOFILE`` set in the child
with ``preexec_fn``), probing with the real rtsp prober hundreds of cameras that accept and never answer.

R1, R2 and R4 need the simulator (sim branch) and the frame prober (quality branch); see docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.exporter_helpers import samples
from tests.integration.fake_rtsp import FakeRtspServer
from tests.prometheus_server import free_port

ROOT = Path(__file__).resolve().parents[2]
N_CAMERAS = 300
N_HOSTS = 300  # one host per camera, more than the global limit (256): the global limit is what binds


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


@contextlib.asynccontextmanager
async def blackholes() -> AsyncIterator[list[str]]:
    """``N_HOSTS`` listeners on 127.2.x.y that accept and never answer; yields their ``host:port``."""
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(FakeRtspServer(_silent, host=f"127.2.{k // 250}.{k % 250 + 1}"))
            for k in range(N_HOSTS)
        ]
        yield [f"{s.host}:{s.port}" for s in servers]


def _limit(nofile: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))


async def _run_daemon(tmp_path: Path, nofile: int, max_s: float = 15.0) -> tuple[dict[str, float], str, int]:
    """Run the fd_child daemon until every camera has a result and a recorded state (at most ``max_s``); scrape
    /metrics every 0.5 s (every scrape must succeed). Returns the last results per reason (plus storage errors
    and transitions written), the daemon's log, and its exit status after SIGTERM."""
    http_port = free_port()
    log = tmp_path / "daemon.log"
    async with blackholes() as endpoints:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.fd_child", f"sqlite:///{tmp_path / 'r3.db'}",
                 str(http_port), str(N_CAMERAS), *endpoints],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=lambda: _limit(nofile),
            )  # fmt: skip
            try:
                totals = await _scrape_while_running(f"http://127.0.0.1:{http_port}", proc, max_s)
                proc.send_signal(signal.SIGTERM)
                status = await asyncio.to_thread(proc.wait, 15)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    return totals, log.read_text(errors="replace"), status


async def _scrape_while_running(base: str, proc: subprocess.Popen[bytes], max_s: float) -> dict[str, float]:
    totals: dict[str, float] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        deadline = time.monotonic() + 20
        while True:  # wait for the daemon to serve
            assert proc.poll() is None, "daemon exited early"
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{base}/-/healthy") as r:
                    if r.status == 200:
                        break
            assert time.monotonic() < deadline, "daemon never served"
            await asyncio.sleep(0.2)
        end = time.monotonic() + max_s
        while time.monotonic() < end and not _one_sweep_recorded(totals):
            assert proc.poll() is None, "daemon died under the fd budget"
            async with s.get(f"{base}/metrics") as r:  # the exporter keeps its fds: every scrape answers
                assert r.status == 200
                got = samples(await r.text())
            totals = {dict(k)["reason"]: v for (n, k), v in got.items() if n == "sharpeyes_results_total"}
            totals["storage_errors"] = got[("sharpeyes_storage_errors_total", frozenset())]
            totals["written"] = got[("sharpeyes_transitions_written_total", frozenset())]
            await asyncio.sleep(0.5)
    return totals


def _one_sweep_recorded(totals: dict[str, float]) -> bool:
    results = sum(v for k, v in totals.items() if k not in ("storage_errors", "written"))
    return results >= N_CAMERAS and totals.get("written", 0) >= N_CAMERAS


async def test_r3_ulimit_1024_daemon_probes_on_with_the_db_and_exporter_working(tmp_path: Path) -> None:
    totals, log, status = await _run_daemon(tmp_path, nofile=1024)
    assert totals.get("timeout", 0) >= N_CAMERAS, totals  # at least one full sweep, every camera accounted
    assert totals.get("internal", 0) == 0, totals
    assert totals["storage_errors"] == 0 and totals["written"] >= N_CAMERAS
    assert "Too many open files" not in log
    assert status == 0, log[-2000:]


@pytest.mark.xfail(
    strict=True,
    reason="finding R3-1: the scheduler's concurrency (256) is not capped by RLIMIT_NOFILE; under a budget of "
    "200 fds, connect() fails with EMFILE and the probe is recorded as `internal` with a traceback per probe",
)
async def test_r3_fd_budget_below_the_concurrency_is_back_pressure_not_internal(tmp_path: Path) -> None:
    totals, log, status = await _run_daemon(tmp_path, nofile=200, max_s=6.0)
    assert status == 0, log[-2000:]  # the daemon itself survives (this part passes today)
    assert totals["storage_errors"] == 0
    assert totals.get("internal", 0) == 0, totals
    assert "Too many open files" not in log
