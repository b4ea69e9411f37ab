"""The frame-health analysers meet their targets on a reduced labelled corpus (through real H.264)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

from sharpeyes.probers.base import FaultCode
from sharpeyes.quality.corpus import MODES, Outcome, judge, make_case, specs, tally


def _run(spec: tuple[str, FaultCode | None, float, int]) -> list[Outcome]:
    case = make_case(*spec, size=(960, 540))
    return [judge(case, mode) for mode in MODES]


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list[Outcome]]:
    todo = list(specs(("rocket", "chelsea"), (0.1, 1.0), (0, 1)))
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_run, todo, chunksize=4))
    return {mode: [r[i] for r in results] for i, mode in enumerate(MODES)}


@pytest.mark.parametrize("mode", MODES)
def test_every_code_reaches_95_percent_precision_and_recall(outcomes: dict[str, list[Outcome]], mode: str) -> None:
    counts = tally(outcomes[mode])
    assert all(t.tp + t.fn >= 4 for t in counts.values())  # every code is really exercised
    low = {code.value: (round(t.precision, 3), round(t.recall, 3)) for code, t in counts.items()}
    assert all(t.precision >= 0.95 and t.recall >= 0.95 for t in counts.values()), low


@pytest.mark.parametrize("mode", MODES)
def test_no_healthy_borderline_case_is_flagged(outcomes: dict[str, list[Outcome]], mode: str) -> None:
    border = [o for o in outcomes[mode] if o.borderline]
    assert len(border) >= 16
    assert [(o.name, o.found) for o in border if o.found] == []
