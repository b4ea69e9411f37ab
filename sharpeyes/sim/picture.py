"""Pictures for simulated cameras: real photographs with motion, and each picture fault at a strength.

Scenes come from scikit-image's bundled sample photographs (no downloads). A healthy clip pans slowly across the
photo and a small object crosses it, so consecutive frames differ like a live street camera; an OSD clock ticks
once per second in the top-left corner, as on real cameras. Each fault of DESIGN.md §5 is rendered on top at a
``strength`` in (0, 1]; this is the ground truth for the frame-health analysers and their labelled corpus.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from sharpeyes.probers.base import FaultCode

Frame = npt.NDArray[np.uint8]
SCENES = ("rocket", "coffee", "astronaut", "chelsea", "motorcycle")
# healthy views that must not be flagged: dark but readable, a large plain wall, slight softness, a still scene
BORDERLINE = ("night", "wall", "soft", "still")
_PAN_MARGIN = 0.18  # fraction of the frame the view pans over


@functools.cache
def _photo(scene: str) -> Frame:
    from skimage import data

    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; choose one of {', '.join(SCENES)}")
    loader: Callable[[], Any] = getattr(data, "stereo_motorcycle" if scene == "motorcycle" else scene)
    loaded = loader()
    image = loaded[0] if scene == "motorcycle" else loaded
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


@functools.cache
def _canvas(scene: str, width: int, height: int) -> Frame:
    """The photo scaled to cover the frame plus the pan margin."""
    photo = _photo(scene)
    cw, ch = int(width * (1 + _PAN_MARGIN)), int(height * (1 + _PAN_MARGIN))
    scale = max(cw / photo.shape[1], ch / photo.shape[0])
    resized = cv2.resize(photo, (round(photo.shape[1] * scale) + 1, round(photo.shape[0] * scale) + 1))
    y0 = (resized.shape[0] - ch) // 2
    x0 = (resized.shape[1] - cw) // 2
    return np.ascontiguousarray(resized[y0 : y0 + ch, x0 : x0 + cw])


def _live_view(scene: str, width: int, height: int, index: int, fps: float, seed: int) -> Frame:
    """What the lens sees (no OSD): a slow pan plus a moving object, or a borderline scene (see ``BORDERLINE``)."""
    t = index / fps
    if scene in BORDERLINE:
        return _borderline(scene, width, height, t, seed)
    canvas = _canvas(scene, width, height)
    span_x, span_y = canvas.shape[1] - width, canvas.shape[0] - height
    x = int(span_x * (0.5 + 0.5 * np.sin(2 * np.pi * t / 8.0 + seed)))
    y = int(span_y * (0.5 + 0.5 * np.sin(2 * np.pi * t / 11.0 + seed / 2)))
    frame = canvas[y : y + height, x : x + width].copy()
    _moving_object(frame, t, seed)
    return frame


def _borderline(scene: str, width: int, height: int, t: float, seed: int) -> Frame:
    """Healthy views that a naive analyser gets wrong: night, a plain wall or sky, slight softness, still scene."""
    base = _canvas("coffee" if scene == "wall" else "astronaut" if scene == "night" else "chelsea", width, height)
    frame = base[:height, :width].copy()  # no pan: a fixed camera
    if scene == "night":  # dark but readable: gamma-darkened, with sensor noise
        f = np.power(frame.astype(np.float32) / 255, np.float32(1.8)) * np.float32(80) + np.float32(3)
        rng = np.random.default_rng((seed, int(t * 1000)))
        frame = _clip_u8(f + rng.normal(0, 2.0, frame.shape[:2])[..., None].astype(np.float32))
    elif scene == "wall":  # a plain painted wall filling most of the view, a picture frame and a door strip
        wall = np.linspace(168, 188, width, dtype=np.float32)[None, :, None] * np.array([1.0, 0.97, 0.9], np.float32)
        out = np.broadcast_to(wall, frame.shape).copy()
        ph, pw = height // 3, width // 4
        out[height // 3 : height // 3 + ph, width // 2 : width // 2 + pw] = cv2.resize(frame, (pw, ph))
        out[:, : width // 10] = 90
        frame = _clip_u8(out)
    elif scene == "soft":  # slightly soft focus, still healthy
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), sigmaX=0.9 * width / 640), dtype=np.uint8)
    bw = max(6, width // 40)  # a small figure walking (the only motion in a still scene)
    x = int(width * (0.2 + 0.5 * ((t / 9.0 + seed / 5) % 1.0)))
    y = int(height * 0.55)
    cv2.rectangle(frame, (x, y), (x + bw, y + 2 * bw), (70, 60, 120), thickness=-1)
    return frame


def _moving_object(frame: Frame, t: float, seed: int) -> None:
    """A vehicle-sized block crossing the lower third of the view."""
    h, w = frame.shape[:2]
    bw, bh = max(8, w // 12), max(6, h // 14)
    x = int(((t / 6.0 + (seed % 7) / 7.0) % 1.0) * (w + bw)) - bw
    y = int(h * 0.68)
    colour = (200 - 30 * (seed % 3), 40 + 50 * (seed % 4), 60)
    cv2.rectangle(frame, (x, y), (x + bw, y + bh), colour, thickness=-1)


def _osd(frame: Frame, text: str) -> None:
    h = frame.shape[0]
    scale = max(0.3, h / 720 * 0.8)
    org = (max(4, h // 60), max(12, h // 22))
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, h // 360))


def _clip_u8(values: npt.NDArray[np.float32]) -> Frame:
    return np.clip(values, 0, 255).astype(np.uint8)


def _black(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    """Lens capped or no light: a trace of the scene under the sensor's gain noise."""
    dark = frame.astype(np.float32) * (0.09 - 0.07 * s) + 2
    return _clip_u8(dark + rng.normal(0, 4.0, frame.shape[:2])[..., None].astype(np.float32))


def _overexposed(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    """Iris wide open or the sun in the lens: everything washed towards white, a faint trace of the scene left."""
    a = 0.62 + 0.26 * s
    return _clip_u8(frame.astype(np.float32) * (1 - a) + 255 * a + 12 * s)


def _low_contrast(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    f = frame.astype(np.float32)
    keep = 0.2 - 0.13 * s  # fog: the picture fades into a flat grey
    return _clip_u8(f.mean() * (1 - keep) * 0.4 + 150 * (1 - keep) * 0.6 + f * keep)


def _blur(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    sigma = (2.5 + 6.0 * s) * frame.shape[1] / 640
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma), dtype=np.uint8)


_CASTS = ((1.0, 0.45, 0.55), (0.45, 1.0, 0.5), (0.5, 0.55, 1.0), (1.0, 0.35, 1.0))


def _color_cast(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    gains = np.array(_CASTS[int(rng.integers(len(_CASTS)))], dtype=np.float32)
    gains = 1 - (1 - gains) * (0.6 + 0.4 * s)
    return _clip_u8(frame.astype(np.float32) * gains + 25 * s * (gains > 0.99))


def _noise(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    sigma = 35 + 45 * s
    noisy = frame.astype(np.float32) + rng.normal(0, sigma, frame.shape[:2])[..., None].astype(np.float32)
    snow = rng.random(frame.shape[:2]) < 0.05 * s
    noisy[snow] = 255
    return _clip_u8(noisy)


def _stripes(frame: Frame, s: float, rng: np.random.Generator, t: float = 0.0) -> Frame:
    h = frame.shape[0]
    period = max(8.0, h / 14)
    rows = np.arange(h, dtype=np.float32)
    band = (45 + 45 * s) * np.sign(np.sin(2 * np.pi * (rows / period - t * 0.5)))
    return _clip_u8(frame.astype(np.float32) + band[:, None, None])


def _occluded(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    """Something close to the lens (a bag, paint) covering a large share of the view."""
    h, w = frame.shape[:2]
    out = frame.copy()
    share = 0.35 + 0.3 * s
    cover_w = int(w * min(1.0, share * 1.6))
    cover_h = int(h * min(1.0, share / min(1.0, share * 1.6)))
    x0, y0 = int(rng.integers(0, w - cover_w + 1)), int(rng.integers(0, h - cover_h + 1))
    shade = np.linspace(28, 42, cover_w, dtype=np.float32)[None, :, None]
    out[y0 : y0 + cover_h, x0 : x0 + cover_w] = _clip_u8(np.broadcast_to(shade, (cover_h, cover_w, 3)))
    return out


_NO_VIDEO_COLOURS = ((16, 32, 190), (0, 0, 0), (110, 110, 110), (20, 20, 20))


def signal_loss_frame(width: int, height: int, t: float = 0.0, seed: int = 0) -> Frame:
    """The uniform "no video" screen an encoder shows when its sensor input is gone (blue, black or grey)."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = _NO_VIDEO_COLOURS[seed % len(_NO_VIDEO_COLOURS)]
    scale = max(0.4, height / 720 * 1.6)
    thick = max(1, height // 240)
    cv2.putText(frame, "NO VIDEO", (width // 3, height // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), thick)
    _osd(frame, _clock(t))
    return frame


def _clock(t: float) -> str:
    return f"2026-01-01 08:{int(t) // 60 % 60:02d}:{int(t) % 60:02d}"


_RENDER: dict[FaultCode, Callable[[Frame, float, np.random.Generator], Frame]] = {
    FaultCode.BLACK: _black,
    FaultCode.OVEREXPOSED: _overexposed,
    FaultCode.LOW_CONTRAST: _low_contrast,
    FaultCode.BLUR: _blur,
    FaultCode.COLOR_CAST: _color_cast,
    FaultCode.NOISE: _noise,
    FaultCode.OCCLUDED: _occluded,
}

_OTHER_SCENE = {
    "rocket": "coffee",
    "coffee": "rocket",
    "astronaut": "chelsea",
    "chelsea": "astronaut",
    "motorcycle": "rocket",
    "night": "rocket",
    "wall": "astronaut",
    "soft": "coffee",
    "still": "motorcycle",
}


def scene_frames(
    width: int,
    height: int,
    fps: float,
    n_frames: int,
    *,
    scene: str = "rocket",
    fault: FaultCode | None = None,
    strength: float = 1.0,
    seed: int = 0,
) -> Iterator[Frame]:
    """Yield ``n_frames`` RGB frames of ``scene`` at ``fps``, with ``fault`` rendered at ``strength``.

    As on real cameras the OSD clock is burnt in after the lens and sensor, so it stays sharp and readable over
    every fault. ``frozen`` repeats the first picture: with an even ``seed`` the whole frame repeats exactly (a
    stuck encoder), with an odd one the OSD clock keeps ticking over the still picture (a stuck sensor or ISP).
    ``scene_changed`` shows another photograph (the camera was turned); ``signal_loss`` shows a uniform
    "NO VIDEO" screen whose colour depends on ``seed``; the other faults are applied frame by frame.
    ``scene`` may also be one of ``BORDERLINE``: healthy views that must not be flagged.
    """
    if not 0.0 < strength <= 1.0:
        raise ValueError("strength must be in (0, 1]")
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (H.264 4:2:0)")
    if scene not in SCENES and scene not in BORDERLINE:
        raise ValueError(f"unknown scene {scene!r}; choose one of {', '.join(SCENES + BORDERLINE)}")
    shown = _OTHER_SCENE.get(scene, "rocket") if fault is FaultCode.SCENE_CHANGED else scene
    first: Frame | None = None
    for i in range(n_frames):
        t = i / fps
        if fault is FaultCode.SIGNAL_LOSS:
            yield signal_loss_frame(width, height, t, seed)
            continue
        if fault is FaultCode.FROZEN:
            if first is None:
                first = _live_view(shown, width, height, 0, fps, seed)
                _osd(first, _clock(0.0))
            frame = first.copy()
            if seed % 2:
                frame[:] = _live_view(shown, width, height, 0, fps, seed)
                _osd(frame, _clock(t))
            yield frame
            continue
        frame = _live_view(shown, width, height, i, fps, seed)
        rng = np.random.default_rng((seed, i))
        if fault is FaultCode.STRIPES:
            frame = _stripes(frame, strength, rng, t)
        elif fault in _RENDER:
            frame = _RENDER[fault](frame, strength, np.random.default_rng(seed) if fault in _STATIC else rng)
        _osd(frame, _clock(t))
        yield frame


# faults whose random layout must stay put from frame to frame (a bag does not jump around the lens)
_STATIC = frozenset({FaultCode.OCCLUDED, FaultCode.COLOR_CAST})
