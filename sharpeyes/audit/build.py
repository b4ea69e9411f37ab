"""Building the audit report from an inventory snapshot and the transitions (pure; no I/O, no formatting)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sharpeyes.audit.history import CameraNow, History, camera_now, prober_of
from sharpeyes.audit.model import (
    CameraLine,
    CameraNeed,
    DayPoint,
    FaultCount,
    GroupRow,
    Rate,
    RegistryGap,
    Report,
    UncoveredArea,
    Window,
)
from sharpeyes.audit.timeline import Timeline, timeline
from sharpeyes.rates import (
    ALL,
    CameraVerdict,
    GroupCounts,
    RateOptions,
    TimeOnline,
    compute_groups,
    judge_camera,
    sum_time_online,
)
from sharpeyes.registry.inventory import Area, Camera, District, Inventory
from sharpeyes.settings import Targets

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What to audit and how: the district subtree, scopes, definitions, targets, list lengths."""

    district: str | None = None
    scopes: tuple[str, ...] = ("public", "sector", ALL)
    rates: RateOptions = field(default_factory=RateOptions)
    targets: Targets = field(default_factory=Targets)
    module_probers: Mapping[str, str] = field(default_factory=dict)
    thresholds: tuple[tuple[str, float], ...] = ()
    top: int = 50


@dataclass(frozen=True, slots=True)
class _Scope:
    """The cameras and areas the report covers (the district subtree, the scopes asked for)."""

    districts: frozenset[str] | None
    area_scopes: frozenset[str]

    def has(self, area: Area) -> bool:
        in_tree = self.districts is None or area.district in self.districts
        return in_tree and area.scope.value in self.area_scopes


def build_report(
    inventory: Inventory,
    history: History,
    window: Window,
    options: AuditOptions,
    *,
    generated_at: float,
    progress: Progress | None = None,
) -> Report:
    """The full report for one window."""
    order = district_order(inventory, options.district)
    scope = _Scope(
        districts=frozenset(code for code, _ in order if code != ALL) if options.district else None,
        area_scopes=frozenset(s for s in ("public", "sector") if s in options.scopes or ALL in options.scopes),
    )
    areas = inventory.area_by_id()
    in_scope = {a.id: a.scope.value for a in inventory.areas if scope.has(a)}
    cams = [c for c in inventory.cameras if c.area in in_scope]
    probers = _probers(history, options.module_probers)
    now = {c.id: camera_now(history.last.get(c.id, ()), window.end, probers) for c in cams}
    if progress:
        progress("camera states")
    edges = day_edges(window)
    scope_of = [in_scope[c.area] for c in cams]
    line = timeline(cams, scope_of, history, window, edges, options.module_probers, options.scopes)
    if progress:
        progress("time online")
    statuses = {cid: n.status for cid, n in now.items()}
    verdicts = {c.id: judge_camera(statuses[c.id], window.end, options.rates) for c in cams if c.in_service}
    counts = compute_groups(inventory, statuses, window.end, options.rates, verdicts)
    timed = sum_time_online(inventory, line.per_camera)
    by_code = inventory.district_by_code()
    groups = tuple(
        _group_row(by_code.get(code), code, depth, s, counts[(s, code)], timed[(s, code)], options.targets)
        for code, depth in order
        for s in options.scopes
        if depth == 0 or _has_anything(counts[(s, code)])
    )
    ever = history.ever_online_before | line.online_in_window
    in_scope_areas = [a for a in inventory.areas if scope.has(a)]
    line_of = _Lines(cams, scope_of, areas, now, line.per_camera)
    served = [i for i, c in enumerate(cams) if c.in_service]
    report = Report(
        window=window,
        generated_at=generated_at,
        root=options.district or ALL,
        root_name=_root_name(inventory, options.district),
        scopes=options.scopes,
        groups=groups,
        uncovered=_uncovered(in_scope_areas, cams, now, verdicts),
        never_reached=tuple(sorted((line_of(i) for i in served if cams[i].id not in ever), key=_by_id)),
        offline_longest=tuple(map(line_of, _offline_longest(cams, line.per_camera, options.top))),
        faults=_fault_counts((now[cams[i].id].fault, cams[i].id) for i in served),
        fault_cameras=tuple(sorted((line_of(i) for i in served if now[cams[i].id].fault), key=_by_id)),
        registry_gaps=_gaps(inventory, in_scope_areas, cams, options.district is None),
        availability=_availability(line, edges, options.scopes),
        thresholds=options.thresholds,
    )
    if progress:
        progress("report")
    return report


def _probers(history: History, module_probers: Mapping[str, str]) -> dict[str, str]:
    """The prober behind every module of the latest transitions, looked up once (:func:`prober_of`)."""
    modules = {x.module for lasts in history.last.values() for x in lasts}
    return {m: prober_of(m, module_probers) for m in modules}


def _has_anything(g: GroupCounts) -> bool:
    """A district with no area and no camera in a scope has no row for it (the root always has its rows)."""
    return bool(g.areas or g.cameras)


# --- districts ---------------------------------------------------------------------------------------------


def district_order(inventory: Inventory, root: str | None) -> list[tuple[str, int]]:
    """(code, depth) of the report's rows, depth-first: city-wide then every tree, or one district's subtree."""
    children: dict[str | None, list[str]] = defaultdict(list)
    known = inventory.district_by_code()
    for d in sorted(inventory.districts, key=lambda d: d.code):
        children[d.parent if d.parent in known else None].append(d.code)
    out: list[tuple[str, int]] = []
    seen: set[str] = set()

    def walk(code: str, depth: int) -> None:
        if code in seen:
            return
        seen.add(code)
        out.append((code, depth))
        for child in children.get(code, []):
            walk(child, depth + 1)

    if root is None:
        out.append((ALL, 0))
        seen.add(ALL)
        for top in children[None]:
            walk(top, 1)
    else:
        walk(root, 0)
    return out


def _root_name(inventory: Inventory, root: str | None) -> str:
    if root is None:
        return ""
    d = inventory.district_by_code().get(root)
    return d.name if d else root


def _group_row(
    d: District | None, code: str, depth: int, scope: str, g: GroupCounts, t: TimeOnline, targets: Targets
) -> GroupRow:
    target = getattr(targets, scope, None)
    rates = (
        Rate("coverage", g.areas_covered, g.areas, target.coverage if target else None),
        Rate("connection", g.connected, g.in_service, target.connection if target else None),
        Rate("online_now", g.online, g.in_service),
        Rate("online_time", t.seconds_up, t.seconds_known),
        Rate("good_order", g.healthy, g.in_service, target.good_order if target else None),
        Rate("image_quality", g.frame_ok, g.frame_checked),
    )
    return GroupRow(
        scope=scope,
        district=code,
        district_name=d.name if d else "",
        level=d.level.value if d else "city",
        depth=depth,
        areas=g.areas,
        areas_covered=g.areas_covered,
        cameras=g.cameras,
        in_service=g.in_service,
        connected=g.connected,
        online=g.online,
        healthy=g.healthy,
        frame_checked=g.frame_checked,
        frame_unchecked=g.frame_unchecked,
        seconds_up=t.seconds_up,
        seconds_known=t.seconds_known,
        seconds_in_service=t.seconds_window,
        rates=rates,
    )


# --- time ----------------------------------------------------------------------------------------------------


def day_edges(window: Window) -> list[float]:
    """The window cut at every UTC midnight inside it."""
    edges = [window.start]
    day = dt.datetime.fromtimestamp(window.start, dt.UTC).date() + dt.timedelta(days=1)
    while (t := dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()) < window.end:
        edges.append(t)
        day += dt.timedelta(days=1)
    edges.append(window.end)
    return edges


def _availability(line: Timeline, edges: Sequence[float], scopes: Sequence[str]) -> tuple[DayPoint, ...]:
    days = [dt.datetime.fromtimestamp(e, dt.UTC).date().isoformat() for e in edges[:-1]]
    return tuple(
        DayPoint(s, day, line.days_up[s][i], line.days_known[s][i]) for s in scopes for i, day in enumerate(days)
    )


# --- lists ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Lines:
    """The list line of audited camera ``i``, built only for the cameras a list shows."""

    cams: Sequence[Camera]
    scope_of: Sequence[str]
    areas: Mapping[str, Area]
    now: Mapping[str, CameraNow]
    per_camera: Mapping[str, TimeOnline]

    def __call__(self, i: int) -> CameraLine:
        c = self.cams[i]
        t = self.per_camera.get(c.id, _ZERO)
        return _line(c, self.scope_of[i], self.areas[c.area], self.now[c.id], t)


_ZERO = TimeOnline(0.0, 0.0, 0.0)


def _line(cam: Camera, scope: str, area: Area, h: CameraNow, t: TimeOnline) -> CameraLine:
    return CameraLine(
        camera_id=cam.id,
        name=cam.name,
        area_id=area.id,
        district=area.district,
        scope=scope,
        state=h.state,
        since=h.since,
        seconds_down=t.seconds_known - t.seconds_up,
        seconds_known=t.seconds_known,
        fault=h.fault,
    )


def _by_id(line: CameraLine) -> str:
    return line.camera_id


def _why(cam: Camera, h: CameraNow, verdicts: Mapping[str, CameraVerdict]) -> str | None:
    """Why a camera does not count toward its area's coverage (``None``: it does); ``verdicts``: the
    in-service cameras judged at the window's end."""
    if not cam.in_service:
        return "out_of_service"
    if verdicts[cam.id].healthy:
        return None
    if h.status.up is None:
        return "never_probed"
    if not h.status.up:
        return "offline"
    return f"fault:{h.fault}" if h.fault else "unchecked"


def _uncovered(
    areas: Sequence[Area],
    cams: Sequence[Camera],
    per_cam: Mapping[str, CameraNow],
    verdicts: Mapping[str, CameraVerdict],
) -> tuple[UncoveredArea, ...]:
    by_area: dict[str, list[Camera]] = defaultdict(list)
    for c in cams:
        by_area[c.area].append(c)
    out: list[UncoveredArea] = []
    for a in areas:
        members = by_area.get(a.id, [])
        whys = [(c, _why(c, per_cam[c.id], verdicts)) for c in members]
        healthy = sum(1 for _, w in whys if w is None)
        if healthy >= a.required_cameras:
            continue
        serving = sum(1 for c in members if c.in_service)
        out.append(
            UncoveredArea(
                area_id=a.id,
                name=a.name,
                district=a.district,
                scope=a.scope.value,
                required=a.required_cameras,
                registered=serving,
                healthy=healthy,
                more_needed=a.required_cameras - healthy,
                to_register=max(0, a.required_cameras - serving),
                cameras=tuple(CameraNeed(c.id, c.name, w) for c, w in whys if w is not None),
            )
        )
    return tuple(out)


def _offline_longest(cams: Sequence[Camera], per_camera: Mapping[str, TimeOnline], top: int) -> list[int]:
    """The ``top`` audited cameras (indexes) longest down in the window, longest first, then by id."""
    down = [
        (-(t.seconds_known - t.seconds_up), c.id, i)
        for i, c in enumerate(cams)
        if (t := per_camera.get(c.id)) is not None and t.seconds_known - t.seconds_up > 0
    ]
    return [i for _, _, i in sorted(down)[:top]]


def _fault_counts(faults: Iterable[tuple[str | None, str]]) -> tuple[FaultCount, ...]:
    """Cameras per fault code, from (fault, camera id) pairs: most cameras first, then by code."""
    by_code: dict[str, list[str]] = defaultdict(list)
    for fault, camera_id in faults:
        if fault:
            by_code[fault].append(camera_id)
    ordered = sorted(by_code.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return tuple(FaultCount(code, tuple(sorted(ids))) for code, ids in ordered)


def _gaps(
    inventory: Inventory, areas: Sequence[Area], cams: Sequence[Camera], include_orphans: bool
) -> tuple[RegistryGap, ...]:
    serving: dict[str, int] = defaultdict(int)
    for c in cams:
        serving[c.area] += c.in_service
    gaps = [
        RegistryGap("area_short", a.id, a.name, a.required_cameras, serving[a.id])
        for a in areas
        if serving[a.id] < a.required_cameras
    ]
    if include_orphans:
        known = inventory.area_by_id()
        gaps += [RegistryGap("camera_without_area", c.id, c.name) for c in inventory.cameras if c.area not in known]
    return tuple(gaps)
