"""Small hostile RTSP servers on loopback for tests: each connection runs a scripted async handler."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\na=control:*\r\n"
    b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    b"a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHpWoLQSZ,aM48gA==\r\na=control:track1\r\n"
)  # the SPS says 720x576


@dataclass
class Request:
    method: str
    uri: str
    cseq: int
    headers: dict[str, str] = field(default_factory=dict)


async def read_request(reader: asyncio.StreamReader) -> Request:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("utf-8")
    lines = head.split("\r\n")
    method, uri, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return Request(method, uri, int(headers.get("cseq", "-1")), headers)


def reply(cseq: int, status: int = 200, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> bytes:
    lines = [f"RTSP/1.0 {status} X", f"CSeq: {cseq}", *(f"{k}: {v}" for k, v in headers or [])]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def digest_ok(req: Request, user: str, password: str, realm: str, nonce: str) -> bool:
    """Server-side RFC 2617 check of a request's Authorization header (qop=auth)."""
    value = req.headers.get("authorization", "")
    if not value.startswith("Digest "):
        return False
    params = {}
    for part in value[len("Digest ") :].split(","):
        k, _, v = part.strip().partition("=")
        params[k] = v.strip('"')
    if params.get("nonce") != nonce or params.get("username") != user:
        return False

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()  # noqa: S324 (RFC 2617)

    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{req.method}:{params['uri']}")
    expected = md5(f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    return params.get("response") == expected


class FakeRtspServer:
    """``async with FakeRtspServer(handler) as srv``: ``srv.url``; every connection is torn down at exit."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self._handler = handler
        self.host = host
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self.connections = 0

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await self._handler(reader, writer)
        self._tasks.discard(task)

    async def __aenter__(self) -> FakeRtspServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()
        await asyncio.sleep(0.01)
