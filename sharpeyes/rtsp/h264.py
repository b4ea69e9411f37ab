"""H.264/H.265 parameter sets (for the picture size) and RTP depacketization (RFC 6184, RFC 7798).

:func:`h264_sps_size` and :func:`h265_sps_size` give the size after cropping. :class:`H264Depacketizer`
(single NAL unit, STAP-A, FU-A) and :class:`H265Depacketizer` (single, AP, FU) take RTP packets and assemble
access units, each telling whether decoding can start at it (IDR/IRAP); the frame grabber decodes the first
complete one. Malformed input raises :class:`~sharpeyes.rtsp.errors.ProtocolError` (oversized input
:class:`~sharpeyes.rtsp.errors.TooLargeError`) or is dropped and counted; nothing else escapes.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from sharpeyes.rtsp.bits import BitReader, unescape_rbsp
from sharpeyes.rtsp.errors import ProtocolError, TooLargeError

MAX_DIMENSION = 16384
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
_STAP_A = 24
_FU_A = 28
_START_CODE = b"\x00\x00\x00\x01"


def _checked(width: int, height: int) -> tuple[int, int]:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise ProtocolError("absurd picture size in SPS")
    return width, height


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


@functools.lru_cache(maxsize=4096)
def h264_sps_size(nal: bytes) -> tuple[int, int]:
    """Width and height (after cropping) from an H.264 SPS NAL unit (with its one-byte header)."""
    if not nal or nal[0] & 0x1F != NAL_SPS:
        raise ProtocolError("not an H.264 SPS")
    r = BitReader(unescape_rbsp(nal[1:]))
    profile = r.u(8)
    r.skip(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    chroma, separate = 1, 0
    if profile in _HIGH_PROFILES:
        chroma = r.ue()
        if chroma > 3:
            raise ProtocolError("bad chroma_format_idc")
        if chroma == 3:
            separate = r.u(1)
        r.ue(), r.ue(), r.u(1)  # bit depths, qpprime_y_zero_transform_bypass
        if r.u(1):
            for i in range(12 if chroma == 3 else 8):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    _skip_pic_order_count(r)
    r.ue(), r.u(1)  # max_num_ref_frames, gaps_in_frame_num_allowed
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)
    r.u(1)  # direct_8x8_inference
    left = right = top = bottom = 0
    if r.u(1):
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
    if separate or chroma == 0:
        crop_x, crop_y = 1, 2 - frame_mbs_only
    else:
        crop_x, crop_y = (1 if chroma == 3 else 2), (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
    width = width_mbs * 16 - crop_x * (left + right)
    height = (2 - frame_mbs_only) * height_units * 16 - crop_y * (top + bottom)
    return _checked(width, height)


def _skip_pic_order_count(r: BitReader) -> None:
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.u(1), r.se(), r.se()
        cycle = r.ue()
        if cycle > 255:
            raise ProtocolError("bad num_ref_frames_in_pic_order_cnt_cycle")
        for _ in range(cycle):
            r.se()
    elif poc_type != 2:
        raise ProtocolError("bad pic_order_cnt_type")


@functools.lru_cache(maxsize=4096)
def h265_sps_size(nal: bytes) -> tuple[int, int]:
    """Width and height (after the conformance window) from an H.265 SPS NAL unit (two-byte header)."""
    if len(nal) < 3 or (nal[0] >> 1) & 0x3F != 33:
        raise ProtocolError("not an H.265 SPS")
    r = BitReader(unescape_rbsp(nal[2:]))
    r.skip(4)  # sps_video_parameter_set_id
    max_sub_layers = r.u(3)
    r.skip(1 + 88 + 8)  # temporal_id_nesting, general profile (88 bits) and level
    present = [(r.u(1), r.u(1)) for _ in range(max_sub_layers)]
    if max_sub_layers:
        r.skip(2 * (8 - max_sub_layers))
    for profile_present, level_present in present:
        r.skip(88 * profile_present + 8 * level_present)
    r.ue()  # sps_seq_parameter_set_id
    chroma = r.ue()
    if chroma > 3:
        raise ProtocolError("bad chroma_format_idc")
    separate = r.u(1) if chroma == 3 else 0
    width, height = r.ue(), r.ue()
    if r.u(1):
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w = 2 if chroma in (1, 2) and not separate else 1
        sub_h = 2 if chroma == 1 and not separate else 1
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    return _checked(width, height)


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """The fields of one RTP packet (RFC 3550) that depacketizing needs."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse an RTP packet; anything that is not RTP version 2 raises :class:`ProtocolError`."""
    if len(data) < 12 or data[0] >> 6 != 2:
        raise ProtocolError("not an RTP packet")
    sequence, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if len(data) < offset + 4:
            raise ProtocolError("truncated RTP header extension")
        offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
    end = len(data)
    if data[0] & 0x20:
        end -= data[-1]
    if (data[0] & 0x20 and data[-1] == 0) or offset > end:
        raise ProtocolError("malformed RTP header")
    return RtpPacket(data[1] & 0x7F, bool(data[1] & 0x80), sequence, timestamp, ssrc, data[offset:end])


_ORDER = struct.Struct("!HI")  # sequence number and timestamp, at byte 2 of the RTP header


def rtp_order(data: bytes) -> tuple[int, int]:
    """The sequence number and timestamp of an RTP packet (at least 12 bytes), without parsing the rest."""
    sequence, timestamp = _ORDER.unpack_from(data, 2)
    return sequence, timestamp


def is_non_key_slice(codec: str, data: bytes) -> bool:
    """Whether an RTP packet carries (a fragment of) a picture slice decoding cannot start at: H.264 non-IDR,
    H.265 non-IRAP. Read from the NAL or FU header in place, for skipping such packets cheaply while waiting for
    a keyframe; packets with CSRCs or a header extension, and anything malformed, answer False (full parse)."""
    if len(data) < 15 or data[0] & 0xDF != 0x80:  # version 2, no extension, no CSRC (padding allowed)
        return False
    if codec == "h264":
        kind = data[12] & 0x1F
        if kind == _FU_A:
            kind = data[13] & 0x1F
        return 1 <= kind <= 4
    if codec == "h265":
        kind = (data[12] >> 1) & 0x3F
        if kind == _H265_FU:
            kind = data[14] & 0x3F
        return kind < 16
    return False


H265_IRAP = range(16, 22)  # BLA, IDR and CRA pictures: decoding can start at them
_H265_AP = 48
_H265_FU = 49


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """The NAL units of one picture (one RTP timestamp). ``complete`` is false if packets were lost."""

    timestamp: int
    nal_units: tuple[bytes, ...]
    complete: bool
    codec: str = "h264"

    @property
    def nal_types(self) -> tuple[int, ...]:
        if self.codec == "h265":
            return tuple((n[0] >> 1) & 0x3F for n in self.nal_units)
        return tuple(n[0] & 0x1F for n in self.nal_units)

    @property
    def is_idr(self) -> bool:
        """A picture decoding can start from: IDR for H.264, IRAP (IDR, CRA, BLA) for H.265."""
        if self.codec == "h265":
            return any(t in H265_IRAP for t in self.nal_types)
        return NAL_IDR in self.nal_types

    @property
    def size(self) -> int:
        return sum(len(n) for n in self.nal_units)

    def annexb(self) -> bytes:
        """The unit as an Annex B byte stream (start codes), ready for a decoder."""
        return b"".join(_START_CODE + n for n in self.nal_units)


class _Depacketizer:
    """Common assembly of access units from RTP packets in arrival order, bounded by ``max_au_bytes``."""

    codec = ""
    header_size = 1

    def __init__(self, *, max_au_bytes: int = 8 * 1024 * 1024, max_nal_units: int = 1024) -> None:
        self.max_au_bytes = max_au_bytes
        self.max_nal_units = max_nal_units
        self.dropped = 0
        self._nals: list[bytes] = []
        self._size = 0
        self._timestamp: int | None = None
        self._fragment: bytearray | None = None
        self._last_sequence: int | None = None
        self._lost = False

    def push(self, packet: RtpPacket) -> list[AccessUnit]:
        """Add one packet; returns the access units it completed (by marker bit or timestamp change)."""
        done: list[AccessUnit] = []
        if self._timestamp is not None and packet.timestamp != self._timestamp:
            done += self._flush()
        if self._last_sequence is not None and packet.sequence != (self._last_sequence + 1) & 0xFFFF:
            self._fragment = None
            self._lost = True
        self._last_sequence = packet.sequence
        self._timestamp = packet.timestamp
        self._take_payload(packet.payload)
        if packet.marker:
            done += self._flush()
        return done

    def skip(self, sequence: int, timestamp: int) -> list[AccessUnit]:
        """Pass over a packet without reading its payload (see :func:`is_non_key_slice`).

        Loss detection and access unit boundaries are kept: returns the unit completed before the packet (by a
        timestamp change), and drops the picture the packet belongs to.
        """
        done = self._flush() if self._timestamp is not None and timestamp != self._timestamp else []
        self._nals, self._size, self._fragment, self._lost = [], 0, None, False
        self._timestamp, self._last_sequence = timestamp, sequence
        return done

    def _take_payload(self, payload: bytes) -> None:
        raise NotImplementedError

    def _flush(self) -> list[AccessUnit]:
        complete = not self._lost and self._fragment is None
        unit = AccessUnit(self._timestamp or 0, tuple(self._nals), complete, self.codec)
        self._nals, self._size, self._fragment, self._lost, self._timestamp = [], 0, None, False, None
        return [unit] if unit.nal_units else []

    def _take_aggregate(self, payload: bytes, start: int) -> None:
        """STAP-A (H.264) or AP (H.265): 16-bit sizes, each followed by one NAL unit."""
        pos = start
        while pos + 2 <= len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            pos += 2
            if size == 0 or pos + size > len(payload):
                self._drop()
                return
            self._add(payload[pos : pos + size])
            pos += size

    def _take_fragment(self, header: bytes, fu_header: int, data: bytes) -> None:
        """FU-A (H.264) or FU (H.265): ``header`` is the rebuilt NAL header, used on the start fragment."""
        if fu_header & 0x80:
            if self._fragment is not None:
                self._lost = True
            self._fragment = bytearray(header)
        elif self._fragment is None:
            self._drop()
            return
        self._fragment += data
        if self._size + len(self._fragment) > self.max_au_bytes:
            raise TooLargeError("access unit exceeds its size bound")
        if fu_header & 0x40:
            nal, self._fragment = bytes(self._fragment), None
            self._add(nal)

    def _add(self, nal: bytes) -> None:
        if len(nal) < self.header_size or nal[0] & 0x80:
            self._drop()
            return
        self._size += len(nal)
        self._nals.append(nal)
        if self._size > self.max_au_bytes or len(self._nals) > self.max_nal_units:
            raise TooLargeError("access unit exceeds its size bound")

    def _drop(self) -> None:
        self.dropped += 1
        self._lost = True


class H264Depacketizer(_Depacketizer):
    """RFC 6184: single NAL unit packets, STAP-A and FU-A (packetization modes 0 and 1)."""

    codec = "h264"

    def _take_payload(self, payload: bytes) -> None:
        kind = payload[0] & 0x1F if payload else 0
        if 1 <= kind <= 23:
            self._add(payload)
        elif kind == _STAP_A:
            self._take_aggregate(payload, 1)
        elif kind == _FU_A and len(payload) >= 3:
            fu_header = payload[1]
            self._take_fragment(bytes([(payload[0] & 0xE0) | (fu_header & 0x1F)]), fu_header, payload[2:])
        else:
            self._drop()


class H265Depacketizer(_Depacketizer):
    """RFC 7798 without DONL (``sprop-max-don-diff`` 0): single NAL unit packets, APs and FUs."""

    codec = "h265"
    header_size = 2

    def _take_payload(self, payload: bytes) -> None:
        kind = (payload[0] >> 1) & 0x3F if len(payload) >= 2 else -1
        if 0 <= kind < _H265_AP:
            self._add(payload)
        elif kind == _H265_AP:
            self._take_aggregate(payload, 2)
        elif kind == _H265_FU and len(payload) >= 4:
            fu_header = payload[2]
            header = bytes([(payload[0] & 0x81) | ((fu_header & 0x3F) << 1), payload[1]])
            self._take_fragment(header, fu_header, payload[3:])
        else:
            self._drop()


def depacketizer_for(codec: str | None) -> H264Depacketizer | H265Depacketizer:
    """The depacketizer for an SDP codec name (``h264`` or ``h265``); others raise :class:`ProtocolError`."""
    if codec == "h264":
        return H264Depacketizer()
    if codec == "h265":
        return H265Depacketizer()
    raise ProtocolError("no depacketizer for this codec")
