"""The CSV form: one row per district × scope with every count and every rate (schema in docs/audit.md)."""

from __future__ import annotations

import csv
import io

from sharpeyes.audit.model import RATE_NAMES, SCHEMA, GroupRow, Report

COUNT_COLUMNS = (
    "areas",
    "areas_covered",
    "cameras",
    "in_service",
    "connected",
    "online",
    "healthy",
    "frame_checked",
    "frame_unchecked",
)
RATE_PARTS = ("numerator", "denominator", "value", "target", "met")


def header() -> list[str]:
    cols = ["schema", "scope", "district", "name", "level", "depth", *COUNT_COLUMNS]
    cols += ["seconds_up", "seconds_known", "seconds_in_service"]
    return cols + [f"{rate}_{part}" for rate in RATE_NAMES for part in RATE_PARTS]


def _cell(x: float | bool | None) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    return f"{x:.6f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


def _row(g: GroupRow) -> list[str]:
    row = [SCHEMA, g.scope, g.district, g.district_name, g.level, str(g.depth)]
    row += [str(getattr(g, c)) for c in COUNT_COLUMNS]
    row += [_cell(g.seconds_up), _cell(g.seconds_known), _cell(g.seconds_in_service)]
    for name in RATE_NAMES:
        r = g.rate(name)
        row += [_cell(float(r.numerator)), _cell(float(r.denominator)), _cell(r.value), _cell(r.target), _cell(r.met)]
    return row


def render_csv(report: Report, lang: str) -> str:
    """CSV with a header row; UTF-8; rates as fractions (0–1)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header())
    for g in report.groups:
        w.writerow(_row(g))
    return out.getvalue()
