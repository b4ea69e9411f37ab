"""RTP packetization of H.264 (RFC 6184), done once per clip and shared by every viewer.

Each access unit becomes one byte blob of RTP-over-RTSP interleaved frames (``$``, channel, length, RTP header,
payload): SPS+PPS in one STAP-A, small NAL units as single-NAL packets, large ones split into FU-A fragments.
The marker bit is set on the last packet of the access unit. Sequence number, timestamp, SSRC and channel are
left zero and written per viewer at send time (:func:`stamp`), so a send costs one copy plus a few struct writes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sharpeyes.sim.media import Clip

MTU_PAYLOAD = 1400
PAYLOAD_TYPE = 96
CLOCK_RATE = 90_000
_HDR = struct.Struct("!BBH")  # '$', channel, length
_SEQ_TS_SSRC = struct.Struct("!HII")


@dataclass(frozen=True, slots=True)
class PacketizedUnit:
    """One access unit ready to send: the blob and the offset of each packet's ``$`` in it."""

    blob: bytes
    offsets: tuple[int, ...]
    key: bool


@dataclass(frozen=True, slots=True)
class PacketizedClip:
    """A clip in RTP form; ``frame_ticks`` is the RTP timestamp step per frame (90 kHz / fps)."""

    clip: Clip
    units: tuple[PacketizedUnit, ...]
    frame_ticks: int


def payloads(nals: tuple[bytes, ...], mtu: int = MTU_PAYLOAD) -> list[bytes]:
    """RTP payloads for one access unit: STAP-A for the parameter sets, single NAL or FU-A for the rest."""
    out: list[bytes] = []
    params = [n for n in nals if n[0] & 0x1F in (7, 8)]
    if params:
        nri = max(n[0] & 0x60 for n in params)
        out.append(bytes([nri | 24]) + b"".join(struct.pack("!H", len(n)) + n for n in params))
    for nal in nals:
        if nal[0] & 0x1F in (7, 8):
            continue
        if len(nal) <= mtu:
            out.append(nal)
            continue
        indicator = (nal[0] & 0xE0) | 28
        kind = nal[0] & 0x1F
        body = nal[1:]
        step = mtu - 2
        for pos in range(0, len(body), step):
            start = 0x80 if pos == 0 else 0
            end = 0x40 if pos + step >= len(body) else 0
            out.append(bytes([indicator, start | end | kind]) + body[pos : pos + step])
    return out


def packetize_unit(nals: tuple[bytes, ...], key: bool, mtu: int = MTU_PAYLOAD) -> PacketizedUnit:
    """Interleaved RTP frames for one access unit, with blank seq/timestamp/SSRC."""
    parts: list[bytes] = []
    offsets: list[int] = []
    pos = 0
    chunks = payloads(nals, mtu)
    for i, payload in enumerate(chunks):
        marker = 0x80 if i == len(chunks) - 1 else 0
        rtp = bytes([0x80, marker | PAYLOAD_TYPE]) + bytes(10) + payload
        frame = _HDR.pack(0x24, 0, len(rtp)) + rtp
        offsets.append(pos)
        parts.append(frame)
        pos += len(frame)
    return PacketizedUnit(blob=b"".join(parts), offsets=tuple(offsets), key=key)


def packetize(clip: Clip, mtu: int = MTU_PAYLOAD) -> PacketizedClip:
    """Packetize every access unit of ``clip`` (once per clip)."""
    units = tuple(packetize_unit(u.nals, u.key, mtu) for u in clip.units)
    return PacketizedClip(clip=clip, units=units, frame_ticks=CLOCK_RATE // clip.spec.fps)


def stamp(unit: PacketizedUnit, channel: int, seq: int, timestamp: int, ssrc: int) -> tuple[bytearray, int]:
    """A viewer's copy of ``unit`` with its channel, sequence numbers, timestamp and SSRC; returns (data, next seq)."""
    data = bytearray(unit.blob)
    ts = timestamp & 0xFFFFFFFF
    for off in unit.offsets:
        data[off + 1] = channel
        _SEQ_TS_SSRC.pack_into(data, off + 6, seq & 0xFFFF, ts, ssrc)
        seq += 1
    return data, seq & 0xFFFF
