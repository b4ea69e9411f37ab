"""What the dashboards' extra series cost a /metrics render at city scale.

The per-area series (covered, healthy cameras, area info) and the per-camera failing-module series were
added for the dashboards and alerts. This renders ``/metrics`` with the exporter's own writer
(:func:`sharpeyes.exporter.exposition.render` over :class:`SharpeyesCollector`) for a city of N cameras, one
in 20 down, with and without the per-area series (the baseline, in the same run, patches them out), and
prints samples and time.

    .venv/bin/python -m benchmarks.dashboard_series --cameras 20000
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

from prometheus_client import CollectorRegistry

from benchmarks.daemon import city
from sharpeyes.exporter import collector as collector_module
from sharpeyes.exporter.collector import SharpeyesCollector
from sharpeyes.exporter.exposition import render
from sharpeyes.probers.base import Phase, ProbeResult, Reason
from sharpeyes.results import ResultStore
from sharpeyes.runtime import Config, Runtime
from sharpeyes.settings import ProbeModule


def runtime(n: int) -> Runtime:
    modules = {"live": ProbeModule(name="live", prober="rtsp")}
    store = ResultStore({"live": "rtsp"})
    rt = Runtime(Config(city(n), modules), store)
    now = time.time()
    for i, cam in enumerate(rt.config.inventory.cameras):
        reason = Reason.TIMEOUT if i % 20 == 0 else Reason.OK
        store.record(ProbeResult(cam.id, "live", reason is Reason.OK, reason, Phase.DONE, 0.01, now, time.monotonic()))
    return rt


def render_once(rt: Runtime) -> tuple[float, int]:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SharpeyesCollector(rt))
    start = time.perf_counter()
    body = render(reg)
    elapsed = time.perf_counter() - start
    return elapsed, sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rt = runtime(args.cameras)
    full: list[float] = []
    base: list[float] = []
    full_n = base_n = 0
    for _ in range(args.repeat):  # interleaved, so a busy machine slows both alike
        t, full_n = render_once(rt)
        full.append(t)
        with mock.patch.object(collector_module, "_areas", lambda *a, **k: iter(())):
            t, base_n = render_once(rt)
        base.append(t)
    full_s, base_s = statistics.median(full), statistics.median(base)
    print(
        f"{args.cameras} cameras, {len(rt.config.inventory.areas)} areas, median of {args.repeat} interleaved renders"
    )
    print(f"with the dashboard series:    {full_n} samples, {full_s:.3f} s")
    print(f"without the per-area series:  {base_n} samples, {base_s:.3f} s")
    print(f"ratio {full_s / base_s:.2f} (time), {full_n / base_n:.2f} (samples)")


if __name__ == "__main__":
    main()
