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


def _healthy(scene: str, width: int, height: int, index: int, fps: float, seed: int) -> Frame:
    """One frame of the live view: a slow pan plus a moving object and a ticking OSD clock."""
    canvas = _canvas(scene, width, height)
    t = index / fps
    span_x, span_y = canvas.shape[1] - width, canvas.shape[0] - height
    x = int(span_x * (0.5 + 0.5 * np.sin(2 * np.pi * t / 8.0 + seed)))
    y = int(span_y * (0.5 + 0.5 * np.sin(2 * np.pi * t / 11.0 + seed / 2)))
    frame = canvas[y : y + height, x : x + width].copy()
    _moving_object(frame, t, seed)
    _osd(frame, f"2026-01-01 08:{int(t) // 60 % 60:02d}:{int(t) % 60:02d}")
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
    return _clip_u8(frame.astype(np.float32) * (0.12 - 0.1 * s))


def _overexposed(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    a = 0.6 + 0.3 * s
    return _clip_u8(frame.astype(np.float32) * (1 - a) + 255 * a + 30 * s)


def _low_contrast(frame: Frame, s: float, rng: np.random.Generator) -> Frame:
    f = frame.astype(np.float32)
    keep = 0.25 - 0.17 * s  # fog: the picture fades into a flat grey
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


def signal_loss_frame(width: int, height: int, t: float = 0.0) -> Frame:
    """The uniform "no video" screen an encoder shows when its sensor input is gone."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = (16, 32, 190)
    scale = max(0.4, height / 720 * 1.6)
    cv2.putText(frame, "NO VIDEO", (width // 3, height // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 2)
    _osd(frame, f"2026-01-01 08:00:{int(t) % 60:02d}")
    return frame


_RENDER: dict[FaultCode, Callable[[Frame, float, np.random.Generator], Frame]] = {
    FaultCode.BLACK: _black,
    FaultCode.OVEREXPOSED: _overexposed,
    FaultCode.LOW_CONTRAST: _low_contrast,
    FaultCode.BLUR: _blur,
    FaultCode.COLOR_CAST: _color_cast,
    FaultCode.NOISE: _noise,
    FaultCode.OCCLUDED: _occluded,
}

_OTHER_SCENE = {"rocket": "coffee", "coffee": "rocket", "astronaut": "chelsea", "chelsea": "astronaut"}


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

    ``frozen`` repeats the first frame exactly; ``scene_changed`` shows another photograph (the camera was turned);
    ``signal_loss`` shows a blue "NO VIDEO" screen; the others are applied frame by frame to the live view.
    """
    if not 0.0 < strength <= 1.0:
        raise ValueError("strength must be in (0, 1]")
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (H.264 4:2:0)")
    shown = _OTHER_SCENE.get(scene, "rocket") if fault is FaultCode.SCENE_CHANGED else scene
    first: Frame | None = None
    for i in range(n_frames):
        t = i / fps
        if fault is FaultCode.SIGNAL_LOSS:
            yield signal_loss_frame(width, height, t)
            continue
        if fault is FaultCode.FROZEN:
            first = first if first is not None else _healthy(shown, width, height, 0, fps, seed)
            yield first
            continue
        frame = _healthy(shown, width, height, i, fps, seed)
        rng = np.random.default_rng((seed, i))
        if fault is FaultCode.STRIPES:
            yield _stripes(frame, strength, rng, t)
        elif fault in _RENDER:
            yield _RENDER[fault](frame, strength, np.random.default_rng(seed) if fault in _STATIC else rng)
        else:
            yield frame


# faults whose random layout must stay put from frame to frame (a bag does not jump around the lens)
_STATIC = frozenset({FaultCode.OCCLUDED, FaultCode.COLOR_CAST})
