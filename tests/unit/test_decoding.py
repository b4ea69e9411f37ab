"""The worker's decoder: kept open across jobs only for units that bring their own parameter sets."""

from __future__ import annotations

import av
import pytest

from sharpeyes.quality import decoding
from tests.unit.rtsp.encoded import encode, split_annexb
from tests.unit.rtsp.test_h264 import access_units_of


def _annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


def _units(width: int, height: int) -> list[bytes]:
    """An IDR (with its SPS/PPS) and a P picture, one Annex B access unit each."""
    return [_annexb(unit) for unit in access_units_of(encode("libx264", width, height))]


def test_a_kept_decoder_follows_each_cameras_own_parameter_sets() -> None:
    for width, height in ((642, 362), (320, 240), (642, 362)):
        pictures = decoding.decode("h264", _units(width, height))
        assert [(p.width, p.height) for p in pictures] == [(width, height)] * 2
    assert ("h264", False) in decoding._kept  # reused, not reopened for every job


def test_a_keyframe_without_parameter_sets_never_uses_anothers() -> None:
    decoding.decode("h264", _units(642, 362))  # a decoder with this camera's SPS/PPS is kept
    bare = _annexb([n for n in split_annexb(encode("libx264", 642, 362)) if n[0] & 0x1F not in (7, 8)])
    assert not decoding.brings_parameter_sets("h264", bare)
    try:
        pictures = decoding.decode("h264", [bare])
    except av.FFmpegError:
        pictures = []
    assert pictures == []  # a fresh decoder has no parameters: nothing decodes, rather than a wrong picture


@pytest.mark.parametrize(
    ("codec", "stream", "expected"),
    [
        ("h264", encode("libx264", 320, 240), True),
        ("h265", encode("libx265", 320, 240), True),
        ("h265", _annexb([n for n in split_annexb(encode("libx265", 320, 240)) if (n[0] >> 1) & 0x3F != 32]), False),
    ],
)
def test_brings_parameter_sets(codec: str, stream: bytes, expected: bool) -> None:
    assert decoding.brings_parameter_sets(codec, stream) is expected


def test_a_failed_decode_drops_the_kept_decoder() -> None:
    decoding.decode("h264", _units(320, 240)[:1])  # a keyframe alone: its own kind of kept decoder
    kept = decoding._kept[("h264", True)]
    sps_pps = [n for n in split_annexb(encode("libx264", 320, 240)) if n[0] & 0x1F in (7, 8)]
    garbage = _annexb([*sps_pps, b"\x65" + b"\xff" * 2000])
    try:
        decoding.decode("h264", [garbage])
    except av.FFmpegError:
        assert decoding._kept.get(("h264", True)) is None
    else:
        assert decoding._kept.get(("h264", True)) is kept  # the decoder took it in its stride: still usable
    assert [p.width for p in decoding.decode("h264", _units(320, 240)[:1])] == [320]


def test_a_keyframe_alone_decodes_without_the_loop_filter_only_when_alone() -> None:
    alone = decoding.decode("h264", _units(642, 362)[:1])[0].to_ndarray()
    chained = decoding.decode("h264", _units(642, 362))[0].to_ndarray()
    fresh = decoding.new_decoder("h264")
    plain = [*fresh.decode(av.Packet(_units(642, 362)[0])), *fresh.decode(None)][0].to_ndarray()
    assert (chained == plain).all()  # a chain is decoded exactly
    assert alone.shape == plain.shape
    assert float(abs(alone.astype(int) - plain).mean()) < 2.0  # the same picture, block edges aside
