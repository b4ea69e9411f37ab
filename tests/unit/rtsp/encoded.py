"""Real H.264/H.265 bitstreams for unit tests, made in-process by PyAV's libx264/libx265 (third-party)."""

from __future__ import annotations

import functools

import av
import numpy as np


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B stream."""
    return [n for n in (p.rstrip(b"\x00") for p in data.split(b"\x00\x00\x01")) if n]


@functools.cache
def encode(codec: str, width: int, height: int, pix_fmt: str = "yuv420p", params: str = "") -> bytes:
    """Two frames (an IDR and a P frame) as an Annex B stream."""
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.options = {"x265-params": "log-level=none"} if codec == "libx265" else {"x264-params": params}
    out = bytearray()
    for i in range(2):
        rgb = np.full((height, width, 3), 40 * i, np.uint8)
        rgb[: height // 2, : width // 3] = 200
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
        frame.pts = i
        for packet in ctx.encode(frame):
            out += bytes(packet)
    for packet in ctx.encode(None):
        out += bytes(packet)
    return bytes(out)
