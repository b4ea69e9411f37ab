"""Decoding a probe's access units with a PyAV codec context (no demuxer, so no frame-rate probing).

A worker process keeps one open decoder per codec across jobs: opening one and letting it allocate its picture
buffers costs about 2 ms of a 1080p keyframe's ~10 ms. A kept decoder is reused only for units that bring their own
parameter sets (SPS/PPS, and VPS for H.265) in front of the first picture, so a camera can never be decoded with
another camera's parameters; it is flushed after every job and dropped after any error. Single-threaded: one
picture in, one picture out, no threading latency or extra memory.

A keyframe decoded alone skips the deblocking (loop) filter, about 2 ms of a 1080p keyframe's ~10: no picture is
predicted from it, so the only effect is on its own block edges, which the area downscale to analysis size mostly
averages away (the labelled corpus judges its one-frame mode on keyframes decoded this way). When later pictures
are decoded from the keyframe (the in-probe freeze check) the filter stays on: skipping it there would let the
error grow from picture to picture.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import av

DECODERS = {"h264": "h264", "h265": "hevc"}
_PARAMETER_SETS = {"h264": frozenset({7, 8}), "h265": frozenset({32, 33, 34})}
_START_CODE = re.compile(b"\x00\x00\x01(.)", re.DOTALL)
_KEYFRAME_ALONE = {"skip_loop_filter": "all"}
_kept: dict[tuple[str, bool], av.VideoCodecContext] = {}


def _nal_type(codec: str, header: int) -> int:
    return (header >> 1) & 0x3F if codec == "h265" else header & 0x1F


def _is_picture(codec: str, nal_type: int) -> bool:
    return nal_type < 32 if codec == "h265" else 1 <= nal_type <= 5


def brings_parameter_sets(codec: str, unit: bytes) -> bool:
    """Whether the Annex B ``unit`` carries every parameter set kind before its first picture NAL unit."""
    seen: set[int] = set()
    for match in _START_CODE.finditer(unit):
        nal_type = _nal_type(codec, match.group(1)[0])
        if _is_picture(codec, nal_type):
            break
        seen.add(nal_type)
    return _PARAMETER_SETS[codec] <= seen


def new_decoder(codec: str, *, keyframe_alone: bool = False) -> av.VideoCodecContext:
    """A fresh single-threaded decoder for ``codec`` (``h264`` or ``h265``); ``keyframe_alone``: without the loop
    filter, for a keyframe no other picture is decoded from."""
    ctx = av.CodecContext.create(DECODERS[codec], "r")
    if not isinstance(ctx, av.VideoCodecContext):
        raise ValueError("not a video decoder")
    ctx.thread_type = "NONE"
    if keyframe_alone:
        ctx.options = dict(_KEYFRAME_ALONE)
    return ctx


def decode(codec: str, units: Sequence[bytes]) -> list[av.VideoFrame]:
    """Every picture the decoder gives for ``units`` (Annex B access units, the first one a keyframe)."""
    reuse = bool(units) and brings_parameter_sets(codec, units[0])
    kind = (codec, len(units) == 1)
    ctx = _kept.pop(kind, None) if reuse else None
    ctx = ctx or new_decoder(codec, keyframe_alone=kind[1])
    pictures: list[av.VideoFrame] = []
    for unit in units:
        pictures.extend(ctx.decode(av.Packet(unit)))
    pictures.extend(ctx.decode(None))
    if reuse:  # only after a clean run: an exception above drops the decoder with the job
        ctx.flush_buffers()
        _kept[kind] = ctx
    return pictures
