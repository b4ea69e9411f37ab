"""Frame-health throughput: our ``frame`` prober against ``cv2.VideoCapture`` + ``read()``, same cameras, same run.

The cameras are simulated 1080p streams with a 2 s GOP: a broadcaster process (asyncio RTSP, TCP interleaved)
plays one pre-encoded libx264 GOP of a simulator scene (``sharpeyes.sim.picture``) in a loop at 25 fps, and every
client joins the running stream, so like a real camera it waits for the next keyframe (0–2 s). Each probe is
DESCRIBE/SETUP/PLAY, RTP to the first complete IDR, decode and diagnosis in the worker pool, TEARDOWN
(keyframe-only mode, ``second_frame_after_s: 0``; the freeze check then uses the stored signature). The baseline
opens each camera with ``cv2.VideoCapture(url)`` + ``read()`` in a thread pool of the same size and runs the same
analysis on the frame.

    .venv/bin/python -m benchmarks.frame_health --cameras 300 --concurrency 100

Prints cameras/s, CPU ms per camera (prober process + the decode/analysis CPU each worker measures for its job;
the broadcaster is reported apart), and time-to-verdict minus time-to-keyframe (p50/p95/p99/max, how many over
the 100 ms bound, and where the slowest verdicts' time went), and a machine yardstick: the CPU this machine takes
to decode the benchmark's keyframe alone, measured before the probes, which sets the floor of every other
figure (a machine half as fast per core halves the cameras/s). A few hundred probes take under 5 s, so one slow
moment moves the tail; a longer run (``--cameras 1200``, or ``--duration 30`` to start probes for 30 s) makes
it a sample:

    .venv/bin/python -m benchmarks.frame_health --cameras 1200 --baseline-cameras 10 --concurrency 150
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import heapq
import multiprocessing
import os
import random
import statistics
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import av
import numpy as np

from sharpeyes.probers import frame
from sharpeyes.probers.base import BackPressureError, Deadline, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.quality.decoding import decode
from sharpeyes.settings import FrameOptions, ProbeModule

FPS = 25
GOP = 50
LOAD = ""
LOAD_AFTER = ""
MTU = 1400
WARM_UP = 20  # probes before the measured ones
LAG_BOUND_S = 0.1  # the target: each verdict within 100 ms of its keyframe


def encode_gop(width: int, height: int) -> tuple[list[list[bytes]], bytes, bytes]:
    """One GOP of a simulator scene as access units (lists of NAL units), plus the SPS and PPS."""
    from sharpeyes.sim.picture import scene_frames

    enc = av.CodecContext.create("libx264", "w")
    assert isinstance(enc, av.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt, enc.time_base = width, height, "yuv420p", Fraction(1, FPS)
    enc.options = {"preset": "veryfast", "crf": "26", "g": str(GOP), "keyint_min": str(GOP), "bf": "0"}
    units: list[list[bytes]] = []
    frames = list(scene_frames(width, height, FPS, GOP, scene="astronaut"))
    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        units.extend(_nals(bytes(p)) for p in enc.encode(vf))
    units.extend(_nals(bytes(p)) for p in enc.encode(None))
    sps = next(n for au in units for n in au if n[0] & 0x1F == 7)
    pps = next(n for au in units for n in au if n[0] & 0x1F == 8)
    return units, sps, pps


def _nals(annexb: bytes) -> list[bytes]:
    return [n for chunk in annexb.split(b"\x00\x00\x00\x01") for n in chunk.split(b"\x00\x00\x01") if n]


def _payloads(nals: list[bytes]) -> list[bytes]:
    """RTP payloads of one access unit: single NAL units, or FU-A fragments."""
    out: list[bytes] = []
    for nal in nals:
        if len(nal) <= MTU:
            out.append(nal)
            continue
        chunks = [nal[1 + i : 1 + i + MTU] for i in range(0, len(nal) - 1, MTU)]
        for n, chunk in enumerate(chunks):
            fu = (nal[0] & 0x1F) | (0x80 if n == 0 else 0) | (0x40 if n == len(chunks) - 1 else 0)
            out.append(bytes([(nal[0] & 0xE0) | 28, fu]) + chunk)
    return out


class Broadcaster:
    """Plays the GOP in a loop to every playing client, as live cameras whose GOPs are not synchronised: each
    client gets one of ``phases`` keyframe phases spread evenly over the GOP (``GOP``: one per frame slot).

    ``frame_slots``: how many instants within one frame interval the phase groups' frames are sent at (phase
    group ``g`` at slot ``g % frame_slots``). 1 sends every camera's frame at the same instant, a burst every
    40 ms; real cameras' frame clocks are not aligned either, so more slots spread the frames (and keyframes)
    over the interval as a fleet would."""

    def __init__(
        self, units: list[list[bytes]], sdp: bytes, phases: int = GOP, frame_slots: int = 1, seed: int | None = None
    ) -> None:
        self.units = [_payloads(au) for au in units]
        self.random = random.Random(seed) if seed is not None else None  # else phases in turn
        self.sdp = sdp
        self.phases = phases
        self.frame_slots = max(1, min(frame_slots, phases))
        self.groups: list[set[asyncio.StreamWriter]] = [set() for _ in range(phases)]
        self.joined = 0
        self.seq = [0] * phases

    def _packets(self, index: int, phase: int) -> bytes:
        payloads = self.units[index % len(self.units)]
        ts = (index * (90000 // FPS)) & 0xFFFFFFFF
        out = bytearray()
        for k, payload in enumerate(payloads):
            marker = 0x80 if k == len(payloads) - 1 else 0
            header = struct.pack("!BBHII", 0x80, marker | 96, self.seq[phase] & 0xFFFF, ts, 0x5EE5)
            self.seq[phase] += 1
            out += b"$\x00" + struct.pack("!H", 12 + len(payload)) + header + payload
        return bytes(out)

    async def play(self) -> None:
        start, step, slots = time.monotonic(), 0, self.frame_slots
        while True:
            index, slot = divmod(step, slots)
            for phase in range(slot, self.phases, slots):
                clients = self.groups[phase]
                if not clients:
                    continue
                data = self._packets(index + phase * GOP // self.phases, phase)
                for writer in list(clients):
                    if writer.transport.get_write_buffer_size() > 8 * 1024 * 1024:
                        clients.discard(writer)  # a stuck viewer is dropped, as a camera would
                        writer.transport.abort()
                        continue
                    writer.write(data)
            step += 1
            await asyncio.sleep(max(0.0, start + step / (FPS * slots) - time.monotonic()))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                method = head.split(" ", 1)[0]
                cseq = next(
                    (ln.split(":", 1)[1].strip() for ln in head.split("\r\n") if ln.lower().startswith("cseq")), "0"
                )
                length = next(
                    (int(ln.split(":", 1)[1]) for ln in head.split("\r\n") if ln.lower().startswith("content-length")),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                extra, body = "", b""
                if method == "DESCRIBE":
                    extra, body = "Content-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1/cam/\r\n", self.sdp
                elif method == "SETUP":
                    extra = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 1234\r\n"
                elif method == "OPTIONS":
                    extra = "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n"
                if body:
                    extra += f"Content-Length: {len(body)}\r\n"
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}\r\n".encode() + body)
                if method == "PLAY":
                    turn = self.random.randrange(self.phases) if self.random else self.joined % self.phases
                    self.groups[turn].add(writer)
                    self.joined += 1
                if method == "TEARDOWN":
                    break
        for clients in self.groups:
            clients.discard(writer)
        writer.transport.abort()


def _serve_forever(
    port: Connection, width: int, height: int, phases: int, frame_slots: int, nice: int, seed: int | None
) -> None:
    os.nice(nice)  # the simulated cameras' own CPU, below the system under test's if asked (--broadcaster-nice)
    units, sps, pps = encode_gop(width, height)
    import base64

    sprop = f"{base64.b64encode(sps).decode()},{base64.b64encode(pps).decode()}"
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=sim\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\n"
        f"a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets={sprop}\r\na=control:track1\r\n"
    ).encode()

    async def main() -> None:
        caster = Broadcaster(units, sdp, phases, frame_slots, seed)
        server = await asyncio.start_server(caster.serve, "127.0.0.1", 0, backlog=1024)
        port.send((server.sockets[0].getsockname()[1], keyframe_annexb(units, sps, pps)))
        await caster.play()

    asyncio.run(main())


def keyframe_annexb(units: list[list[bytes]], sps: bytes, pps: bytes) -> bytes:
    """The GOP's keyframe as the prober hands it to a worker: SPS, PPS and the IDR slices, in Annex B."""
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in (sps, pps, *units[0]))


def decode_floor_ms(keyframe: bytes, batches: int = 5, per_batch: int = 40) -> tuple[float, float]:
    """This machine's yardstick: CPU ms to decode ``keyframe`` alone as a worker does (one thread, loop filter
    skipped, the kept decoder), in this process before the probes start. The best batch's mean (the least
    disturbed by anything else on the machine) and the median batch's."""
    decode("h264", [keyframe])  # the kept decoder is opened and its buffers allocated outside the timing
    means = []
    for _ in range(batches):
        cpu0 = time.process_time()
        for _ in range(per_batch):
            if not decode("h264", [keyframe]):
                raise ValueError("the benchmark's keyframe decoded to no picture")
        means.append((time.process_time() - cpu0) * 1000 / per_batch)
    return min(means), statistics.median(means)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_ours(
    url: str, cameras: int, concurrency: int, server_pid: int, known: bool = False, duration_s: float | None = None
) -> dict[str, Any]:
    module = ProbeModule(
        name="frame_health", prober="frame", timeout_s=6.0, frame=FrameOptions(second_frame_after_s=0.0)
    )
    pool = WorkerPool("sharpeyes.probers.frame_job.analyse")
    pool.start()
    frame.set_pool(pool)
    await asyncio.sleep(2.0)  # workers ready (forkserver + imports), as in a running daemon
    gate = asyncio.Semaphore(concurrency)
    results: list[ProbeResult] = []
    finished: list[float] = []  # monotonic time of each result, for the steady rate
    held_back = [0]
    stop_at = [float("inf")]  # --duration: no probe starts after this

    async def one(i: int) -> None:
        camera = -1 - (i % WARM_UP) if known and i >= 0 else i  # known: one of the warm-up's cameras
        target = ProbeTarget(camera_id=f"bench-{camera}", host="127.0.0.1", rtsp_url=url)
        while True:  # as the scheduler does: a slot held back by admission is tried again, never a result
            async with gate:
                if time.monotonic() >= stop_at[0]:
                    return
                try:
                    results.append(await run_probe(target, module, deadline=Deadline(module.timeout_s)))
                    finished.append(time.monotonic())
                    return
                except BackPressureError:
                    held_back[0] += 1

    next_camera = [0]

    async def runner() -> None:  # --duration: one slot, probing camera after camera until the time is up
        while time.monotonic() < stop_at[0]:
            i = next_camera[0]
            next_camera[0] += 1
            await one(i)

    # warm-up, not counted: a running daemon has measured its workers and sessions (frame admission)
    await asyncio.gather(*(one(-1 - i) for i in range(WARM_UP)))
    results.clear()
    finished.clear()
    held_back[0] = 0
    gc.collect()  # as the daemon does before its first sweep (daemon.freeze_startup_heap): the heap so far,
    gc.freeze()  # imports and warm-up, is kept out of the collector's full passes
    cpu0, server0 = time.process_time(), _cpu_of(server_pid)

    started = time.monotonic()
    if duration_s is None:
        await asyncio.gather(*(one(i) for i in range(cameras)))
    else:
        stop_at[0] = started + duration_s
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        cameras = len(results)  # the probes started in time (each gives a result; one held back is retried)
    wall = time.monotonic() - started
    gc.unfreeze()
    cpu = time.process_time() - cpu0
    server_cpu = _cpu_of(server_pid) - server0
    frame.close_pool()
    ok = [r for r in results if r.reason in (Reason.OK, Reason.FRAME_FAULT)]
    worker_cpu = sum(float(r.observations["worker_cpu_ms"]) for r in ok) / 1000  # decode + analysis, in the worker
    prober_cpu = cpu
    cpu += worker_cpu
    lag = sorted(float(r.observations["verdict_s"]) - float(r.observations["keyframe_s"]) for r in ok)
    n = max(1, len(ok))
    jobs = [float(r.observations["job_ms"]) for r in ok]
    return {
        "cameras": cameras,
        "steady_per_s": _steady_rate(finished),
        "lag_ms": _quantiles([1000 * x for x in lag]),
        "over_bound": sum(1 for x in lag if x > LAG_BOUND_S),
        "job_q_ms": _quantiles(jobs),
        "tail": _tail_parts(ok),
        "parts": _tail_parts(ok, 1.0),
        "server_cpu_s": server_cpu,
        "verdicts": len(ok),
        "held_back": held_back[0],
        "wall_s": wall,
        "per_s": len(ok) / wall,
        "cpu_ms": cpu * 1000 / n,
        "worker_cpu_ms": worker_cpu * 1000 / n,
        "prober_cpu_ms": prober_cpu * 1000 / n,
        "decode_ms": sum(float(r.observations["decode_ms"]) for r in ok) / n,
        "job_ms": sum(float(r.observations["job_ms"]) for r in ok) / n,
        "job_p95_ms": _p95([float(r.observations["job_ms"]) for r in ok]),
        "queue_p50_ms": statistics.median(float(r.observations["queue_ms"]) for r in ok) if ok else float("nan"),
        "queue_p95_ms": _p95([float(r.observations["queue_ms"]) for r in ok]),
        "queue_max_ms": max((float(r.observations["queue_ms"]) for r in ok), default=float("nan")),
        "analyse_ms": sum(float(r.observations["analyse_ms"]) for r in ok) / n,
        "within_100ms": sum(1 for x in lag if x <= LAG_BOUND_S) / n,
        "admission_p50_s": statistics.median(float(r.observations.get("admission_s", 0.0)) for r in results),
        "keyframe_p50_s": statistics.median(float(r.observations["keyframe_s"]) for r in ok) if ok else float("nan"),
        "wait_bound_per_s": _wait_bound(
            [float(r.observations["keyframe_s"]) - float(r.observations.get("admission_s", 0.0)) for r in ok],
            concurrency,
        ),
        "failures": ", ".join(
            f"{reason}: {n}"
            for reason, n in collections.Counter(
                f"{r.reason.value}/{r.phase.value}" for r in results if r not in ok
            ).items()
        ),
    }


def _wait_bound(session_s: list[float], concurrency: int) -> float:
    """Cameras/s if each session lasted only its measured connect-to-keyframe time (no admission wait, no decode,
    no analysis) and ``concurrency`` of them ran at once, started in order as slots free up: what the cameras' GOPs
    and the run's shape (its last sessions still waiting for keyframes while the slots drain) allow at best."""
    if not session_s:
        return float("nan")
    slots = [0.0] * min(concurrency, len(session_s))
    for duration in session_s:
        heapq.heapreplace(slots, slots[0] + duration)
    return len(session_s) / max(slots)


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values (nearest rank below; the maximum for 1.0)."""
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


def _quantiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of ``values``."""
    ordered = sorted(values)
    return {name: _quantile(ordered, q) for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}


def _steady_rate(finished: list[float]) -> float:
    """Results per second between the 10th and the 90th percentile of their finishing times: the rate once the
    slots are full and before they drain (the run's start and end, where sessions wait alone, left out)."""
    if len(finished) < 10:
        return float("nan")
    ordered = sorted(finished)
    first, last = int(0.1 * (len(ordered) - 1)), int(0.9 * (len(ordered) - 1))
    span = ordered[last] - ordered[first]
    return (last - first) / span if span > 0 else float("nan")


def _tail_parts(ok: list[ProbeResult], share: float = 0.01) -> dict[str, float]:
    """Where the slowest verdicts' time after their keyframe went (mean over the slowest ``share``, at least 3):
    the wait for a free worker, the worker's decode and analysis, the rest of the job's round trip (send, answer,
    the loop noticing it), and what is left (keyframe to job and answer to verdict, on the prober's loop)."""
    if not ok:
        return {}

    def lag_ms(r: ProbeResult) -> float:
        return 1000 * (float(r.observations["verdict_s"]) - float(r.observations["keyframe_s"]))

    slowest = sorted(ok, key=lag_ms)[-max(3, int(len(ok) * share)) :]
    parts: dict[str, list[float]] = collections.defaultdict(list)
    for r in slowest:
        o = r.observations
        queue, job = float(o["queue_ms"]), float(o["job_ms"])
        work = float(o["decode_ms"]) + float(o["analyse_ms"])
        parts["count"].append(1)
        parts["lag"].append(lag_ms(r))
        parts["queue"].append(queue)
        parts["work"].append(work)
        parts["round_trip"].append(job - work)
        parts["loop"].append(lag_ms(r) - queue - job)
    return {k: float(sum(v)) if k == "count" else statistics.mean(v) for k, v in parts.items()}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def run_baseline(url: str, cameras: int, concurrency: int) -> dict[str, float]:
    import cv2

    from sharpeyes.quality.diagnose import diagnose
    from sharpeyes.quality.prepare import prepare

    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"

    def one(_: int) -> bool:
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        try:
            ok, bgr = cap.read()
            if not ok:
                return False
            diagnose(prepare(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)))
            return True
        finally:
            cap.release()

    cpu0, started = time.process_time(), time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(one, range(cameras)))
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu0
    n = sum(done)
    return {"cameras": cameras, "verdicts": n, "wall_s": wall, "per_s": n / wall, "cpu_ms": cpu * 1000 / max(1, n)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=300)
    ap.add_argument("--baseline-cameras", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--phases", type=int, default=GOP, help=f"keyframe phases over the GOP (default {GOP}: any frame)")
    ap.add_argument(
        "--frame-slots",
        type=int,
        default=1,
        help="instants within each 40 ms frame interval the cameras' frames are sent at (default 1: all at once)",
    )
    ap.add_argument(
        "--random-phases",
        type=int,
        default=None,
        metavar="SEED",
        help="give each camera a random one of the --phases (seeded), as independent cameras have, instead of the "
        "phases in turn; with --phases GOP×--frame-slots every camera then has its own keyframe instant",
    )
    ap.add_argument(
        "--broadcaster-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the broadcaster (the simulated cameras, which a real fleet runs on its own hardware) at nice N, "
        "so it does not take the cores from the prober and its workers (default 0: same priority)",
    )
    ap.add_argument(
        "--known-cameras",
        action="store_true",
        help="probe the warm-up's cameras again, so every measured probe has a reference and a last signature "
        "(as in a running daemon; the scene, occlusion and freeze checks then run too)",
    )
    ap.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="probe for S seconds (cameras after cameras, --concurrency at once) instead of --cameras probes: "
        "a longer run whose tail is a real sample",
    )
    args = ap.parse_args()
    global LOAD
    LOAD = " ".join(f"{x:.1f}" for x in os.getloadavg())
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(
        target=_serve_forever,
        args=(child, args.width, args.height, args.phases, args.frame_slots, args.broadcaster_nice, args.random_phases),
        daemon=True,
    )
    server.start()
    try:
        port, keyframe = parent.recv()
        url = f"rtsp://127.0.0.1:{port}/cam"
        floor = decode_floor_ms(keyframe)
        ours = asyncio.run(
            run_ours(url, args.cameras, args.concurrency, server.pid or 0, args.known_cameras, args.duration)
        )
        srv1 = _cpu_of(server.pid or 0)
        base = run_baseline(url, args.baseline_cameras, args.concurrency)
        srv2 = _cpu_of(server.pid or 0)
    finally:
        server.kill()
        server.join()
    global LOAD_AFTER
    LOAD_AFTER = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report(args, ours, base, (ours["server_cpu_s"], srv2 - srv1), floor)


def report(
    args: argparse.Namespace,
    ours: dict[str, Any],
    base: dict[str, float],
    server_cpu: tuple[float, float],
    floor: tuple[float, float],
) -> None:
    """Print the figures and the issue's targets, each marked met or not."""
    print(
        f"cameras {args.width}x{args.height}, GOP {GOP} at {FPS} fps, {args.phases} keyframe phases, frames sent at "
        f"{min(args.frame_slots, args.phases)} instant(s) per frame interval, broadcaster at nice "
        f"{args.broadcaster_nice}, "
        + ("phases in turn; " if args.random_phases is None else f"random phases (seed {args.random_phases}); ")
        + (
            "known cameras (reference and last signature stored)"
            if args.known_cameras
            else "first probe of each camera"
        )
    )
    print(
        f"concurrency {args.concurrency}, "
        + (f"probes started for {args.duration:g} s, " if args.duration is not None else "")
        + f"cores {os.cpu_count()}, load average before the run {LOAD}, after it {LOAD_AFTER}"
    )
    print(
        f"ours:     {ours['verdicts']:.0f}/{ours['cameras']:.0f} verdicts in {ours['wall_s']:.2f} s = "
        f"{ours['per_s']:.1f} cameras/s; keyframe at p50 {ours['keyframe_p50_s']:.2f} s into the probe "
        f"(admission wait p50 {ours['admission_p50_s']:.2f} s); steady rate (10th to 90th percentile of the "
        f"finishing times) {ours['steady_per_s']:.1f} cameras/s"
    )
    server_ms = 1000 * server_cpu[0] / max(1, ours["verdicts"])
    total_ms = ours["cpu_ms"] + server_ms
    print(
        f"          CPU ms/camera {ours['cpu_ms']:.1f} = prober process {ours['prober_cpu_ms']:.1f} + workers "
        f"{ours['worker_cpu_ms']:.1f} (wall in the worker: decode {ours['decode_ms']:.1f}, analysis "
        f"{ours['analyse_ms']:.1f}); broadcaster {server_ms:.1f} more"
    )
    print(
        f"          per job as the prober sees it (send, decode, analysis, answer): {ours['job_ms']:.1f} ms mean, "
        f"p95 {ours['job_p95_ms']:.1f}; wait for a free worker p50 / p95 / max {ours['queue_p50_ms']:.1f} / "
        f"{ours['queue_p95_ms']:.1f} / {ours['queue_max_ms']:.1f} ms"
    )
    job = ours["job_q_ms"]
    print(
        f"          job as the prober sees it p50 / p95 / p99 / max {job['p50']:.1f} / {job['p95']:.1f} / "
        f"{job['p99']:.1f} / {job['max']:.1f} ms"
    )
    lag = ours["lag_ms"]
    print(
        f"          verdict - keyframe p50 {lag['p50']:.0f} ms, p95 {lag['p95']:.0f} ms, p99 {lag['p99']:.0f} ms, "
        f"max {lag['max']:.0f} ms; {ours['over_bound']} of {ours['verdicts']} over 100 ms "
        f"({100 * ours['within_100ms']:.1f} % within)"
    )
    tail, parts = ours["tail"], ours["parts"]
    if tail:
        print(
            f"          every verdict (mean {parts['lag']:.0f} ms after the keyframe): wait for a worker "
            f"{parts['queue']:.1f}, decode + analysis {parts['work']:.1f}, rest of the job's round trip "
            f"{parts['round_trip']:.1f}, keyframe to job and answer to verdict on the loop {parts['loop']:.1f} ms"
        )
        print(
            f"          the slowest {tail['count']:.0f} (mean {tail['lag']:.0f} ms after the keyframe): wait for a "
            f"worker {tail['queue']:.0f}, decode + analysis {tail['work']:.0f}, rest of the job's round trip "
            f"{tail['round_trip']:.0f}, keyframe to job and answer to verdict on the loop {tail['loop']:.0f} ms"
        )
    print(f"ours failures: {ours['failures'] or 'none'}; held back by admission and tried again: {ours['held_back']}")
    print(
        f"          bound from the keyframe waits alone (each session only its measured connect-to-keyframe time, "
        f"{args.concurrency} at once, nothing else): {ours['wait_bound_per_s']:.1f} cameras/s"
    )
    print(
        f"baseline: {base['verdicts']:.0f}/{base['cameras']:.0f} verdicts in {base['wall_s']:.2f} s = "
        f"{base['per_s']:.1f} cameras/s, {base['cpu_ms']:.1f} CPU ms/camera"
    )
    print(f"broadcaster CPU: {server_cpu[0]:.1f} s during ours, {server_cpu[1]:.1f} s during the baseline")
    speed = _baseline_ratio(ours, base)
    if speed is None:
        print("ratio: not measured (no baseline camera gave a verdict; --baseline-cameras 0 skips the baseline)")
    else:
        cpu_ratio = base["cpu_ms"] / max(1e-9, ours["cpu_ms"])
        print(f"ratio: {speed:.1f}x cameras/s, {cpu_ratio:.1f}x CPU per camera")
    cores = os.cpu_count() or 1
    print(
        f"projected ceiling on {cores} idle cores: {1000 * cores / ours['cpu_ms']:.0f} cameras/s "
        f"(prober + workers), {1000 * cores / total_ms:.0f} cameras/s with the broadcaster on the same cores"
    )
    print(yardstick_line(floor, cores))
    every = ours["verdicts"] == ours["cameras"]
    print("targets:")
    print(f"  >= 80 cameras/s (measured, wall clock): {_verdict(ours['per_s'] >= 80 and every)}")
    print(
        "  >= 5x the cv2.VideoCapture baseline (cameras/s): "
        + ("NOT MEASURED (no baseline)" if speed is None else _verdict(speed >= 5))
    )
    print(
        f"  every verdict <= time-to-keyframe + 100 ms (max): {_verdict(ours['over_bound'] == 0 and every)}"
        f" ({ours['over_bound']} of {ours['verdicts']} over)"
    )


def yardstick_line(floor: tuple[float, float], cores: int, target_per_s: float = 80.0) -> str:
    """The machine's decode floor, and the share of its cores that decoding alone takes at the target rate."""
    best, median = floor
    share = 100 * best * target_per_s / 1000 / cores
    return (
        f"machine yardstick: this keyframe decoded alone (one thread, loop filter skipped, as a worker does) in "
        f"{best:.2f} ms of CPU (best batch; median {median:.2f}); at {target_per_s:g} cameras/s the decodes alone "
        f"take {share:.0f} % of {cores} cores"
    )


def _baseline_ratio(ours: dict[str, Any], base: dict[str, float]) -> float | None:
    """Our cameras/s over the baseline's; None when the baseline gave no verdict (nothing to compare with)."""
    if base["verdicts"] <= 0 or base["per_s"] <= 0:
        return None
    return float(ours["per_s"] / base["per_s"])


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


if __name__ == "__main__":
    main()
