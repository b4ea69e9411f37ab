"""The report as titled tables of text cells, in one language: what the table, Markdown and HTML forms show."""

from __future__ import annotations

from dataclasses import dataclass

from sharpeyes.audit.i18n import label, why_label
from sharpeyes.audit.model import RATE_NAMES, CameraLine, GroupRow, Report
from sharpeyes.audit.render.fmt import district_label, duration, mark, pct, when

TARGETED = ("coverage", "connection", "good_order")


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell's text and whether it meets its target (``None``: no target)."""

    text: str
    ok: bool | None = None
    number: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _n(x: int | str) -> Cell:
    return Cell(str(x), number=True)


def rates_section(report: Report, lang: str) -> Section:
    heads = ("district", "scope", "areas", "areas_covered", "in_service", "connected", "online", "healthy")
    headers = tuple(label(h, lang) for h in heads) + tuple(label(r, lang) for r in RATE_NAMES)
    rows = tuple(_group_cells(g, lang, report) for g in report.groups)
    return Section("rates", label("rates", lang), headers, rows)


def _group_cells(g: GroupRow, lang: str, report: Report) -> tuple[Cell, ...]:
    thresholds = dict(report.thresholds)
    cells = [
        Cell(district_label(g, lang)),
        Cell(label(g.scope, lang)),
        _n(g.areas),
        _n(g.areas_covered),
        _n(g.in_service),
        _n(g.connected),
        _n(g.online),
        _n(g.healthy),
    ]
    for name in RATE_NAMES:
        r = g.rate(name)
        limit = thresholds.get(name) if thresholds else r.target
        ok = None if limit is None or r.value is None else r.value >= limit - 1e-12
        cells.append(Cell(f"{pct(r.value)} {mark(ok, lang)}".strip(), ok, number=True))
    return tuple(cells)


def targets_line(report: Report, lang: str) -> str:
    """``Target: coverage 100% (public) …`` or the ``--fail-under`` thresholds."""
    if report.thresholds:
        parts = [f"{label(n, lang)} ≥ {v * 100:g}%" for n, v in report.thresholds]
        return f"{label('fail_under', lang)}: " + ", ".join(parts)
    seen: dict[tuple[str, str], float] = {}
    for g in report.groups:
        for r in g.rates:
            if r.target is not None:
                seen[(g.scope, r.name)] = r.target
    parts = [f"{label(n, lang)} ({label(s, lang)}) ≥ {v * 100:g}%" for (s, n), v in seen.items()]
    return f"{label('target', lang)}: " + ", ".join(parts)


def uncovered_section(report: Report, lang: str) -> Section:
    heads = ("area", "name", "district", "scope", "required", "registered", "healthy", "more_needed", "to_register")
    rows = tuple(
        (
            Cell(u.area_id),
            Cell(u.name),
            Cell(u.district),
            Cell(label(u.scope, lang)),
            _n(u.required),
            _n(u.registered),
            _n(u.healthy),
            Cell(str(u.more_needed), ok=False, number=True),
            _n(u.to_register),
            Cell("; ".join(f"{c.camera_id} ({why_label(c.why, lang)})" for c in u.cameras)),
        )
        for u in report.uncovered
    )
    return Section("uncovered", label("uncovered", lang), (*(label(h, lang) for h in heads), label("why", lang)), rows)


def _camera_rows(lines: tuple[CameraLine, ...], lang: str, *, down: bool) -> tuple[tuple[Cell, ...], ...]:
    def last(c: CameraLine) -> Cell:
        if down:
            return Cell(duration(c.seconds_down), number=True)
        return Cell(label(c.fault, lang) if c.fault else "")

    return tuple(
        (
            Cell(c.camera_id),
            Cell(c.name),
            Cell(c.area_id),
            Cell(c.district),
            Cell(label(c.state, lang)),
            Cell(when(c.since)),
            last(c),
        )
        for c in lines
    )


def camera_section(key: str, lines: tuple[CameraLine, ...], lang: str, *, down: bool) -> Section:
    heads = ["camera", "name", "area", "district", "state", "since", "down_time" if down else "fault"]
    return Section(key, label(key, lang), tuple(label(h, lang) for h in heads), _camera_rows(lines, lang, down=down))


def faults_section(report: Report, lang: str) -> Section:
    rows = tuple(
        (Cell(label(f.code, lang)), Cell(f.code), _n(len(f.cameras)), Cell(", ".join(f.cameras[:20])))
        for f in report.faults
    )
    headers = (label("fault", lang), label("code", lang), label("count", lang), label("camera", lang))
    return Section("faults", label("faults", lang), headers, rows)


def gaps_section(report: Report, lang: str) -> Section:
    rows = tuple(
        (Cell(label(g.kind, lang)), Cell(g.id), Cell(g.name), _n(g.required), _n(g.registered))
        for g in report.registry_gaps
    )
    heads = ("kind", "area", "name", "required", "registered")
    return Section("registry_gaps", label("registry_gaps", lang), tuple(label(h, lang) for h in heads), rows)


def all_sections(report: Report, lang: str) -> list[Section]:
    """Every table of the report, in reading order."""
    return [
        rates_section(report, lang),
        uncovered_section(report, lang),
        camera_section("never_reached", report.never_reached, lang, down=False),
        camera_section("offline_longest", report.offline_longest, lang, down=True),
        faults_section(report, lang),
        gaps_section(report, lang),
    ]
