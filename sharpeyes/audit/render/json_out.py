"""The JSON form of the report (schema ``sharpeyes.audit/1``, documented in docs/audit.md).

Language-independent: codes, not labels. Times are ISO 8601 UTC; rates are fractions with their numerator
and denominator; numbers are rounded to 6 decimals so the output is stable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from sharpeyes.audit.model import SCHEMA, CameraLine, GroupRow, Rate, Report


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _num(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _rate(r: Rate) -> dict[str, Any]:
    return {
        "numerator": _num(r.numerator),
        "denominator": _num(r.denominator),
        "value": _num(r.value),
        "target": _num(r.target),
        "met": r.met,
    }


def _group(g: GroupRow) -> dict[str, Any]:
    return {
        "scope": g.scope,
        "district": g.district,
        "name": g.district_name,
        "level": g.level,
        "depth": g.depth,
        "counts": {
            "areas": g.areas,
            "areas_covered": g.areas_covered,
            "cameras": g.cameras,
            "in_service": g.in_service,
            "connected": g.connected,
            "online": g.online,
            "healthy": g.healthy,
            "frame_checked": g.frame_checked,
            "frame_unchecked": g.frame_unchecked,
        },
        "time": {
            "seconds_up": _num(g.seconds_up),
            "seconds_known": _num(g.seconds_known),
            "seconds_in_service": _num(g.seconds_in_service),
        },
        "rates": {r.name: _rate(r) for r in g.rates},
    }


def _camera(c: CameraLine) -> dict[str, Any]:
    return {
        "camera_id": c.camera_id,
        "name": c.name,
        "area_id": c.area_id,
        "district": c.district,
        "scope": c.scope,
        "state": c.state,
        "since": _iso(c.since),
        "seconds_down": _num(c.seconds_down),
        "seconds_known": _num(c.seconds_known),
        "fault": c.fault,
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    return {
        "schema": SCHEMA,
        "generated_at": _iso(report.generated_at),
        "window": {
            "start": _iso(report.window.start),
            "end": _iso(report.window.end),
            "seconds": _num(report.window.end - report.window.start),
        },
        "root": {"district": report.root, "name": report.root_name},
        "scopes": list(report.scopes),
        "passed": report.passed,
        "thresholds": {name: _num(v) for name, v in report.thresholds},
        "failures": [
            {"scope": g.scope, "district": g.district, "rate": r.name, "value": _num(r.value), "threshold": _num(t)}
            for g, r, t in report.failures()
        ],
        "groups": [_group(g) for g in report.groups],
        "uncovered_areas": [
            {
                "area_id": u.area_id,
                "name": u.name,
                "district": u.district,
                "scope": u.scope,
                "required": u.required,
                "registered": u.registered,
                "healthy": u.healthy,
                "more_needed": u.more_needed,
                "to_register": u.to_register,
                "cameras": [{"camera_id": c.camera_id, "name": c.name, "why": c.why} for c in u.cameras],
            }
            for u in report.uncovered
        ],
        "never_reached": [_camera(c) for c in report.never_reached],
        "offline_longest": [_camera(c) for c in report.offline_longest],
        "faults": [{"code": f.code, "count": len(f.cameras), "cameras": list(f.cameras)} for f in report.faults],
        "fault_cameras": [_camera(c) for c in report.fault_cameras],
        "registry_gaps": [
            {"kind": g.kind, "id": g.id, "name": g.name, "required": g.required, "registered": g.registered}
            for g in report.registry_gaps
        ],
        "availability": [
            {
                "scope": p.scope,
                "day": p.day,
                "seconds_up": _num(p.seconds_up),
                "seconds_known": _num(p.seconds_known),
                "value": _num(p.value),
            }
            for p in report.availability
        ],
    }


def render_json(report: Report, lang: str) -> str:
    """Pretty JSON (2-space indent), keys in a fixed order, non-ASCII kept as is (UTF-8).

    Written by orjson: the text of ``json.dumps(doc, ensure_ascii=False, indent=2)`` but for exponents, which
    carry no leading zero (``1e-6``, not ``1e-06``), at a tenth of the time for a city-wide report."""
    return orjson.dumps(report_document(report), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
