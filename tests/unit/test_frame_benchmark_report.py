"""The frame benchmark's report never marks the "≥ 5× the baseline" target met without a baseline to compare."""

from __future__ import annotations

from benchmarks.frame_health import _baseline_ratio


def test_the_ratio_is_ours_over_the_baseline() -> None:
    assert _baseline_ratio({"per_s": 90.0}, {"verdicts": 10, "per_s": 0.5}) == 180.0


def test_a_baseline_that_gave_no_verdict_has_no_ratio() -> None:
    assert _baseline_ratio({"per_s": 90.0}, {"verdicts": 0, "per_s": 0.0}) is None
    assert _baseline_ratio({"per_s": 90.0}, {"verdicts": 3, "per_s": 0.0}) is None
