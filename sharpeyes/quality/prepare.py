"""Downscale a decoded frame once and share the derived images between analysers.

A :class:`Prepared` frame holds full-range luma at analysis size (about 640×360) and an RGB picture at half that
size (about 320×180) for the colour measurements. Decoded video goes through :func:`prepare_video_frame`: one
swscale pass to YUV 4:2:0 at analysis size (area averaging, limited range expanded to full), whose luma plane is
the analysis luma as it is and whose chroma planes are already at half size, so no full-size RGB picture is ever
made. RGB input (a JPEG snapshot, tests) goes through :func:`prepare`.

OSD handling (documented in docs/quality.md): real cameras burn a clock and a name into the picture after the
lens, so OSD text stays sharp, bright and ticking whatever the scene does. Two rules keep it out of the verdicts:
the statistics of the picture are taken on the *body* (the frame without a top and a bottom band where OSD
lines sit), and luma percentiles are taken after a small morphological opening/closing, which erases strokes a
few pixels thin (text) but keeps solid regions (a ball, a lamp, a covered lens).
"""

from __future__ import annotations

import threading
from functools import cached_property

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

OSD_TOP = 0.125  # share of the height masked at the top (date and time line)
OSD_BOTTOM = 0.09  # and at the bottom (camera name line)
_STROKE = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
_YUV420 = ("yuv420p", "yuvj420p")
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range samples
# limited-range luma (16–235) and chroma (16–240, neutral 128) to full range (0–255)
_LUMA_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_CHROMA_TO_FULL = np.clip(np.round((np.arange(256) - 128) * 255 / 224 + 128), 0, 255).astype(np.uint8)


class Prepared:
    """One frame at analysis size: luma (``gray``, full range), RGB at half size (``rgb_half``), and the
    OSD-free body with its stroke-free versions (computed lazily)."""

    def __init__(self, gray: U8, rgb_half: U8) -> None:
        if gray.ndim != 2 or rgb_half.shape != ((gray.shape[0] + 1) // 2, (gray.shape[1] + 1) // 2, 3):
            raise ValueError(f"luma {gray.shape} and half-size RGB {rgb_half.shape} do not match")
        self.gray = gray
        self.rgb_half = rgb_half
        self.height, self.width = gray.shape
        self.top = round(self.height * OSD_TOP)
        self.bottom = self.height - round(self.height * OSD_BOTTOM)
        self.cache: dict[str, float] = {}  # measurements shared between analysers (e.g. the blur index)

    @classmethod
    def from_rgb(cls, rgb: U8) -> Prepared:
        """From an RGB picture already at analysis size."""
        gray = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        return cls(gray, np.ascontiguousarray(rgb[::2, ::2]))

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
    def no_bright_strokes_cdf(self) -> I64:
        return cumulative_histogram(self.no_bright_strokes)

    @cached_property
    def no_strokes_cdf(self) -> I64:
        return cumulative_histogram(self.no_strokes)

    @cached_property
    def lab_body(self) -> U8:
        """CIE Lab (OpenCV's 8-bit scaling: neutral a, b = 128) of the half-size body."""
        rgb = self.rgb_half[self.top // 2 : self.bottom // 2]
        return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB), dtype=np.uint8)


def cumulative_histogram(image: U8) -> I64:
    """Cumulative count of a uint8 image's levels (256 entries)."""
    hist = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()
    return np.cumsum(hist.astype(np.int64))


def percentiles_of(cumulative: I64, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0–100) from a cumulative histogram: exact levels, far cheaper than sorting."""
    total = int(cumulative[-1])
    return [float(np.searchsorted(cumulative, q / 100 * (total - 1), side="right")) for q in qs]


def analysis_height(width: int, height: int, analysis_width: int) -> int:
    """The analysis height for a picture of ``width``×``height`` scaled to ``analysis_width`` (kept even)."""
    return max(2, round(height * analysis_width / width / 2) * 2)


def prepare(frame: U8, width: int = 640) -> Prepared:
    """Downscale an RGB frame (H×W×3 uint8) to ``width`` (keeping the aspect) with area averaging."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB frame, got shape {frame.shape}")
    h, w = frame.shape[:2]
    if w != width:
        size = (width, max(2, round(h * width / w)))
        frame = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return Prepared.from_rgb(np.ascontiguousarray(frame))


def _plane(plane: av.video.plane.VideoPlane) -> U8:
    """A view of one plane's pixels (no copy; the row padding is cut off)."""
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _chroma_to_full_range(plane: U8, full_range: bool) -> U8:
    return plane if full_range else np.asarray(cv2.LUT(plane, _CHROMA_TO_FULL), dtype=np.uint8)


def _luma_at(frame: av.VideoFrame, width: int, height: int, full_range: bool) -> U8:
    """Full-range luma at ``width``×``height``: swscale's area scaling, which also expands a limited range.

    Limited range (what cameras send) is scaled straight to grey: the same samples as the luma plane of a
    YUV 4:2:0 conversion, without scaling the chroma planes too. Full range is scaled as YUV 4:2:0 (a grey
    target would expand its range once more)."""
    if (frame.width, frame.height) == (width, height):  # swscale's unscaled copy would not expand the range
        luma = _plane(frame.planes[0])
        return np.ascontiguousarray(luma if full_range else cv2.LUT(luma, _LUMA_TO_FULL), dtype=np.uint8)
    if not full_range:
        target, src_range = "gray", "MPEG"
    elif frame.format.name == "yuvj420p":  # swscale knows this format is full range, and keeps it so
        target, src_range = "yuvj420p", None
    else:
        target, src_range = "yuv420p", "JPEG"
    small = _reformatter(target, src_range).reformat(
        frame,
        width=width,
        height=height,
        format=target,
        interpolation="AREA",
        src_color_range=src_range,
        dst_color_range="JPEG" if src_range else None,
    )
    return np.ascontiguousarray(_plane(small.planes[0]))


_LOCAL = threading.local()


def _reformatter(target: str, src_range: str | None) -> VideoReformatter:
    """This thread's swscale context for one kind of conversion, kept between frames: swscale then sets up its
    filters once per picture size, not once per frame. One per kind: a kept context does not reliably take up a
    new colour range (seen with PyAV 16: a full-range picture after limited-range ones came out expanded)."""
    kept: dict[tuple[str, str | None], VideoReformatter] | None = getattr(_LOCAL, "reformatters", None)
    if kept is None:
        kept = _LOCAL.reformatters = {}
    reformatter = kept.get((target, src_range))
    if reformatter is None:
        reformatter = kept[(target, src_range)] = VideoReformatter()
    return reformatter


def prepare_video_frame(frame: av.VideoFrame, width: int = 640) -> Prepared:
    """Downscale a decoded picture to ``width`` without ever making a full-size RGB picture.

    4:2:0 pictures (what cameras send): swscale area-averages the luma to analysis size with its range expanded
    to full; the half-size RGB picture takes every other pixel of that luma and the chroma samples at the same
    places (nearest, so colour edges stay as sharp as the luma's), converted as BT.601, like swscale's own RGB.
    Any other pixel format is converted to RGB at analysis size by swscale.
    """
    height = analysis_height(frame.width, frame.height, width)
    name = frame.format.name
    if name not in _YUV420:
        rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
        return Prepared.from_rgb(np.ascontiguousarray(rgb, dtype=np.uint8))
    full_range = name == "yuvj420p" or frame.color_range == _JPEG_RANGE
    gray = _luma_at(frame, width, height, full_range)
    half = ((width + 1) // 2, (height + 1) // 2)
    cb, cr = (
        _chroma_to_full_range(np.asarray(cv2.resize(_plane(p), half, interpolation=cv2.INTER_NEAREST)), full_range)
        for p in frame.planes[1:3]
    )
    ycrcb = cv2.merge([np.ascontiguousarray(gray[::2, ::2]), cr, cb])  # OpenCV's channel order
    return Prepared(gray, np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB), dtype=np.uint8))
