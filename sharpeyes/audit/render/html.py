"""The HTML form: ONE self-contained file (inline CSS and SVG; no CDN, no script) that prints on A4."""

from __future__ import annotations

from html import escape

from sharpeyes.audit.i18n import label
from sharpeyes.audit.model import Report
from sharpeyes.audit.render.fmt import verdict, when, window_text
from sharpeyes.audit.render.sections import Cell, Section, all_sections, targets_line
from sharpeyes.audit.render.svg import availability_chart, faults_chart, rates_chart

CSS = """
@page { size: A4; margin: 12mm 10mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC", "Microsoft YaHei",
       "PingFang SC", "Helvetica Neue", Arial, sans-serif; color: #212121; margin: 0 auto; padding: 16px;
       max-width: 1000px; font-size: 13px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 22px 0 8px; border-bottom: 2px solid #1565c0; padding-bottom: 3px;
     break-after: avoid; }
.meta { color: #555; margin: 2px 0; overflow-wrap: anywhere; }
.verdict { display: inline-block; padding: 4px 10px; border-radius: 4px; font-weight: bold; margin: 8px 0; }
.verdict.ok { background: #e8f5e9; color: #1b5e20; } .verdict.bad { background: #ffebee; color: #b71c1c; }
figure { margin: 8px 0 16px; break-inside: avoid; }
figure svg { display: block; max-width: 100%; height: auto; font-family: inherit; }
table { border-collapse: collapse; width: 100%; table-layout: auto; font-size: 11px; margin-bottom: 8px; }
th, td { border: 1px solid #ccc; padding: 3px 5px; vertical-align: top; overflow-wrap: anywhere;
         word-break: break-word; }
th { background: #f1f4f9; text-align: left; }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.ok { color: #1b5e20; } td.bad { color: #b71c1c; font-weight: bold; background: #fff5f5; }
td.d { white-space: pre-wrap; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
.none { color: #777; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } table { font-size: 9.5px; }
               h2 { margin-top: 14px; } }
"""


def _cell(c: Cell, first: bool) -> str:
    cls = ["n"] if c.number else (["d"] if first else [])
    if c.ok is not None:
        cls.append("ok" if c.ok else "bad")
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{escape(c.text)}</td>"


def _section(s: Section, lang: str) -> str:
    head = f'<h2 id="{s.key}">{escape(s.title)}</h2>'
    if not s.rows:
        return head + f'<p class="none">{escape(label("none", lang))}</p>'
    ths = "".join(f"<th>{escape(h)}</th>" for h in s.headers)
    trs = "".join("<tr>" + "".join(_cell(c, i == 0) for i, c in enumerate(row)) + "</tr>" for row in s.rows)
    return f"{head}<table><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"


def _figure(key: str, title: str, svg: str) -> str:
    return f'<h2 id="{key}">{escape(title)}</h2><figure class="chart" id="chart-{key}">{svg}</figure>'


def render_html(report: Report, lang: str) -> str:
    sections = all_sections(report, lang)
    charts = [
        _figure("rates_chart", label("rates_chart", lang), rates_chart(report, lang)),
        _figure("availability_chart", label("availability", lang), availability_chart(report, lang)),
        _figure("faults_chart", label("faults_chart", lang), faults_chart(report, lang)),
    ]
    ok = report.passed
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(label('title', lang))}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(label('title', lang))}</h1>",
        f'<p class="meta">{escape(label("window", lang))}: {escape(window_text(report))}</p>',
        f'<p class="meta">{escape(label("generated", lang))}: {escape(when(report.generated_at))}</p>',
        f'<p class="meta">{escape(targets_line(report, lang))}</p>',
        f'<p class="verdict {"ok" if ok else "bad"}">{escape(verdict(report, lang))}</p>',
        *charts,
        _section(sections[0], lang),
        *(_section(s, lang) for s in sections[1:]),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
