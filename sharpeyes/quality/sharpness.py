"""Detail faults that must hold across scene content: ``blur`` and ``noise``.

Both are self-normalising, so a plain wall, a night scene or a busy street does not move them:

- blur re-blurs the picture and measures how much neighbour-to-neighbour variation survives (Crété-Roffet):
  a ratio, so contrast (night, fog) does not move it; flat areas contribute nothing either way, so a plain wall
  with a door is judged by the door; a frame with no detail at all is not judged. With a reference signature
  the sharpness is compared with the reference's own, so a naturally soft view is not "blur".
- noise is Immerkær's fast σ estimate (a Laplacian-difference kernel) per 16×16 block, and the score is a low
  percentile over blocks: texture raises the estimate only where there is texture, noise raises it everywhere.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import U8, Prepared
from sharpeyes.quality.thresholds import Thresholds

_EDGE_STEP = 2.0  # |Δluma| between neighbours for a pixel pair to count as part of an edge
_MIN_EDGES = 0.002  # share of edge pairs needed to judge blur at all (a blank wall is not judged)
_REBLUR = 9
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_BLOCK = 16
_NOISE_PERCENTILE = 20.0


def blur_index(p: Prepared) -> float:
    """Crété-Roffet's no-reference blur index of the body: 0 sharp … 1 fully blurred; NaN if there is no detail.

    The picture is blurred again with a 9-tap box filter; a sharp picture loses much of its neighbour-to-neighbour
    variation, an already blurred one loses little. Only edge pairs (|Δ| > 2 levels) count, so a smooth sky or a
    gradient on a wall is not mistaken for blur. The index is the worse of the horizontal and vertical values.
    """
    if "blur_index" in p.cache:
        return p.cache["blur_index"]
    image = p.body
    worst = float("nan")
    for axis in (0, 1):
        index = _blur_index_along(image, axis)
        if not math.isnan(index):
            worst = index if math.isnan(worst) else max(worst, index)
    p.cache["blur_index"] = worst
    return worst


def _steps(image: U8, axis: int, distance: int = 1) -> U8:
    """|x[i + distance] − x[i]| along ``axis`` (0: vertical, 1: horizontal), exact in uint8."""
    if axis == 0:
        return np.asarray(cv2.absdiff(image[distance:], image[:-distance]))
    return np.asarray(cv2.absdiff(image[:, distance:], image[:, :-distance]))


def _blur_index_along(image: U8, axis: int) -> float:
    """The blur index along one axis, NaN when too few neighbour pairs are edges; exact integer arithmetic.

    The neighbour step of the 9-tap box-filtered picture telescopes: B[i+1] − B[i] = (x[i+5] − x[i−4]) / 9, so
    the re-blurred steps are steps 9 apart on the picture padded by 4 (reflected, as ``cv2.blur`` does).
    """
    half = _REBLUR // 2
    pad = (half, half, 0, 0) if axis == 0 else (0, 0, half, half)
    padded = np.asarray(cv2.copyMakeBorder(image, *pad, cv2.BORDER_REFLECT_101), dtype=np.uint8)
    _, on_edges = cv2.threshold(_steps(image, axis), _EDGE_STEP, 0, cv2.THRESH_TOZERO)  # |Δ| > 2, else 0
    if cv2.countNonZero(on_edges) < _MIN_EDGES * on_edges.size:
        return float("nan")
    total = cv2.sumElems(on_edges)[0]
    # 9 × max(step − reblurred step, 0) on edges (uint16 subtraction saturates at 0; off edges 0 − … stays 0)
    reblurred9 = _steps(padded, axis, _REBLUR).astype(np.uint16)
    lost9 = cv2.subtract(on_edges.astype(np.uint16) * np.uint16(_REBLUR), reblurred9)
    return float((total - cv2.sumElems(lost9)[0] / _REBLUR) / total)


def blur(p: Prepared, t: Thresholds, reference_index: float | None = None) -> Finding:
    """Out of focus or misted. Score: the blur index (0 sharp … 1 blurred).

    With a reference, the verdict compares the remaining sharpness (1 − index) with the reference's, so a
    naturally soft view is judged against itself; without one, an absolute index limit applies.
    """
    index = blur_index(p)
    if math.isnan(index):
        return Finding(FaultCode.BLUR, index, False)
    if reference_index is not None and math.isfinite(reference_index):
        relative = (1 - index) / max(1e-3, 1 - reference_index)
        return Finding(FaultCode.BLUR, index, relative < t.blur_relative_sharpness)
    return Finding(FaultCode.BLUR, index, index > t.blur_index)


def noise_sigma(p: Prepared) -> float:
    """A robust estimate of the noise σ (luma levels) of the body."""
    response = np.abs(cv2.filter2D(p.body_f, cv2.CV_32F, _NOISE_KERNEL))[1:-1, 1:-1]
    h, w = (response.shape[0] // _BLOCK) * _BLOCK, (response.shape[1] // _BLOCK) * _BLOCK
    # area averaging by a whole factor is the exact mean of each block
    blocks = cv2.resize(response[:h, :w], (w // _BLOCK, h // _BLOCK), interpolation=cv2.INTER_AREA)
    return float(np.percentile(blocks, _NOISE_PERCENTILE)) * math.sqrt(math.pi / 2) / 6


def noise(p: Prepared, t: Thresholds) -> Finding:
    """Snow or heavy sensor noise: score is the robust noise σ."""
    sigma = noise_sigma(p)
    return Finding(FaultCode.NOISE, sigma, sigma > t.noise_sigma)
