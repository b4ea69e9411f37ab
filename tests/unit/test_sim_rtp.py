"""RTP packetization of H.264 (RFC 6184): STAP-A, single NAL, FU-A, marker bits, per-viewer stamping."""

from __future__ import annotations

import struct

from sharpeyes.sim.rtp import packetize_unit, payloads, stamp

SPS = bytes([0x67, 0x4D, 0x40, 0x1F]) + b"\x11" * 10
PPS = bytes([0x68, 0xEE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(range(256)) * 20  # 5121 bytes: needs FU-A
SMALL_P = bytes([0x41]) + b"\x22" * 300


def test_parameter_sets_share_one_stap_a() -> None:
    first = payloads((SPS, PPS, IDR))[0]
    assert first[0] & 0x1F == 24
    assert first[0] & 0x60 == 0x60  # NRI of the parameter sets
    (n1,) = struct.unpack_from("!H", first, 1)
    assert first[3 : 3 + n1] == SPS
    (n2,) = struct.unpack_from("!H", first, 3 + n1)
    assert first[5 + n1 : 5 + n1 + n2] == PPS


def test_large_nal_is_fragmented_and_reassembles() -> None:
    parts = payloads((IDR,), mtu=1400)
    assert len(parts) == 4
    assert all(len(p) <= 1400 for p in parts)
    assert all(p[0] & 0x1F == 28 and p[0] & 0x60 == IDR[0] & 0x60 for p in parts)
    assert parts[0][1] & 0x80 and not parts[0][1] & 0x40
    assert parts[-1][1] & 0x40 and not parts[-1][1] & 0x80
    assert all(p[1] & 0x1F == 5 for p in parts)
    rebuilt = bytes([(parts[0][0] & 0xE0) | (parts[0][1] & 0x1F)]) + b"".join(p[2:] for p in parts)
    assert rebuilt == IDR


def test_small_nal_is_sent_whole() -> None:
    assert payloads((SMALL_P,)) == [SMALL_P]


def test_marker_only_on_the_last_packet_and_stamping() -> None:
    unit = packetize_unit((SPS, PPS, IDR), key=True)
    assert len(unit.offsets) == 5
    data, next_seq = stamp(unit, channel=2, seq=65534, timestamp=2**32 + 7, ssrc=0xDEADBEEF)
    assert next_seq == 3  # wrapped
    seen = []
    for i, off in enumerate(unit.offsets):
        magic, channel, length = struct.unpack_from("!BBH", data, off)
        assert (magic, channel) == (0x24, 2)
        v, mpt, seq, ts, ssrc = struct.unpack_from("!BBHII", data, off + 4)
        assert v == 0x80 and mpt & 0x7F == 96
        assert bool(mpt & 0x80) == (i == len(unit.offsets) - 1)
        assert (ts, ssrc) == (7, 0xDEADBEEF)
        seen.append(seq)
        end = off + 4 + length
        assert end == (unit.offsets[i + 1] if i + 1 < len(unit.offsets) else len(data))
    assert seen == [65534, 65535, 0, 1, 2]
    assert unit.blob[1] == 0  # the shared blob is untouched
