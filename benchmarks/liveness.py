"""Liveness benchmark: RTSP DESCRIBE probes per second with our asyncio prober vs one ffprobe per camera.

Cameras are either the project's simulator (``--server sim``, the default: ``sharpeyes sim`` in a child
process, N cameras each on its own loopback address, Digest auth, healthy) or gst-rtsp-server mounts on
127.0.0.1 (``--server gst``, third-party, ``tests/servers/gst_rtsp_server.py``). Both sides run at the same
concurrency in the same run. Our prober runs in this single-threaded process (one core); the baseline starts
one ``ffprobe`` per probe, as a naive monitor would. Prints probes/s for each, CPU per probe, the ratios, and
the load average (the machine may be shared). ``--profile FILE`` writes a cProfile of our side.

    .venv/bin/python -m benchmarks.liveness --server sim --cameras 200 --concurrency 50 --probes 10000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sharpeyes.probers.base import Deadline, ProbeTarget, Reason, run_probe
from sharpeyes.probers.rtsp import probe_rtsp
from sharpeyes.redact import Secret
from sharpeyes.rtsp.client import RtspClient, endpoint_of
from sharpeyes.settings import ProbeModule
from tests.servers.gst import Mount, gst_rtsp_server

MODULE = ProbeModule(name="rtsp_describe", prober="rtsp", timeout_s=5.0, read_timeout_s=2.0)
assert probe_rtsp  # registers the prober
SIM_FIRST = 20000  # simulated camera numbers: 127.20.80.1 onwards (the demo address convention)
SIM_USER = "admin"
SIM_PASSWORD = "bench:p@ss/é"  # noqa: S105 (benchmark-only credential; awkward characters on purpose)


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


@dataclass(frozen=True)
class Cameras:
    """Where the cameras are, and the credentials (``None`` for gst's open mounts)."""

    urls: list[str]
    user: str | None = None
    password: str | None = None
    server_pid: int | None = None  # the simulator's process, to report its CPU per probe

    def targets(self) -> list[ProbeTarget]:
        secret = Secret(self.password) if self.password else None
        return [
            ProbeTarget(camera_id=f"cam{i}", host=endpoint_of(u).host, rtsp_url=u, username=self.user, password=secret)
            for i, u in enumerate(self.urls)
        ]

    def ffprobe_urls(self) -> list[str]:
        """URLs with the credentials in them, as ffprobe takes them."""
        if not self.user or not self.password:
            return self.urls
        cred = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
        return [u.replace("rtsp://", f"rtsp://{cred}", 1) for u in self.urls]


async def ours(cams: Cameras, concurrency: int, total: int, profile: cProfile.Profile | None = None) -> Run:
    targets = cams.targets()

    async def one(i: int) -> bool:
        result = await run_probe(targets[i % len(targets)], MODULE, deadline=Deadline(MODULE.timeout_s))
        return result.reason is Reason.OK

    if profile is not None:
        profile.enable()
    usage0, server0, wall0 = resource.getrusage(resource.RUSAGE_SELF), server_cpu(cams), time.monotonic()
    ok, latencies = await bounded(concurrency, total, one)
    usage1, server1, wall1 = resource.getrusage(resource.RUSAGE_SELF), server_cpu(cams), time.monotonic()
    if profile is not None:
        profile.disable()
    sys_s = usage1.ru_stime - usage0.ru_stime
    cpu_s = usage1.ru_utime - usage0.ru_utime + sys_s
    server = f"; camera server CPU {(server1 - server0) / total * 1000:.2f} ms/probe" if cams.server_pid else ""
    print(f"  ours: {total} probes, {sys_s / max(cpu_s, 1e-9):.0%} of our CPU in the kernel{server}")
    return Run(total, ok, wall1 - wall0, cpu_s, latencies)


def server_cpu(cams: Cameras) -> float:
    """CPU seconds used so far by the camera server process (0 if unknown)."""
    if not cams.server_pid:
        return 0.0
    fields = Path(f"/proc/{cams.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def compare(args: argparse.Namespace, cams: Cameras) -> None:
    """Warm up, then our prober, then the ffprobe baseline, at the same concurrency; print the figures."""
    warm = await ours(cams, min(args.concurrency, len(cams.urls)), len(cams.urls))
    print(f"warm-up: {warm.ok}/{warm.probes} ok   load average {load()}")
    profile = cProfile.Profile() if args.profile else None
    mine = await ours(cams, args.concurrency, args.probes, profile)
    print(f"load average after ours: {load()}")
    base = await ffprobe(cams.ffprobe_urls(), args.concurrency, args.baseline_probes or 2 * args.concurrency)
    print(f"load average after ffprobe: {load()}")
    if profile is not None:
        profile.dump_stats(args.profile)
        print(f"profile of our side written to {args.profile}")
    print(mine.line("sharpeyes rtsp"))
    print(base.line("ffprobe/camera"))
    cpu_ratio = (base.cpu_s / base.probes) / max(mine.cpu_s / mine.probes, 1e-9)
    print(f"ratio (probes/s): {mine.rate / base.rate:.1f}x   ratio (cpu per probe): {cpu_ratio:.1f}x")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def gst_main(args: argparse.Namespace, urls: list[str]) -> None:
    keepers = await keep_prepared(urls)
    try:
        await compare(args, Cameras(urls))
    finally:
        for client in keepers:
            client.teardown()
            await client.close()


def sim_url(i: int) -> str:
    return f"rtsp://127.20.{i // 250}.{i % 250 + 1}:8554/Streaming/Channels/101"


@contextmanager
def simulator(cameras: int, size: str) -> Iterator[Cameras]:
    """``sharpeyes sim --synthetic N`` in a child process (its CPU is not ours), every camera healthy and
    starting each viewer on a keyframe (which favours the ffprobe baseline)."""
    with tempfile.TemporaryDirectory() as tmp:
        faults = Path(tmp) / "faults.yml"
        faults.write_text("defaults:\n  start_on_keyframe: true\n", encoding="utf-8")
        env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": SIM_PASSWORD}
        argv = [sys.executable, "-m", "sharpeyes", "sim", "--synthetic", str(cameras), "--synthetic-first",
                str(SIM_FIRST), "--synthetic-rtsp-only", "--faults", str(faults), "--size", size,
                "--control-port", "0"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("READY"):
                raise SystemExit(f"simulator did not start: {line!r}")
            urls = [sim_url(SIM_FIRST + i) for i in range(cameras)]
            yield Cameras(urls, SIM_USER, SIM_PASSWORD, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["sim", "gst"], default="sim", help="simulated cameras or gst mounts")
    ap.add_argument("--cameras", type=int, default=200, help="simulated cameras (or gst-rtsp-server mounts)")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--probes", type=int, default=10000, help="DESCRIBE probes by sharpeyes")
    ap.add_argument("--baseline-probes", type=int, default=0, help="ffprobe runs (default 2 x concurrency)")
    ap.add_argument("--size", default="176x144", help="simulated cameras' frame size")
    ap.add_argument("--profile", type=Path, help="write a cProfile of our side here")
    args = ap.parse_args()
    print(
        f"cpus={os.cpu_count()} server={args.server} cameras={args.cameras} concurrency={args.concurrency} "
        f"load average {load()}"
    )
    if args.server == "sim":
        with simulator(args.cameras, args.size) as cams:
            asyncio.run(compare(args, cams))
        return
    mounts = [Mount(f"cam{i}", "open", "ball") for i in range(args.cameras)]
    with gst_rtsp_server(mounts, width=160, height=120, shared=True) as urls:
        asyncio.run(gst_main(args, list(urls.values())))


if __name__ == "__main__":
    main()
