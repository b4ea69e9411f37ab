"""``color_cast`` without a reference: the equivalent-circle test on the Lab chroma of the body.

K = D / M, where D is the distance of the mean (a, b) from neutral and M the spread of (a, b). A scene that is
merely colourful has a wide spread; a cast shifts everything the same way. With a reference signature the
reference-based shift (:func:`sharpeyes.quality.signature.color_cast_against`) is used instead.
"""

from __future__ import annotations

import cv2
import numpy as np

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import Prepared
from sharpeyes.quality.thresholds import Thresholds

_MIN_SHIFT = 12.0  # a cast must also be visible: mean chroma at least this far from neutral


def color_cast(p: Prepared, t: Thresholds) -> Finding:
    mean, std = cv2.meanStdDev(p.lab_body)  # per channel: L, a, b
    d = float(np.hypot(mean[1, 0] - 128, mean[2, 0] - 128))
    m = float(np.hypot(std[1, 0], std[2, 0]))
    k = d / max(m, 1.0)
    return Finding(FaultCode.COLOR_CAST, k, k > t.color_cast_k and d > _MIN_SHIFT)
