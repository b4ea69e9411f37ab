"""``color_cast`` without a reference: the equivalent-circle test on the Lab chroma of the body.

K = D / M, where D is the distance of the mean (a, b) from neutral and M the spread of (a, b). A scene that is
merely colourful has a wide spread; a cast shifts everything the same way. With a reference signature the
reference-based shift (:func:`sharpeyes.quality.signature.color_cast_against`) is used instead.
"""

from __future__ import annotations

import numpy as np

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import Prepared
from sharpeyes.quality.thresholds import Thresholds

_MIN_SHIFT = 12.0  # a cast must also be visible: mean chroma at least this far from neutral


def color_cast(p: Prepared, t: Thresholds) -> Finding:
    lab = p.lab_body.reshape(-1, 3)[::4].astype(np.float32)
    a, b = lab[:, 1] - 128, lab[:, 2] - 128
    d = float(np.hypot(a.mean(), b.mean()))
    m = float(np.hypot(a.std(), b.std()))
    k = d / max(m, 1.0)
    return Finding(FaultCode.COLOR_CAST, k, k > t.color_cast_k and d > _MIN_SHIFT)
