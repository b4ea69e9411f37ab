"""Inline SVG charts for the HTML report (no script, no external file): rates against targets per district,
faults by code, and availability over the window. Text is fitted to its box by an estimate of its width
(CJK characters count one em, others about 0.6 em) and cut with an ellipsis when too long."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from html import escape

from sharpeyes.audit.i18n import label
from sharpeyes.audit.model import DayPoint, GroupRow, Report
from sharpeyes.audit.render.fmt import district_label

WIDTH = 720
FONT = 12
RATE_COLOURS = {"coverage": "#1565c0", "connection": "#6a1b9a", "good_order": "#2e7d32", "online_time": "#ef6c00"}
SCOPE_COLOURS = {"public": "#1565c0", "sector": "#2e7d32", "all": "#424242"}
TARGET = "#c62828"
FAULT = "#c62828"
MAX_ROWS = 30


def text_width(text: str, size: float = FONT) -> float:
    """Estimated rendered width in px: wide (CJK) characters one em, others 0.62 em."""
    return sum(size * (1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62) for ch in text)


def fit(text: str, max_px: float, size: float = FONT) -> str:
    """The text, cut with an ellipsis so that it fits ``max_px``."""
    if text_width(text, size) <= max_px:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > max_px:
            break
        out += ch
    return out + "…"


def _text(x: float, y: float, text: str, max_px: float, *, anchor: str = "start", size: float = FONT) -> str:
    shown = escape(fit(text, max_px, size))
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" data-w="{max_px:.0f}">{shown}</text>'
    )


def _svg(height: float, body: Sequence[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" preserveAspectRatio="xMinYMin meet">'
        + "".join(body)
        + "</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], y: float) -> list[str]:
    out, x = [], 0.0
    for colour, name in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>')
        out.append(_text(x + 14, y, name, 150))
        x += 18 + min(text_width(name), 150) + 16
    return out


def rates_chart(report: Report, lang: str) -> str:
    """Per district and scope: coverage, connection, good order and online (time), with the target ticks."""
    top = min((g.depth for g in report.groups), default=0)
    rows = [g for g in report.groups if g.depth <= top + 2 and g.scope != "all"] or list(report.groups)
    rows = rows[:MAX_ROWS]
    label_w, bar_x, bar_w, row_h = 220.0, 230.0, 440.0, 34.0
    body = _legend([(c, label(n, lang)) for n, c in RATE_COLOURS.items()] + [(TARGET, label("target", lang))], 14)
    for i, g in enumerate(rows):
        body += _rate_row(g, lang, 28 + i * row_h, label_w, bar_x, bar_w)
    for p in (0, 50, 100):
        x = bar_x + bar_w * p / 100
        body.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{28 + len(rows) * row_h:.1f}" stroke="#bbb"/>')
        body.append(_text(x, 40 + len(rows) * row_h, f"{p}%", 40, anchor="middle", size=10))
    return _svg(48 + len(rows) * row_h, body, label("rates_chart", lang))


def _rate_row(g: GroupRow, lang: str, y: float, label_w: float, bar_x: float, bar_w: float) -> list[str]:
    name = f"{district_label(g, lang).strip()} · {label(g.scope, lang)}"
    out = [_text(0, y + 18, name, label_w)]
    for j, (rate_name, colour) in enumerate(RATE_COLOURS.items()):
        r = g.rate(rate_name)
        by = y + 3 + j * 7
        out.append(f'<rect x="{bar_x}" y="{by:.1f}" width="{bar_w}" height="6" fill="#eee"/>')
        if r.value is not None:
            out.append(f'<rect x="{bar_x}" y="{by:.1f}" width="{bar_w * r.value:.1f}" height="6" fill="{colour}"/>')
        if r.target is not None:
            tx = bar_x + bar_w * r.target
            out.append(
                f'<line x1="{tx:.1f}" y1="{by - 1:.1f}" x2="{tx:.1f}" y2="{by + 7:.1f}" stroke="{TARGET}" '
                'stroke-width="2"/>'
            )
    return out


def faults_chart(report: Report, lang: str) -> str:
    """Cameras per fault code, longest bar first."""
    faults = report.faults[:MAX_ROWS]
    most = max((len(f.cameras) for f in faults), default=1)
    label_w, bar_x, bar_w, row_h = 220.0, 230.0, 420.0, 22.0
    body: list[str] = []
    for i, f in enumerate(faults):
        y = 6 + i * row_h
        w = bar_w * len(f.cameras) / most
        body.append(_text(0, y + 12, label(f.code, lang), label_w))
        body.append(f'<rect x="{bar_x}" y="{y:.1f}" width="{w:.1f}" height="14" fill="{FAULT}"/>')
        body.append(_text(bar_x + w + 6, y + 12, str(len(f.cameras)), 60))
    if not faults:
        body.append(_text(0, 18, label("none", lang), WIDTH))
    return _svg(12 + max(len(faults), 1) * row_h, body, label("faults_chart", lang))


def availability_chart(report: Report, lang: str) -> str:
    """Time-weighted online per UTC day of the window, one line per scope."""
    by_scope: dict[str, list[DayPoint]] = {}
    for p in report.availability:
        by_scope.setdefault(p.scope, []).append(p)
    days = sorted({p.day for p in report.availability})
    values = [p.value for p in report.availability if p.value is not None]
    floor = max(0.0, min([*values, 1.0]) - 0.05)
    floor = int(floor * 10) / 10
    left, top, w, h = 50.0, 30.0, WIDTH - 70.0, 180.0
    body = _legend([(SCOPE_COLOURS.get(s, "#000"), label(s, lang)) for s in by_scope], 14)
    body += _axes(left, top, w, h, floor, days)
    for scope, pts in by_scope.items():
        coords = [
            (left + (w * (i + 0.5) / max(len(days), 1)), top + h * (1 - (p.value - floor) / (1 - floor or 1)))
            for i, p in enumerate(pts)
            if p.value is not None
        ]
        colour = SCOPE_COLOURS.get(scope, "#000")
        if coords:
            pts_attr = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            body.append(f'<polyline points="{pts_attr}" fill="none" stroke="{colour}" stroke-width="2"/>')
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in coords]
    return _svg(top + h + 34, body, label("availability", lang))


def _axes(left: float, top: float, w: float, h: float, floor: float, days: Sequence[str]) -> list[str]:
    out = [f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    for k in range(5):
        v = floor + (1 - floor) * k / 4
        y = top + h * (1 - k / 4)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(_text(left - 4, y + 4, f"{v * 100:.4g}%", left - 6, anchor="end", size=10))
    step = max(1, len(days) // 8)
    for i in range(0, len(days), step):
        x = left + w * (i + 0.5) / len(days)
        out.append(_text(x, top + h + 16, days[i][5:], 60, anchor="middle", size=10))
    return out
