"""The probe interface shared by every prober.

A prober is an async callable ``probe(target, module, *, deadline) -> ProbeResult``. It never raises for a
camera's fault: every failure of the camera becomes a result with a closed :class:`Reason` and the
:class:`Phase` where it happened. Only a bug of ours may escape, and :func:`run_probe` turns that into
``Reason.INTERNAL`` so one probe can never take the daemon down. The exception is our own shortage of capacity
(file descriptors, ``EMFILE``/``ENFILE``; decode workers): it is not the camera's result, so :func:`run_probe`
raises a :class:`BackPressureError` and the caller treats it as back-pressure (RELIABILITY.md R3, R4).
"""

from __future__ import annotations

import asyncio
import enum
import errno
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from sharpeyes.redact import Secret, redact_text

if TYPE_CHECKING:
    from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)


class Reason(enum.StrEnum):
    """Why a probe ended. Closed: metrics and history use these values as bounded labels."""

    OK = "ok"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    DNS = "dns"
    TLS = "tls"
    AUTH = "auth"
    LOCKED_OUT_BACKOFF = "locked_out_backoff"
    NOT_FOUND = "not_found"
    PROTOCOL = "protocol"
    NO_MEDIA = "no_media"
    DECODE_ERROR = "decode_error"
    CLOCK_SKEW = "clock_skew"
    TOO_LARGE = "too_large"
    INTERNAL = "internal"
    # frame health (DESIGN.md §5): the camera answered and streamed, but the picture is faulty
    FRAME_FAULT = "frame_fault"


class Phase(enum.StrEnum):
    """Where in a probe something happened (closed; used as a bounded label)."""

    RESOLVE = "resolve"
    CONNECT = "connect"
    OPTIONS = "options"
    DESCRIBE = "describe"
    SETUP = "setup"
    PLAY = "play"
    FIRST_BYTE = "first_byte"
    KEYFRAME = "keyframe"
    DECODE = "decode"
    ANALYSE = "analyse"
    TEARDOWN = "teardown"
    CLOCK = "clock"
    DEVICE_INFO = "device_info"
    CAPABILITIES = "capabilities"
    PROFILES = "profiles"
    STREAM_URI = "stream_uri"
    SNAPSHOT_URI = "snapshot_uri"
    SNAPSHOT = "snapshot"
    DONE = "done"


class FaultCode(enum.StrEnum):
    """Frame-health fault codes (视频质量诊断), DESIGN.md §5."""

    SIGNAL_LOSS = "signal_loss"
    BLACK = "black"
    OVEREXPOSED = "overexposed"
    LOW_CONTRAST = "low_contrast"
    BLUR = "blur"
    COLOR_CAST = "color_cast"
    NOISE = "noise"
    STRIPES = "stripes"
    FROZEN = "frozen"
    OCCLUDED = "occluded"
    SCENE_CHANGED = "scene_changed"


class AuthPolicy(enum.StrEnum):
    """How a prober may authenticate: Digest only (default), or Basic allowed when the camera asks."""

    DIGEST = "digest"
    BASIC_ALLOWED = "basic_allowed"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """What a prober needs to know about one camera. Built from the registry or from a CLI URL.

    ``password`` is a :class:`Secret`; URLs here carry no userinfo (credentials travel separately).
    """

    camera_id: str
    host: str
    rtsp_url: str | None = None
    onvif_url: str | None = None
    snapshot_url: str | None = None
    username: str | None = None
    password: Secret | None = None
    auth: AuthPolicy = AuthPolicy.DIGEST

    def secrets(self) -> tuple[Secret, ...]:
        return (self.password,) if self.password else ()


class Deadline:
    """A total deadline on the monotonic clock; per-read timeouts are clipped to what remains."""

    __slots__ = ("_expires",)

    def __init__(self, seconds: float, *, now: float | None = None) -> None:
        start = time.monotonic() if now is None else now
        self._expires = start + seconds

    @property
    def expires(self) -> float:
        return self._expires

    def remaining(self) -> float:
        return max(0.0, self._expires - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._expires

    def clip(self, per_read: float) -> float:
        """The timeout for one read: ``per_read`` but never past the total deadline."""
        return min(per_read, self.remaining())


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one probe of one camera by one module. ``detail`` is short, redacted, never a label."""

    camera_id: str
    module: str
    ok: bool
    reason: Reason
    phase: Phase
    duration_s: float
    started_wall: float
    started_mono: float
    phase_timings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    observations: Mapping[str, float | int | str] = field(default_factory=lambda: MappingProxyType({}))
    faults: tuple[FaultCode, ...] = ()
    scores: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        """The ``sharpeyes probe --format json`` shape."""
        out: dict[str, object] = {
            "camera_id": self.camera_id,
            "module": self.module,
            "ok": self.ok,
            "reason": self.reason.value,
            "phase": self.phase.value,
            "duration_s": round(self.duration_s, 6),
            "phase_timings": {k: round(v, 6) for k, v in self.phase_timings.items()},
            "observations": dict(self.observations),
            "detail": self.detail,
        }
        if self.faults or self.scores:
            out["faults"] = [f.value for f in self.faults]
            out["scores"] = {k: round(v, 6) for k, v in self.scores.items()}
        return out


class ResultBuilder:
    """Collects timings and observations while a probe runs, then builds one :class:`ProbeResult`."""

    def __init__(self, target: ProbeTarget, module: str) -> None:
        self.target = target
        self.module = module
        self.started_wall = time.time()
        self.started_mono = time.monotonic()
        self._phase_start = self.started_mono
        self.phase = Phase.CONNECT
        self.timings: dict[str, float] = {}
        self.observations: dict[str, float | int | str] = {}

    def enter(self, phase: Phase) -> None:
        """Close the current phase's timing and start ``phase``."""
        now = time.monotonic()
        self.timings[self.phase.value] = now - self._phase_start
        self._phase_start = now
        self.phase = phase

    def observe(self, name: str, value: float | int | str) -> None:
        self.observations[name] = value

    def finish(
        self,
        reason: Reason,
        detail: str = "",
        *,
        faults: tuple[FaultCode, ...] = (),
        scores: Mapping[str, float] | None = None,
    ) -> ProbeResult:
        now = time.monotonic()
        self.timings.setdefault(self.phase.value, now - self._phase_start)
        ok = reason is Reason.OK
        return ProbeResult(
            camera_id=self.target.camera_id,
            module=self.module,
            ok=ok,
            reason=reason,
            phase=Phase.DONE if ok else self.phase,
            duration_s=now - self.started_mono,
            started_wall=self.started_wall,
            started_mono=self.started_mono,
            phase_timings=MappingProxyType(dict(self.timings)),
            observations=MappingProxyType(dict(self.observations)),
            faults=faults,
            scores=MappingProxyType(dict(scores or {})),
            detail=redact_text(detail[:300], self.target.secrets()),
        )


class Prober(Protocol):
    def __call__(self, target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> Awaitable[ProbeResult]: ...


PROBERS: dict[str, Prober] = {}

LIVENESS_RANK: Mapping[str, int] = MappingProxyType({"rtsp": 0, "onvif": 1})
"""Probers that say whether a camera is online, best first: the stream itself beats its control plane. The
daemon's current state (``sharpeyes.results``) and the audit (``sharpeyes.audit``) rank them the same way."""


def register(name: str) -> Callable[[Prober], Prober]:
    """Decorator: add a prober to the name→prober table used by modules' ``prober:`` field."""

    def add(fn: Prober) -> Prober:
        PROBERS[name] = fn
        return fn

    return add


FD_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})


class BackPressureError(Exception):
    """Our own capacity ran out during a probe: never the camera's result. :func:`run_probe` lets it through; the
    scheduler skips the slot with :attr:`skip_reason` (counted) and probes the camera again next sweep."""

    skip_reason = "back_pressure"


class FdExhaustedError(BackPressureError):
    """This process (``EMFILE``) or the system (``ENFILE``) ran out of file descriptors during a probe."""

    skip_reason = "fd_budget"


class DecodersBusyError(BackPressureError):
    """No decode worker became free before the probe's deadline (others are busy, or hung until killed)."""

    skip_reason = "decoders_busy"


def fd_exhausted(exc: BaseException | None) -> bool:
    """True if ``exc``, or an exception it was raised from or during, is an ``EMFILE``/``ENFILE`` error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in FD_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def run_probe(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """Run the module's prober under its total deadline. Never raises, except cancellation and
    :class:`BackPressureError` (we ran out of file descriptors or decode workers: not a result of the camera)."""
    prober = PROBERS.get(module.prober)
    builder = ResultBuilder(target, module.name)
    if prober is None:
        return builder.finish(Reason.INTERNAL, f"no prober named {module.prober!r}")
    try:
        async with asyncio.timeout(deadline.remaining() + 0.05):
            return await prober(target, module, deadline=deadline)
    except TimeoutError:
        return builder.finish(Reason.TIMEOUT, "total deadline reached")
    except BackPressureError:
        raise
    except Exception as exc:  # a bug of ours: count it, never crash the daemon
        if fd_exhausted(exc):
            raise FdExhaustedError(f"out of file descriptors ({type(exc).__name__})") from None
        log.exception("prober %s failed internally on camera %s", module.prober, target.camera_id)
        return builder.finish(Reason.INTERNAL, f"{type(exc).__name__}: {exc}")
