"""Validated settings: probe modules (``probes/*.yml``) and the daemon config.

Every model forbids unknown keys, so a typo is an error naming the field, never silently ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    prober: Literal["rtsp", "onvif", "frame"]
    description: str = ""
    interval_s: float = Field(60.0, ge=1.0, le=7 * 86400.0)
    timeout_s: float = Field(5.0, gt=0.0, le=300.0)
    read_timeout_s: float = Field(2.0, gt=0.0, le=300.0)
    auth: AuthPolicy = AuthPolicy.DIGEST
    rtsp: RtspOptions = RtspOptions()
    onvif: OnvifOptions = OnvifOptions()
    frame: FrameOptions = FrameOptions()

    @field_validator("prober", mode="before")
    @classmethod
    def _snapshot_is_a_frame_source(cls, value: object) -> object:
        if value == "snapshot":  # DESIGN.md's layout had a snapshot prober; snapshots are a frame source here
            raise ValueError("snapshots are a source of the frame prober: use prober: frame, frame.source: snapshot")
        return value

    @model_validator(mode="after")
    def _read_within_total(self) -> ProbeModule:
        if self.read_timeout_s > self.timeout_s:
            raise ValueError(f"read_timeout_s ({self.read_timeout_s}) must not exceed timeout_s ({self.timeout_s})")
        return self


# --- the daemon config (config/sharpeyes.example.yml) -------------------------------------------------------


class DatabaseSettings(Strict):
    """Where the registry and history live. SQLite by default; PostgreSQL by URL (password only via ${ENV})."""

    url: str = "sqlite:///sharpeyes.db"
    sqlite_synchronous: Literal["full", "normal"] = "full"
    busy_timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        scheme = url.split(":", 1)[0].lower()
        if scheme.split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"unsupported database {scheme!r} (allowed: sqlite:///FILE, postgresql+psycopg://…)")
        return url


class ListenSettings(Strict):
    """The HTTP exporter/API address. Loopback by default; anything else is a deliberate choice."""

    host: str = "127.0.0.1"
    port: int = Field(9753, ge=1, le=65535)


class RegistrySettings(Strict):
    """Registry files (CSV or YAML) that `config check` validates and the daemon can import at start."""

    files: list[str] = Field(default_factory=list)


class ConcurrencySettings(Strict):
    """How many probes run at once: in total, and against one host (cameras lock out aggressive clients)."""

    total: int = Field(256, ge=1, le=20_000)
    per_host: int = Field(2, ge=1, le=64)
    frame_share: float = Field(0.25, gt=0.0, le=1.0)  # of `total` that frame-health probes may hold at once
    retry_share: float = Field(0.1, ge=0.0, le=1.0)  # of a sweep's slots that may be retried after a transient failure
    overload_lag_share: float = Field(0.2, gt=0.0, le=1.0)  # loop stall (share of read timeout) voiding a timeout


class ScopeTargets(Strict):
    """Target rates for one scope (fractions, 0–1)."""

    coverage: float = Field(1.0, ge=0.0, le=1.0)
    connection: float = Field(1.0, ge=0.0, le=1.0)
    good_order: float = Field(0.98, ge=0.0, le=1.0)


class Targets(Strict):
    """National targets (DESIGN.md §6): coverage and connection 100%; good order 98% public, 95% sector."""

    public: ScopeTargets = ScopeTargets()
    sector: ScopeTargets = ScopeTargets(good_order=0.95)


class ApiSettings(Strict):
    """Bearer token for endpoints beyond /metrics and health, by reference only (never in the file)."""

    token_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    token_file: str | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ApiSettings:
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
        return self


class DaemonConfig(Strict):
    """The daemon's config file. Relative paths are relative to the working directory."""

    database: DatabaseSettings = DatabaseSettings()
    listen: ListenSettings = ListenSettings()
    probes_dir: str = "probes"
    registry: RegistrySettings = RegistrySettings()
    concurrency: ConcurrencySettings = ConcurrencySettings()
    targets: Targets = Targets()
    api: ApiSettings = ApiSettings()
    freshness_window_s: float = Field(900.0, ge=10.0, le=7 * 86400.0)
