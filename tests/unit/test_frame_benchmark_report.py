"""The frame benchmark's report: no "≥ 5× the baseline" target met without a baseline to compare, and the
machine yardstick (the decode floor) measured on the benchmark's own keyframe."""

from __future__ import annotations

import av
import pytest

from benchmarks.frame_health import _baseline_ratio, decode_floor_ms, encode_gop, keyframe_annexb, yardstick_line


def test_the_ratio_is_ours_over_the_baseline() -> None:
    assert _baseline_ratio({"per_s": 90.0}, {"verdicts": 10, "per_s": 0.5}) == 180.0


def test_a_baseline_that_gave_no_verdict_has_no_ratio() -> None:
    assert _baseline_ratio({"per_s": 90.0}, {"verdicts": 0, "per_s": 0.0}) is None
    assert _baseline_ratio({"per_s": 90.0}, {"verdicts": 3, "per_s": 0.0}) is None


def test_the_yardstick_decodes_the_benchmarks_own_keyframe() -> None:
    units, sps, pps = encode_gop(64, 48)
    keyframe = keyframe_annexb(units, sps, pps)
    assert keyframe.startswith(b"\x00\x00\x00\x01" + sps)
    best, median = decode_floor_ms(keyframe, batches=3, per_batch=2)
    assert 0 <= best <= median


def test_a_keyframe_that_does_not_decode_is_no_yardstick() -> None:
    with pytest.raises((ValueError, av.FFmpegError)):
        decode_floor_ms(b"\x00\x00\x00\x01\x65" + bytes(64), batches=1, per_batch=1)


def test_the_yardstick_line_gives_the_cores_share_of_decoding_at_the_target_rate() -> None:
    line = yardstick_line((10.0, 12.5), cores=2)
    assert "10.00 ms of CPU (best batch; median 12.50)" in line
    assert "take 40 % of 2 cores" in line  # 80 decodes/s × 10 ms = 0.8 core-seconds per second of 2
