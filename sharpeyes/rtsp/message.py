"""RTSP/1.0 message framing: a bounded, sans-I/O parser of what a server sends, and request encoding.

The parser is fed bytes and yields events: a :class:`Response`, a :class:`ServerRequest` (a request the server
initiated, e.g. ``GET_PARAMETER`` or ``ANNOUNCE``; the client skips it) or an :class:`InterleavedFrame`
(``$`` + channel + length, RTP/RTCP over the TCP connection). Every size is bounded by :class:`Limits`: the
start line, the header section, the header count and the body. Malformed input raises
:class:`~sharpeyes.rtsp.errors.ProtocolError`; a body over its bound raises
:class:`~sharpeyes.rtsp.errors.TooLargeError` as soon as its Content-Length is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sharpeyes.rtsp.errors import ProtocolError, TooLargeError

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE = re.compile(r"RTSP/1\.(\d) ([1-9]\d{2})(?: (.*))?")  # status 100-999 (RFC 2326 7.1.1)
_REQUEST_LINE = re.compile(r"([A-Z][A-Z0-9_-]{0,31}) (\S{1,4096}) RTSP/1\.\d")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
_DIGITS = re.compile(r"\d{1,10}")
_LINE_BREAK = re.compile(r"[\r\n\x00]")
_SPACE = re.compile(r"\s")  # str patterns: exactly the characters for which str.isspace() is true


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one message. ``max_body_bytes`` is the module's (128 KiB by default)."""

    max_line_bytes: int = 4096
    max_header_count: int = 64
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 128 * 1024

    @property
    def max_head_bytes(self) -> int:
        return self.max_line_bytes + self.max_header_bytes


class Headers:
    """An ordered, case-insensitive multi-map of header fields."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = tuple(items)

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or ``None``."""
        key = name.lower()
        return next((v for k, v in self._items if k.lower() == key), None)

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._items if k.lower() == key]

    def items(self) -> Sequence[tuple[str, str]]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({len(self._items)} fields)"


@dataclass(frozen=True, slots=True)
class Response:
    """A server's response to one of our requests."""

    status: int
    reason: str
    headers: Headers
    body: bytes = b""

    @property
    def cseq(self) -> int | None:
        """The CSeq header as an int, or ``None`` when missing or not a number."""
        value = (self.headers.get("CSeq") or "").strip()
        return int(value) if _DIGITS.fullmatch(value) else None


@dataclass(frozen=True, slots=True)
class ServerRequest:
    """A request initiated by the server. The client never takes it for a response."""

    method: str
    uri: str
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class InterleavedFrame:
    """One ``$``-framed packet on the RTSP connection (RTP on even channels, RTCP on odd, by convention)."""

    channel: int
    payload: bytes


Event = Response | ServerRequest | InterleavedFrame


@dataclass(slots=True)
class _Head:
    start: Response | ServerRequest
    body_length: int


@dataclass(slots=True)
class MessageParser:
    """Incremental parser of the server-to-client byte stream. ``feed`` bytes, then drain ``next_event``."""

    limits: Limits = field(default_factory=Limits)
    _buf: bytearray = field(default_factory=bytearray)
    _scan: int = 0
    _head: _Head | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def next_event(self) -> Event | None:
        """The next complete event, or ``None`` when more bytes are needed."""
        if self._head is not None:
            return self._take_body(self._head)
        self._skip_blank_lines()
        if not self._buf:
            return None
        if self._buf[0] == 0x24:  # '$'
            return self._take_interleaved()
        head = self._take_head()
        if head is None:
            return None
        self._head = head
        return self._take_body(head)

    def take_frames(self) -> list[InterleavedFrame]:
        """Every complete interleaved frame at the front of the buffer, in order: media in bulk, one call per read
        rather than one per packet. Stops at anything else (a message, a blank line, a partial frame), which
        :meth:`next_event` then handles; empty while a message body is being read."""
        buf = self._buf
        if self._head is not None:
            return []
        frames: list[InterleavedFrame] = []
        pos, end = 0, len(buf)
        while pos + 4 <= end and buf[pos] == 0x24:  # '$'
            stop = pos + 4 + (buf[pos + 2] << 8 | buf[pos + 3])
            if stop > end:
                break
            frames.append(InterleavedFrame(buf[pos + 1], bytes(buf[pos + 4 : stop])))
            pos = stop
        if pos:
            del buf[:pos]
        return frames

    def _skip_blank_lines(self) -> None:
        n = 0
        while n < len(self._buf) and self._buf[n] in (0x0D, 0x0A):
            n += 1
        if n:
            del self._buf[:n]

    def _take_interleaved(self) -> InterleavedFrame | None:
        if len(self._buf) < 4:
            return None
        size = int.from_bytes(self._buf[2:4], "big")
        if len(self._buf) < 4 + size:
            return None
        frame = InterleavedFrame(self._buf[1], bytes(self._buf[4 : 4 + size]))
        del self._buf[: 4 + size]
        return frame

    def _take_head(self) -> _Head | None:
        first = self._buf[0]
        if not (0x41 <= first <= 0x5A):  # a status line or a method starts with an upper-case letter
            raise ProtocolError("garbage where a status line was expected")
        match = _HEAD_END.search(self._buf, max(0, self._scan - 3))
        if match is None:
            self._scan = len(self._buf)
            self._check_unterminated()
            return None
        raw = bytes(self._buf[: match.start()])
        del self._buf[: match.end()]
        self._scan = 0
        if len(raw) > self.limits.max_head_bytes:
            raise ProtocolError("header section too large")
        return self._parse_head(raw)

    def _check_unterminated(self) -> None:
        if len(self._buf) > self.limits.max_head_bytes:
            raise ProtocolError("header section too large or unterminated")
        if self._buf.find(b"\n", 0, self.limits.max_line_bytes + 1) < 0 and (
            len(self._buf) > self.limits.max_line_bytes
        ):
            raise ProtocolError("start line too long")

    def _parse_head(self, raw: bytes) -> _Head:
        if b"\x00" in raw:
            raise ProtocolError("NUL byte in message head")
        lines = [line.rstrip("\r") for line in raw.decode("latin-1").split("\n")]
        if len(lines[0]) > self.limits.max_line_bytes:
            raise ProtocolError("start line too long")
        headers = self._parse_headers(lines[1:])
        body_length = self._content_length(headers)
        status = _STATUS_LINE.fullmatch(lines[0])
        if status is not None:
            start: Response | ServerRequest = Response(int(status[2]), status[3] or "", headers)
            return _Head(start, body_length)
        request = _REQUEST_LINE.fullmatch(lines[0])
        if request is not None:
            return _Head(ServerRequest(request[1], request[2], headers), body_length)
        raise ProtocolError("malformed status line")

    def _parse_headers(self, lines: list[str]) -> Headers:
        fields: list[list[str]] = []
        for line in lines:
            if line[:1] in (" ", "\t") and fields:
                fields[-1][1] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep or not _TOKEN.fullmatch(name):
                raise ProtocolError("malformed header line")
            fields.append([name, value.strip()])
            if len(fields) > self.limits.max_header_count:
                raise ProtocolError("too many header fields")
        return Headers((name, value) for name, value in fields)

    def _content_length(self, headers: Headers) -> int:
        values = {v.strip() for v in headers.get_all("Content-Length")}
        if not values:
            return 0
        if len(values) > 1:
            raise ProtocolError("conflicting Content-Length")
        value = values.pop()
        if not _DIGITS.fullmatch(value):
            raise ProtocolError("malformed Content-Length")
        length = int(value)
        if length > self.limits.max_body_bytes:
            raise TooLargeError(f"body of {length} bytes exceeds {self.limits.max_body_bytes}")
        return length

    def _take_body(self, head: _Head) -> Response | ServerRequest | None:
        if len(self._buf) < head.body_length:
            return None
        body = bytes(self._buf[: head.body_length])
        del self._buf[: head.body_length]
        self._head = None
        start = head.start
        if isinstance(start, Response):
            return Response(start.status, start.reason, start.headers, body)
        return ServerRequest(start.method, start.uri, start.headers, body)


def encode_request(method: str, uri: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """One request as bytes. Refuses CR/LF in any part, so a hostile control URL cannot inject headers."""
    fields = "".join([method, uri, *(f"{k}{v}" for k, v in headers)])
    if _LINE_BREAK.search(fields) is not None:
        raise ProtocolError("line break in a request field")
    if _SPACE.search(uri) is not None:
        raise ProtocolError("white space in a request URI")
    lines = [f"{method} {uri} RTSP/1.0", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("utf-8")
