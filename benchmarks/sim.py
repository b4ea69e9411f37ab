"""Simulator benchmark: idle cameras per process (start-up, RSS, fds) and CPU per concurrent viewer.

Run: ``.venv/bin/python benchmarks/sim.py [--cameras 10000] [--viewers 500] [--seconds 10]``

The simulator runs as a child process (``sharpeyes sim --synthetic N``, the real CLI) so that its RSS and CPU
are measured alone; the viewers are asyncio RTSP clients in this process. The baseline, measured in the same
run, is the same server with a naive sender: one timer per viewer, re-packetizing every frame at send time
(``serve-naive``). Per-viewer encoding (a server that encodes for each viewer) is estimated from the measured
cost of encoding one stream with the same x264 settings.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")
FIRST = 40000  # camera numbers used by the benchmark: 127.20.160.1 onwards (demo convention)
PASSWORD = "bench-pass"  # noqa: S105 (benchmark-only credential)


def _host(i: int) -> str:
    return f"127.20.{i // 250}.{i % 250 + 1}"


@dataclass
class Server:
    proc: subprocess.Popen[str]
    startup_s: float

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def fds(self) -> int:
        return sum(1 for _ in Path(f"/proc/{self.proc.pid}/fd").iterdir())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    count: int, size: str, cache: Path, faults: Path, *, naive: bool = False, rtsp_only: bool = False
) -> Server:
    """Start ``sharpeyes sim --synthetic count`` (or the naive baseline) and wait for READY."""
    entry = [sys.executable, __file__, "serve-naive"] if naive else [sys.executable, "-m", "sharpeyes"]
    argv = [
        *entry, "sim", "--synthetic", str(count), "--synthetic-first", str(FIRST), "--size", size,
        "--faults", str(faults), "--control-port", "0", "--cache-dir", str(cache),
        *(["--synthetic-rtsp-only"] if rtsp_only else []),
    ]  # fmt: skip
    env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": PASSWORD}
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return Server(proc, time.monotonic() - started)


async def _rtsp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lines: list[str]) -> str:
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    length = next((int(h.split(":")[1]) for h in head.split("\r\n") if h.lower().startswith("content-length")), 0)
    if length:
        await reader.readexactly(length)
    return head


class Viewer:
    """One RTSP/TCP viewer that counts the bytes it receives."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.bytes = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self, ready: asyncio.Event) -> None:
        host = _host(FIRST + self.index)
        url = f"rtsp://{host}:8554/Streaming/Channels/101"
        auth = "Authorization: Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        reader, writer = await asyncio.open_connection(host, 8554, limit=1 << 20)
        try:
            await _rtsp(reader, writer, [f"DESCRIBE {url} RTSP/1.0", "CSeq: 1", auth])
            head = await _rtsp(
                reader,
                writer,
                [f"SETUP {url}/trackID=1 RTSP/1.0", "CSeq: 2", auth, "Transport: RTP/AVP/TCP;interleaved=0-1"],
            )
            session = next(
                h.split(":", 1)[1].split(";")[0].strip() for h in head.split("\r\n") if h.startswith("Session")
            )
            await _rtsp(reader, writer, [f"PLAY {url} RTSP/1.0", "CSeq: 3", auth, f"Session: {session}"])
            ready.set()
            while chunk := await reader.read(1 << 20):
                self.bytes += len(chunk)
        finally:
            writer.close()


async def watch(count: int, seconds: float, server: Server, clip_kbps: int) -> dict[str, float]:
    """Attach ``count`` viewers, then measure server CPU and received bytes over ``seconds``."""
    viewers = [Viewer(i) for i in range(count)]
    events = [asyncio.Event() for _ in viewers]
    for viewer, event in zip(viewers, events, strict=True):
        viewer.task = asyncio.create_task(viewer.run(event))
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
    await asyncio.sleep(2.5)  # every viewer past its first keyframe
    cpu0, bytes0, t0, own0 = server.cpu_seconds(), sum(v.bytes for v in viewers), time.monotonic(), time.process_time()
    await asyncio.sleep(seconds)
    cpu1, bytes1, t1, own1 = server.cpu_seconds(), sum(v.bytes for v in viewers), time.monotonic(), time.process_time()
    for viewer in viewers:
        if viewer.task:
            viewer.task.cancel()
    await asyncio.gather(*(v.task for v in viewers if v.task), return_exceptions=True)
    starved = sum(1 for v in viewers if v.bytes == 0)
    cores = (cpu1 - cpu0) / (t1 - t0)
    received = (bytes1 - bytes0) * 8 / (t1 - t0) / 1e6
    expected = count * clip_kbps / 1000
    return {
        "viewers": count,
        "server_cores": round(cores, 3),
        "cores_per_viewer": round(cores / count, 5),
        "received_mbit_s": round(received, 1),
        "expected_mbit_s": round(expected, 1),
        "delivered_share": round(received / expected, 3),
        "cores_per_delivered_gbit_s": round(cores / max(received, 1e-9) * 1000, 3),
        "starved_viewers": starved,
        "client_cores": round((own1 - own0) / (t1 - t0), 3),
        "rss_mb": round(server.rss_mb(), 1),
    }


def idle_figures(server: Server, cameras: int, *, onvif: bool = True) -> dict[str, object]:
    cpu0 = server.cpu_seconds()
    time.sleep(3.0)
    idle_cores = (server.cpu_seconds() - cpu0) / 3.0
    return {
        "idle_cores": round(idle_cores, 4),
        "cameras": cameras,
        "open_fds": server.fds(),
        "startup_s": round(server.startup_s, 2),
        "rss_mb": round(server.rss_mb(), 1),
        "sample_answering": asyncio.run(sample_answers(cameras, onvif=onvif)),
        "sample_size": min(20, cameras),
    }


async def sample_answers(cameras: int, sample: int = 20, *, onvif: bool = True) -> int:
    """How many of a random sample of cameras answer RTSP OPTIONS and ONVIF GetSystemDateAndTime."""
    import aiohttp

    body = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        '<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
    )
    ok = 0
    async with aiohttp.ClientSession() as session:
        for i in random.Random(1).sample(range(cameras), min(sample, cameras)):
            host = _host(FIRST + i)
            reader, writer = await asyncio.open_connection(host, 8554)
            head = await _rtsp(reader, writer, [f"OPTIONS rtsp://{host}:8554/ RTSP/1.0", "CSeq: 1"])
            writer.close()
            soap = "UTCDateTime"
            if onvif:
                async with session.post(f"http://{host}:8080/onvif/device_service", data=body) as response:
                    soap = await response.text()
            ok += head.startswith("RTSP/1.0 200") and "UTCDateTime" in soap
    return ok


def encode_cost(size: str, cache: Path) -> dict[str, float]:
    """Seconds to render+encode one 4 s clip, and the encode-only cost as cores per real-time stream."""
    import av
    import numpy as np

    from sharpeyes.sim.media import ClipSpec, load_clip, parse_size
    from sharpeyes.sim.picture import scene_frames

    w, h = parse_size(size)
    started = time.monotonic()
    load_clip(ClipSpec(width=w, height=h, seed=99), cache)  # cold: not in the cache
    clip_s = time.monotonic() - started
    served = load_clip(ClipSpec(width=w, height=h), cache)
    frames = [
        av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").reformat(format="yuv420p")
        for f in scene_frames(w, h, 25, 50)
    ]
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "yuv420p"
    from fractions import Fraction

    codec.time_base = Fraction(1, 25)
    codec.options = {"preset": "veryfast", "tune": "zerolatency", "g": "50", "crf": "26"}
    cpu0 = time.process_time()
    for i, frame in enumerate(frames):
        frame.pts = i
        codec.encode(frame)
    codec.encode(None)
    cores = (time.process_time() - cpu0) / 2.0  # 50 frames = 2 s of video
    return {
        "first_clip_encode_s": round(clip_s, 2),
        "encode_cores_per_stream": round(cores, 3),
        "clip_kbps": served.bitrate_kbps,
    }


def serve_naive() -> None:
    """The baseline server: the real simulator with one timer per viewer, re-packetizing every frame."""
    import sharpeyes.sim.fleet as fleet_module
    from sharpeyes.cli import main

    fleet_module.Broadcaster = NaiveBroadcaster  # type: ignore[attr-defined,assignment]
    main(sys.argv[2:])


class NaiveBroadcaster:
    """What the shared broadcaster replaces: per-viewer tasks that packetize each access unit when sending it."""

    def __init__(self, clip: object) -> None:
        from sharpeyes.sim.rtp import PacketizedClip

        assert isinstance(clip, PacketizedClip)
        self.clip = clip
        self.tasks: dict[object, asyncio.Task[None]] = {}

    def first_timestamp(self, viewer: object, *, at_once: bool) -> int:
        return 0

    def add(self, viewer: object, *, at_once: bool = False) -> None:
        self.tasks[viewer] = asyncio.get_running_loop().create_task(self._run(viewer))

    def remove(self, viewer: object) -> None:
        task = self.tasks.pop(viewer, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()

    async def _run(self, viewer: object) -> None:
        from sharpeyes.sim.broadcast import Viewer as SimViewer
        from sharpeyes.sim.rtp import packetize_unit, stamp

        assert isinstance(viewer, SimViewer)
        units = self.clip.clip.units
        fps = self.clip.clip.spec.fps
        start = time.monotonic()
        g = 0
        while not viewer.transport.is_closing():
            unit = units[g % len(units)]
            packets = packetize_unit(unit.nals, unit.key)
            data, viewer.seq = stamp(packets, viewer.channel, viewer.seq, g * 3600, viewer.ssrc)
            viewer.transport.write(data)
            g += 1
            await asyncio.sleep(max(0.0, start + g / fps - time.monotonic()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve-naive":
        serve_naive()
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=10000)
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="720p")
    args = parser.parse_args()

    from sharpeyes.sim.fleet import FD_HEADROOM, raise_nofile

    soft, hard = raise_nofile(args.viewers * 2 + 4096)
    results: dict[str, object] = {"nofile_limit_soft_hard": [soft, hard]}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        faults = Path(tmp) / "faults.yml"
        faults.write_text("defaults: {auth: basic}\n", encoding="utf-8")
        results["encode"] = encode = encode_cost(args.size, cache)
        kbps = int(encode["clip_kbps"])

        start_server(1, args.size, cache, faults).stop()  # fill the clip cache: the runs below start warm
        full = min(args.cameras, (hard - FD_HEADROOM - 64) // 2)  # RTSP + HTTP listener per camera
        server = start_server(full, args.size, cache, faults)
        try:
            results["idle_rtsp_onvif_snapshot"] = idle_figures(server, full)
            results["shared_broadcaster"] = asyncio.run(watch(args.viewers, args.seconds, server, kbps))
        finally:
            server.stop()
        if full < args.cameras:  # the fd limit holds fewer full cameras: show the count with RTSP only
            server = start_server(args.cameras, args.size, cache, faults, rtsp_only=True)
            try:
                results["idle_rtsp_only"] = idle_figures(server, args.cameras, onvif=False)
            finally:
                server.stop()
        naive = start_server(args.viewers, args.size, cache, faults, naive=True)
        try:
            results["baseline_per_viewer_timers"] = asyncio.run(watch(args.viewers, args.seconds, naive, kbps))
        finally:
            naive.stop()
    shared: dict[str, float] = results["shared_broadcaster"]  # type: ignore[assignment]
    baseline: dict[str, float] = results["baseline_per_viewer_timers"]  # type: ignore[assignment]
    per_viewer_encoding = encode["encode_cores_per_stream"] * args.viewers
    unit = "cores_per_delivered_gbit_s"
    results["ratios"] = {
        "baseline_timers_vs_shared_cpu_per_delivered_bit": round(baseline[unit] / max(shared[unit], 1e-9), 2),
        "per_viewer_encoding_cores_estimate": round(per_viewer_encoding, 1),
        "per_viewer_encoding_vs_shared_cpu": round(per_viewer_encoding / max(shared["server_cores"], 1e-9), 1),
    }
    results["load_average_1m_at_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
