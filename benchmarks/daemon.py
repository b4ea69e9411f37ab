"""Daemon benchmark: N cameras, one liveness module, one full sweep, then /metrics scrapes.

The cameras are in-process fakes (a probe sleeps 2–20 ms, like a loopback DESCRIBE under load), so the
figures are the daemon's own overhead: scheduler, results, exporter. Run the simulator variant once the
simulator lands.

Prints: sweep duration vs interval, scheduler lag p50/p99, CPU seconds, max RSS, /metrics scrape time and the
event loop's longest stall during a scrape. Baselines measured in the same run: prometheus-client's own
``generate_latest`` over plain ``Gauge`` series of the same count (scrape ratio), and rendering on the
event loop instead of a worker thread (stall ratio).

    .venv/bin/python -m benchmarks.daemon --cameras 20000 --interval 60
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import statistics
import time
from collections.abc import Callable

import aiohttp
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from sharpeyes.exporter.app import ApiOptions, make_app, serve
from sharpeyes.exporter.collector import SharpeyesCollector
from sharpeyes.exporter.exposition import render
from sharpeyes.probers.base import PROBERS, Deadline, ProbeResult, ProbeTarget, Reason, ResultBuilder
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.results import ResultStore
from sharpeyes.runtime import Config, Runtime
from sharpeyes.scheduler import Limits, Scheduler
from sharpeyes.settings import ProbeModule


async def fake_probe(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """2–20 ms per camera, stable per camera; one camera in 20 is down."""
    h = hashlib.sha256(target.camera_id.encode()).digest()
    b = ResultBuilder(target, module.name)
    await asyncio.sleep(0.002 + h[0] / 255 * 0.018)
    return b.finish(Reason.REFUSED if h[1] < 13 else Reason.OK)


def city(n: int) -> Inventory:
    """A city of 10 districts × 10 streets, 4 cameras per area, one NVR host per 8 cameras."""
    districts = [District("C", "city", DistrictLevel.CITY)]
    districts += [District(f"D{i}", "d", DistrictLevel.DISTRICT, "C") for i in range(10)]
    districts += [District(f"S{i}", "s", DistrictLevel.STREET, f"D{i % 10}") for i in range(100)]
    areas = [
        Area(f"a{i}", "a", f"S{i % 100}", Scope.PUBLIC if i % 3 else Scope.SECTOR, "x", 2) for i in range((n + 3) // 4)
    ]
    cams = [Camera(f"c{i}", "c", f"a{i // 4}", f"10.{i // 2000}.{(i // 8) % 250}.1") for i in range(n)]
    return Inventory(tuple(districts), tuple(areas), tuple(cams))


async def loop_stall_during(coro_factory: object, period: float = 0.005) -> tuple[float, float]:
    """(seconds the awaited work took, the longest the event loop was stalled meanwhile)."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(period)
            worst = max(worst, time.perf_counter() - t - period)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    await coro_factory()  # type: ignore[operator]
    took = time.perf_counter() - t0
    done.set()
    await tick
    return took, worst


def _cpu(fn: Callable[[], object]) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def baseline_registry(n: int) -> CollectorRegistry:
    """prometheus-client's ordinary path: the same number of per-camera series as plain Gauges."""
    reg = CollectorRegistry()
    gauges = [Gauge(f"baseline_{k}", "baseline", ["camera_id"], registry=reg) for k in ("up", "healthy", "ts", "info")]
    for i in range(n):
        for g in gauges:
            g.labels(f"c{i}").set(1)
    return reg


async def main(n: int, interval: float) -> None:
    PROBERS["rtsp"] = fake_probe
    module = ProbeModule(name="live", prober="rtsp", interval_s=interval, timeout_s=5, read_timeout_s=2)
    rt = Runtime(Config(city(n), {"live": module}), ResultStore({"live": "rtsp"}))
    sched = Scheduler(rt, limits=Limits(concurrency=256))
    cpu0 = time.process_time()
    sched.start()
    stats = rt.sweeps["live"]
    while stats.sweeps < 1:  # noqa: ASYNC110 - polling a counter the scheduler owns
        await asyncio.sleep(0.2)
    await sched.stop()
    cpu = time.process_time() - cpu0
    assert stats.last_duration_s is not None
    lags = sorted(stats.last_lags)
    print(f"cameras {n}, interval {interval:.0f} s")
    print(f"sweep: {stats.last_duration_s:.1f} s (within interval: {stats.last_duration_s <= interval}); "
          f"outcomes {dict(stats.outcomes)}, skipped {dict(stats.skipped)}")  # fmt: skip
    print(f"scheduler lag p50 {statistics.median(lags) * 1000:.1f} ms, p99 {lags[int(len(lags) * 0.99)] * 1000:.1f} ms")
    print(f"CPU during the sweep: {cpu:.1f} s ({cpu / stats.last_duration_s * 100:.0f}% of one core)")

    runner, port = await serve(make_app(rt, ApiOptions()))
    try:
        async with aiohttp.ClientSession() as s:

            async def scrape() -> None:
                async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                    await r.read()

            await scrape()
            threaded = [await loop_stall_during(scrape) for _ in range(3)]
    finally:
        await runner.cleanup()
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SharpeyesCollector(rt))

    async def inline() -> None:
        render(reg)

    inline_runs = [await loop_stall_during(inline) for _ in range(3)]
    base = baseline_registry(n)
    t = time.perf_counter()
    generate_latest(base)
    base_s = time.perf_counter() - t
    cpu_ours = min(_cpu(lambda: render(reg)) for _ in range(3))
    cpu_client = min(_cpu(lambda: generate_latest(reg)) for _ in range(3))
    cpu_base = min(_cpu(lambda: generate_latest(base)) for _ in range(3))
    scrape_s = min(x[0] for x in threaded)
    stall_thread = min(x[1] for x in threaded)
    stall_inline = min(x[1] for x in inline_runs)
    print(f"/metrics scrape (HTTP, worker thread): {scrape_s:.2f} s; longest loop stall {stall_thread * 1000:.0f} ms")
    print(f"baseline: prometheus-client Gauges, {4 * n} series: {base_s:.2f} s -> ratio {scrape_s / base_s:.2f}")
    print(f"CPU per scrape (steadier under load): ours {cpu_ours:.2f} s; the same families through "
          f"prometheus-client's generate_latest {cpu_client:.2f} s (ratio {cpu_ours / cpu_client:.2f}); "
          f"plain Gauges baseline {cpu_base:.2f} s (ratio {cpu_ours / cpu_base:.2f})")  # fmt: skip
    print(f"rendering on the loop instead: stall {stall_inline * 1000:.0f} ms -> "
          f"thread/loop stall ratio {stall_thread / stall_inline:.3f}")  # fmt: skip
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(main(args.cameras, args.interval))
