"""The alerts a daemon state deserves under dashboards/rules/sharpeyes-alerts.yml, computed from the state."""

from __future__ import annotations

import time
from collections import Counter

from sharpeyes.probers.base import FaultCode, Reason
from sharpeyes.rates import compute_groups, judge_camera
from sharpeyes.registry.inventory import DistrictLevel
from sharpeyes.runtime import Runtime

Alert = tuple[str, str]
"""(alert name, subject): the camera, the area, the district, ``scope/district`` or ``district/code``."""

RISING = (FaultCode.FROZEN, FaultCode.SCENE_CHANGED)


def expected_alerts(rt: Runtime) -> set[Alert]:
    """Pending or firing right after the first evaluations (the `for` clocks have started, nothing more)."""
    inv, now = rt.config.inventory, time.time()
    statuses = rt.store.statuses(c.id for c in inv.cameras)
    out: set[Alert] = set()
    healthy: Counter[str] = Counter()
    rising: Counter[tuple[str, str]] = Counter()
    areas = inv.area_by_id()
    for cam in inv.cameras:
        st = statuses[cam.id]
        if cam.in_service and st.up is False:
            out.add(("SharpeyesCameraDown", cam.id))
        if cam.in_service:
            healthy[cam.area] += judge_camera(st, now, rt.config.rate_options).healthy
        entries = rt.store.by_camera.get(cam.id, {})
        results = [e.result for e in entries.values() if e.result is not None]
        if any(r.reason in (Reason.AUTH, Reason.LOCKED_OUT_BACKOFF) for r in results):
            out.add(("SharpeyesCameraAuthFailing", cam.id))
        skews = [float(s) for r in results if isinstance(s := r.observations.get("clock_skew_s"), int | float)]
        if skews and abs(skews[-1]) > 300:
            out.add(("SharpeyesCameraClockSkew", cam.id))
        for code in set(st.frame_faults or ()) & set(RISING):
            rising[(areas[cam.area].district, code.value)] += 1
    out |= {("SharpeyesAreaLostCoverage", a.id) for a in inv.areas if healthy[a.id] < a.required_cameras}
    out |= {("SharpeyesFrameFaultsRising", f"{d}/{code}") for (d, code), n in rising.items() if n >= 3}
    levels = {d.code: d.level for d in inv.districts}
    for (scope, district), g in compute_groups(inv, statuses, now, rt.config.rate_options).items():
        offline = g.in_service - g.online
        level = levels.get(district)
        if scope == "all" and level is DistrictLevel.DISTRICT and offline >= 5 and offline / g.in_service > 0.3:
            out.add(("SharpeyesDistrictMassOutage", district))
        if district != "all" and level is not DistrictLevel.DISTRICT:
            continue
        targets = rt.config.targets.get(scope, {})
        for name, key, rate in (("SharpeyesGoodOrderBelowTarget", "good_order", g.good_order),
                                ("SharpeyesConnectionBelowTarget", "connection", g.connection)):  # fmt: skip
            target = targets.get(key)
            if target is not None and rate.value is not None and rate.value < target:
                out.add((name, f"{scope}/{district}"))
    return out


def subject(labels: dict[str, str]) -> Alert:
    """The (name, subject) of an alert as Prometheus reports it in ALERTS."""
    name = labels["alertname"]
    if "camera_id" in labels:
        return name, labels["camera_id"]
    if "area_id" in labels:
        return name, labels["area_id"]
    if "code" in labels:
        return name, f"{labels['district']}/{labels['code']}"
    if "scope" in labels:
        return name, f"{labels['scope']}/{labels['district']}"
    return name, labels.get("district") or labels.get("module") or labels.get("instance", "")
