"""Renderers of the audit report: each takes a :class:`~sharpeyes.audit.model.Report` and a language."""

from __future__ import annotations

from collections.abc import Callable

from sharpeyes.audit.model import Report

Renderer = Callable[[Report, str], str]
FORMATS = ("table", "csv", "json", "html", "md")


def renderer(fmt: str) -> Renderer:
    """The renderer of one format (imported lazily: the HTML one is the biggest)."""
    if fmt == "json":
        from sharpeyes.audit.render.json_out import render_json

        return render_json
    if fmt == "csv":
        from sharpeyes.audit.render.csv_out import render_csv

        return render_csv
    if fmt == "md":
        from sharpeyes.audit.render.markdown import render_markdown

        return render_markdown
    if fmt == "html":
        from sharpeyes.audit.render.html import render_html

        return render_html
    from sharpeyes.audit.render.table import render_table

    return render_table
