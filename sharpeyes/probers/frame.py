"""The ``frame`` prober: grab a keyframe (and a frame ≥ 1 s later) over RTSP and diagnose the picture.

DESCRIBE, SETUP (TCP interleaved) and PLAY with our own client (:mod:`sharpeyes.rtsp`), RTP depacketized up to
the first complete IDR/IRAP access unit, then on to the first unit ``second_frame_after_s`` later. The units go
to a kill-able worker process (:mod:`sharpeyes.probers.workers`) that decodes them with a PyAV codec context
(no demuxer, so none of FFmpeg's frame-rate probing) and runs the analysers (:mod:`sharpeyes.quality`).
The session always ends with TEARDOWN. With ``frame.source: snapshot`` (or a camera that has only a snapshot URI)
one JPEG is fetched from the snapshot URI instead (:mod:`sharpeyes.probers.snapshot_source`).

Reasons: no video track, no RTP, or no keyframe before the deadline → ``no_media``; a decoder that rejects the
stream, crashes or hangs (past ``decode_timeout_s`` or the probe's deadline) → ``decode_error`` (the worker is
killed and replaced); no worker free before the deadline → :class:`~sharpeyes.probers.base.DecodersBusyError`
(back-pressure, not a result); a picture fault →
``frame_fault`` with ``faults`` and ``scores``. Observations: ``ttfb_s`` and ``keyframe_s`` (from the start of
the probe to the first RTP byte and to the complete keyframe), ``decode_ms``, ``analyse_ms``, ``width``,
``height``, ``frames_decoded``, ``second_frame`` (1 if the in-probe freeze check ran), ``queue_ms`` and ``job_ms``
(the wait for a free worker, then the job's time on it as the prober sees it: send, decode, analysis, answer),
``verdict_s`` and ``admission_s`` (the wait for admission before connecting,
:mod:`sharpeyes.probers.frame_admission`; a probe not admitted within a quarter of its time raises
``DecodersBusyError`` without contacting the camera).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sharpeyes.probers import backoff as lockout
from sharpeyes.probers.base import (
    Deadline,
    DecodersBusyError,
    FaultCode,
    Phase,
    ProbeResult,
    ProbeTarget,
    Reason,
    ResultBuilder,
    register,
)
from sharpeyes.probers.frame_admission import DEFAULT_ADMISSION
from sharpeyes.probers.frame_job import FrameJob, FrameOutcome
from sharpeyes.probers.rtsp import client_options, reason_for
from sharpeyes.probers.snapshot_source import SnapshotError, fetch_snapshot
from sharpeyes.probers.workers import (
    JobTimeoutError,
    JobTimes,
    PoolBusyError,
    WorkerCrashedError,
    WorkerError,
    WorkerPool,
)
from sharpeyes.quality.signature import Signature
from sharpeyes.quality.store import get_store
from sharpeyes.rtsp.client import RtspClient
from sharpeyes.rtsp.errors import RtspError, RtspTimeoutError
from sharpeyes.rtsp.h264 import (
    AccessUnit,
    H264Depacketizer,
    H265Depacketizer,
    depacketizer_for,
    is_non_key_slice,
    parse_rtp,
    rtp_order,
)
from sharpeyes.rtsp.sdp import MediaDescription
from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)

SAVE_FRAME: contextvars.ContextVar[Path | None] = contextvars.ContextVar("sharpeyes_save_frame", default=None)
MAX_UNITS = 512
MAX_BYTES = 64 * 1024 * 1024
FAIR_DECODE_S = 0.5  # a decode cut by the deadline sooner than this is not blamed on the camera's media
_DECODE_RESERVE = 0.2  # share of the probe's time kept for decoding and analysis after the keyframe wait
_ADMISSION_SHARE = 0.25  # the most of the probe's time spent waiting for admission (frame_admission), before connecting
_SPS_TYPES = {"h264": 7, "h265": 33}


class NoMediaError(Exception):
    """The stream carried no usable video before the deadline."""


@dataclass(frozen=True, slots=True)
class Grab:
    """What the RTSP side got: the codec and the Annex B units from the keyframe on."""

    codec: str
    units: tuple[bytes, ...]
    with_second: bool


_POOL: WorkerPool | None = None


def get_pool() -> WorkerPool:
    """The process-wide decode pool (started on first use; one worker per core)."""
    global _POOL
    if _POOL is None:
        _POOL = WorkerPool("sharpeyes.probers.frame_job.analyse")
    return _POOL


def set_pool(pool: WorkerPool | None) -> None:
    """Install a pool (tests, the daemon), closing the previous one."""
    global _POOL
    if _POOL is not None and _POOL is not pool:
        _POOL.close()
    _POOL = pool


def close_pool() -> None:
    set_pool(None)


@register("frame")
async def probe_frame(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """Grab, decode and diagnose one camera's picture, with the process-wide authentication backoff."""
    locked = lockout.DEFAULT_BACKOFF.locked_out_result(target, module.name)
    if locked is not None:
        return locked
    result = await _probe(target, module, deadline)
    lockout.DEFAULT_BACKOFF.record(target, result)
    return result


async def _probe(target: ProbeTarget, module: ProbeModule, deadline: Deadline) -> ProbeResult:
    builder = ResultBuilder(target, module.name)
    use_snapshot = module.frame.source == "snapshot" or (not target.rtsp_url and target.snapshot_url)
    if use_snapshot and not target.snapshot_url:
        return builder.finish(Reason.INTERNAL, "camera has no snapshot URI configured")
    if not use_snapshot and not target.rtsp_url:
        return builder.finish(Reason.INTERNAL, "camera has no RTSP URL configured")
    pool = get_pool()
    waited = time.monotonic()
    if not await DEFAULT_ADMISSION.enter(pool.size, pool.job_wall_s, deadline.remaining() * _ADMISSION_SHARE):
        raise DecodersBusyError("decode workers saturated; camera not contacted")
    admitted = time.monotonic()
    builder.observe("admission_s", round(admitted - waited, 6))
    grab: Grab | None = None
    session: RtspClient | None = None
    try:
        if use_snapshot:
            grab = await _snapshot(target, module, deadline, builder)
        else:
            grab, session = await _grab(target, module, deadline, builder)
    except NoMediaError as exc:
        return builder.finish(Reason.NO_MEDIA, f"{builder.phase.value}: {exc}")
    except RtspError as exc:
        return builder.finish(reason_for(exc), f"{builder.phase.value}: {exc}")
    except SnapshotError as exc:
        return builder.finish(exc.reason, str(exc))
    finally:  # the session's keyframe (if any) now goes to the pool: it no longer counts as on its way
        DEFAULT_ADMISSION.leave(pool.size, pool.job_wall_s, time.monotonic() - admitted if grab else None)
    if session is None:
        return await _judge(target, module, deadline, builder, grab)
    # TEARDOWN is sent; the connection's graceful close (a few loop turns, up to its grace) runs while the keyframe
    # is decoded instead of before: measured 2.7 ms mean, p99 21 ms on a busy loop, all of it between the keyframe
    # and its verdict. The probe still ends only once the connection is closed.
    closing = asyncio.create_task(session.close(), name="frame-session-close")
    try:
        return await _judge(target, module, deadline, builder, grab)
    finally:
        await _closed(session, closing)


async def _closed(session: RtspClient, closing: asyncio.Task[None]) -> None:
    """Wait for the session's graceful close (bounded by its grace); cancelled meanwhile, drop it at once."""
    try:
        await closing
    except asyncio.CancelledError:
        session.abort()
        raise


async def _judge(
    target: ProbeTarget, module: ProbeModule, deadline: Deadline, builder: ResultBuilder, grab: Grab
) -> ProbeResult:
    """Decode and diagnose the grabbed picture in the worker pool, and record the verdict."""
    builder.enter(Phase.DECODE)
    store = get_store()
    job = FrameJob(
        codec=grab.codec,
        units=grab.units,
        with_second=grab.with_second,
        analysis_width=module.frame.analysis_width,
        thresholds=module.frame.thresholds,
        reference=await store.get(target.camera_id, "reference"),
        last=await store.get(target.camera_id, "last"),
        jpeg=SAVE_FRAME.get() is not None,
    )
    times = JobTimes()
    try:
        outcome: FrameOutcome = await get_pool().run(job, deadline.remaining(), module.frame.decode_timeout_s, times)
    except PoolBusyError:  # our capacity, not the camera: back-pressure, the scheduler skips and counts the slot
        raise DecodersBusyError("all decode workers busy until the deadline") from None
    except JobTimeoutError as exc:
        return _decoder_hung(builder, module, exc)
    except WorkerCrashedError:
        return builder.finish(Reason.DECODE_ERROR, "decoder crashed; worker replaced")
    except WorkerError as exc:
        return builder.finish(Reason.INTERNAL, f"analysis failed: {exc}")
    builder.observe("queue_ms", round(times.queued_s * 1000, 3))
    builder.observe("job_ms", round(times.ran_s * 1000, 3))
    if outcome.error:
        return builder.finish(Reason.DECODE_ERROR, outcome.error)
    return await _verdict(builder, target, outcome, store_reference=job.reference is None)


def _decoder_hung(builder: ResultBuilder, module: ProbeModule, exc: JobTimeoutError) -> ProbeResult:
    """A decode job killed on its timeout. Past its own ``decode_timeout_s``, or after a fair chance
    (:data:`FAIR_DECODE_S`) when the probe's deadline cut it, the decoder hung on this camera's media:
    ``decode_error``. Cut by the deadline sooner (it waited for a busy pool), it says nothing about the camera:
    back-pressure, like a pool busy until the deadline."""
    fair = min(module.frame.decode_timeout_s, FAIR_DECODE_S)
    if exc.cut_by_limit and exc.ran_s < fair:
        raise DecodersBusyError(f"the deadline left the decoder {exc.ran_s:.2f} s (< {fair:g} s)") from None
    until = "the probe's deadline" if exc.cut_by_limit else "its decode timeout"
    return builder.finish(Reason.DECODE_ERROR, f"decoder hung until {until} ({exc.ran_s:.1f} s); worker killed")


async def _verdict(
    builder: ResultBuilder, target: ProbeTarget, outcome: FrameOutcome, *, store_reference: bool
) -> ProbeResult:
    builder.enter(Phase.ANALYSE)
    for name, value in (
        ("decode_ms", round(outcome.decode_ms, 3)),
        ("analyse_ms", round(outcome.analyse_ms, 3)),
        ("worker_cpu_ms", round(outcome.cpu_ms, 3)),
        ("width", outcome.width),
        ("height", outcome.height),
        ("frames_decoded", outcome.frames),
        ("verdict_s", round(time.monotonic() - builder.started_mono, 6)),
    ):
        builder.observe(name, value)
    faults = tuple(FaultCode(code) for code in outcome.faults)
    store = get_store()
    await store.put(target.camera_id, "last", outcome.signature)
    if store_reference and not faults:
        await store.put(target.camera_id, "reference", outcome.signature)  # first healthy view becomes the baseline
    path = SAVE_FRAME.get()
    if path is not None and outcome.jpeg:
        await asyncio.to_thread(path.write_bytes, outcome.jpeg)
    if faults:
        detail = "picture faults: " + ", ".join(f.value for f in faults)
        return builder.finish(Reason.FRAME_FAULT, detail, faults=faults, scores=outcome.scores)
    return builder.finish(Reason.OK, scores=outcome.scores)


async def _snapshot(target: ProbeTarget, module: ProbeModule, deadline: Deadline, builder: ResultBuilder) -> Grab:
    """The fallback source: one JPEG over HTTP (the freeze check then uses the stored signature)."""
    builder.enter(Phase.SNAPSHOT)
    data = await fetch_snapshot(target, module, deadline)
    builder.observe("ttfb_s", round(time.monotonic() - builder.started_mono, 6))
    builder.observe("keyframe_s", round(time.monotonic() - builder.started_mono, 6))
    builder.observe("second_frame", 0)
    return Grab("jpeg", (data,), False)


async def _grab(
    target: ProbeTarget, module: ProbeModule, deadline: Deadline, builder: ResultBuilder
) -> tuple[Grab, RtspClient]:
    """The keyframe (and second frame) from the camera's stream, and the session, TEARDOWN sent, for the caller to
    close (:func:`_probe` closes it while the keyframe is decoded); on any exception the connection is dropped."""
    client = RtspClient(
        target.rtsp_url or "",
        deadline=deadline,
        username=target.username,
        password=target.password,
        options=client_options(module, target),
        registered_host=target.host,
    )
    try:
        try:
            builder.enter(Phase.RESOLVE)
            await client.resolve()
            builder.enter(Phase.CONNECT)
            await client.connect()
            builder.enter(Phase.DESCRIBE)
            sdp = await client.describe()
            video = sdp.first_video()
            if video is None or video.codec not in _SPS_TYPES:
                raise NoMediaError("no H.264/H.265 video track in the SDP")
            builder.enter(Phase.SETUP)
            channel, _ = await client.setup(video.control)
            builder.enter(Phase.PLAY)
            await client.play()
            budget = max(0.0, deadline.remaining() * (1 - _DECODE_RESERVE))
            return await _read_media(client, channel, video, module, builder, budget), client
        finally:
            client.teardown()  # always: best effort, without waiting for the answer
    except BaseException:
        client.abort()
        raise


@dataclass(slots=True)
class _Pictures:
    """The access units a probe keeps: the first complete keyframe, then the pictures up to the one ``after`` RTP
    clock ticks later (the in-probe freeze check)."""

    after: int
    units: list[AccessUnit]
    size: int = 0

    def take(self, unit: AccessUnit) -> tuple[list[AccessUnit], bool] | None:
        """Keep ``unit``; ``None`` to read on, else the units to decode and whether they reach the second frame."""
        units = self.units
        if not units:
            if unit.is_idr and unit.complete:
                units.append(unit)
                return (units, False) if self.after <= 0 else None
            return None
        if not unit.complete:  # a lost packet breaks the reference chain: keep the keyframe only
            return units[:1], False
        units.append(unit)
        self.size += unit.size
        if (unit.timestamp - units[0].timestamp) % (1 << 32) >= self.after:
            return units, True
        if len(units) >= MAX_UNITS or self.size > MAX_BYTES:
            return units[:1], False
        return None


async def _read_media(
    client: RtspClient,
    channel: int,
    video: MediaDescription,
    module: ProbeModule,
    builder: ResultBuilder,
    budget: float,
) -> Grab:
    """Read RTP up to a complete keyframe, then on to the second frame, all within ``budget`` seconds. Packets are
    taken a read's worth at a time (:meth:`RtspClient.read_frames`); until a keyframe is complete, non-key slices
    are passed over without being depacketized."""
    codec = video.codec or ""
    depack = depacketizer_for(codec)
    clock = video.rtpmap.get(video.payload_type or -1, ("", 90000))[1] or 90000
    kept = _Pictures(round(module.frame.second_frame_after_s * clock), [])
    builder.enter(Phase.FIRST_BYTE)
    try:
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + budget):
            while True:
                for frame in await client.read_frames():
                    if frame.channel == channel:
                        chosen = _take_packet(frame.payload, codec, depack, kept, builder)
                        if chosen is not None:
                            return _finish(codec, video, *chosen, builder)
    except (TimeoutError, RtspTimeoutError):
        if kept.units:
            return _finish(codec, video, kept.units[:1], False, builder)
        if builder.phase is Phase.FIRST_BYTE:
            raise NoMediaError("no RTP before the deadline") from None
        raise NoMediaError("no decodable keyframe before the deadline") from None


def _take_packet(
    payload: bytes, codec: str, depack: H264Depacketizer | H265Depacketizer, kept: _Pictures, builder: ResultBuilder
) -> tuple[list[AccessUnit], bool] | None:
    """One RTP packet of the video channel: depacketized (a non-key slice before any keyframe is passed over
    without being depacketized), and the units it completes offered to ``kept``."""
    if builder.phase is Phase.FIRST_BYTE:
        builder.observe("ttfb_s", round(time.monotonic() - builder.started_mono, 6))
        builder.enter(Phase.KEYFRAME)
    if not kept.units and is_non_key_slice(codec, payload):
        done = depack.skip(*rtp_order(payload))
    else:
        done = depack.push(parse_rtp(payload))
    for unit in done:
        had_keyframe = bool(kept.units)
        chosen = kept.take(unit)
        if kept.units and not had_keyframe:
            builder.observe("keyframe_s", round(time.monotonic() - builder.started_mono, 6))
        if chosen is not None:
            return chosen
    return None


def _finish(codec: str, video: MediaDescription, units: list[AccessUnit], second: bool, builder: ResultBuilder) -> Grab:
    """Annex B units for the decoder; the SDP's parameter sets go first if the keyframe lacks them."""
    builder.observe("second_frame", int(second))
    first = units[0]
    params = b""
    if _SPS_TYPES[codec] not in first.nal_types:
        params = b"".join(b"\x00\x00\x00\x01" + nal for nal in video.parameter_sets())
    return Grab(codec, (params + first.annexb(), *(u.annexb() for u in units[1:])), second)


__all__ = ["SAVE_FRAME", "Signature", "close_pool", "get_pool", "probe_frame", "set_pool"]
