"""Signal loss and brightness/contrast faults: ``signal_loss``, ``black``, ``overexposed``, ``low_contrast``."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import U8, Prepared, percentiles_of
from sharpeyes.quality.thresholds import Thresholds

_SOLID_HALF = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))  # 5×5 at full analysis size
_TEXT_MIN = 0.0005  # share of pixels that must differ from the background to count as "has text"
_SOLID_MAX = 0.0003  # share of pixels allowed to survive the stroke erosion (≈ a 10×7 px object at 640×360)


def signal_loss(p: Prepared, t: Thresholds) -> Finding:
    """A uniform screen (any colour) carrying only thin text, or a uniform mid-colour screen with no text.

    Score: the share of pixels within ±2 of the median colour. Non-uniform pixels are eroded by 5×5: text strokes
    vanish, real content (a ball, a lamp) survives and vetoes the verdict. A dark or white screen counts only
    with a message in the body of the picture ("NO VIDEO"): with text only in the OSD bands it is a capped or
    dark camera whose encoder still burns in its clock, and is left to ``black`` / ``overexposed``.
    """
    rgb = p.rgb_half  # every other pixel: text strokes stay visible, the cost is a quarter of the full picture
    median = median_colour(rgb)
    # OpenCV takes a 4-tuple as a scalar (its stubs do not say so): no picture-sized array of the median colour
    background: Any = (*(float(c) for c in median.astype(np.uint8)), 0.0)
    dev = _channel_max(np.asarray(cv2.absdiff(rgb, background), dtype=np.uint8))
    uniform = float(np.count_nonzero(dev <= 2) / dev.size)
    other = (dev > 24).astype(np.uint8)  # clear of codec ringing and chroma bleed around text
    solid = cv2.countNonZero(cv2.erode(other, _SOLID_HALF)) / other.size
    body = other[p.top // 2 : p.bottom // 2]
    has_text = cv2.countNonZero(body) / body.size > _TEXT_MIN
    luma = float(median @ np.array([0.299, 0.587, 0.114]))
    mid_colour = 40 < luma < 215
    fault = uniform >= t.signal_loss_uniform and solid < _SOLID_MAX and (has_text or mid_colour)
    return Finding(FaultCode.SIGNAL_LOSS, uniform, fault)


def median_colour(rgb: U8, samples: int = 20000) -> npt.NDArray[np.float64]:
    """The per-channel median of about ``samples`` evenly spaced pixels, as ``numpy.median`` gives it (the mean of
    the two middle values for an even count), computed from histograms instead of sorting."""
    pixels = rgb.reshape(-1, 3)[:: max(1, rgb.shape[0] * rgb.shape[1] // samples)]
    n = len(pixels)
    ranks = (n // 2, n // 2) if n % 2 else (n // 2 - 1, n // 2)
    out = np.empty(3, dtype=np.float64)
    for channel in range(3):
        cumulative = np.cumsum(np.bincount(pixels[:, channel], minlength=256))
        low, high = (int(np.searchsorted(cumulative, rank, side="right")) for rank in ranks)
        out[channel] = (low + high) / 2
    return out


def _channel_max(image: U8) -> U8:
    """The largest of the three channels, per pixel."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def black(p: Prepared, t: Thresholds) -> Finding:
    """Nothing visible: the 99.9th percentile of stroke-free body luma (a small bright ball still counts)."""
    (score,) = percentiles_of(p.no_bright_strokes_cdf, (99.9,))
    return Finding(FaultCode.BLACK, score, score < t.black_luma)


def overexposed(p: Prepared, t: Thresholds) -> Finding:
    """Everything washed out: the 5th percentile of stroke-free body luma is bright."""
    (score,) = percentiles_of(p.no_strokes_cdf, (5,))
    return Finding(FaultCode.OVEREXPOSED, score, score > t.overexposed_luma)


def low_contrast(p: Prepared, t: Thresholds) -> Finding:
    """A flat histogram (fog, film on the lens): the 1st–99th percentile range of stroke-free body luma.

    A small object of real contrast (a lamp, a ball on a dark ground) vetoes the verdict: the 0.1–99.9th
    percentile range must be flat too.
    """
    lo, hi, tail_lo, tail_hi = percentiles_of(p.no_strokes_cdf, (1, 99, 0.1, 99.9))
    score = hi - lo
    flat = score < t.low_contrast_range and tail_hi - tail_lo < 2 * t.low_contrast_range
    return Finding(FaultCode.LOW_CONTRAST, score, flat)
