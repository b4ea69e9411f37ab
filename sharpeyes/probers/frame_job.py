"""The frame prober's work inside a worker process: decode the access units, downscale, diagnose.

Runs in :class:`~sharpeyes.probers.workers.WorkerPool` processes, so a decoder that crashes or hangs on hostile
media is killed there and never in the daemon. Decoding uses a PyAV codec context directly (no demuxer, so no
frame-rate probing): the first unit is the keyframe (with the SDP's parameter sets in front), the last one the
frame ``second_frame_after_s`` later; the units between are decoded only as references.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from sharpeyes.malloc_arenas import keep_worker_heap
from sharpeyes.quality.decoding import DECODERS, decode
from sharpeyes.quality.diagnose import diagnose
from sharpeyes.quality.prepare import Prepared, prepare_video_frame
from sharpeyes.quality.signature import Signature
from sharpeyes.quality.thresholds import Thresholds


@functools.cache
def _single_threaded_opencv() -> None:
    """A worker is one of a pool sized to the cores: OpenCV's own threads would only contend with the others."""
    cv2.setNumThreads(1)


@functools.cache
def _steady_heap() -> None:
    """Every job allocates the same large buffers: keep them in the heap between jobs (no fresh pages)."""
    keep_worker_heap()


@dataclass(frozen=True, slots=True)
class FrameJob:
    """What the worker needs: the codec, Annex B access units, and the camera's stored signatures."""

    codec: str
    units: tuple[bytes, ...]
    with_second: bool
    analysis_width: int
    thresholds: Thresholds
    reference: bytes | None = None
    last: bytes | None = None
    jpeg: bool = False


@dataclass(frozen=True, slots=True)
class FrameOutcome:
    """The worker's answer. ``error`` non-empty means the media could not be decoded."""

    error: str = ""
    width: int = 0
    height: int = 0
    decode_ms: float = 0.0
    analyse_ms: float = 0.0
    cpu_ms: float = 0.0
    frames: int = 0
    faults: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    signature: bytes = b""
    jpeg: bytes | None = None


def _from_jpeg(job: FrameJob) -> tuple[Prepared, int, int, bytes]:
    """A snapshot: decode the image, downscale it; the original bytes serve as the saved frame."""
    bgr = cv2.imdecode(np.frombuffer(job.units[0], dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable image")
    h, w = bgr.shape[:2]
    height = max(2, round(h * job.analysis_width / w / 2) * 2)
    small = cv2.resize(bgr, (job.analysis_width, height), interpolation=cv2.INTER_AREA)
    return Prepared.from_rgb(np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), dtype=np.uint8)), w, h, job.units[0]


def _analyse_jpeg(job: FrameJob) -> FrameOutcome:
    started, cpu = time.perf_counter(), time.process_time()
    try:
        first, width, height, jpeg = _from_jpeg(job)
    except (ValueError, cv2.error) as exc:
        return FrameOutcome(error=f"snapshot is not a decodable image ({type(exc).__name__})")
    decoded = time.perf_counter()
    reference = Signature.from_bytes(job.reference) if job.reference else None
    last = Signature.from_bytes(job.last) if job.last else None
    diagnosis = diagnose(first, reference=reference, last=last, thresholds=job.thresholds)
    return FrameOutcome(
        width=width,
        height=height,
        decode_ms=(decoded - started) * 1000,
        analyse_ms=(time.perf_counter() - decoded) * 1000,
        cpu_ms=(time.process_time() - cpu) * 1000,
        frames=1,
        faults=tuple(f.value for f in diagnosis.faults),
        scores=dict(diagnosis.scores),
        signature=diagnosis.signature.to_bytes(),
        jpeg=jpeg if job.jpeg else None,
    )


def analyse(job: FrameJob) -> FrameOutcome:
    """Decode and diagnose one probe's frames (the worker pool's handler)."""
    _single_threaded_opencv()
    _steady_heap()
    if job.codec == "jpeg":
        return _analyse_jpeg(job)
    if job.codec not in DECODERS:
        return FrameOutcome(error=f"no decoder for {job.codec[:16]}")
    started, cpu = time.perf_counter(), time.process_time()
    try:
        pictures = decode(job.codec, job.units)
    except (av.FFmpegError, ValueError) as exc:
        return FrameOutcome(error=f"decoder rejected the stream ({type(exc).__name__})")
    if not pictures:
        return FrameOutcome(error="decoder produced no picture from the keyframe")
    decoded = time.perf_counter()
    first = prepare_video_frame(pictures[0], job.analysis_width)
    second = prepare_video_frame(pictures[-1], job.analysis_width) if job.with_second and len(pictures) > 1 else None
    reference = Signature.from_bytes(job.reference) if job.reference else None
    last = Signature.from_bytes(job.last) if job.last else None
    diagnosis = diagnose(first, second, reference=reference, last=last, thresholds=job.thresholds)
    jpeg = None
    if job.jpeg:
        ok, buf = cv2.imencode(".jpg", pictures[0].to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, 90])
        jpeg = buf.tobytes() if ok else None
    return FrameOutcome(
        width=pictures[0].width,
        height=pictures[0].height,
        decode_ms=(decoded - started) * 1000,
        analyse_ms=(time.perf_counter() - decoded) * 1000,
        cpu_ms=(time.process_time() - cpu) * 1000,
        frames=len(pictures),
        faults=tuple(f.value for f in diagnosis.faults),
        scores=dict(diagnosis.scores),
        signature=diagnosis.signature.to_bytes(),
        jpeg=jpeg,
    )
