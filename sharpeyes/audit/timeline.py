"""Time online over the window for the audited cameras: per camera, and per day for each scope.

Cameras with no service change in the window go through the numpy form of the rates
(:func:`~sharpeyes.rates.segments_bulk`); the few with service changes through the per-camera form
(:func:`~sharpeyes.rates.service_spans`, :func:`~sharpeyes.rates.time_online_buckets`). Cameras out of service
with no service change are out of service for the whole window and count nowhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from sharpeyes.audit.history import (
    KNOWN_PROBERS,
    ONLINE_CODES,
    STATE_CODES,
    STATE_OF_CODE,
    History,
    prober_of,
)
from sharpeyes.audit.model import Window
from sharpeyes.probers.base import LIVENESS_RANK
from sharpeyes.rates import (
    ALL,
    IN_SERVICE,
    SERVICE_MODULE,
    StatePoint,
    TimeOnline,
    per_bucket_bulk_many,
    per_camera_bulk,
    segments_bulk,
    service_spans,
    time_online_buckets,
)
from sharpeyes.registry.inventory import Camera

NOT_LIVE = 99


def _state(history: History, k: int) -> str:
    return STATE_OF_CODE.get(chr(history.states[k]), "other")


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per camera id its time online (clipped to its service); per scope the seconds up/known of each day."""

    per_camera: dict[str, TimeOnline]
    days_up: dict[str, list[float]]
    days_known: dict[str, list[float]]
    online_in_window: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Rows:
    """The history's columns as arrays indexed like the audited cameras (-1: a camera not audited)."""

    cam: npt.NDArray[np.int64]
    rank: npt.NDArray[np.int64]
    online: npt.NDArray[np.bool_]
    answering: npt.NDArray[np.bool_]
    service: npt.NDArray[np.bool_]
    at: npt.NDArray[np.float64]


def _rows(history: History, index: Mapping[str, int], module_probers: Mapping[str, str]) -> _Rows:
    """Per-group facts (camera, module's rank) spread to the group's transitions."""
    n = len(history.group_camera)
    modules = list(dict.fromkeys(history.group_module))  # each module once, as a small integer below
    code = {m: k for k, m in enumerate(modules)}
    ranks = np.array([LIVENESS_RANK.get(prober_of(m, module_probers), NOT_LIVE) for m in modules], dtype=np.int64)
    answering = np.array([prober_of(m, module_probers) in KNOWN_PROBERS for m in modules], dtype=bool)
    service = np.array([m == SERVICE_MODULE for m in modules], dtype=bool)

    def spread(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.repeat(values, history.counts)

    module = spread(np.fromiter(map(code.__getitem__, history.group_module), dtype=np.intp, count=n))
    codes = np.frombuffer(history.states, dtype=np.uint8)
    online = np.isin(codes, np.frombuffer("".join(sorted(ONLINE_CODES)).encode(), dtype=np.uint8))
    return _Rows(
        cam=spread(np.fromiter(map(index.get, history.group_camera, repeat(-1)), dtype=np.int64, count=n)),
        rank=ranks[module] if modules else np.zeros(0, dtype=np.int64),
        online=online,
        answering=answering[module] if modules else np.zeros(0, dtype=bool),
        service=service[module] if modules else np.zeros(0, dtype=bool),
        at=history.at,
    )


def _service(
    cams: Sequence[Camera], history: History, r: _Rows, valid: npt.NDArray[np.bool_], window: Window
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per audited camera: whether it is in service for the whole window, and whether its service changes
    inside the window (then it goes through :func:`~sharpeyes.rates.service_spans`, one camera at a time).

    A camera with no service transition serves as its registry flag says; one whose only service transition
    read is the last before the window (every camera registered by an import has one) serves as that
    transition says: :func:`~sharpeyes.rates.service_spans` gives the whole window or nothing for it."""
    service = valid & r.service
    singled = np.zeros(len(cams), dtype=bool)
    singled[r.cam[service & (r.at >= window.start)]] = True
    serving = np.array([c.in_service for c in cams], dtype=bool)
    edge = service & (r.at < window.start)
    edge &= ~singled[np.where(edge, r.cam, 0)]
    to_in_service = np.frombuffer(history.states, dtype=np.uint8) == ord(STATE_CODES[IN_SERVICE])
    serving[r.cam[edge]] = to_in_service[edge]
    return serving, singled


def timeline(
    cams: Sequence[Camera],
    scope_of: Sequence[str],
    history: History,
    window: Window,
    edges: Sequence[float],
    module_probers: Mapping[str, str],
    scopes: Sequence[str],
) -> Timeline:
    """Time online of ``cams`` (``scope_of[i]``: the scope of camera ``i``'s area) over ``window``."""
    index = {c.id: i for i, c in enumerate(cams)}
    r = _rows(history, index, module_probers)
    valid = r.cam >= 0
    best = np.full(len(cams), NOT_LIVE, dtype=np.int64)
    np.minimum.at(best, r.cam[valid], r.rank[valid])
    live = valid & (r.rank < NOT_LIVE) & (r.rank == best[np.where(valid, r.cam, 0)])
    serving, singled = _service(cams, history, r, valid, window)
    service_points: dict[int, list[StatePoint]] = defaultdict(list)
    for k in np.nonzero(valid & r.service & singled[np.where(valid, r.cam, 0)])[0].tolist():
        service_points[int(r.cam[k])].append(StatePoint(float(r.at[k]), _state(history, k)))
    bulk = live & serving[np.where(valid, r.cam, 0)] & ~singled[np.where(valid, r.cam, 0)]
    seg = segments_bulk(r.cam[bulk], r.at[bulk], r.online[bulk], window.start, window.end)
    up, known = per_camera_bulk(seg, len(cams))
    codes = {s: k for k, s in enumerate(dict.fromkeys(scope_of))}  # scopes as small integers: cheap masks
    scope_code = np.fromiter(map(codes.__getitem__, scope_of), dtype=np.int64, count=len(scope_of))
    seg_scope = scope_code[seg.camera]
    days_up: dict[str, list[float]] = {}
    days_known: dict[str, list[float]] = {}
    masks = [None if s == ALL else seg_scope == codes.get(s, -1) for s in scopes]
    for s, (day_up, day_known) in zip(scopes, per_bucket_bulk_many(seg, edges, masks), strict=True):
        days_up[s], days_known[s] = day_up, day_known
    length = window.end - window.start
    per_camera = {
        c.id: TimeOnline(u, k, length)
        for c, u, k, on in zip(cams, up.tolist(), known.tolist(), serving.tolist(), strict=True)
        if on
    }
    for i, points in service_points.items():
        live_points = [
            StatePoint(float(r.at[k]), _state(history, k)) for k in np.nonzero(live & (r.cam == i))[0].tolist()
        ]
        spans = service_spans(points, window.start, window.end, cams[i].in_service)
        buckets = time_online_buckets(live_points, spans, edges)
        per_camera[cams[i].id] = sum(buckets, TimeOnline(0.0, 0.0, 0.0))
        for s in scopes:
            if s in (ALL, scope_of[i]):
                for k, b in enumerate(buckets):
                    days_up[s][k] += b.seconds_up
                    days_known[s][k] += b.seconds_known
    answered = valid & r.answering & r.online
    online_in_window = frozenset(cams[i].id for i in np.unique(r.cam[answered]).tolist())
    return Timeline(per_camera, days_up, days_known, online_in_window)
