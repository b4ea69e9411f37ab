from __future__ import annotations

import pytest

from sharpeyes.rtsp.errors import ProtocolError, TooLargeError
from sharpeyes.rtsp.message import (
    Event,
    InterleavedFrame,
    Limits,
    MessageParser,
    Response,
    ServerRequest,
    encode_request,
)


def events(data: bytes, limits: Limits | None = None, chunk: int = 7) -> list[Event]:
    parser = MessageParser(limits or Limits())
    out: list[Event] = []
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
        while (event := parser.next_event()) is not None:
            out.append(event)
    return out


def test_response_with_body_split_across_chunks() -> None:
    sdp = b"v=0\r\nm=video 0 RTP/AVP 96\r\n"
    data = (
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\n"
        + f"Content-Length: {len(sdp)}\r\n\r\n".encode()
        + sdp
    )
    [resp] = events(data)
    assert isinstance(resp, Response)
    assert (resp.status, resp.reason, resp.cseq, resp.body) == (200, "OK", 3, sdp)
    assert resp.headers.get("content-type") == "application/sdp"


def test_interleaved_frames_server_requests_and_responses_are_told_apart() -> None:
    data = (
        b"$\x00\x00\x03abc"
        + b"GET_PARAMETER rtsp://cam/x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nhi"
        + b"\r\n"  # stray blank line between messages is tolerated
        + b"RTSP/1.0 200 OK\nCSeq: 1\n\n"  # bare LF line endings
        + b"$\x01\x00\x00"
    )
    got = events(data, chunk=3)
    assert got[0] == InterleavedFrame(0, b"abc")
    assert isinstance(got[1], ServerRequest)
    assert (got[1].method, got[1].body) == ("GET_PARAMETER", b"hi")
    assert isinstance(got[2], Response)
    assert got[2].cseq == 1
    assert got[3] == InterleavedFrame(1, b"")


def test_folded_header_and_missing_reason() -> None:
    [resp] = events(b"RTSP/1.0 404\r\nCSeq: 2\r\nX-Long: a\r\n b\r\n\r\n")
    assert isinstance(resp, Response)
    assert resp.status == 404
    assert resp.headers.get("X-Long") == "a b"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"\x16\x03\x01\x02\x00",  # a TLS ClientHello-like start
        b"RTSP/1.0 2000 OK\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq 1\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 1\x00\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"ok RTSP/1.0\r\n\r\n",
    ],
)
def test_malformed_heads_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        events(data)


def test_header_count_limit() -> None:
    limits = Limits(max_header_count=8)
    head = b"RTSP/1.0 200 OK\r\n" + b"X: y\r\n" * 9 + b"\r\n"
    with pytest.raises(ProtocolError, match="too many"):
        events(head, limits)
    assert len(events(b"RTSP/1.0 200 OK\r\n" + b"X: y\r\n" * 8 + b"\r\n", limits)) == 1


def test_unterminated_head_is_bounded() -> None:
    limits = Limits(max_line_bytes=64, max_header_bytes=1024)
    with pytest.raises(ProtocolError, match="start line"):
        events(b"RTSP/1.0 200 " + b"A" * 100, limits)
    with pytest.raises(ProtocolError, match="too large"):
        events(b"RTSP/1.0 200 OK\r\n" + b"X: y\r\n" * 500, limits)


def test_body_limit_is_checked_before_reading_the_body() -> None:
    parser = MessageParser(Limits(max_body_bytes=1024))
    parser.feed(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 10000000\r\n\r\n")
    with pytest.raises(TooLargeError):
        parser.next_event()


def test_encode_request_refuses_header_injection() -> None:
    raw = encode_request("DESCRIBE", "rtsp://h/x", [("CSeq", "1")])
    assert raw == b"DESCRIBE rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    with pytest.raises(ProtocolError):
        encode_request("SETUP", "rtsp://h/x\r\nEvil: 1", [("CSeq", "1")])
    with pytest.raises(ProtocolError):
        encode_request("SETUP", "rtsp://h/x y", [("CSeq", "1")])


@pytest.mark.parametrize(
    ("uri", "headers"),
    [
        ("rtsp://h/x\x00", [("CSeq", "1")]),
        ("rtsp://h/x", [("CSeq", "1\r\nEvil: 1")]),
        ("rtsp://h/x", [("X-Evil\n", "1")]),
        ("rtsp://h/x", [("Session", "abc\x00")]),
        ("rtsp://h/x\ty", [("CSeq", "1")]),
        ("rtsp://h/x\u00a0y", [("CSeq", "1")]),  # non-ASCII white space too (str.isspace)
        ("rtsp://h/x\u2028y", [("CSeq", "1")]),
    ],
)
def test_encode_request_refuses_breaks_and_spaces_anywhere(uri: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ProtocolError):
        encode_request("DESCRIBE", uri, headers)


def test_status_below_100_is_protocol() -> None:
    """Found by scripts/fuzz.py (atheris): ``RTSP/1.2 000 OK`` was accepted as a response with status 0."""
    parser = MessageParser(Limits())
    parser.feed(b"RTSP/1.0 000 OK\r\nCSeq: 1\r\n\r\n")
    with pytest.raises(ProtocolError):
        parser.next_event()
