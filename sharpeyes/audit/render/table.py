"""The terminal form: rich tables (rich measures East Asian wide characters, so CJK columns line up)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sharpeyes.audit.i18n import label
from sharpeyes.audit.model import Report
from sharpeyes.audit.render.fmt import verdict, when, window_text
from sharpeyes.audit.render.sections import Section, all_sections, targets_line

WIDTH = 200


def _style(ok: bool | None) -> str:
    return "" if ok is None else ("green" if ok else "bold red")


def _table(section: Section, lang: str) -> Table | Text:
    if not section.rows:
        return Text(label("none", lang))
    t = Table(title=section.title, title_justify="left", show_lines=False, expand=False)
    for i, h in enumerate(section.headers):
        t.add_column(h, justify="right" if section.rows[0][i].number else "left", overflow="fold")
    for row in section.rows:
        t.add_row(*(Text(c.text, style=_style(c.ok)) for c in row))
    return t


def print_report(report: Report, lang: str, console: Console) -> None:
    """Print every section to a console."""
    console.print(Text(label("title", lang), style="bold"))
    console.print(f"{label('window', lang)}: {window_text(report)}")
    console.print(f"{label('generated', lang)}: {when(report.generated_at)}")
    console.print(targets_line(report, lang))
    console.print(Text(verdict(report, lang), style="bold green" if report.passed else "bold red"))
    for section in all_sections(report, lang):
        console.print()
        if not section.rows:
            console.print(Text(section.title, style="bold"))
        console.print(_table(section, lang))


def render_table(report: Report, lang: str) -> str:
    """Plain text (no colour codes) for a file or a pipe; the CLI prints in colour to a terminal instead."""
    buf = io.StringIO()
    console = Console(file=buf, width=WIDTH, color_system=None, force_terminal=False, legacy_windows=False)
    print_report(report, lang, console)
    return buf.getvalue()
