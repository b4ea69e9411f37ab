"""What the transitions say about each camera over the audit window: states, service spans, latest status.

Pure functions over :class:`History` (rows already read); :mod:`sharpeyes.audit.source` reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from sharpeyes.probers.base import FaultCode, Reason
from sharpeyes.rates import ONLINE_STATES, SERVICE_MODULE, CameraStatus, StatePoint

LIVENESS_RANK: Mapping[str, int] = {"rtsp": 0, "onvif": 1, "snapshot": 2}
"""Probers that say whether a camera is online, best first (as the daemon's ``results`` ranks them)."""

STREAM_PROBERS = frozenset({"rtsp", "onvif", "frame"})
"""Probers whose success (or live fault) proves the stream was reached."""

KNOWN_PROBERS = frozenset({*LIVENESS_RANK, "frame"})
"""Probers whose success proves the camera answered at all (so it was "reached" once)."""
_NO_PICTURE = frozenset({Reason.NO_MEDIA.value, Reason.DECODE_ERROR.value})
_FAULT_CODES = frozenset(c.value for c in FaultCode)


@dataclass(frozen=True, slots=True)
class Point:
    """One transition as the audit needs it: when (UTC epoch seconds), to which state, and why."""

    at: float
    state: str
    reason: str


@dataclass(slots=True)
class History:
    """Transitions per camera and module: those in the window plus the last one before it (its left edge)."""

    points: dict[str, dict[str, list[Point]]] = field(default_factory=lambda: defaultdict(dict))
    ever_online_before: set[str] = field(default_factory=set)
    """Cameras that were online at some time before the window."""

    def add(self, camera_id: str, module: str, point: Point) -> None:
        self.points[camera_id].setdefault(module, []).append(point)

    def sort(self) -> None:
        for modules in self.points.values():
            for pts in modules.values():
                pts.sort(key=lambda p: p.at)


def prober_of(module: str, module_probers: Mapping[str, str]) -> str:
    """The prober behind a module: from the probe modules when known, else a module named like a prober."""
    return module_probers.get(module, module if module in KNOWN_PROBERS else "")


def fault_label(reason: str) -> str:
    """The fault code a frame transition names (``frame_fault`` when the daemon recorded no code)."""
    return reason if reason in _FAULT_CODES else (FaultCode.SIGNAL_LOSS.value if reason in _NO_PICTURE else reason)


@dataclass(frozen=True, slots=True)
class CameraHistory:
    """One camera's liveness points, service points, and its status at the end of the window."""

    liveness: tuple[StatePoint, ...]
    service: tuple[StatePoint, ...]
    status: CameraStatus
    state: str
    since: float | None
    fault: str | None
    ever_online: bool


def camera_history(
    modules: Mapping[str, Sequence[Point]], end: float, module_probers: Mapping[str, str], ever_online_before: bool
) -> CameraHistory:
    """Distil one camera's transitions (sorted per module) into what the rates and lists need."""
    live_module = _liveness_module(modules, module_probers)
    live = [p for p in modules.get(live_module, ()) if p.at < end] if live_module else []
    reached: float | None = None
    frame: tuple[str, ...] | None = None
    online_seen = ever_online_before
    for module, pts in modules.items():
        prober = prober_of(module, module_probers)
        inside = [p for p in pts if p.at < end]
        online_seen = online_seen or (prober in KNOWN_PROBERS and _any_online(inside))
        if prober in STREAM_PROBERS:
            reached = _latest(reached, _reached_at(inside, end))
        if prober == "frame" and inside:
            frame = _frame_faults(inside, frame)
    up = live[-1].state in ONLINE_STATES if live else None
    status = CameraStatus(up=up, stream_reached_at=reached, frame_faults=_as_codes(frame))
    return CameraHistory(
        liveness=tuple(StatePoint(p.at, p.state) for p in live),
        service=tuple(StatePoint(p.at, p.state) for p in modules.get(SERVICE_MODULE, ()) if p.at < end),
        status=status,
        state=live[-1].state if live else "unknown",
        since=live[-1].at if live else None,
        fault=frame[0] if frame else None,
        ever_online=online_seen,
    )


def _liveness_module(modules: Mapping[str, Sequence[Point]], module_probers: Mapping[str, str]) -> str | None:
    ranked = [
        (LIVENESS_RANK[prober_of(m, module_probers)], m)
        for m, pts in modules.items()
        if pts and prober_of(m, module_probers) in LIVENESS_RANK
    ]
    return min(ranked)[1] if ranked else None


def _any_online(points: Sequence[Point]) -> bool:
    return any(p.state in ONLINE_STATES for p in points)


def _reached_at(points: Sequence[Point], end: float) -> float | None:
    """When the stream was last reached: ``end`` if still online then, else when it last left an online state."""
    reached: float | None = None
    online = False
    for p in points:
        if p.state in ONLINE_STATES:
            reached, online = p.at, True
        elif online:
            reached, online = p.at, False
    return end if online else reached


def _latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _frame_faults(points: Sequence[Point], current: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The frame faults after these transitions, by the daemon's rules (other failures leave them unchanged)."""
    for p in points:
        if p.state == "up":
            current = ()
        elif p.state == "fault" or p.reason in _NO_PICTURE:
            current = (fault_label(p.reason),)
    return current


def _as_codes(faults: tuple[str, ...] | None) -> tuple[FaultCode, ...] | None:
    """The rates only test whether faults exist; a label the daemon left unspecified stays a plain string."""
    if faults is None:
        return None
    return tuple(FaultCode(f) if f in _FAULT_CODES else cast(FaultCode, f) for f in faults)
