"""The Prometheus collector: renders the daemon's in-memory state at scrape time (DESIGN.md §7).

``collect()`` does no I/O: it reads the :class:`~sharpeyes.runtime.Runtime` and computes the rates with
:mod:`sharpeyes.rates`. With tens of thousands of cameras rendering takes long enough to delay probes, so
``/metrics`` renders in a worker thread: every container read here is first copied by one C-level call
(``dict(...)``, ``list(...)``), which the GIL makes atomic against the event loop's updates; a camera's
fields may mix two consecutive results, never crash the scrape. Every value comes from the daemon's own probe schedule,
not from a probe made for this scrape; ``sharpeyes_last_sweep_success_timestamp_seconds`` says how fresh.

Labels are ids and closed enums only (camera, area and district ids, scope, sector, point class, module,
reason, fault code) — never a name, URL, address or message. prometheus-client escapes label values.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sharpeyes.rates import ALL, CameraStatus, GroupCounts, compute_groups, judge_camera
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.registry.signatures import DatabaseSignatureStore
from sharpeyes.runtime import Config, Runtime

CACHED = " Value from the daemon's own probe schedule (cached), not probed at scrape time."
GROUP_LABELS = ["scope", "district", "level"]

_CAMERA_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("cameras_registered", "cameras", "Registered cameras, in service or not."),
    ("cameras_in_service", "in_service", "In-service cameras: the denominator of connection, online, good order."),
    ("cameras_connected", "connected", "In-service cameras whose stream was reached within the freshness window."),
    ("cameras_online", "online", "In-service cameras up at their last liveness probe."),
    ("cameras_healthy", "healthy", "In-service cameras online with no frame fault (完好)."),
    ("cameras_frame_checked", "frame_checked", "In-service cameras whose picture was judged by frame health."),
    ("cameras_frame_ok", "frame_ok", "Frame-checked in-service cameras with no fault."),
    ("cameras_frame_unchecked", "frame_unchecked", "In-service cameras never frame-checked (counted healthy if up)."),
    ("areas_registered", "areas", "Registered areas: the denominator of coverage."),
    ("areas_covered", "areas_covered", "Areas with at least their required number of healthy cameras."),
)


MAX_LABEL_CHARS = 200


def label(value: str) -> str:
    """A label value that cannot break a scrape: valid UTF-8, bounded length (long ids keep a hash suffix)."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    if len(safe) <= MAX_LABEL_CHARS:
        return safe
    digest = hashlib.sha256(safe.encode()).hexdigest()[:16]
    return f"{safe[: MAX_LABEL_CHARS - 17]}~{digest}"


class SharpeyesCollector(Collector):
    """A custom collector over one :class:`Runtime`. Register it on a registry you own, never the global one."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.clock = clock
        self._static: tuple[Config, list[tuple[Camera, str, list[str]]]] | None = None

    def _static_labels(self, config: Config) -> list[tuple[Camera, str, list[str]]]:
        """Per camera: its escaped id label and its info labels, computed once per config (they never change)."""
        cached = self._static
        if cached is not None and cached[0] is config:
            return cached[1]
        areas = config.inventory.area_by_id()
        paths = district_paths(config.inventory)
        rows = []
        for cam in config.inventory.cameras:
            area = areas.get(cam.area)
            cid = label(cam.id)
            info = [
                cid,
                label(cam.area),
                label(area.district) if area else "",
                area.scope.value if area else "",
                label(area.sector or "") if area else "",
                label(cam.point_class or ""),
                "true" if cam.in_service else "false",
                paths.get(area.district, f"/{ALL}/") if area else f"/{ALL}/",
                scope_path(area.scope.value if area else None),
            ]
            rows.append((cam, cid, info))
        self._static = (config, rows)
        return rows

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        cfg = rt.config
        now = self.clock()
        statuses = rt.store.statuses(c.id for c in cfg.inventory.cameras)
        yield from self._cameras(now, statuses)
        groups = compute_groups(cfg.inventory, statuses, now, cfg.rate_options)
        yield from _aggregates(groups.values(), _levels(cfg.inventory))
        yield _targets(cfg.targets)
        yield from self._self_metrics()

    def _cameras(self, now: float, statuses: Mapping[str, CameraStatus]) -> Iterator[Metric]:
        rt = self.runtime
        up = GaugeMetricFamily(
            "sharpeyes_camera_up", "1 if the camera answered its last liveness probe." + CACHED, labels=["camera_id"]
        )
        healthy = GaugeMetricFamily(
            "sharpeyes_camera_healthy", "1 if online with no frame fault (完好)." + CACHED, labels=["camera_id"]
        )
        fault = GaugeMetricFamily(
            "sharpeyes_camera_fault",
            "1 per active frame fault code (closed set)." + CACHED,
            labels=["camera_id", "code"],
        )
        last_ok = GaugeMetricFamily(
            "sharpeyes_camera_last_success_timestamp_seconds",
            "Wall time of the camera's last successful probe, any module.",
            labels=["camera_id"],
        )
        skew = GaugeMetricFamily(
            "sharpeyes_camera_clock_skew_seconds",
            "Camera clock minus ours, from its last ONVIF probe." + CACHED,
            labels=["camera_id"],
        )
        info = GaugeMetricFamily(
            "sharpeyes_camera_info",
            "Static registry attributes; join with group_left.",
            labels=[
                "camera_id",
                "area_id",
                "district",
                "scope",
                "sector",
                "point_class",
                "in_service",
                "district_path",
                "scope_path",
            ],
        )
        failure = GaugeMetricFamily(
            "sharpeyes_camera_probe_failure",
            "1 per module whose latest result failed, with its reason (closed set); absent when ok." + CACHED,
            labels=["camera_id", "module", "reason"],
        )
        for cam, cid, info_labels in self._static_labels(rt.config):
            info.add_metric(info_labels, 1)
            status = statuses[cam.id]
            if status.up is not None:
                up.add_metric([cid], 1 if status.up else 0)
                verdict = judge_camera(status, now, rt.config.rate_options)
                healthy.add_metric([cid], 1 if verdict.healthy else 0)
            for code in sorted(set(status.frame_faults or ())):
                fault.add_metric([cid, code.value], 1)
            by_module = dict(rt.store.by_camera.get(cam.id, {}))
            for module, entry in sorted(by_module.items()):
                result = entry.result
                if result is not None and not result.ok:
                    failure.add_metric([cid, label(module), result.reason.value], 1)
            entries = list(by_module.values())
            successes = [e.last_success for e in entries if e.last_success is not None]
            if successes:
                last_ok.add_metric([cid], max(successes))
            skews = [e.result.observations.get("clock_skew_s") for e in entries if e.result is not None]
            numeric = [float(s) for s in skews if isinstance(s, int | float)]
            if numeric:
                skew.add_metric([cid], numeric[-1])
        yield from (up, healthy, fault, last_ok, skew, info, failure)
        yield from _areas(rt.config, statuses, now, district_paths(rt.config.inventory))

    def _self_metrics(self) -> Iterator[Metric]:
        rt = self.runtime
        c = rt.store.counters
        results = CounterMetricFamily(
            "sharpeyes_results", "Probe results by module and reason.", labels=["module", "reason"]
        )
        for (module, reason), n in sorted(dict(c.results).items()):
            results.add_metric([module, reason], n)
        yield results
        yield CounterMetricFamily(
            "sharpeyes_results_dropped",
            "Transition records dropped because the storage buffer was full.",
            value=c.dropped,
        )
        yield CounterMetricFamily(
            "sharpeyes_storage_errors", "Failed batch writes to the database.", value=c.storage_errors
        )
        yield CounterMetricFamily(
            "sharpeyes_transitions_written", "State transitions committed to the database.", value=c.transitions_written
        )
        yield GaugeMetricFamily(
            "sharpeyes_storage_pending", "Transitions waiting to be written.", value=len(rt.store.pending)
        )
        if rt.signatures is not None:
            yield from _signature_metrics(rt.signatures)
        if c.last_flush_ok is not None:
            yield GaugeMetricFamily(
                "sharpeyes_storage_last_success_timestamp_seconds",
                "Wall time of the last committed batch.",
                value=c.last_flush_ok,
            )
        hist = HistogramMetricFamily(
            "sharpeyes_probe_duration_seconds", "Probe durations by module.", labels=["module"]
        )
        for module, h in sorted(dict(rt.store.histograms).items()):
            hist.add_metric([module], h.cumulative(), h.total)
        yield hist
        yield from _sweep_metrics(rt)
        yield GaugeMetricFamily(
            "sharpeyes_config_last_reload_successful",
            "1 if the last reload was applied.",
            value=1 if rt.last_reload_ok else 0,
        )
        yield GaugeMetricFamily(
            "sharpeyes_config_last_reload_timestamp_seconds", "Wall time of the last reload.", value=rt.last_reload_at
        )
        yield GaugeMetricFamily("sharpeyes_start_time_seconds", "Wall time the daemon started.", value=rt.started)


def _sweep_metrics(rt: Runtime) -> Iterator[Metric]:
    duration = GaugeMetricFamily(
        "sharpeyes_sweep_duration_seconds", "Duration of the module's last full sweep.", labels=["module"]
    )
    lag = GaugeMetricFamily(
        "sharpeyes_sweep_lag_seconds",
        "Largest start delay of a probe behind its slot in the module's last sweep.",
        labels=["module"],
    )
    overruns = CounterMetricFamily(
        "sharpeyes_sweep_overruns", "Sweeps that did not finish within the interval.", labels=["module"]
    )
    sweeps = CounterMetricFamily("sharpeyes_sweeps", "Completed sweeps.", labels=["module"])
    retries = CounterMetricFamily(
        "sharpeyes_probe_retries",
        "Quick retries after a transient failure, and re-probes of a slot voided as overload (only the last result "
        "counts).",
        labels=["module"],
    )
    last = GaugeMetricFamily(
        "sharpeyes_last_sweep_success_timestamp_seconds",
        "Wall time the module's last sweep completed: the freshness of every cached value.",
        labels=["module"],
    )
    skipped = CounterMetricFamily(
        "sharpeyes_probes_skipped", "Scheduled probes not run, by reason.", labels=["module", "reason"]
    )
    for module, s in sorted(dict(rt.sweeps).items()):
        sweeps.add_metric([module], s.sweeps)
        retries.add_metric([module], s.retries)
        overruns.add_metric([module], s.overruns)
        if s.last_duration_s is not None:
            duration.add_metric([module], s.last_duration_s)
        if s.last_lag_s is not None:
            lag.add_metric([module], s.last_lag_s)
        if s.last_complete is not None:
            last.add_metric([module], s.last_complete)
        for reason, n in sorted(dict(s.skipped).items()):
            skipped.add_metric([module, reason], n)
    interval = GaugeMetricFamily(
        "sharpeyes_module_interval_seconds",
        "The module's configured probe interval: sweeps are stale when far older than this.",
        labels=["module"],
    )
    for name, probe_module in sorted(rt.config.modules.items()):
        interval.add_metric([name], probe_module.interval_s)
    yield from (duration, lag, overruns, sweeps, retries, last, skipped, interval)
    if rt.concurrency_limit is not None:
        yield GaugeMetricFamily(
            "sharpeyes_probe_concurrency_limit",
            "Probes in flight at most: the configured total, capped by the file-descriptor budget.",
            value=rt.concurrency_limit,
        )
    if rt.loop_lag_s is not None:
        yield CounterMetricFamily(
            "sharpeyes_event_loop_lag_seconds",
            "Seconds the daemon's event loop ran late, summed (a starved host: probe timeouts then are skipped as "
            "overload).",
            value=rt.loop_lag_s(),
        )


def district_paths(inventory: Inventory) -> dict[str, str]:
    """Each district's chain of codes from the city-wide group down, ``/all/C/D1/S3/``.

    Select the cameras or areas of a district at any level with ``district_path=~".*/D1/.*"``, and all of
    them with ``.*/all/.*`` (an area whose district is not in the tree has the path ``/all/``).
    """
    return {
        d.code: f"/{ALL}/" + "".join(f"{label(a.code)}/" for a in reversed(list(inventory.ancestors(d.code))))
        for d in inventory.districts
    }


def scope_path(scope: str | None) -> str:
    """``/all/public/``: the scope groups a camera or area counts toward, selected like ``district_path``."""
    return f"/{ALL}/{scope}/" if scope else f"/{ALL}/"


def _areas(
    config: Config, statuses: Mapping[str, CameraStatus], now: float, paths: Mapping[str, str]
) -> Iterator[Metric]:
    """Per area (bounded by the registry, far fewer than cameras): covered, healthy cameras, info.

    Three series per area; the static required count is a label of the info series, not a series of its own.
    """
    covered = GaugeMetricFamily(
        "sharpeyes_area_covered", "1 if the area has its required healthy cameras (覆盖)." + CACHED, labels=["area_id"]
    )
    healthy = GaugeMetricFamily(
        "sharpeyes_area_healthy_cameras", "Healthy in-service cameras of the area." + CACHED, labels=["area_id"]
    )
    info = GaugeMetricFamily(
        "sharpeyes_area_info",
        "Static registry attributes of an area (required_cameras: healthy cameras it needs); join with group_left.",
        labels=["area_id", "district", "scope", "sector", "kind", "district_path", "scope_path", "required_cameras"],
    )
    counts: dict[str, int] = {a.id: 0 for a in config.inventory.areas}
    for cam in config.inventory.cameras:
        if cam.in_service and cam.area in counts:
            counts[cam.area] += judge_camera(statuses.get(cam.id), now, config.rate_options).healthy
    for area in config.inventory.areas:
        aid = label(area.id)
        covered.add_metric([aid], 1 if counts[area.id] >= area.required_cameras else 0)
        healthy.add_metric([aid], counts[area.id])
        info.add_metric(
            [aid, label(area.district), area.scope.value, label(area.sector or ""), label(area.kind),
             paths.get(area.district, f"/{ALL}/"), scope_path(area.scope.value), str(area.required_cameras)],
            1,
        )  # fmt: skip
    yield from (covered, healthy, info)


def _levels(inventory: Inventory) -> dict[str, str]:
    levels = {d.code: d.level.value for d in inventory.districts}
    levels[ALL] = ALL
    return levels


def _aggregates(groups: Iterable[GroupCounts], levels: dict[str, str]) -> Iterator[Metric]:
    families = {
        attr: GaugeMetricFamily(
            f"sharpeyes_{name}", help_ + " Per scope × district; sum, never average.", labels=GROUP_LABELS
        )
        for name, attr, help_ in _CAMERA_GAUGES
    }
    by_state = GaugeMetricFamily(
        "sharpeyes_cameras",
        "Registered cameras by state (healthy, faulty, offline, "
        "out_of_service); the states partition sharpeyes_cameras_registered.",
        labels=[*GROUP_LABELS, "state"],
    )
    areas = GaugeMetricFamily(
        "sharpeyes_areas", "Registered areas by state (covered, uncovered).", labels=[*GROUP_LABELS, "state"]
    )
    for g in groups:
        labels = [g.scope, label(g.district), levels.get(g.district, "")]
        for attr, fam in families.items():
            fam.add_metric(labels, getattr(g, attr))
        for state, n in (
            ("healthy", g.healthy),
            ("faulty", g.online - g.healthy),
            ("offline", g.in_service - g.online),
            ("out_of_service", g.cameras - g.in_service),
        ):
            by_state.add_metric([*labels, state], n)
        areas.add_metric([*labels, "covered"], g.areas_covered)
        areas.add_metric([*labels, "uncovered"], g.areas - g.areas_covered)
    yield from families.values()
    yield from (by_state, areas)


def _targets(targets: Mapping[str, Mapping[str, float]]) -> Metric:
    fam = GaugeMetricFamily(
        "sharpeyes_target_ratio", "The assessment target of a rate for a scope.", labels=["scope", "rate"]
    )
    for scope, rates in sorted(targets.items()):
        for rate, value in sorted(rates.items()):
            fam.add_metric([scope, rate], value)
    return fam


def _signature_metrics(store: DatabaseSignatureStore) -> Iterator[Metric]:
    """The frame signatures' write-behind: failed database operations, and what waits to be written."""
    yield CounterMetricFamily(
        "sharpeyes_frame_signature_errors",
        "Failed reads or writes of frame signatures in the database (the in-memory copy keeps working).",
        value=store.stats.errors,
    )
    yield GaugeMetricFamily(
        "sharpeyes_frame_signatures_pending", "Frame signatures waiting to be written.", value=len(store.pending)
    )
