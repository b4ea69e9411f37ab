"""``stripes``: periodic bands (rolling interference) in the row or column luma profile.

The profile (mean luma per row, and per column) is detrended with a wide moving average and its spectrum is
searched for the strongest component with a period of 4–80 pixels; the score is that component's amplitude in
luma levels. Scene structure rarely repeats across the whole frame at one period; interference does.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.finding import Finding
from sharpeyes.quality.prepare import Prepared
from sharpeyes.quality.thresholds import Thresholds

_MIN_PERIOD, _MAX_PERIOD = 4, 80
_TREND = 81
_TREND_KERNEL = np.ones(_TREND, dtype=np.float32) / _TREND


def periodic_amplitude(profile: npt.NDArray[np.float32]) -> float:
    """Amplitude of the strongest periodic component of a 1-D profile, in the profile's units."""
    n = len(profile)
    if n < 2 * _MAX_PERIOD:
        return 0.0
    kernel = _TREND_KERNEL
    padded = np.pad(profile, _TREND // 2, mode="reflect")
    detrended = profile - np.convolve(padded, kernel, mode="valid")
    spectrum = np.abs(np.fft.rfft(detrended * np.hanning(n))) * 4 / n  # hann window halves the amplitude
    freqs = np.fft.rfftfreq(n)
    band = (freqs >= 1 / _MAX_PERIOD) & (freqs <= 1 / _MIN_PERIOD)
    return float(spectrum[band].max()) if band.any() else 0.0


def stripes(p: Prepared, t: Thresholds) -> Finding:
    rows = np.asarray(cv2.reduce(p.body, 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F), dtype=np.float32).ravel()
    columns = np.asarray(cv2.reduce(p.body, 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F), dtype=np.float32).ravel()
    score = max(periodic_amplitude(rows), periodic_amplitude(columns))
    return Finding(FaultCode.STRIPES, score, score > t.stripes_amplitude)
