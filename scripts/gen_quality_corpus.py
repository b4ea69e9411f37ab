#!/usr/bin/env python
"""Write the labelled frame-health corpus as PNG files into a directory, for a person to look at.

Usage: .venv/bin/python scripts/gen_quality_corpus.py OUT_DIR [--quick]
Each case becomes OUT_DIR/<scene>__<label>__<strength>__<seed>__{key,second,reference}.png (after H.264).
Nothing here is committed: the corpus is regenerated from sharpeyes.sim.picture on demand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

from sharpeyes.quality.corpus import make_case, specs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    todo = list(specs(("rocket", "chelsea"), (0.1, 1.0), (0,)) if args.quick else specs())
    for spec in todo:
        case = make_case(*spec)
        stem = case.name.replace("/", "__")
        for part in ("keyframe", "second", "reference"):
            rgb = getattr(case, part).to_ndarray(format="rgb24")
            cv2.imwrite(str(args.out / f"{stem}__{part}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    print(f"{len(todo)} cases written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
