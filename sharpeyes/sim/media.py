"""Encoded video clips for simulated cameras: H.264 (libx264 via PyAV) encoded once, cached on disk.

A clip is a short loop (default 4 s at 25 fps, GOP 50 = 2 s) of access units, each a list of NAL units without
start codes, plus a JPEG snapshot of its first frame. Clips are keyed on every parameter that changes their
bytes, and stored under a cache directory so that a second start-up only reads files.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from sharpeyes.probers.base import FaultCode

_FORMAT_VERSION = 4
SIZES: dict[str, tuple[int, int]] = {
    "180p": (320, 180),
    "360p": (640, 360),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
}


def parse_size(text: str) -> tuple[int, int]:
    """``720p`` or ``WIDTHxHEIGHT`` → (width, height); both even."""
    if text in SIZES:
        return SIZES[text]
    try:
        w, h = (int(v) for v in text.lower().split("x", 1))
    except ValueError:
        raise ValueError(f"size {text!r}: use one of {', '.join(SIZES)} or WIDTHxHEIGHT") from None
    if w < 16 or h < 16 or w % 2 or h % 2 or w > 4096 or h > 4096:
        raise ValueError(f"size {text!r}: width and height must be even, 16..4096")
    return w, h


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sharpeyes/sim`` (``~/.cache/sharpeyes/sim``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sharpeyes" / "sim"


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """Everything that determines a clip's bytes."""

    width: int = 1280
    height: int = 720
    fps: int = 25
    gop: int = 50
    seconds: int = 4
    profile: str = "main"  # baseline | main
    scene: str = "rocket"
    fault: FaultCode | None = None
    strength: float = 1.0
    seed: int = 0

    @property
    def n_frames(self) -> int:
        return self.fps * self.seconds

    def key(self) -> str:
        """A short stable name for the cache files."""
        fields = {
            "v": _FORMAT_VERSION,
            "w": self.width,
            "h": self.height,
            "fps": self.fps,
            "gop": self.gop,
            "s": self.seconds,
            "p": self.profile,
            "scene": self.scene,
            "fault": self.fault.value if self.fault else None,
            "strength": round(self.strength, 3),
            "seed": self.seed,
        }
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
        label = self.fault.value if self.fault else "healthy"
        return f"{label}-{self.width}x{self.height}-{digest}"


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded picture: its NAL units (no start codes) and whether it is an IDR keyframe."""

    nals: tuple[bytes, ...]
    key: bool


@dataclass(frozen=True, slots=True)
class Clip:
    """An encoded loop: access units in decode order (no B-frames), SPS/PPS and a JPEG snapshot."""

    spec: ClipSpec
    units: tuple[AccessUnit, ...]
    sps: bytes
    pps: bytes
    jpeg: bytes

    @property
    def profile_level_id(self) -> str:
        """The three bytes after the SPS NAL header, as SDP wants them."""
        return self.sps[1:4].hex().upper()

    @property
    def bitrate_kbps(self) -> int:
        total = sum(len(n) for u in self.units for n in u.nals)
        return int(total * 8 / max(1, self.spec.seconds) / 1000)


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex-B byte stream into NAL units (start codes removed)."""
    nals: list[bytes] = []
    i, n = 0, len(data)
    starts: list[tuple[int, int]] = []  # (start code position, payload start)
    while i < n - 2:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        begin = j - 1 if j > 0 and data[j - 1] == 0 else j
        starts.append((begin, j + 3))
        i = j + 3
    for k, (_, payload) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else n
        nal = data[payload:end]
        if nal:
            nals.append(nal)
    return nals


def _encode(spec: ClipSpec) -> tuple[list[AccessUnit], bytes]:
    """Render the clip's pictures and encode them; returns access units and a JPEG of the first frame."""
    from sharpeyes.sim.picture import scene_frames

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = spec.width, spec.height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, spec.fps)
    codec.framerate = Fraction(spec.fps, 1)
    options = {
        "profile": spec.profile,
        "preset": "veryfast",
        "tune": "zerolatency",
        "g": str(spec.gop),
        "keyint_min": str(spec.gop),
        "sc_threshold": "0",
        "bf": "0",
        "crf": "26",
    }
    x264 = f"repeat-headers=1:keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:aud=0"
    if spec.fault is FaultCode.FROZEN:
        # identical pictures must decode identically: P-frames at QP 51 carry no residual (all skip), and the
        # I-frames (QP 51 / ipratio 20 ≈ 25) are bit-identical at every GOP
        del options["crf"]
        options["qp"] = "51"
        x264 += ":ipratio=20"
    codec.options = {**options, "x264-params": x264}
    units: list[AccessUnit] = []
    jpeg = b""
    frames = scene_frames(
        spec.width,
        spec.height,
        spec.fps,
        spec.n_frames,
        scene=spec.scene,
        fault=spec.fault,
        strength=spec.strength,
        seed=spec.seed,
    )
    for i, rgb in enumerate(frames):
        if i == 0:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
            jpeg = bytes(buf) if ok else b""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        if i % spec.gop == 0:
            frame.pict_type = av.video.frame.PictureType.I
        units.extend(_units(codec.encode(frame)))
    units.extend(_units(codec.encode(None)))
    return units, jpeg


def _units(packets: list[av.Packet]) -> list[AccessUnit]:
    out = []
    for packet in packets:
        nals = tuple(n for n in split_annexb(bytes(packet)) if n[0] & 0x1F not in (6, 9))  # drop SEI, AUD
        out.append(AccessUnit(nals=nals, key=any(n[0] & 0x1F == 5 for n in nals)))
    return out


def _write_cache(path: Path, units: list[AccessUnit], jpeg: bytes) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
    with tmp.open("wb") as f:
        f.write(b"SESIM1")
        f.write(struct.pack("!II", len(units), len(jpeg)))
        f.write(jpeg)
        for unit in units:
            f.write(struct.pack("!BH", unit.key, len(unit.nals)))
            for nal in unit.nals:
                f.write(struct.pack("!I", len(nal)))
                f.write(nal)
    tmp.replace(path)


def _read_cache(path: Path) -> tuple[list[AccessUnit], bytes] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if data[:6] != b"SESIM1":
            return None
        n_units, n_jpeg = struct.unpack_from("!II", data, 6)
        pos = 14
        jpeg = data[pos : pos + n_jpeg]
        pos += n_jpeg
        units = []
        for _ in range(n_units):
            key, count = struct.unpack_from("!BH", data, pos)
            pos += 3
            nals = []
            for _ in range(count):
                (length,) = struct.unpack_from("!I", data, pos)
                nals.append(data[pos + 4 : pos + 4 + length])
                pos += 4 + length
            units.append(AccessUnit(nals=tuple(nals), key=bool(key)))
        return units, jpeg
    except struct.error:
        return None


def clip_path(spec: ClipSpec, cache_dir: Path | None = None) -> Path:
    """Where the clip for ``spec`` is cached."""
    return (cache_dir or default_cache_dir()) / f"{spec.key()}.clip"


def ensure_cached(spec: ClipSpec, cache_dir: Path | None = None) -> None:
    """Encode the clip into the cache unless it is there (for worker processes)."""
    if _read_cache(clip_path(spec, cache_dir)) is None:
        load_clip(spec, cache_dir)


def load_clip(spec: ClipSpec, cache_dir: Path | None = None) -> Clip:
    """The clip for ``spec``: read from the cache, else encoded now (seconds) and cached. Blocking: run in a thread."""
    path = clip_path(spec, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    cached = _read_cache(path)
    if cached is None:
        units, jpeg = _encode(spec)
        _write_cache(path, units, jpeg)
    else:
        units, jpeg = cached
    return _assemble(spec, units, jpeg)


def _assemble(spec: ClipSpec, units: list[AccessUnit], jpeg: bytes) -> Clip:
    if not units or not units[0].key:
        raise ValueError(f"clip {spec.key()} does not start with a keyframe")
    sps = next(n for n in units[0].nals if n[0] & 0x1F == 7)
    pps = next(n for n in units[0].nals if n[0] & 0x1F == 8)
    return Clip(spec=spec, units=tuple(units), sps=sps, pps=pps, jpeg=jpeg)
