"""Signal loss and brightness/contrast faults: ``signal_loss``, ``black``, ``overexposed``, ``low_contrast``."""

from __future__ import annotations

import cv2
import numpy as np

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import Prepared, percentiles
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
    rgb = p.rgb[::2, ::2]  # every other pixel: text strokes stay visible, the cost drops fourfold
    pixels = rgb.reshape(-1, 3)
    median = np.median(pixels[:: max(1, len(pixels) // 20000)], axis=0)
    dev = cv2.absdiff(rgb, np.full_like(rgb, median.astype(np.uint8))).max(axis=2)
    uniform = float((dev <= 2).mean())
    other = (dev > 24).astype(np.uint8)  # clear of codec ringing and chroma bleed around text
    solid = float(cv2.erode(other, _SOLID_HALF).mean())
    has_text = float(other[p.top // 2 : p.bottom // 2].mean()) > _TEXT_MIN
    luma = float(median @ np.array([0.299, 0.587, 0.114]))
    mid_colour = 40 < luma < 215
    fault = uniform >= t.signal_loss_uniform and solid < _SOLID_MAX and (has_text or mid_colour)
    return Finding(FaultCode.SIGNAL_LOSS, uniform, fault)


def black(p: Prepared, t: Thresholds) -> Finding:
    """Nothing visible: the 99.9th percentile of stroke-free body luma (a small bright ball still counts)."""
    (score,) = percentiles(p.no_bright_strokes, (99.9,))
    return Finding(FaultCode.BLACK, score, score < t.black_luma)


def overexposed(p: Prepared, t: Thresholds) -> Finding:
    """Everything washed out: the 5th percentile of stroke-free body luma is bright."""
    (score,) = percentiles(p.no_strokes, (5,))
    return Finding(FaultCode.OVEREXPOSED, score, score > t.overexposed_luma)


def low_contrast(p: Prepared, t: Thresholds) -> Finding:
    """A flat histogram (fog, film on the lens): the 1st–99th percentile range of stroke-free body luma.

    A small object of real contrast (a lamp, a ball on a dark ground) vetoes the verdict: the 0.1–99.9th
    percentile range must be flat too.
    """
    lo, hi, tail_lo, tail_hi = percentiles(p.no_strokes, (1, 99, 0.1, 99.9))
    score = hi - lo
    flat = score < t.low_contrast_range and tail_hi - tail_lo < 2 * t.low_contrast_range
    return Finding(FaultCode.LOW_CONTRAST, score, flat)
