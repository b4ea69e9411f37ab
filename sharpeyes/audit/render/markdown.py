"""The Markdown form: headings and pipe tables (for wikis, tickets, e-mail)."""

from __future__ import annotations

from sharpeyes.audit.i18n import label
from sharpeyes.audit.model import Report
from sharpeyes.audit.render.fmt import verdict, when, window_text
from sharpeyes.audit.render.sections import Section, all_sections, targets_line


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _indent(text: str) -> str:
    """Leading spaces (the district's depth) as no-break spaces, which Markdown keeps."""
    stripped = text.lstrip(" ")
    return "\u00a0" * (len(text) - len(stripped)) + stripped


def _table(section: Section, lang: str) -> list[str]:
    out = [f"## {section.title}", ""]
    if not section.rows:
        return [*out, label("none", lang), ""]
    out.append("| " + " | ".join(_esc(h) for h in section.headers) + " |")
    out.append("|" + "|".join("---:" if c.number else "---" for c in section.rows[0]) + "|")
    for row in section.rows:
        out.append("| " + " | ".join(_esc(c.text if i else _indent(c.text)) for i, c in enumerate(row)) + " |")
    return [*out, ""]


def render_markdown(report: Report, lang: str) -> str:
    lines = [
        f"# {label('title', lang)}",
        "",
        f"- {label('window', lang)}: {window_text(report)}",
        f"- {label('generated', lang)}: {when(report.generated_at)}",
        f"- {targets_line(report, lang)}",
        f"- **{verdict(report, lang)}**",
        "",
    ]
    for section in all_sections(report, lang):
        lines += _table(section, lang)
    return "\n".join(lines)
