"""Within-probe freeze check: two frames at least a second apart, compared region by region.

The OSD bands are masked (a ticking clock must not make a still picture look live), and the verdict uses the
*largest* per-cell change, so one small moving figure in an otherwise still scene is enough to prove it live,
while codec noise (a mean |Δ| of a level or so per cell) is not.
"""

from __future__ import annotations

import cv2

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import Prepared
from sharpeyes.quality.thresholds import Thresholds

_CELL = 16


def frozen_within(first: Prepared, second: Prepared, t: Thresholds) -> Finding:
    """Score: the largest 16×16-cell mean |Δluma| between the two bodies."""
    a, b = first.body_f, second.body_f
    if a.shape != b.shape:
        return Finding(FaultCode.FROZEN, float("inf"), False)
    diff = cv2.absdiff(a, b)
    h, w = (diff.shape[0] // _CELL) * _CELL, (diff.shape[1] // _CELL) * _CELL
    # area averaging by a whole factor is the exact mean of each cell
    cells = cv2.resize(diff[:h, :w], (w // _CELL, h // _CELL), interpolation=cv2.INTER_AREA)
    score = float(cells.max())
    return Finding(FaultCode.FROZEN, score, score <= t.frozen_diff)
