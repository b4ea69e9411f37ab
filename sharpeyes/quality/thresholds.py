"""Typed thresholds of the frame-health analysers (``frame.thresholds`` in ``probes/frame_health.yml``).

Defaults were tuned on the labelled corpus (scripts/quality_report.py); units are given per field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    """One threshold per measurement. Unknown keys are an error, so a typo never silently disables a check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal_loss_uniform: float = Field(0.9, gt=0, le=1, description="share of pixels within ±2 of the median colour")
    black_luma: float = Field(45.0, ge=0, le=255, description="99.9th percentile of OSD-free luma below this")
    overexposed_luma: float = Field(150.0, ge=0, le=255, description="5th percentile of luma above this")
    low_contrast_range: float = Field(52.0, ge=0, le=255, description="1st–99th percentile luma range below this")
    blur_index: float = Field(0.65, gt=0, le=1, description="without reference: blur index (0 sharp … 1) above this")
    blur_relative_sharpness: float = Field(0.7, gt=0, le=1, description="with reference: sharpness share below this")
    noise_sigma: float = Field(6.0, gt=0, description="robust noise σ (luma levels) above this")
    color_cast_shift: float = Field(10.0, gt=0, description="shift of mean chroma (Lab a,b) from the reference")
    color_cast_k: float = Field(3.5, gt=0, description="without reference: chroma mean / chroma spread above this")
    stripes_amplitude: float = Field(30.0, gt=0, description="amplitude (luma levels) of a periodic row/column wave")
    occluded_share: float = Field(0.3, gt=0, le=1, description="share of once-detailed view that went flat")
    frozen_diff: float = Field(5.0, ge=0, description="largest per-cell mean |Δluma| between frames ≥1 s apart")
    frozen_signature_diff: float = Field(3.0, ge=0, description="largest |Δ| between thumbnails across probes")
    scene_match: float = Field(0.6, gt=-1, le=1, description="best shift-tolerant correlation with the reference")
