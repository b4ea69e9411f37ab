#!/usr/bin/env python
"""Measure the frame-health analysers on the labelled corpus and write the table into docs/quality.md.

Usage: .venv/bin/python scripts/quality_report.py [--quick] [--jobs N] [--no-write]
The corpus is generated on the fly (sharpeyes.quality.corpus): every fault at four strengths on five
photographs with two seeds, plus healthy views and healthy borderline views, through a real H.264 encode/decode.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.corpus import MODES, Outcome, judge, make_case, specs, tally

DOC = Path(__file__).resolve().parent.parent / "docs" / "quality.md"
BEGIN, END = "<!-- quality-report:begin -->", "<!-- quality-report:end -->"


def _run(spec: tuple[str, FaultCode | None, float, int]) -> list[Outcome]:
    case = make_case(*spec)
    return [judge(case, mode) for mode in MODES]


def table(outcomes: list[Outcome]) -> str:
    counts = tally(outcomes)
    rows = ["| code | cases | TP | FP | FN | precision | recall |", "|---|---|---|---|---|---|---|"]
    for code, t in counts.items():
        cases = sum(1 for o in outcomes if o.expected is code)
        rows.append(f"| `{code.value}` | {cases} | {t.tp} | {t.fp} | {t.fn} | {t.precision:.1%} | {t.recall:.1%} |")
    flagged = [o.name for o in outcomes if o.borderline and o.found]
    healthy = sum(1 for o in outcomes if o.expected is None)
    border = sum(1 for o in outcomes if o.borderline)
    rows.append("")
    rows.append(f"Healthy cases: {healthy} (of which borderline: {border}); borderline cases flagged: {len(flagged)}.")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two scenes, two strengths (what the test runs)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/quality.md alone")
    args = parser.parse_args()
    todo = list(specs(("rocket", "chelsea"), (0.1, 1.0), (0,)) if args.quick else specs())
    started = time.monotonic()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(_run, todo, chunksize=4))
    elapsed = time.monotonic() - started
    sections = []
    for i, mode in enumerate(MODES):
        outcomes = [r[i] for r in results]
        wrong = [o for o in outcomes if set(o.found) != ({o.expected} if o.expected else set())]
        title = (
            "keyframe + second frame + reference (RTSP probe)"
            if mode == "probe"
            else "one frame + reference + last signature (snapshot)"
        )
        body = table(outcomes)
        if wrong:
            body += "\n\nMisclassified: " + ", ".join(f"`{o.name}` → {[c.value for c in o.found]}" for o in wrong)
        sections.append(f"#### {title}\n\n{body}")
    report = (
        f"{len(todo)} cases, generated and judged in {elapsed:.0f} s with {args.jobs} processes "
        f"(`.venv/bin/python scripts/quality_report.py`).\n\n" + "\n\n".join(sections)
    )
    print(report)
    if not args.no_write and not args.quick:
        text = DOC.read_text(encoding="utf-8")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{BEGIN}\n{report}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
