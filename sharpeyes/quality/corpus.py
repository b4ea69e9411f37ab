"""The labelled frame-health corpus: simulator pictures, each fault at several strengths, plus healthy borderline
views, passed through a real H.264 encode/decode (PyAV libx264). Cases are generated on the fly (no binaries).

Each case holds what a probe sees: a keyframe, a second frame one second later, the camera's reference frame
(taken earlier from its healthy view) and its expected fault (``None`` for healthy).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.decoding import decode
from sharpeyes.sim.picture import BORDERLINE, SCENES, Frame, scene_frames

FPS = 25.0
STRENGTHS = (0.1, 0.4, 0.7, 1.0)


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled probe: ``expected`` is the fault rendered, or ``None`` for a healthy view."""

    name: str
    expected: FaultCode | None
    keyframe: av.VideoFrame
    second: av.VideoFrame
    reference: av.VideoFrame
    keyframe_alone: av.VideoFrame  # the keyframe as a keyframe-only probe decodes it (no second picture)


def h264_encode(frames: list[Frame], crf: int = 26) -> list[bytes]:
    """Encode RGB frames with libx264 (the first one an IDR with its SPS/PPS): one Annex B access unit each."""
    h, w = frames[0].shape[:2]
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = Fraction(1, int(FPS))
    enc.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
    packets: list[bytes] = []
    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        packets.extend(bytes(p) for p in enc.encode(vf))
    packets.extend(bytes(p) for p in enc.encode(None))
    return packets


def h264_roundtrip(frames: list[Frame], crf: int = 26) -> list[av.VideoFrame]:
    """Encode RGB frames with libx264 and decode them back in one chain, as a camera and a prober would."""
    return decode("h264", h264_encode(frames, crf))


def _frames_at(
    scene: str, fault: FaultCode | None, strength: float, seed: int, seconds: tuple[int, ...], size: tuple[int, int]
) -> list[Frame]:
    """The frames at whole ``seconds`` (rendered at 1 fps: the simulator's motion depends on time only)."""
    w, h = size
    frames = scene_frames(w, h, 1.0, max(seconds) + 1, scene=scene, fault=fault, strength=strength, seed=seed)
    return [f for i, f in enumerate(frames) if i in seconds]


def make_case(
    scene: str, fault: FaultCode | None, strength: float, seed: int, size: tuple[int, int] = (1280, 720)
) -> Case:
    """Render, encode and decode one case: the reference at 0 s, the probe's frames at 2 s and 3 s."""
    probe = h264_encode(_frames_at(scene, fault, strength, seed, (2, 3), size))
    (healthy,) = _frames_at(scene, None, 1.0, seed, (0,), size)
    keyframe, second = decode("h264", probe)
    (alone,) = decode("h264", probe[:1])
    (reference,) = h264_roundtrip([healthy])
    label = fault.value if fault else "healthy"
    return Case(f"{scene}/{label}/{strength:g}/{seed}", fault, keyframe, second, reference, alone)


def specs(
    scenes: Iterable[str] = SCENES, strengths: Iterable[float] = STRENGTHS, seeds: Iterable[int] = (0, 1)
) -> Iterator[tuple[str, FaultCode | None, float, int]]:
    """The corpus' (scene, fault, strength, seed) list: every fault on every scene, plus healthy views."""
    scenes, strengths, seeds = list(scenes), list(strengths), list(seeds)
    for scene, fault, strength, seed in itertools.product(scenes, FaultCode, strengths, seeds):
        yield scene, fault, strength, seed
    for scene, seed in itertools.product([*scenes, *BORDERLINE], [*seeds, *(s + 10 for s in seeds)]):
        yield scene, None, 1.0, seed


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the analysers said about one case, in one mode."""

    name: str
    expected: FaultCode | None
    found: tuple[FaultCode, ...]
    borderline: bool


MODES = ("probe", "snapshot")


def judge(case: Case, mode: str = "probe") -> Outcome:
    """Diagnose one case as the ``frame`` prober would.

    ``probe``: keyframe + second frame + reference signature (the RTSP path). ``snapshot``: one frame (the keyframe
    decoded alone, as a keyframe-only probe does), the reference, and the ``last`` signature stored by the previous
    probe (the frame one second later stands in).
    """
    from sharpeyes.quality.diagnose import diagnose
    from sharpeyes.quality.prepare import prepare_video_frame
    from sharpeyes.quality.signature import Signature

    reference = Signature.of(prepare_video_frame(case.reference))
    second = prepare_video_frame(case.second)
    if mode == "probe":
        found = diagnose(prepare_video_frame(case.keyframe), second, reference=reference).faults
    else:
        alone = prepare_video_frame(case.keyframe_alone)
        found = diagnose(alone, reference=reference, last=Signature.of(second)).faults
    borderline = case.name.split("/", 1)[0] in BORDERLINE
    return Outcome(case.name, case.expected, found, borderline)


@dataclass
class Tally:
    """True/false positives and false negatives of one fault code."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def tally(outcomes: Iterable[Outcome]) -> dict[FaultCode, Tally]:
    """Per-code counts: a code found on a case labelled otherwise is a false positive."""
    out = {code: Tally() for code in FaultCode}
    for o in outcomes:
        for code in o.found:
            if code is o.expected:
                out[code].tp += 1
            else:
                out[code].fp += 1
        if o.expected is not None and o.expected not in o.found:
            out[o.expected].fn += 1
    return out
