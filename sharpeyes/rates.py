"""The assessment rates of DESIGN.md §6, as pure functions of the inventory and what is known per camera.

Every rate is returned as a numerator and a denominator (never only a ratio), per scope (``public``,
``sector`` and ``all``), per district at every level of the district tree, and city-wide (district ``all``).
An area counts toward its own district and every ancestor; an area whose district is not in the tree counts
city-wide only.

Definitions (the choices a city operations team expects, written down once):

- **in service**: ``Camera.in_service``. Out-of-service cameras (declared broken, under repair, removed)
  are left out of every numerator and denominator, and never make an area covered.
- **online**: the camera's latest liveness result was a success (``CameraStatus.up is True``). A camera
  never probed yet is not online.
- **connected**: its stream was reached (RTSP DESCRIBE answered, ONVIF stream URI resolved, or a frame
  grabbed) within the freshness window before ``now``.
- **frame checked**: a frame-health probe judged a picture of it (``frame_faults is not None``).
- **healthy (完好)**: online and its latest frame-health probe shows no fault. A camera that is online but
  *never frame-checked* counts as healthy by default (``RateOptions.unchecked_is_healthy``): liveness is
  proven and no fault is known, and frame health runs far less often than liveness, so a strict reading
  would report the whole city out of order for the first ten minutes after every restart. It is left out
  of image quality's denominator, and the count of such cameras is exported (``frame_unchecked``) so the
  assumption is visible. Set ``unchecked_is_healthy=False`` for a strict audit.
- **covered area**: at least ``required_cameras`` healthy in-service cameras. An area requiring 0 cameras
  is covered.
- **image quality**: frame-checked in-service cameras with no fault / frame-checked in-service cameras.
- **online (time)**: seconds online / seconds *observed* over a window, from state transitions; time when
  nothing was known (before the first transition) is neither up nor down and is reported separately. Only
  time *in service* counts: service changes are transitions of the ``service`` pseudo-module
  (:func:`service_spans`), so a camera put out of service mid-window counts until then.
"""

from __future__ import annotations

import bisect
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sharpeyes.probers.base import FaultCode
from sharpeyes.registry.inventory import Area, Camera, District, Inventory, Scope

ALL = "all"
"""The scope label for both scopes together, and the district label for city-wide."""

SCOPES: tuple[str, ...] = (Scope.PUBLIC.value, Scope.SECTOR.value, ALL)

ONLINE_STATES = frozenset({"up", "fault"})
"""Transition states in which a camera answers (a ``fault`` is a picture or clock fault of a live camera)."""


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """What the daemon knows about one camera now (distilled from the latest results)."""

    up: bool | None = None
    """Latest liveness result ok; ``None`` when never probed."""
    stream_reached_at: float | None = None
    """Wall time (UTC epoch seconds) the stream was last reached."""
    frame_faults: tuple[FaultCode, ...] | None = None
    """Faults of the latest frame-health probe; ``()`` for a clean picture, ``None`` when never checked."""


@dataclass(frozen=True, slots=True)
class RateOptions:
    """Knobs of the definitions above."""

    freshness_s: float = 3600.0
    unchecked_is_healthy: bool = True


@dataclass(frozen=True, slots=True)
class Ratio:
    """A numerator over a denominator; ``value`` is ``None`` when there is nothing to count."""

    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """Counts for one (scope, district) group: the numerators and denominators of every rate."""

    scope: str
    district: str
    areas: int = 0
    areas_covered: int = 0
    cameras: int = 0
    in_service: int = 0
    connected: int = 0
    online: int = 0
    healthy: int = 0
    frame_checked: int = 0
    frame_ok: int = 0
    frame_unchecked: int = 0

    @property
    def coverage(self) -> Ratio:
        return Ratio(self.areas_covered, self.areas)

    @property
    def connection(self) -> Ratio:
        return Ratio(self.connected, self.in_service)

    @property
    def online_now(self) -> Ratio:
        return Ratio(self.online, self.in_service)

    @property
    def good_order(self) -> Ratio:
        return Ratio(self.healthy, self.in_service)

    @property
    def image_quality(self) -> Ratio:
        return Ratio(self.frame_ok, self.frame_checked)


@dataclass(frozen=True, slots=True)
class CameraVerdict:
    """One in-service camera's standing under the definitions above."""

    connected: bool
    online: bool
    healthy: bool
    frame_checked: bool
    frame_ok: bool


def judge_camera(status: CameraStatus | None, now: float, options: RateOptions) -> CameraVerdict:
    """Apply the definitions to one in-service camera."""
    s = status or CameraStatus()
    online = s.up is True
    connected = s.stream_reached_at is not None and now - s.stream_reached_at <= options.freshness_s
    checked = s.frame_faults is not None
    frame_ok = checked and not s.frame_faults
    healthy = online and (frame_ok or (not checked and options.unchecked_is_healthy))
    return CameraVerdict(connected, online, healthy, checked, frame_ok)


_FIELDS = (
    "areas",
    "areas_covered",
    "cameras",
    "in_service",
    "connected",
    "online",
    "healthy",
    "frame_checked",
    "frame_ok",
    "frame_unchecked",
)
"""The order of the counters in the per-area and per-group vectors below."""


def _group_keys(inventory: Inventory) -> tuple[list[tuple[str, str]], Callable[[Area], list[tuple[str, str]]]]:
    """All group keys, and the groups an area counts toward (cached per district and scope)."""
    by_code = inventory.district_by_code()
    codes = sorted(by_code)
    keys = [(scope, d) for scope in SCOPES for d in (*codes, ALL)]
    cache: dict[tuple[str, Scope], list[tuple[str, str]]] = {}

    def of(area: Area) -> list[tuple[str, str]]:
        ck = (area.district, area.scope)
        if ck not in cache:
            chain = _chain(by_code, area.district)
            chain.append(ALL)
            cache[ck] = [(scope, d) for scope in (area.scope.value, ALL) for d in chain]
        return cache[ck]

    return keys, of


def _chain(by_code: Mapping[str, District], code: str) -> list[str]:
    """The codes of a district and its ancestors up to the root, as :meth:`Inventory.ancestors` walks them,
    with one district map for every walk (empty for an unknown district)."""
    chain: list[str] = []
    current = by_code.get(code)
    while current is not None and current.code not in chain:
        chain.append(current.code)
        current = by_code.get(current.parent) if current.parent else None
    return chain


def compute_groups(
    inventory: Inventory,
    statuses: Mapping[str, CameraStatus],
    now: float,
    options: RateOptions = RateOptions(),
    verdicts: Mapping[str, CameraVerdict] | None = None,
) -> dict[tuple[str, str], GroupCounts]:
    """Counts for every scope × district (every level, every district of the tree even if empty) + city-wide.
    ``verdicts``: cameras already judged (:func:`judge_camera` of their status at ``now``)."""
    keys, groups_of = _group_keys(inventory)
    accs = {key: [0] * len(_FIELDS) for key in keys}
    cams_by_area: dict[str, list[Camera]] = defaultdict(list)
    for cam in inventory.cameras:
        cams_by_area[cam.area].append(cam)
    by_place: dict[tuple[str, Scope], tuple[Area, list[int]]] = {}  # areas of one district and scope, summed
    for area in inventory.areas:
        vec = _count_area(area, cams_by_area.get(area.id, []), statuses, now, options, verdicts or {})
        _, acc = by_place.setdefault((area.district, area.scope), (area, [0] * len(_FIELDS)))
        acc[:] = map(operator.add, acc, vec)
    for area, vec in by_place.values():  # integer counts: the same totals in any order
        for key in groups_of(area):
            accs[key][:] = map(operator.add, accs[key], vec)
    return {key: GroupCounts(key[0], key[1], *acc) for key, acc in accs.items()}


def _count_area(
    area: Area,
    cameras: Sequence[Camera],
    statuses: Mapping[str, CameraStatus],
    now: float,
    options: RateOptions,
    verdicts: Mapping[str, CameraVerdict],
) -> list[int]:
    """The counter vector (in ``_FIELDS`` order) one area contributes to each of its groups."""
    in_service = connected = online = healthy = checked = frame_ok = 0
    for cam in cameras:
        if not cam.in_service:
            continue
        v = verdicts.get(cam.id) or judge_camera(statuses.get(cam.id), now, options)
        in_service += 1
        connected += v.connected
        online += v.online
        healthy += v.healthy
        checked += v.frame_checked
        frame_ok += v.frame_ok
    covered = int(healthy >= area.required_cameras)
    return [1, covered, len(cameras), in_service, connected, online, healthy, checked, frame_ok, in_service - checked]


# --- time-weighted online -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatePoint:
    """A camera's state from ``at`` (UTC epoch seconds) on: one transition's ``to`` state."""

    at: float
    state: str


@dataclass(frozen=True, slots=True)
class TimeOnline:
    """Seconds online and seconds observed (state known) over a window, and the window's length."""

    seconds_up: float
    seconds_known: float
    seconds_window: float

    @property
    def ratio(self) -> Ratio:
        return Ratio(self.seconds_up, self.seconds_known)

    def __add__(self, other: TimeOnline) -> TimeOnline:
        return TimeOnline(
            self.seconds_up + other.seconds_up,
            self.seconds_known + other.seconds_known,
            self.seconds_window + other.seconds_window,
        )


def time_online(
    points: Iterable[StatePoint], start: float, end: float, online_states: frozenset[str] = ONLINE_STATES
) -> TimeOnline:
    """Seconds online within ``[start, end)`` from a camera's transitions (any order, any span).

    The state at ``start`` is the one set by the last transition at or before ``start`` (a transition
    crossing the left edge); transitions after ``end`` are ignored; before the first transition the state is
    unknown and counts neither way.
    """
    if end <= start:
        return TimeOnline(0.0, 0.0, 0.0)
    ordered = sorted(points, key=lambda p: p.at)
    state: str | None = None
    cursor = start
    up = known = 0.0
    for p in ordered:
        if p.at >= end:
            break
        if p.at > cursor:
            up, known = _credit(state, p.at - cursor, up, known, online_states)
            cursor = p.at
        state = p.state
    up, known = _credit(state, end - cursor, up, known, online_states)
    return TimeOnline(up, known, end - start)


def _credit(
    state: str | None, seconds: float, up: float, known: float, online_states: frozenset[str]
) -> tuple[float, float]:
    if state is None:
        return up, known
    return up + (seconds if state in online_states else 0.0), known + seconds


def time_online_groups(
    inventory: Inventory, points: Mapping[str, Sequence[StatePoint]], start: float, end: float
) -> dict[tuple[str, str], TimeOnline]:
    """Time-weighted online per scope × district + city-wide, over the in-service cameras."""
    keys, groups_of = _group_keys(inventory)
    out: dict[tuple[str, str], TimeOnline] = dict.fromkeys(keys, TimeOnline(0.0, 0.0, 0.0))
    areas = inventory.area_by_id()
    for cam in inventory.cameras:
        area = areas.get(cam.area)
        if area is None or not cam.in_service:
            continue
        t = time_online(points.get(cam.id, ()), start, end)
        for key in groups_of(area):
            out[key] = out[key] + t
    return out


# --- time in service, state segments and buckets ----------------------------------------------------------

SERVICE_MODULE = "service"
"""The pseudo-module of registry service changes in the transitions table (``in_service`` / ``out_of_service``).

A camera with no such transition is taken as in or out of service for the whole window by its current
``Camera.in_service``. One with them is in service exactly over the spans they describe: before its first
service transition it was in the opposite state of that transition's ``to``.
"""

IN_SERVICE = "in_service"
OUT_OF_SERVICE = "out_of_service"

Span = tuple[float, float]


def service_spans(points: Iterable[StatePoint], start: float, end: float, in_service_now: bool) -> list[Span]:
    """The sub-intervals of ``[start, end)`` in which a camera was in service, from its service transitions."""
    ordered = sorted(points, key=lambda p: p.at)
    if not ordered:
        return [(start, end)] if in_service_now and end > start else []
    spans: list[Span] = []
    serving = ordered[0].state != IN_SERVICE
    cursor = start
    for p in ordered:
        if p.at >= end:
            break
        if p.at > cursor and serving:
            spans.append((cursor, p.at))
        cursor = max(cursor, p.at)
        serving = p.state == IN_SERVICE
    if serving and end > cursor:
        spans.append((cursor, end))
    return spans


def state_segments(points: Iterable[StatePoint], start: float, end: float) -> list[tuple[float, float, str]]:
    """The known-state pieces ``(from, to, state)`` of ``[start, end)``, in time order (unknown time left out)."""
    ordered = sorted(points, key=lambda p: p.at)
    out: list[tuple[float, float, str]] = []
    state: str | None = None
    cursor = start
    for p in ordered:
        if p.at >= end:
            break
        if p.at > cursor:
            if state is not None:
                out.append((cursor, p.at, state))
            cursor = p.at
        state = p.state
    if state is not None and end > cursor:
        out.append((cursor, end, state))
    return out


def time_online_in_service(
    points: Sequence[StatePoint], spans: Sequence[Span], online_states: frozenset[str] = ONLINE_STATES
) -> TimeOnline:
    """Time online over the spans a camera was in service; ``seconds_window`` is the time in service."""
    total = TimeOnline(0.0, 0.0, 0.0)
    for a, b in spans:
        total = total + time_online(points, a, b, online_states)
    return total


def time_online_buckets(
    points: Sequence[StatePoint],
    spans: Sequence[Span],
    edges: Sequence[float],
    online_states: frozenset[str] = ONLINE_STATES,
) -> list[TimeOnline]:
    """Time online per bucket ``[edges[i], edges[i+1])`` (e.g. days), counting only the in-service spans."""
    n = len(edges) - 1
    up = [0.0] * n
    known = [0.0] * n
    window = [0.0] * n
    for a, b in spans:
        _spread(a, b, edges, window)
        for sa, sb, state in state_segments(points, a, b):
            _spread(sa, sb, edges, known)
            if state in online_states:
                _spread(sa, sb, edges, up)
    return [TimeOnline(up[i], known[i], window[i]) for i in range(n)]


def _spread(a: float, b: float, edges: Sequence[float], into: list[float]) -> None:
    """Add the length of ``[a, b)`` to the buckets it overlaps."""
    i = max(bisect.bisect_right(edges, a) - 1, 0)
    while i < len(into) and edges[i] < b:
        overlap = min(b, edges[i + 1]) - max(a, edges[i])
        if overlap > 0:
            into[i] += overlap
        i += 1


def sum_time_online(inventory: Inventory, per_camera: Mapping[str, TimeOnline]) -> dict[tuple[str, str], TimeOnline]:
    """Per-camera time online (already clipped to its service) summed per scope × district + city-wide.

    Per area, its cameras' figures in registry order; per group, its areas' sums in registry order (each
    ``np.bincount`` adds its weights one by one in the order given: the floats of a plain loop)."""
    keys, groups_of = _group_keys(inventory)
    key_index = {key: i for i, key in enumerate(keys)}
    area_index = {a.id: i for i, a in enumerate(inventory.areas)}
    n_areas = len(inventory.areas)
    cam_area: list[int] = []
    figures: list[tuple[float, float, float]] = []
    for cam in inventory.cameras:
        t = per_camera.get(cam.id)
        i = area_index.get(cam.area)
        if t is not None and i is not None:
            cam_area.append(i)
            figures.append((t.seconds_up, t.seconds_known, t.seconds_window))
    columns = np.array(figures, dtype=np.float64).reshape(-1, 3)
    cam_areas = np.array(cam_area, dtype=np.intp)
    per_area = [np.bincount(cam_areas, weights=columns[:, k], minlength=n_areas) for k in range(3)]
    has = (np.bincount(cam_areas, minlength=n_areas) > 0).tolist()
    cache: dict[tuple[str, Scope], list[int]] = {}
    pair_area: list[int] = []
    pair_key: list[int] = []
    for i, area in enumerate(inventory.areas):
        if not has[i]:
            continue
        ck = (area.district, area.scope)
        if ck not in cache:
            cache[ck] = [key_index[key] for key in groups_of(area)]
        ids = cache[ck]
        pair_key.extend(ids)
        pair_area.extend([i] * len(ids))
    areas, groups = np.array(pair_area, dtype=np.intp), np.array(pair_key, dtype=np.intp)
    sums = [np.bincount(groups, weights=col[areas], minlength=len(keys)) for col in per_area]
    up, known, window = (col.tolist() for col in sums)
    return {key: TimeOnline(up[i], known[i], window[i]) for i, key in enumerate(keys)}


# --- time online of many cameras at once (numpy) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segments:
    """Known-state pieces of many cameras, clipped to a window: parallel numpy arrays, one item per piece."""

    camera: npt.NDArray[np.int64]
    start: npt.NDArray[np.float64]
    end: npt.NDArray[np.float64]
    online: npt.NDArray[np.bool_]


def segments_bulk(
    camera: npt.NDArray[np.int64],
    at: npt.NDArray[np.float64],
    online: npt.NDArray[np.bool_],
    start: float,
    end: float,
) -> Segments:
    """The same pieces as :func:`state_segments`, for many cameras at once.

    Rows are transitions (camera index, time, whether the new state is online) in any order; per camera,
    transitions at or before ``start`` only matter through the last of them (the state crossing the left
    edge), and those at or after ``end`` are ignored.
    """
    keep = at < end
    camera, at, online = camera[keep], at[keep], online[keep]
    order = camera_time_order(camera, at, start)
    camera, at, online = camera[order], at[order], online[order]
    nxt = np.empty_like(at)
    nxt[:-1] = at[1:]
    if len(at):
        nxt[-1] = end
    last_of_camera = np.ones(len(at), dtype=bool)
    last_of_camera[:-1] = camera[1:] != camera[:-1]
    nxt[last_of_camera] = end
    a = np.clip(at, start, end)
    b = np.clip(nxt, start, end)
    piece = b > a
    return Segments(camera[piece], a[piece], b[piece], online[piece])


def camera_time_order(camera: npt.NDArray[np.int64], at: npt.NDArray[np.float64], start: float) -> npt.NDArray[np.intp]:
    """The permutation ``np.lexsort((at, camera))`` (by camera, then time, ties in their order), found cheaply
    for rows as they are read: runs already in time order per camera, the transitions before ``start`` (the
    left edges) in runs of their own. A stable sort on the camera and the side of ``start`` merges the runs;
    when that leaves some camera's times out of order, the full sort is done."""
    key = camera * 2 + (at >= start)
    order = np.argsort(key, kind="stable")
    c, t = camera[order], at[order]
    if np.any((c[1:] == c[:-1]) & (t[1:] < t[:-1])):
        return np.lexsort((at, camera))
    return order


def per_camera_bulk(seg: Segments, n_cameras: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Seconds up and seconds known per camera index."""
    length = seg.end - seg.start
    up = np.bincount(seg.camera, weights=np.where(seg.online, length, 0.0), minlength=n_cameras)
    known = np.bincount(seg.camera, weights=length, minlength=n_cameras)
    return up.astype(np.float64), known.astype(np.float64)


def per_bucket_bulk(
    seg: Segments, edges: Sequence[float], mask: npt.NDArray[np.bool_] | None = None
) -> tuple[list[float], list[float]]:
    """Seconds up and known in each bucket ``[edges[i], edges[i+1])``, summed over the (masked) pieces."""
    return per_bucket_bulk_many(seg, edges, [mask])[0]


def per_bucket_bulk_many(
    seg: Segments, edges: Sequence[float], masks: Sequence[npt.NDArray[np.bool_] | None]
) -> list[tuple[list[float], list[float]]]:
    """:func:`per_bucket_bulk` for several masks of the same pieces: where each piece falls is found once.
    Each mask's sums add the same values in the same order as it alone would (the same floats)."""
    e = np.asarray(edges, dtype=np.float64)
    cut = _Cut(seg.start, seg.end, e)
    out = []
    for mask in masks:
        m = np.ones(len(seg.start), dtype=bool) if mask is None else mask
        up = cut.sums(m & seg.online)
        known = cut.sums(m)
        out.append(([float(x) for x in up], [float(x) for x in known]))
    return out


class _Cut:
    """Pieces ``[a, b)`` clipped to ``[e[0], e[-1])`` and placed in the buckets (once), to sum any subset of
    them per bucket without a loop: the partial first and last buckets of each piece, plus whole buckets
    counted through a difference array."""

    def __init__(self, a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], e: npt.NDArray[np.float64]) -> None:
        self.e, self.n = e, len(e) - 1
        if self.n <= 0:
            return
        a, b = np.clip(a, e[0], e[-1]), np.clip(b, e[0], e[-1])
        self.keep = b > a
        n = self.n
        self.ia = np.clip(np.searchsorted(e, a, side="right") - 1, 0, n - 1)
        self.ib = np.clip(np.searchsorted(e, b, side="left") - 1, 0, n - 1)
        self.same = self.ia == self.ib
        self.length = b - a
        self.head = e[np.minimum(self.ia + 1, n)] - a
        self.tail = b - e[self.ib]

    def sums(self, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        n = self.n
        if n <= 0:
            return np.zeros(0)
        sel = mask & self.keep
        one = sel & self.same
        out = np.bincount(self.ia[one], weights=self.length[one], minlength=n).astype(np.float64)
        more = sel & ~self.same
        ia, ib = self.ia[more], self.ib[more]
        out += np.bincount(ia, weights=self.head[more], minlength=n)
        out += np.bincount(ib, weights=self.tail[more], minlength=n)
        whole = np.bincount(ia + 1, minlength=n + 1)[: n + 1] - np.bincount(ib, minlength=n + 1)[: n + 1]
        out += np.cumsum(whole)[:n] * np.diff(self.e)
        return out
