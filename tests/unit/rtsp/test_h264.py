from __future__ import annotations

import base64
import struct

import av
import pytest

from sharpeyes.rtsp.errors import ProtocolError, TooLargeError
from sharpeyes.rtsp.h264 import (
    AccessUnit,
    H264Depacketizer,
    H265Depacketizer,
    RtpPacket,
    depacketizer_for,
    h264_sps_size,
    h265_sps_size,
    is_non_key_slice,
    parse_rtp,
    rtp_order,
)
from tests.unit.rtsp.encoded import encode, split_annexb


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt", "params"),
    [
        (642, 362, "yuv420p", ""),  # cropping on both axes
        (1920, 1080, "yuv422p", ""),  # High 4:2:2 profile
        (100, 50, "yuv444p", ""),  # High 4:4:4, chroma_format_idc 3
        (64, 48, "gray", ""),  # monochrome, chroma_format_idc 0
        (720, 576, "yuv420p", "interlaced=1"),  # field coding: frame_mbs_only_flag 0
        (1280, 720, "yuv420p", "cqm=jvt"),  # scaling matrices in the SPS
    ],
)
def test_h264_sps_size_from_libx264(width: int, height: int, pix_fmt: str, params: str) -> None:
    sps = [n for n in split_annexb(encode("libx264", width, height, pix_fmt, params)) if n[0] & 0x1F == 7]
    assert h264_sps_size(sps[0]) == (width, height)


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt"), [(642, 362, "yuv420p"), (98, 66, "yuv422p"), (320, 240, "yuv444p")]
)
def test_h265_sps_size_from_libx265(width: int, height: int, pix_fmt: str) -> None:
    sps = [n for n in split_annexb(encode("libx265", width, height, pix_fmt)) if (n[0] >> 1) & 0x3F == 33]
    assert h265_sps_size(sps[0]) == (width, height)


def test_sps_rejects_truncation_and_absurd_sizes() -> None:
    sps = next(n for n in split_annexb(encode("libx264", 642, 362)) if n[0] & 0x1F == 7)
    with pytest.raises(ProtocolError):
        h264_sps_size(sps[:6])
    with pytest.raises(ProtocolError):
        h264_sps_size(b"\x68\x00")  # a PPS
    # profile 66, pic_width_in_mbs_minus1 = 2**20 (Exp-Golomb), far beyond any camera
    absurd = bytes([0x67, 66, 0, 30]) + (0b1 << 43 | 1 << 20).to_bytes(6, "big") + b"\xff" * 8
    with pytest.raises(ProtocolError):
        h264_sps_size(absurd)


def rtp(payload: bytes, seq: int, ts: int, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq & 0xFFFF, ts, 0x1234) + payload


def packetize(nals: list[bytes], seq: int, ts: int, mtu: int = 600) -> list[bytes]:
    """A small RFC 6184 packetizer for tests: STAP-A for small leading NALs, FU-A for large ones."""
    packets: list[bytes] = []
    small: list[bytes] = []
    for nal in [*nals, b""]:
        if nal and len(nal) < 100:
            small.append(nal)
            continue
        if small:
            packets.append(b"\x18" + b"".join(struct.pack("!H", len(n)) + n for n in small))
            small = []
        chunks = [nal[1 + i : 1 + i + mtu] for i in range(0, len(nal) - 1, mtu)]
        for i, chunk in enumerate(chunks):
            fu_header = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0) | (nal[0] & 0x1F)
            packets.append(bytes([(nal[0] & 0xE0) | 28, fu_header]) + chunk)
    return [rtp(p, seq + i, ts, marker=i == len(packets) - 1) for i, p in enumerate(packets)]


def access_units_of(stream: bytes) -> list[list[bytes]]:
    units: list[list[bytes]] = [[]]
    for nal in split_annexb(stream):
        kind = nal[0] & 0x1F
        first_slice = kind in (1, 5) and nal[1] & 0x80  # first_mb_in_slice == 0: a new picture
        if first_slice and any(n[0] & 0x1F in (1, 5) for n in units[-1]):
            units.append([])
        units[-1].append(nal)
    return units


def test_depacketizer_reassembles_libx264_access_units_that_decode() -> None:
    units = access_units_of(encode("libx264", 642, 362))
    depack = H264Depacketizer()
    got: list[AccessUnit] = []
    seq = 65530  # crosses the 16-bit wrap
    for i, unit in enumerate(units):
        packets = packetize(unit, seq, 3600 * i)
        seq += len(packets)
        for packet in packets:
            got += depack.push(parse_rtp(packet))
    assert [list(u.nal_units) for u in got] == units
    assert got[0].is_idr
    assert all(u.complete for u in got)
    assert not got[1].is_idr
    decoder = av.CodecContext.create("h264", "r")
    frames = [*decoder.decode(av.Packet(got[0].annexb())), *decoder.decode(None)]
    assert (frames[0].width, frames[0].height) == (642, 362)


def _wait_for_keyframe(packets: list[bytes], depack: H264Depacketizer) -> tuple[AccessUnit | None, int]:
    """What the frame prober does: skip non-key slices cheaply until the first keyframe; (keyframe, skipped)."""
    skipped = 0
    for packet in packets:
        if is_non_key_slice("h264", packet):
            skipped += 1
            done = depack.skip(*rtp_order(packet))
        else:
            done = depack.push(parse_rtp(packet))
        for unit in done:
            if unit.is_idr:
                return unit, skipped
    return None, skipped


def test_skipping_non_key_slices_finds_the_same_complete_keyframe() -> None:
    units = access_units_of(encode("libx264", 642, 362))
    p_slices = [n for n in units[1] if n[0] & 0x1F == 1]
    packets: list[bytes] = []
    for i in range(3):  # joined mid-GOP: P pictures first (one packet per slice), then the IDR
        packets += [rtp(n, len(packets) + k, 3600 * i, marker=k == len(p_slices) - 1) for k, n in enumerate(p_slices)]
    packets += packetize(units[0], len(packets), 3600 * 3, mtu=200)
    keyframe, skipped = _wait_for_keyframe(packets, H264Depacketizer())
    assert keyframe is not None and keyframe.complete
    assert list(keyframe.nal_units) == units[0]
    assert skipped == 3 * len(p_slices) > 0  # every P picture before it was passed over unread
    assert all(not is_non_key_slice("h264", p) for p in packetize(units[0], 0, 0))


def test_skipping_keeps_loss_detection_and_closes_units_by_timestamp() -> None:
    units = access_units_of(encode("libx264", 642, 362))
    p_slice = packetize(units[1], 10, 3600)[-1]
    idr = packetize(units[0], 11, 7200, mtu=200)
    keyframe, _ = _wait_for_keyframe([p_slice, *idr[:2], *idr[3:]], H264Depacketizer())
    assert keyframe is not None and not keyframe.complete  # a packet of the keyframe itself was lost
    depack = H264Depacketizer()  # a keyframe without a marker bit, closed by a skipped packet's new timestamp
    for packet in idr:
        assert depack.push(RtpPacket(96, False, rtp_order(packet)[0], 7200, 1, parse_rtp(packet).payload)) == []
    closed = depack.skip(11 + len(idr), 10800)
    assert len(closed) == 1 and closed[0].is_idr and closed[0].complete


@pytest.mark.parametrize(
    ("codec", "packet", "skip"),
    [
        ("h264", rtp(b"\x41abc", 1, 0), True),  # non-IDR slice
        ("h264", rtp(b"\x7c\x81abc", 1, 0), True),  # FU-A start of a non-IDR slice
        ("h264", rtp(b"\x7c\x85abc", 1, 0), False),  # FU-A of an IDR slice
        ("h264", rtp(b"\x18\x00\x02\x41a", 1, 0), False),  # STAP-A: parsed in full
        ("h264", rtp(b"\x67abc", 1, 0), False),  # SPS
        ("h264", b"\x81" + rtp(b"\x41abc", 1, 0)[1:] + b"\x00" * 4, False),  # a CSRC: parsed in full
        ("h264", rtp(b"\x41", 1, 0)[:12], False),  # no payload
        ("h265", rtp(b"\x02\x01abc", 1, 0), True),  # TRAIL_R
        ("h265", rtp(b"\x62\x01\x81abc", 1, 0), True),  # FU start of TRAIL_R
        ("h265", rtp(b"\x62\x01\x93abc", 1, 0), False),  # FU start of IDR_W_RADL
        ("h265", rtp(b"\x26\x01abc", 1, 0), False),  # IDR_W_RADL
        ("mjpeg", rtp(b"\x41abc", 1, 0), False),
    ],
)
def test_is_non_key_slice_reads_the_nal_type_in_place(codec: str, packet: bytes, skip: bool) -> None:
    assert is_non_key_slice(codec, packet) is skip


def test_loss_inside_a_fragmented_nal_marks_the_unit_incomplete() -> None:
    idr = access_units_of(encode("libx264", 642, 362))[0]
    packets = packetize(idr, 100, 9000, mtu=100)
    depack = H264Depacketizer()
    out: list[AccessUnit] = []
    for packet in packets[:3] + packets[4:]:
        out += depack.push(parse_rtp(packet))
    assert len(out) == 1
    assert not out[0].complete


def test_timestamp_change_closes_a_unit_without_marker_and_garbage_is_dropped() -> None:
    depack = H264Depacketizer()
    assert depack.push(RtpPacket(96, False, 1, 10, 1, b"\x65abc")) == []
    assert depack.push(RtpPacket(96, False, 2, 10, 1, b"\x1c\x05")) == []  # FU-A too short: dropped
    assert depack.push(RtpPacket(96, False, 3, 10, 1, b"\x1c\x05xx")) == []  # FU-A middle without start
    done = depack.push(RtpPacket(96, False, 4, 20, 1, b"\x41p"))
    assert len(done) == 1
    assert done[0].is_idr
    assert not done[0].complete
    assert depack.dropped == 2


def test_depacketizer_bounds_access_unit_size() -> None:
    depack = H264Depacketizer(max_au_bytes=1000)
    depack.push(RtpPacket(96, False, 1, 10, 1, b"\x1c\x85" + b"x" * 600))
    with pytest.raises(TooLargeError):
        depack.push(RtpPacket(96, False, 2, 10, 1, b"\x1c\x05" + b"x" * 600))


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x60",  # short
        b"\x40" + b"\x00" * 11,  # version 1
        b"\x90" + b"\x00" * 11 + b"\x00\x00\x00\x09",  # extension longer than the packet
        b"\xa0" + b"\x00" * 11 + b"\x00",  # padding of zero bytes
        b"\xa0" + b"\x00" * 11 + b"\x50",  # padding longer than the packet
    ],
)
def test_malformed_rtp(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_rtp(data)


def packetize_h265(nals: list[bytes], seq: int, ts: int, mtu: int = 500) -> list[bytes]:
    """An RFC 7798 packetizer for tests: APs for runs of small NAL units, FUs for large ones."""
    packets: list[bytes] = []
    small: list[bytes] = []
    for nal in [*nals, b""]:
        if nal and len(nal) < 100:
            small.append(nal)
            continue
        if small:
            packets.append(bytes([48 << 1, 1]) + b"".join(struct.pack("!H", len(n)) + n for n in small))
            small = []
        if not nal:
            continue
        kind = (nal[0] >> 1) & 0x3F
        chunks = [nal[2 + i : 2 + i + mtu] for i in range(0, len(nal) - 2, mtu)]
        for i, chunk in enumerate(chunks):
            fu_header = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0) | kind
            packets.append(bytes([(nal[0] & 0x81) | (49 << 1), nal[1], fu_header]) + chunk)
    return [rtp(p, seq + i, ts, marker=i == len(packets) - 1) for i, p in enumerate(packets)]


def test_h265_depacketizer_reassembles_a_libx265_keyframe_that_decodes() -> None:
    nals = split_annexb(encode("libx265", 642, 362))
    first_vcl = next(i for i, n in enumerate(nals) if (n[0] >> 1) & 0x3F < 32)
    keyframe = nals[: first_vcl + 1]  # VPS, SPS, PPS, SEI, the IRAP slice
    depack = depacketizer_for("h265")
    assert isinstance(depack, H265Depacketizer)
    units: list[AccessUnit] = []
    for packet in packetize_h265(keyframe, 1000, 90000):
        units += depack.push(parse_rtp(packet))
    assert len(units) == 1
    unit = units[0]
    assert list(unit.nal_units) == keyframe
    assert unit.is_idr
    assert unit.complete
    assert unit.nal_types[:3] == (32, 33, 34)
    decoder = av.CodecContext.create("hevc", "r")
    pictures = [*decoder.decode(av.Packet(unit.annexb())), *decoder.decode(None)]
    assert (pictures[0].width, pictures[0].height) == (642, 362)


def test_no_depacketizer_for_other_codecs() -> None:
    assert isinstance(depacketizer_for("h264"), H264Depacketizer)
    with pytest.raises(ProtocolError):
        depacketizer_for("mjpeg")


def test_with_parameter_sets_prepends_sdp_sets_only_when_missing() -> None:
    from sharpeyes.rtsp.sdp import MediaDescription
    from sharpeyes.rtsp.stream import with_parameter_sets

    nals = split_annexb(encode("libx264", 642, 362))
    sps, pps = (next(n for n in nals if n[0] & 0x1F == t) for t in (7, 8))
    media = MediaDescription("video", (96,), rtpmap={96: ("H264", 90000)})
    media.fmtp[96] = {"sprop-parameter-sets": ",".join(base64.b64encode(n).decode() for n in (sps, pps))}
    bare = AccessUnit(0, (b"\x65idr",), True)
    assert with_parameter_sets(bare, media).nal_units == (sps, pps, b"\x65idr")
    full = AccessUnit(0, (sps, pps, b"\x65idr"), True)
    assert with_parameter_sets(full, media) is full
