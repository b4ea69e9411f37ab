"""RELIABILITY.md R3: the daemon under a small file-descriptor budget (``RLIMIT_NOFILE`` set in the child
with ``preexec_fn``), probing with the real rtsp prober hundreds of cameras that accept and never answer; and
the scheduler meeting ``EMFILE`` from a prober (back-pressure, finding R3-1).

R4 (decoders that hang or crash en masse) is in test_decoders.py; R1 and R2 are the simulator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sharpeyes.exporter.collector import SharpeyesCollector
from sharpeyes.probers.base import PROBERS, Deadline, DecodersBusyError, ProbeResult, ProbeTarget, Reason, ResultBuilder
from sharpeyes.scheduler import Limits
from sharpeyes.settings import ProbeModule
from tests.exporter_helpers import samples
from tests.integration.fake_rtsp import FakeRtspServer
from tests.prometheus_server import free_port
from tests.reliability.contract import back_to_baseline
from tests.unit.test_scheduler import city, make, module, run_sweeps

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
    max_fds = 0
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
            totals["concurrency_limit"] = got[("sharpeyes_probe_concurrency_limit", frozenset())]
            for (n, k), v in got.items():
                if n == "sharpeyes_probes_skipped_total":
                    totals[f"skipped_{dict(k)['reason']}"] = v
            max_fds = max(max_fds, _fds_of(proc.pid))
            totals["max_fds"] = max_fds
            await asyncio.sleep(0.5)
    return totals


def _fds_of(pid: int) -> int:
    """Open descriptors of another process (0 if it is gone)."""
    with contextlib.suppress(OSError):
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    return 0


RESULT_KEYS = re.compile(r"^(storage_errors|written|concurrency_limit|max_fds|skipped_.*)$")


def _one_sweep_recorded(totals: dict[str, float]) -> bool:
    results = sum(v for k, v in totals.items() if not RESULT_KEYS.match(k))
    return results >= N_CAMERAS and totals.get("written", 0) >= N_CAMERAS


async def test_r3_ulimit_1024_daemon_probes_on_with_the_db_and_exporter_working(tmp_path: Path) -> None:
    totals, log, status = await _run_daemon(tmp_path, nofile=1024)
    assert totals.get("timeout", 0) >= N_CAMERAS, totals  # at least one full sweep, every camera accounted
    assert totals.get("internal", 0) == 0, totals
    assert totals["storage_errors"] == 0 and totals["written"] >= N_CAMERAS
    assert "Too many open files" not in log
    assert totals["concurrency_limit"] == 256  # (1024 − 64) // 2 = 480: the configured 256 fits, not cut
    assert "capped" not in log
    assert status == 0, log[-2000:]


async def test_r3_fd_budget_below_the_concurrency_is_back_pressure_not_internal(tmp_path: Path) -> None:
    """Finding R3-1 (fixed): under 200 fds the global limit (256) is cut to (200 − 64) // 2 = 68 at start, said
    once in the log; probes beyond it wait or are skipped ``late``, never ``internal``; no EMFILE at all."""
    totals, log, status = await _run_daemon(tmp_path, nofile=200, max_s=6.0)
    assert status == 0, log[-2000:]  # the daemon itself survives, and stops cleanly
    assert totals["concurrency_limit"] == (200 - Limits().fd_reserve) // 2, totals
    assert len(re.findall(r"probe concurrency capped at 68 by the file-descriptor budget", log)) == 1, log[-2000:]
    assert totals["storage_errors"] == 0 and totals["written"] > 0, totals  # the DB kept its descriptors
    assert totals.get("timeout", 0) > 0, totals  # the silent cameras are still probed and judged
    assert totals.get("internal", 0) == 0, totals
    assert totals.get("skipped_fd_budget", 0) == 0, totals  # the cap alone kept EMFILE away
    assert 0 < totals["max_fds"] < 200, totals
    assert "Too many open files" not in log and "Traceback" not in log


class _StarvedProber:
    """Raises ``error`` for the cameras in ``starved`` (what ``socket()`` raises at the fd limit, or the frame
    prober when no decode worker is free); probes the others fine."""

    def __init__(self, starved: frozenset[str], error: Exception) -> None:
        self.starved, self.error = starved, error

    async def __call__(self, target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        if target.camera_id in self.starved:
            raise self.error
        return ResultBuilder(target, module.name).finish(Reason.OK)


@pytest.mark.parametrize(
    ("error", "skip", "logged"),
    [
        (OSError(errno.EMFILE, "Too many open files"), "fd_budget", "out of file descriptors"),
        (DecodersBusyError("all decode workers busy until the deadline"), "decoders_busy", "decode workers busy"),
    ],
    ids=["emfile", "decoders_busy"],
)
async def test_r3_emfile_from_a_prober_is_a_counted_skip_not_the_cameras_result(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: Exception, skip: str, logged: str
) -> None:
    """If EMFILE still happens (fds used elsewhere, ENFILE system-wide), or no decode worker is free (R4): the slot
    is skipped with a reason, counted in ``sharpeyes_probes_skipped_total``, nothing recorded for the camera, one
    warning (not one per probe), no traceback."""
    monkeypatch.setitem(PROBERS, "rtsp", _StarvedProber(frozenset({f"c{i}" for i in range(0, 20, 2)}), error))
    async with back_to_baseline():
        rt, sched = make(city(20), module(interval=1.5, timeout=0.5), Limits(retries=0))
        await run_sweeps(rt, sched, 2)
    stats = rt.sweeps["live"]
    assert stats.skipped[skip] >= 20 and "internal" not in stats.outcomes, stats
    assert stats.outcomes["ok"] >= 20 and stats.scheduled == stats.accounted()
    assert all(rt.store.camera_status(f"c{i}").up is None for i in range(0, 20, 2))  # nothing charged to them
    assert all(rt.store.camera_status(f"c{i}").up is True for i in range(1, 20, 2))
    warnings = [r for r in caplog.records if f"skipped as {skip}" in r.getMessage()]
    assert len(warnings) == 1 and logged in warnings[0].getMessage(), caplog.text
    assert not any(r.exc_info for r in caplog.records), caplog.text
    exposition = {
        (m.name, s.labels.get("reason")): s.value for m in SharpeyesCollector(rt).collect() for s in m.samples
    }
    assert exposition[("sharpeyes_probes_skipped", skip)] == stats.skipped[skip]
    assert exposition[("sharpeyes_probe_concurrency_limit", None)] == sched.concurrency
