"""Property tests: the parsers raise nothing but ProtocolError (or its subclasses), and stay bounded."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharpeyes.probers.base import AuthPolicy
from sharpeyes.redact import Secret
from sharpeyes.rtsp.auth import MAX_CHALLENGES, Authenticator, parse_challenges
from sharpeyes.rtsp.errors import AuthError, ProtocolError
from sharpeyes.rtsp.h264 import (
    H264Depacketizer,
    H265Depacketizer,
    RtpPacket,
    h264_sps_size,
    h265_sps_size,
    parse_rtp,
)
from sharpeyes.rtsp.message import Event, InterleavedFrame, Limits, MessageParser, Response
from sharpeyes.rtsp.sdp import MAX_MEDIA, parse_sdp

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = Limits(max_line_bytes=256, max_header_count=16, max_header_bytes=2048, max_body_bytes=4096)

_line = st.one_of(
    st.sampled_from(["RTSP/1.0 200 OK", "RTSP/1.0 401 Unauthorized", "GET_PARAMETER rtsp://h/x RTSP/1.0", ""]),
    st.sampled_from(["CSeq: 1", "Content-Length: 3", "Content-Length: 99999", "Session: 1;timeout=60"]),
    st.text(max_size=40),
)
_messages = st.lists(_line, max_size=20).map(lambda lines: "\r\n".join(lines).encode("utf-8", "replace"))
_stream = st.lists(st.one_of(st.binary(max_size=300), _messages, st.just(b"$\x00\x00\x02ab")), max_size=8)


@FUZZ
@given(parts=_stream, chunk=st.integers(1, 64))
def test_message_parser_raises_only_protocol_errors_and_stays_bounded(parts: list[bytes], chunk: int) -> None:
    data = b"".join(parts)
    parser = MessageParser(LIMITS)
    got: list[Event] = []
    try:
        for i in range(0, len(data), chunk):
            parser.feed(data[i : i + chunk])
            while (event := parser.next_event()) is not None:
                got.append(event)
            assert parser.buffered <= LIMITS.max_head_bytes + LIMITS.max_body_bytes + 4 + chunk
    except ProtocolError:
        return
    for event in got:
        if isinstance(event, Response):
            assert 100 <= event.status <= 999
            assert len(event.body) <= LIMITS.max_body_bytes
            assert len(event.headers) <= LIMITS.max_header_count


_challenge_text = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(['Digest realm="r"', "nonce=abc", 'qop="auth"', "Basic", "stale=true", ",", '"', "\\"]),
        max_size=30,
    ).map(" ".join),
)


@FUZZ
@given(values=st.lists(_challenge_text, max_size=4))
def test_challenge_parser_raises_only_protocol_errors(values: list[str]) -> None:
    try:
        challenges = parse_challenges(values)
    except ProtocolError:
        return
    assert len(challenges) <= MAX_CHALLENGES
    auth = Authenticator("u", Secret("p"), AuthPolicy.BASIC_ALLOWED)
    try:
        auth.accept_challenge(values)
    except (AuthError, ProtocolError):
        return
    assert auth.authorization("DESCRIBE", "rtsp://h/x") is not None


_sdp_line = st.one_of(
    st.sampled_from(
        [
            "v=0",
            "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/AVP 0 8",
            "a=rtpmap:96 H264/90000",
            "a=rtpmap:96 H265/90000",
            "a=control:track1",
            "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHpWoLQSZ,aM48gA==",
            "a=fmtp:96 sprop-sps=QgEBAWAAAAMAAAMAAAMAAAMAlqAFAgFx",
        ]
    ),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from("vmaocst"), st.text(max_size=60)),
    st.builds(lambda b: f"a=fmtp:96 sprop-parameter-sets={b}", st.text(max_size=40)),
)


@FUZZ
@given(lines=st.lists(_sdp_line, max_size=40), raw=st.binary(max_size=200))
def test_sdp_parser_raises_only_protocol_errors(lines: list[str], raw: bytes) -> None:
    for body in ("\r\n".join(["v=0", *lines]).encode(), raw):
        try:
            sdp = parse_sdp(body)
        except ProtocolError:
            continue
        assert len(sdp.media) <= MAX_MEDIA
        for media in sdp.media:
            size = media.picture_size()
            assert size is None or (0 < size[0] <= 16384 and 0 < size[1] <= 16384)


@FUZZ
@given(body=st.binary(max_size=64), kind=st.sampled_from([b"\x67", b"\x27", b"\x42\x01"]))
def test_sps_parsers_raise_only_protocol_errors(body: bytes, kind: bytes) -> None:
    for parse in (h264_sps_size, h265_sps_size):
        try:
            width, height = parse(kind + body)
        except ProtocolError:
            continue
        assert 0 < width <= 16384
        assert 0 < height <= 16384


_payload = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda h, b: bytes([0x7C, h]) + b, st.integers(0, 255), st.binary(max_size=80)),  # FU-A
    st.builds(lambda b: b"\x78" + b, st.binary(max_size=80)),  # STAP-A
    st.builds(lambda h, b: bytes([98, 1, h]) + b, st.integers(0, 255), st.binary(max_size=80)),  # H.265 FU
    st.builds(lambda b: b"\x60\x01" + b, st.binary(max_size=80)),  # H.265 AP
)


@FUZZ
@given(
    packets=st.lists(
        st.tuples(_payload, st.booleans(), st.integers(0, 65535), st.integers(0, 3)), min_size=1, max_size=60
    ),
    raw=st.binary(max_size=40),
)
def test_depacketizer_raises_only_protocol_errors_and_is_bounded(
    packets: list[tuple[bytes, bool, int, int]], raw: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        parse_rtp(raw)
    for depack in (
        H264Depacketizer(max_au_bytes=2000, max_nal_units=16),
        H265Depacketizer(max_au_bytes=2000, max_nal_units=16),
    ):
        try:
            for payload, marker, seq, ts in packets:
                for unit in depack.push(RtpPacket(96, marker, seq, ts, 1, payload)):
                    assert unit.nal_units
                    assert all(nal and not nal[0] & 0x80 for nal in unit.nal_units)
                    assert unit.size <= 2000
                    assert len(unit.nal_units) <= 16
                    assert isinstance(unit.is_idr, bool)
                    assert unit.annexb().count(b"\x00\x00\x00\x01") >= len(unit.nal_units)
        except ProtocolError:
            pass


_frame = st.builds(
    lambda channel, payload: b"$" + bytes([channel]) + len(payload).to_bytes(2, "big") + payload,
    st.integers(0, 255),
    st.binary(max_size=70),
)
_other = st.sampled_from(
    [
        b"\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 8\r\nContent-Length: 6\r\n\r\n$\x00\x00\x02ab",  # a body that looks like media
        b"GET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 9\r\n\r\n",
    ]
)


def _plain(events: list[Event]) -> list[tuple[object, ...]]:
    """Events as comparable tuples (headers compare by identity)."""
    out: list[tuple[object, ...]] = []
    for e in events:
        if isinstance(e, InterleavedFrame):
            out.append((e.channel, e.payload))
        else:
            out.append((type(e).__name__, tuple(e.headers.items()), e.body))
    return out


def _drain_one_by_one(data: bytes, chunk: int) -> list[Event]:
    parser, got = MessageParser(LIMITS), list[Event]()
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
        while (event := parser.next_event()) is not None:
            got.append(event)
    return got


def _drain_in_bulk(data: bytes, chunk: int) -> list[Event]:
    parser, got = MessageParser(LIMITS), list[Event]()
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
        while True:
            frames = parser.take_frames()
            got.extend(frames)
            if frames:
                continue
            event = parser.next_event()
            if event is None:
                break
            got.append(event)
    return got


@FUZZ
@given(parts=st.lists(st.one_of(_frame, _frame, _other), max_size=30), chunk=st.integers(1, 200))
def test_taking_frames_in_bulk_gives_the_same_events_as_one_at_a_time(parts: list[bytes], chunk: int) -> None:
    """``take_frames`` (the frame prober's path) and ``next_event`` (one event at a time) agree on any valid stream
    of media, blank lines, responses (one with a ``$`` body) and server requests, however it is chunked."""
    data = b"".join(parts)
    one_by_one = _plain(_drain_one_by_one(data, chunk))
    assert _plain(_drain_in_bulk(data, chunk)) == one_by_one
    assert sum(1 for p in parts if p.startswith(b"$")) == sum(1 for e in one_by_one if len(e) == 2)
