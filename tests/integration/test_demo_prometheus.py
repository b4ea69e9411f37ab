"""``sharpeyes demo`` end to end: the simulator's demo city with its seeded fault mix, the daemon watching it (one
process), and a REAL Prometheus scraping the daemon every second.

Expected values are computed from the simulator's ground truth (``truth.json``, its fault assignment) and the
registry with :mod:`sharpeyes.rates`, never hard-coded. The demo runs here with ``--no-frame`` (liveness and
ONVIF only): what frame health finds in each simulated picture depends on the analysers' thresholds and on
reference pictures, which the frame-health tests cover; with it, the counts would hinge on which cameras its
first sweep reached within the test's time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from sharpeyes.config import load_probe_module
from sharpeyes.demo import DEMO_DIR, DEMO_FILES, expected_statuses, expected_up
from sharpeyes.rates import ALL, CameraStatus, compute_groups
from sharpeyes.registry.inventory import Inventory
from sharpeyes.registry.io import read_inventory
from sharpeyes.settings import ProbeModule
from tests.exporter_helpers import promtool_check
from tests.prometheus_server import PROMETHEUS, free_port, prometheus, query, wait_value

pytestmark = pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="Debian package prometheus not installed")
INTERVAL = 4.0
SIZE = "180p"  # the rates do not depend on the picture size; small clips encode fast on a cold cache


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    out: Path
    base: str
    control: str
    work: Path


def _left_behind(sid: int, grace: float = 3.0) -> list[str]:
    """Command lines of processes of the demo's session still alive ``grace`` seconds after it exited (helpers
    such as multiprocessing's forkserver leave once they read end-of-file from the parent)."""
    deadline = time.monotonic() + grace
    while _session_members(sid) and time.monotonic() < deadline:
        time.sleep(0.1)
    out = []
    for pid in _session_members(sid):
        with contextlib.suppress(OSError):
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return out


def _session_members(sid: int) -> list[int]:
    """Processes still in the session ``sid`` (the demo was started as a session leader)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _start(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp / "demo.out"
    env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": "", "PYTHONUNBUFFERED": "1"}  # the demo sets one itself
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sharpeyes", "demo", "--size", SIZE, *args],
            stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    return proc, out


def _value(text: str, prefix: str) -> str:
    line = next(x for x in text.splitlines() if x.startswith(prefix))
    return line[len(prefix) :].split()[0]


def _wait_for_banner(proc: subprocess.Popen[bytes], out: Path, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8", errors="replace")
        if "Ctrl-C stops everything." in text:
            return text
        assert proc.poll() is None, text[-3000:]
        time.sleep(0.2)
    raise AssertionError("demo not started: " + out.read_text()[-3000:])


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


@contextlib.contextmanager
def demo(tmp: Path) -> Iterator[Demo]:
    port = free_port()
    proc, out = _start(tmp, "--port", str(port), "--interval", str(INTERVAL), "--no-frame", "--keep-dir")
    work: Path | None = None
    try:
        text = _wait_for_banner(proc, out)
        base = _value(text, "metrics:").removesuffix("/metrics")
        assert base == f"http://127.0.0.1:{port}"
        control = _value(text, "simulator:").removesuffix("/cameras")
        work = Path(_value(text, "work dir:"))
        yield Demo(proc, out, base, control, work)
    finally:
        rc = _stop(proc)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)  # kept (--keep-dir) for truth.json and probes/
    assert rc == 0, out.read_text()[-3000:]
    assert _left_behind(proc.pid) == []


def _inventory() -> Inventory:
    return read_inventory([DEMO_DIR / name for name in DEMO_FILES])


def _liveness(work: Path) -> ProbeModule:
    return load_probe_module(work / "probes" / "rtsp_describe.yml")[0]


async def _vector(prom: str, expr: str, key: str) -> dict[tuple[str, ...], float]:
    out = {}
    for r in await query(prom, expr):
        m = r["metric"]
        out[(m["scope"], m["district"], *([m[key]] if key else []))] = float(r["value"][1])
    return out


async def _wait_first_sweep(prom: str, module: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await query(prom, f'sharpeyes_sweeps_total{{module="{module}"}} >= 1')
        if r:
            return
        await _sleep(0.25)
    raise AssertionError(f"no complete sweep of {module} in {timeout} s")


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


async def _set_fault(control: str, camera_id: str, fault: str | None) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{control}/cameras/{camera_id}/fault", json={"fault": fault}) as r,
    ):
        assert r.status == 200, await r.text()


@contextlib.asynccontextmanager
async def scraped(tmp: Path, d: Demo) -> AsyncIterator[str]:
    async with prometheus(tmp / "prom", [d.base.removeprefix("http://")]) as prom:
        yield prom


async def _check_against_truth(
    prom: str,
    inv: Inventory,
    truth: dict[str, str | None],
    live: ProbeModule,
    reached_before: frozenset[str] = frozenset(),
) -> None:
    """``reached_before``: cameras down now whose stream was reached within the freshness window (connected)."""
    now = time.time()
    statuses = expected_statuses(inv, truth, live, now)
    for cid in reached_before:
        statuses[cid] = CameraStatus(up=False, stream_reached_at=now)
    groups = compute_groups(inv, statuses, now)
    # the states, in every scope × district of the tree
    want_states = {}
    for (scope, district), g in groups.items():
        counts = {"healthy": g.healthy, "faulty": g.online - g.healthy, "offline": g.in_service - g.online}
        counts["out_of_service"] = g.cameras - g.in_service
        for state, n in counts.items():
            want_states[(scope, district, state)] = float(n)
    assert await _vector(prom, "sharpeyes_cameras", "state") == want_states
    # the three assessment rates, per scope city-wide, as Prometheus computes them from the exported parts
    for scope in ("public", "sector", ALL):
        g = groups[(scope, ALL)]
        sel = f'{{scope="{scope}",district="all"}}'
        for num, den, ratio in (
            ("areas_covered", "areas_registered", g.coverage),
            ("cameras_connected", "cameras_in_service", g.connection),
            ("cameras_healthy", "cameras_in_service", g.good_order),
        ):
            got = await query(prom, f"sharpeyes_{num}{sel} / sharpeyes_{den}{sel}")
            assert [float(r["value"][1]) for r in got] == [ratio.value], (scope, num)
    # and per camera: exactly the cameras the fault mix takes down are down
    down = {r["metric"]["camera_id"] for r in await query(prom, "sharpeyes_camera_up == 0")}
    assert down == {cid for cid, f in truth.items() if not expected_up(f, live)}


async def test_real_prometheus_scrapes_the_demo_and_matches_the_fault_mix(tmp_path: Path) -> None:
    inv = _inventory()
    with demo(tmp_path) as d:
        truth: dict[str, str | None] = json.loads((d.work / "truth.json").read_text())
        live = _liveness(d.work)
        assert live.interval_s == INTERVAL
        assert sum(1 for f in truth.values() if f) >= 20  # the seeded mix is there (10% of 292)
        async with scraped(tmp_path, d) as prom:
            assert await wait_value(prom, 'up{job="sharpeyes"}', 1) == 1
            await _wait_first_sweep(prom, live.name)
            await _sleep(1.5)  # one more scrape after the sweep
            await _check_against_truth(prom, inv, truth, live)

            # a healthy camera goes offline: within one interval plus the deadline (plus one scrape)
            victim = next(cid for cid, f in sorted(truth.items()) if f is None)
            assert await wait_value(prom, f'sharpeyes_camera_up{{camera_id="{victim}"}}', 1) == 1
            started = time.monotonic()
            await _set_fault(d.control, victim, "offline")
            bound = live.interval_s + live.timeout_s + 1.0
            got = await wait_value(prom, f'sharpeyes_camera_up{{camera_id="{victim}"}}', 0, timeout=bound + 2.0)
            assert got == 0 and time.monotonic() - started <= bound + 2.0
            truth[victim] = "offline"
            await _sleep(1.2)
            await _check_against_truth(prom, inv, truth, live, reached_before=frozenset({victim}))

        async with aiohttp.ClientSession() as s, s.get(f"{d.base}/metrics") as r:
            body = await r.read()
        check = promtool_check(body)
        assert check.returncode == 0, check.stdout + check.stderr
    out = d.out.read_text()
    assert "sweep 1 of rtsp_describe" in out and "good order" in out


def test_demo_duration_prints_urls_and_summary_and_exits_cleanly(tmp_path: Path) -> None:
    proc, out = _start(tmp_path, "--port", "0", "--interval", "2", "--duration", "5")
    try:
        rc = proc.wait(90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = out.read_text()
    assert rc == 0, text[-3000:]
    assert _value(text, "metrics:").startswith("http://127.0.0.1:")
    assert _value(text, "API:").startswith("http://127.0.0.1:")
    assert "final · cameras: 300 registered, 292 in service" in text
    assert "coverage" in text and "connection" in text and "good order" in text
    work = Path(_value(text, "work dir:"))
    assert not work.exists()  # removed without --keep-dir
    assert _left_behind(proc.pid) == []
