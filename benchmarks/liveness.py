"""Liveness benchmark: RTSP DESCRIBE probes per second with our asyncio prober vs one ffprobe per camera.

Cameras are gst-rtsp-server mounts on 127.0.0.1 (third-party, ``tests/servers/gst_rtsp_server.py``). Both
sides run at the same concurrency. Our prober runs in this single-threaded process (one core); the baseline
starts one ``ffprobe`` per probe, as a naive monitor would. Prints probes/s for each, CPU per probe, and the
ratios.

    .venv/bin/python -m benchmarks.liveness --cameras 50 --concurrency 50 --probes 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
from dataclasses import dataclass

from sharpeyes.probers.base import Deadline, ProbeTarget, Reason, run_probe
from sharpeyes.probers.rtsp import probe_rtsp
from sharpeyes.rtsp.client import RtspClient
from sharpeyes.settings import ProbeModule
from tests.servers.gst import Mount, gst_rtsp_server

MODULE = ProbeModule(name="rtsp_describe", prober="rtsp", timeout_s=5.0, read_timeout_s=2.0)
assert probe_rtsp  # registers the prober


@dataclass
class Run:
    """One side's figures."""

    probes: int
    ok: int
    wall_s: float
    cpu_s: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.probes / self.wall_s

    def line(self, name: str) -> str:
        median = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{name:<15} {self.probes:>5} probes {self.ok:>5} ok {self.wall_s:6.2f} s "
            f"{self.rate:7.1f} probes/s "
            f"median {median:8.1f} ms  cpu {self.cpu_s / max(self.probes, 1) * 1000:6.2f} ms/probe "
            f"= {self.probes / max(self.cpu_s, 1e-9):7.0f} probes/cpu-s"
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def bounded(concurrency: int, total: int, one: object) -> tuple[int, list[float]]:
    """Run ``one(i)`` ``total`` times with at most ``concurrency`` at once; returns (ok count, latencies)."""
    assert callable(one)
    queue = iter(range(total))
    ok = 0
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal ok
        for i in queue:
            start = time.monotonic()
            if await one(i):
                ok += 1
            latencies.append(time.monotonic() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, latencies


async def ours(urls: list[str], concurrency: int, total: int) -> Run:
    targets = [ProbeTarget(camera_id=f"cam{i}", host="127.0.0.1", rtsp_url=u) for i, u in enumerate(urls)]

    async def one(i: int) -> bool:
        result = await run_probe(targets[i % len(targets)], MODULE, deadline=Deadline(MODULE.timeout_s))
        return result.reason is Reason.OK

    cpu0, wall0 = time.process_time(), time.monotonic()
    ok, latencies = await bounded(concurrency, total, one)
    return Run(total, ok, time.monotonic() - wall0, time.process_time() - cpu0, latencies)


async def ffprobe(urls: list[str], concurrency: int, total: int) -> Run:
    async def one(i: int) -> bool:
        proc = await asyncio.create_subprocess_exec(
            "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
            "-show_entries", "stream=codec_name,width,height", urls[i % len(urls)],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode == 0 and b"codec_name=h264" in out

    cpu0, wall0 = children_cpu(), time.monotonic()
    ok, latencies = await bounded(concurrency, total, one)
    return Run(total, ok, time.monotonic() - wall0, children_cpu() - cpu0, latencies)


async def keep_prepared(urls: list[str]) -> list[RtspClient]:
    """One SETUP session per mount (never PLAYed) keeps gst's shared media prepared, as a camera's encoder
    always runs; without it every DESCRIBE would start an encoder pipeline (see TESTING.md)."""
    keepers = []
    for url in urls:
        client = RtspClient(url, deadline=Deadline(3600))
        await client.connect()
        sdp = await client.describe()
        video = sdp.first_video()
        await client.setup(video.control if video else None)
        keepers.append(client)
    return keepers


async def main_async(args: argparse.Namespace, urls: list[str]) -> None:
    keepers = await keep_prepared(urls)
    try:
        warm = await ours(urls, min(args.concurrency, len(urls)), len(urls))
        print(f"warm-up: {warm.ok}/{warm.probes} ok")
        mine = await ours(urls, args.concurrency, args.probes)
        base = await ffprobe(urls, args.concurrency, args.baseline_probes or 2 * args.concurrency)
    finally:
        for client in keepers:
            client.teardown()
            await client.close()
    print(mine.line("sharpeyes rtsp"))
    print(base.line("ffprobe/camera"))
    cpu_ratio = (base.cpu_s / base.probes) / max(mine.cpu_s / mine.probes, 1e-9)
    print(f"ratio (probes/s): {mine.rate / base.rate:.1f}x   ratio (cpu per probe): {cpu_ratio:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=50, help="gst-rtsp-server mounts (simulated cameras)")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--probes", type=int, default=5000, help="DESCRIBE probes by sharpeyes")
    ap.add_argument("--baseline-probes", type=int, default=0, help="ffprobe runs (default 2 x concurrency)")
    args = ap.parse_args()
    mounts = [Mount(f"cam{i}", "open", "ball") for i in range(args.cameras)]
    print(
        f"cpus={os.cpu_count()} cameras={args.cameras} concurrency={args.concurrency} "
        "(gst-rtsp-server mounts, 160x120 H.264)"
    )
    with gst_rtsp_server(mounts, width=160, height=120, shared=True) as urls:
        asyncio.run(main_async(args, list(urls.values())))


if __name__ == "__main__":
    main()
