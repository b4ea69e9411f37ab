"""Validated settings: probe modules (``probes/*.yml``) and the daemon config.

Every model forbids unknown keys, so a typo is an error naming the field, never silently ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sharpeyes.probers.base import AuthPolicy
from sharpeyes.quality.thresholds import Thresholds


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RtspOptions(Strict):
    """RTSP liveness: OPTIONS then DESCRIBE."""

    max_body_bytes: int = Field(128 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_header_count: int = Field(64, ge=8, le=1024)
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    follow_redirects: int = Field(2, ge=0, le=5)


class OnvifOptions(Strict):
    """ONVIF inventory: clock, device info, profiles, stream and snapshot URIs."""

    max_response_bytes: int = Field(1024 * 1024, ge=16 * 1024, le=64 * 1024 * 1024)
    clock_skew_warn_s: float = Field(300.0, ge=0)
    wsdl_dir: str | None = None


class FrameOptions(Strict):
    """Frame health: keyframe grab and video-quality diagnosis. Thresholds per fault code."""

    second_frame_after_s: float = Field(1.0, ge=0.0, le=30.0)
    decode_timeout_s: float = Field(5.0, gt=0, le=60.0)
    analysis_width: int = Field(640, ge=64, le=1920)
    source: Literal["rtsp", "snapshot"] = "rtsp"
    thresholds: Thresholds = Thresholds()


class ProbeModule(Strict):
    """One probe module: what a check means (prober, timeouts, auth policy, thresholds)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    prober: Literal["rtsp", "onvif", "frame", "snapshot"]
    description: str = ""
    interval_s: float = Field(60.0, ge=1.0, le=7 * 86400.0)
    timeout_s: float = Field(5.0, gt=0.0, le=300.0)
    read_timeout_s: float = Field(2.0, gt=0.0, le=300.0)
    auth: AuthPolicy = AuthPolicy.DIGEST
    rtsp: RtspOptions = RtspOptions()
    onvif: OnvifOptions = OnvifOptions()
    frame: FrameOptions = FrameOptions()

    @model_validator(mode="after")
    def _read_within_total(self) -> ProbeModule:
        if self.read_timeout_s > self.timeout_s:
            raise ValueError(f"read_timeout_s ({self.read_timeout_s}) must not exceed timeout_s ({self.timeout_s})")
        return self
