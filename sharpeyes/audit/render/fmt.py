"""Small formatting helpers shared by the renderers."""

from __future__ import annotations

import datetime as dt

from sharpeyes.audit.i18n import label
from sharpeyes.audit.model import GroupRow, Report
from sharpeyes.rates import ALL


def pct(value: float | None) -> str:
    """``98.50%``, or an em dash when there is nothing to count."""
    return "—" if value is None else f"{value * 100:.2f}%"


def when(ts: float | None) -> str:
    """A UTC time to the minute."""
    return "—" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    """``3d 4h``, ``5h 12m``, ``12m 5s``."""
    s = round(seconds)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    return f"{m}m {sec}s"


def district_label(g: GroupRow, lang: str) -> str:
    """The district's name (or city-wide), indented by its depth in the tree."""
    name = label("city", lang) if g.district == ALL else (g.district_name or g.district)
    return "  " * g.depth + name


def scope_label(scope: str, lang: str) -> str:
    return label(scope, lang)


def window_text(report: Report) -> str:
    return f"{when(report.window.start)} — {when(report.window.end)}"


def verdict(report: Report, lang: str) -> str:
    return label("verdict_ok" if report.passed else "verdict_fail", lang)


def mark(met: bool | None, lang: str) -> str:
    """✓ / ✗ against the target, empty when there is none."""
    if met is None:
        return ""
    return "✓" if met else "✗"
