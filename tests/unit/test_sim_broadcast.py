"""The shared broadcaster: real-time pacing, joining at a keyframe or at once, slow readers, RTP timestamps."""

from __future__ import annotations

import asyncio
import itertools
import struct

from sharpeyes.sim.broadcast import Broadcaster, Viewer
from sharpeyes.sim.media import AccessUnit, Clip, ClipSpec
from sharpeyes.sim.rtp import packetize

SPS, PPS = bytes([0x67, 0x4D, 0x40, 0x0C]), bytes([0x68, 0xEE])


class FakeTransport(asyncio.WriteTransport):
    """Collects what the broadcaster writes (a unit double for a socket transport)."""

    def __init__(self, buffered: int = 0) -> None:
        super().__init__()
        self.chunks: list[bytes] = []
        self.buffered = buffered

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.chunks.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered


def _clip(n: int = 10, gop: int = 5) -> Clip:
    units = tuple(
        AccessUnit(nals=(SPS, PPS, bytes([0x65, i])) if i % gop == 0 else (bytes([0x41, i]),), key=i % gop == 0)
        for i in range(n)
    )
    return Clip(spec=ClipSpec(width=16, height=16, fps=25, gop=gop, seconds=1), units=units, sps=SPS, pps=PPS, jpeg=b"")


def _pictures(transport: FakeTransport) -> list[tuple[int, int]]:
    """(RTP timestamp, last payload byte = clip index) of each picture written."""
    out = []
    for chunk in transport.chunks:
        pos = 0
        while pos < len(chunk):
            (length,) = struct.unpack_from("!H", chunk, pos + 2)
            packet = chunk[pos + 4 : pos + 4 + length]
            if packet[1] & 0x80:
                out.append((struct.unpack_from("!I", packet, 4)[0], packet[-1]))
            pos += 4 + length
    return out


async def test_joins_at_the_next_keyframe_and_paces_at_25_fps() -> None:
    broadcaster = Broadcaster(packetize(_clip()))
    transport = FakeTransport()
    broadcaster.add(Viewer(transport, 0, ssrc=1, ts_base=1000))
    await asyncio.sleep(0.6)
    await broadcaster.close()
    pictures = _pictures(transport)
    assert pictures[0][1] % 5 == 0  # a keyframe first
    assert 6 <= len(pictures) <= 17  # ≈ 0.6 s × 25 fps minus the wait for the keyframe (generous)
    steps = {b[0] - a[0] for a, b in itertools.pairwise(pictures)}
    assert steps == {3600}
    assert [p[1] for p in pictures[:6]] == [(pictures[0][1] + i) % 10 for i in range(6)]


async def test_at_once_starts_from_the_clip_start_immediately() -> None:
    broadcaster = Broadcaster(packetize(_clip()))
    transport = FakeTransport()
    broadcaster.add(Viewer(transport, 0, ssrc=1), at_once=True)
    await asyncio.sleep(0.1)
    await broadcaster.close()
    assert _pictures(transport)[0][1] == 0


async def test_a_reader_too_far_behind_is_skipped() -> None:
    broadcaster = Broadcaster(packetize(_clip()))
    transport = FakeTransport(buffered=10 * 1024 * 1024)
    viewer = Viewer(transport, 0, ssrc=1)
    broadcaster.add(viewer, at_once=True)
    await asyncio.sleep(0.2)
    await broadcaster.close()
    assert transport.chunks == [] and viewer.waiting
