"""An asyncio RTSP/1.0 client for probing cameras: OPTIONS, DESCRIBE, SETUP (TCP interleaved), PLAY, TEARDOWN.

One :class:`RtspClient` is one connection to one camera, bounded everywhere: a per-read timeout clipped by the
total deadline, size limits on every message, at most one authentication re-challenge per request, and CSeq
checking (a response with another CSeq is a protocol error; requests the server initiates are skipped).
Redirects are followed only to the registered host and only to ``rtsp``/``rtsps``. Credentials travel only in
``Authorization`` headers to that host; URLs never carry userinfo.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from sharpeyes.probers.base import AuthPolicy, Deadline
from sharpeyes.redact import Secret
from sharpeyes.rtsp.auth import Authenticator
from sharpeyes.rtsp.connection import Connection, Endpoint
from sharpeyes.rtsp.errors import AuthError, ProtocolError, StatusError
from sharpeyes.rtsp.message import (
    InterleavedFrame,
    Limits,
    MessageParser,
    Response,
    ServerRequest,
    encode_request,
)
from sharpeyes.rtsp.sdp import SessionDescription, check_same_host, parse_sdp, resolve_control

log = logging.getLogger(__name__)

_SESSION_ID = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}")
_INTERLEAVED = re.compile(r"interleaved=(\d{1,3})(?:-(\d{1,3}))?")
UNAVAILABLE_RETRY_S = 0.05


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Tunables of one client; a probe module supplies them."""

    read_timeout_s: float = 2.0
    limits: Limits = field(default_factory=Limits)
    max_redirects: int = 2
    policy: AuthPolicy = AuthPolicy.DIGEST
    user_agent: str = "sharpeyes"
    max_queued_bytes: int = 4 * 1024 * 1024


def endpoint_of(url: str) -> Endpoint:
    """Host, port and TLS flag of an ``rtsp``/``rtsps`` URL without userinfo."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ProtocolError("malformed RTSP URL") from exc
    if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
        raise ProtocolError("not an rtsp or rtsps URL")
    if "@" in parts.netloc:
        raise ProtocolError("RTSP URL must not carry userinfo")
    tls = parts.scheme.lower() == "rtsps"
    return Endpoint(parts.hostname, port or (322 if tls else 554), tls)


class RtspClient:
    """One RTSP session with one camera. Use as ``async with RtspClient(...) as c: await c.connect()``."""

    def __init__(
        self,
        url: str,
        *,
        deadline: Deadline,
        username: str | None = None,
        password: Secret | None = None,
        options: ClientOptions | None = None,
        registered_host: str | None = None,
    ) -> None:
        self.options = options or ClientOptions()
        self.url = url
        self.endpoint = endpoint_of(url)
        self.host = registered_host or self.endpoint.host
        check_same_host(url, self.host)
        self._deadline = deadline
        self._auth = Authenticator(username, password, self.options.policy)
        self._conn = Connection(deadline, self.options.read_timeout_s)
        self._parser = MessageParser(self.options.limits)
        self._addresses: list[tuple[str, int]] = []
        self._cseq = 0
        self._frames: collections.deque[InterleavedFrame] = collections.deque()
        self._queued_bytes = 0
        self.frames_dropped = 0
        self.session: str | None = None
        self.base_url = url
        self.sdp: SessionDescription | None = None

    async def __aenter__(self) -> RtspClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            await self.close()
        else:
            self.abort()

    async def resolve(self) -> None:
        """Resolve the camera's host (non-blocking, under the deadline)."""
        self._addresses = await self._conn.resolve(self.endpoint)

    async def connect(self) -> None:
        """Open the connection; resolves first if :meth:`resolve` was not called."""
        if not self._addresses:
            await self.resolve()
        await self._conn.connect(self.endpoint, self._addresses)

    async def close(self) -> None:
        await self._conn.close()

    def abort(self) -> None:
        """Drop the connection at once (an exception or a cancellation: no graceful close)."""
        self._conn.abort()

    async def request(self, method: str, url: str, headers: list[tuple[str, str]] | None = None) -> Response:
        """Send one request and return its response, answering at most one authentication challenge."""
        for attempt in range(2):
            self._cseq += 1
            fields = [("CSeq", str(self._cseq)), ("User-Agent", self.options.user_agent), *(headers or [])]
            if self.session:
                fields.append(("Session", self.session))
            authorization = self._auth.authorization(method, url)
            if authorization:
                fields.append(("Authorization", authorization))
            await self._conn.write(encode_request(method, url, fields))
            response = await self._read_response(self._cseq)
            if response.status != 401:
                return response
            if attempt:
                raise AuthError(f"{method}: credentials rejected by the camera")
            challenges = response.headers.get_all("WWW-Authenticate")
            self._auth.accept_challenge(challenges, sent_credentials=authorization is not None)
        raise AssertionError("unreachable")

    async def _read_response(self, cseq: int) -> Response:
        while True:
            event = self._parser.next_event()
            if event is None:
                self._parser.feed(await self._conn.read())
            elif isinstance(event, InterleavedFrame):
                self._queue_frame(event)
            elif isinstance(event, ServerRequest):
                log.debug("skipping a %s request initiated by the camera", event.method[:32])
            elif event.cseq != cseq:
                raise ProtocolError("response CSeq does not match the request")
            else:
                return event

    def _queue_frame(self, frame: InterleavedFrame) -> None:
        """Keep media that arrives while waiting for a response, dropping the oldest beyond the byte bound."""
        self._frames.append(frame)
        self._queued_bytes += len(frame.payload)
        while self._queued_bytes > self.options.max_queued_bytes:
            self._queued_bytes -= len(self._frames.popleft().payload)
            self.frames_dropped += 1

    async def options_request(self) -> Response:
        """OPTIONS on the URL; a non-success status raises."""
        return _check(await self.request("OPTIONS", self.url))

    async def describe(self) -> SessionDescription:
        """DESCRIBE, following redirects to the registered host; retries a ``503`` once after 50 ms."""
        retried = False
        for hop in range(self.options.max_redirects + 1):
            response = await self.request("DESCRIBE", self.url, [("Accept", "application/sdp")])
            if response.status == 503 and not retried:
                retried = True
                await asyncio.sleep(min(UNAVAILABLE_RETRY_S, self._deadline.remaining()))
                response = await self.request("DESCRIBE", self.url, [("Accept", "application/sdp")])
            if 300 <= response.status < 400:
                if hop == self.options.max_redirects:
                    break
                await self._redirect(response)
                continue
            _check(response)
            base = response.headers.get("Content-Base") or response.headers.get("Content-Location")
            if base:
                check_same_host(base, self.host)
            self.base_url = base or self.url
            self.sdp = parse_sdp(response.body)
            return self.sdp
        raise ProtocolError("too many redirects")

    async def _redirect(self, response: Response) -> None:
        location = (response.headers.get("Location") or "").strip()
        if not location:
            raise ProtocolError(f"redirect {response.status} without Location")
        check_same_host(location, self.host)
        log.debug("following redirect %d to the registered host", response.status)
        await self._conn.close()
        self.url, self.endpoint = location, endpoint_of(location)
        self._parser = MessageParser(self.options.limits)
        self._addresses = []
        self._auth.reset()
        await self.connect()

    def control_url(self, control: str | None) -> str:
        """A control attribute resolved against the content base, pinned to the registered host."""
        return resolve_control(self.base_url, control, self.host)

    async def setup(self, control: str | None, interleaved: tuple[int, int] = (0, 1)) -> tuple[int, int]:
        """SETUP one stream over TCP interleaved; returns the channels the server chose."""
        transport = f"RTP/AVP/TCP;unicast;interleaved={interleaved[0]}-{interleaved[1]}"
        response = _check(await self.request("SETUP", self.control_url(control), [("Transport", transport)]))
        session = (response.headers.get("Session") or "").split(";", 1)[0].strip()
        if not _SESSION_ID.fullmatch(session):
            raise ProtocolError("SETUP response without a valid Session")
        self.session = session
        match = _INTERLEAVED.search(response.headers.get("Transport") or "")
        if match is None:
            return interleaved
        first = int(match[1])
        return first, int(match[2]) if match[2] else first + 1

    async def play(self) -> Response:
        """PLAY the aggregate (session-level control, or the content base)."""
        control = self.sdp.control if self.sdp else None
        return _check(await self.request("PLAY", self.control_url(control), [("Range", "npt=0.000-")]))

    async def read_frame(self) -> InterleavedFrame:
        """The next interleaved frame; skips server requests and unsolicited responses (:meth:`read_frames`, one
        at a time: the rest of a read waits in the queue, counted against its bound like frames queued during a
        request)."""
        if not self._frames:
            first, *rest = await self.read_frames()  # the queue is empty: these come from the parser
            self._frames.extend(rest)
            self._queued_bytes += sum(len(frame.payload) for frame in rest)
            return first
        frame = self._frames.popleft()
        self._queued_bytes -= len(frame.payload)
        return frame

    async def read_frames(self) -> list[InterleavedFrame]:
        """The interleaved frames available now, at least one (waiting for it if need be), in order: those queued
        while a response was awaited, else every complete one in the buffer. Skips server requests and
        unsolicited responses. The same frames as :meth:`read_frame` gives one at a time, for a fraction of the
        cost per packet (what a frame probe reads while it waits for a keyframe)."""
        if self._frames:
            frames = list(self._frames)
            self._frames.clear()
            self._queued_bytes = 0
            return frames
        while True:
            frames = self._parser.take_frames()
            if frames:
                return frames
            event = self._parser.next_event()
            if event is None:
                self._parser.feed(await self._conn.read())
            elif isinstance(event, InterleavedFrame):
                return [event]

    def teardown(self) -> None:
        """Send TEARDOWN for the session, best effort and without waiting for the answer."""
        if self.session is None:
            return
        self._cseq += 1
        fields = [("CSeq", str(self._cseq)), ("User-Agent", self.options.user_agent)]
        fields.append(("Session", self.session))
        url = self.control_url(self.sdp.control if self.sdp else None)
        authorization = self._auth.authorization("TEARDOWN", url)
        if authorization:
            fields.append(("Authorization", authorization))
        self.session = None
        self._conn.write_nowait(encode_request("TEARDOWN", url, fields))


def _check(response: Response) -> Response:
    """Return a success response; raise for anything else (``401`` is handled before this)."""
    if 200 <= response.status < 300:
        return response
    if response.status == 403:
        raise AuthError("camera refused access (403)")
    raise StatusError(response.status, response.reason)
