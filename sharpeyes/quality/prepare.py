"""Downscale a decoded frame once and share the derived images between analysers.

OSD handling (documented in docs/quality.md): real cameras burn a clock and a name into the picture after the
lens, so OSD text stays sharp, bright and ticking whatever the scene does. Two rules keep it out of the verdicts:
the statistics of the picture are taken on the *body* (the frame without a top and a bottom band where OSD
lines sit), and luma percentiles are taken after a small morphological opening/closing, which erases strokes a
few pixels thin (text) but keeps solid regions (a ball, a lamp, a covered lens).
"""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

OSD_TOP = 0.125  # share of the height masked at the top (date and time line)
OSD_BOTTOM = 0.09  # and at the bottom (camera name line)
_STROKE = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))


class Prepared:
    """One frame at analysis size: RGB, luma, the OSD-free body and its stroke-free versions (computed lazily)."""

    def __init__(self, rgb: U8) -> None:
        self.rgb = rgb
        self.height, self.width = rgb.shape[:2]
        self.top = round(self.height * OSD_TOP)
        self.bottom = self.height - round(self.height * OSD_BOTTOM)
        self.cache: dict[str, float] = {}  # measurements shared between analysers (e.g. the blur index)

    @cached_property
    def gray(self) -> U8:
        return np.asarray(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)

    @cached_property
    def body(self) -> U8:
        """Luma without the OSD bands."""
        return self.gray[self.top : self.bottom]

    @cached_property
    def body_f(self) -> F32:
        return self.body.astype(np.float32)

    @cached_property
    def no_bright_strokes(self) -> U8:
        """Body luma with thin bright strokes (white OSD text) removed: a grey-level opening."""
        return np.asarray(cv2.morphologyEx(self.body, cv2.MORPH_OPEN, _STROKE), dtype=np.uint8)

    @cached_property
    def no_strokes(self) -> U8:
        """Body luma with thin bright and dark strokes removed: opening then closing."""
        return np.asarray(cv2.morphologyEx(self.no_bright_strokes, cv2.MORPH_CLOSE, _STROKE), dtype=np.uint8)

    @cached_property
    def lab_body(self) -> U8:
        return np.asarray(cv2.cvtColor(self.rgb[self.top : self.bottom], cv2.COLOR_RGB2LAB), dtype=np.uint8)


def percentiles(image: U8, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0–100) of a uint8 image from its histogram: exact levels, far cheaper than sorting."""
    cumulative = np.cumsum(np.bincount(image.ravel(), minlength=256))
    total = int(cumulative[-1])
    return [float(np.searchsorted(cumulative, q / 100 * (total - 1), side="right")) for q in qs]


def prepare(frame: U8, width: int = 640) -> Prepared:
    """Downscale an RGB frame (H×W×3 uint8) to ``width`` (keeping the aspect) with area averaging."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB frame, got shape {frame.shape}")
    h, w = frame.shape[:2]
    if w != width:
        height = max(2, round(h * width / w))
        frame = np.asarray(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return Prepared(np.ascontiguousarray(frame))
