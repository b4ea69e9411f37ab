"""What the transitions say about the cameras over the audit window.

:class:`History` holds what :mod:`sharpeyes.audit.source` read: the transitions in the window plus the last
one before it per camera and module (as columns, for the time-weighted rates), and the last transition before
the window's end per camera and module (for the "now" figures). :func:`camera_now` distils one camera's
latest transitions by the daemon's rules (``sharpeyes.results``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import numpy as np
import numpy.typing as npt

from sharpeyes.probers.base import LIVENESS_RANK, FaultCode, Reason
from sharpeyes.rates import IN_SERVICE, ONLINE_STATES, OUT_OF_SERVICE, CameraStatus

STREAM_PROBERS = frozenset({"rtsp", "onvif", "frame"})
"""Probers whose success (or live fault) proves the stream was reached."""

KNOWN_PROBERS = frozenset({*LIVENESS_RANK, "frame"})
_NO_PICTURE = frozenset({Reason.NO_MEDIA.value, Reason.DECODE_ERROR.value})
_FAULT_CODES = frozenset(c.value for c in FaultCode)
_CODES: Mapping[str, FaultCode] = {c.value: c for c in FaultCode}


class Last(NamedTuple):
    """The last transition of one (camera, module) before the window's end (a named tuple: tens of
    thousands are made per audit, three times faster than a frozen dataclass)."""

    module: str
    from_state: str
    to_state: str
    reason: str
    at: float


STATE_CODES: Mapping[str, str] = {"up": "u", "fault": "f", "down": "d", IN_SERVICE: "i", OUT_OF_SERVICE: "o"}
"""One character per state, as the transitions are read in bulk (``x``: any other state)."""
STATE_OF_CODE: Mapping[str, str] = {v: k for k, v in STATE_CODES.items()}
ONLINE_CODES = frozenset(STATE_CODES[s] for s in ONLINE_STATES)


@dataclass(slots=True)
class History:
    """Transitions as read for one window.

    The transitions in the window plus, per camera and module, the last one before it, grouped by camera and
    module: group ``g`` has ``counts[g]`` transitions whose states are the next ``counts[g]`` characters of
    ``states`` (:data:`STATE_CODES`) and whose times are the next ``counts[g]`` items of ``at`` (any order).
    """

    group_camera: Sequence[str] = ()
    group_module: Sequence[str] = ()
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    states: bytes = b""
    at: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    last: dict[str, list[Last]] = field(default_factory=dict)
    """Per camera: the last transition of each module before the window's end."""
    ever_online_before: set[str] = field(default_factory=set)
    """Cameras that were online at some time before the window."""

    def rows(self) -> list[tuple[str, str, str, float]]:
        """(camera, module, state, at) of every transition held: for tests and small inspections."""
        cams = np.repeat(np.arange(len(self.counts)), self.counts)
        return [
            (self.group_camera[g], self.group_module[g], STATE_OF_CODE.get(chr(c), "other"), float(t))
            for g, c, t in zip(cams.tolist(), self.states, self.at.tolist(), strict=True)
        ]


def prober_of(module: str, module_probers: Mapping[str, str]) -> str:
    """The prober behind a module: from the probe modules when known, else from its name: a module named like
    a prober, or starting with one and an underscore (``rtsp_describe`` → ``rtsp``)."""
    if module in module_probers:
        return module_probers[module]
    head = module.split("_", 1)[0]
    return head if head in KNOWN_PROBERS else ""


def fault_label(reason: str) -> str:
    """The fault code a frame transition names (``frame_fault`` when the daemon recorded no code)."""
    return reason if reason in _FAULT_CODES else (FaultCode.SIGNAL_LOSS.value if reason in _NO_PICTURE else reason)


class CameraNow(NamedTuple):
    """One camera at the end of the window: its status for the rates, and what the lists show (a named
    tuple, made once per camera)."""

    status: CameraStatus
    state: str
    since: float | None
    fault: str | None


def camera_now(lasts: Sequence[Last], end: float, module_probers: Mapping[str, str]) -> CameraNow:
    """Status from the last transition of each module: liveness from the best-ranked liveness module; the
    stream counts as reached at ``end`` while a stream module is up (or faulty), else when it last went down
    from up; frame faults from the frame module's state.

    Between modules of the same prober, the one whose last transition is latest speaks (as in the daemon, where
    the latest result does), then the module name: the answer never depends on the order ``lasts`` come in
    (PostgreSQL returns grouped rows in no set order)."""
    live: Last | None = None
    live_key = (0, 0.0, "")
    reached: float | None = None
    frame: Last | None = None
    for x in lasts:
        prober = prober_of(x.module, module_probers)
        rank = LIVENESS_RANK.get(prober)
        key = (rank, -x.at, x.module) if rank is not None else None
        if key is not None and (live is None or key < live_key):
            live, live_key = x, key
        if prober in STREAM_PROBERS:
            at = end if x.to_state in ONLINE_STATES else (x.at if x.from_state in ONLINE_STATES else None)
            reached = at if reached is None or (at is not None and at > reached) else reached
        if prober == "frame" and (frame is None or (x.at, x.module) > (frame.at, frame.module)):
            frame = x
    faults = _frame_faults(frame) if frame is not None else None
    up = None if live is None else live.to_state in ONLINE_STATES
    return CameraNow(
        status=CameraStatus(up=up, stream_reached_at=reached, frame_faults=_as_codes(faults)),
        state=live.to_state if live else "unknown",
        since=live.at if live else None,
        fault=faults[0] if faults else None,
    )


def _frame_faults(x: Last) -> tuple[str, ...] | None:
    """Faults after a frame transition: none when up, its code when faulty or when no picture came."""
    if x.to_state == "up":
        return ()
    if x.to_state == "fault" or x.reason in _NO_PICTURE:
        return (fault_label(x.reason),)
    return None


def _as_codes(faults: tuple[str, ...] | None) -> tuple[FaultCode, ...] | None:
    """The rates only test whether faults exist; a label the daemon left unspecified stays a plain string."""
    if not faults:
        return None if faults is None else ()
    return tuple(_CODES.get(f) or cast(FaultCode, f) for f in faults)
