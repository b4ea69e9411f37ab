"""The simulated cameras' RTSP server (RFC 2326) on asyncio: one listener per camera, RTP over TCP interleaved.

Methods: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER/SET_PARAMETER (keep-alive). Basic and Digest
auth. RTP over TCP interleaved, or over UDP unicast to the client's ports (one datagram socket per UDP session; an
unknown transport gets 461 so clients fall back). Media comes from the camera's
:class:`~sharpeyes.sim.broadcast.Broadcaster`; network and protocol faults are applied per response.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import secrets
import socket
import struct
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sharpeyes.sim.auth import Verdict, challenges
from sharpeyes.sim.broadcast import Sink, Viewer
from sharpeyes.sim.camera import SimCamera
from sharpeyes.sim.faults import SimFault

log = logging.getLogger(__name__)
BACKLOG = 1024
_MAX_HEADER = 16 * 1024
_METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    501: "Not Implemented",
}
_INTERLEAVED = re.compile(r"interleaved=(\d+)(?:-(\d+))?")
_CLIENT_PORT = re.compile(r"client_port=(\d+)(?:-(\d+))?")


class UdpSink:
    """Sends the broadcaster's interleaved frames as one UDP datagram per RTP packet to the client's RTP port."""

    def __init__(self, transport: asyncio.DatagramTransport, address: tuple[str, int]) -> None:
        self.transport = transport
        self.address = address

    def write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        pos = 0
        while pos + 4 <= len(view):
            length = (view[pos + 2] << 8) | view[pos + 3]
            self.transport.sendto(view[pos + 4 : pos + 4 + length], self.address)
            pos += 4 + length

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_write_buffer_size(self) -> int:
        size = getattr(self.transport, "get_write_buffer_size", None)  # asyncio's selector transport has it
        return int(size()) if size is not None else 0


@dataclass(slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")


@dataclass(slots=True)
class Response:
    code: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def parse_request(head: bytes) -> Request:
    """Parse the request line and headers (``head`` ends with the blank line)."""
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise ValueError("bad request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(parts[0].upper(), parts[1], headers)


def sdp(camera: SimCamera, url: str) -> bytes:
    """The session description of the camera's H.264 stream."""
    assert camera.broadcaster is not None
    clip = camera.broadcaster.clip.clip
    host = camera.rtsp.host if camera.rtsp else "127.0.0.1"
    sprop = ",".join(base64.b64encode(p).decode() for p in (clip.sps, clip.pps))
    lines = [
        "v=0",
        f"o=- {camera.ssrc} 1 IN IP4 {host}",
        "s=sharpeyes simulated camera",
        f"c=IN IP4 {host}",
        "t=0 0",
        "a=control:*",
        "a=range:npt=0-",
        "m=video 0 RTP/AVP 96",
        f"b=AS:{max(64, clip.bitrate_kbps)}",
        "a=rtpmap:96 H264/90000",
        f"a=fmtp:96 packetization-mode=1;profile-level-id={clip.profile_level_id};sprop-parameter-sets={sprop}",
        f"a=framerate:{clip.spec.fps}",
        f"a=x-dimensions:{clip.spec.width},{clip.spec.height}",
        "a=control:trackID=1",
        "",
    ]
    return "\r\n".join(lines).encode()


class RtspSession:
    """One client connection to one camera."""

    def __init__(self, camera: SimCamera, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.camera = camera
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.client = str(peer[0]) if peer else "?"
        self.session_id = secrets.token_hex(8)
        self.viewer: Viewer | None = None
        self.channel = 0
        self.set_up = False
        self.udp: UdpSink | None = None

    async def run(self) -> None:
        transport = self.writer.transport
        self.camera.sessions.add(transport)
        try:
            while True:
                request = await self._read()
                if request is None:
                    return
                if self.camera.has(SimFault.BLACKHOLE):
                    await self.reader.read(-1)
                    return
                response = await self.handle(request)
                await self._reply(request, response)
                if request.method == "PLAY" and response.code == 200:
                    self._start_media()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            self._stop_media()
            self._close_udp()
            self.camera.sessions.discard(transport)
            self.camera.streaming.discard(transport)
            self.writer.close()

    async def _read(self) -> Request | None:
        """The next request; interleaved RTCP from the client is skipped."""
        while True:
            first = await self.reader.read(1)
            if not first:
                return None
            if first == b"$":
                _, length = struct.unpack("!BH", await self.reader.readexactly(3))
                await self.reader.readexactly(length)
                continue
            head = first + await self.reader.readuntil(b"\r\n\r\n")
            if len(head) > _MAX_HEADER:
                raise ValueError("header too large")
            request = parse_request(head)
            length = int(request.headers.get("content-length", "0") or 0)
            if length:
                request.body = await self.reader.readexactly(min(length, 65536))
            return request

    async def handle(self, request: Request) -> Response:
        """Answer one request (pure apart from session state)."""
        method = request.method
        if method == "OPTIONS":
            return Response(200, [("Public", _METHODS)])
        if method not in ("DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
            return Response(501)
        denied = self._authorize(request)
        if denied is not None:
            return denied
        if method in ("GET_PARAMETER", "SET_PARAMETER"):
            return Response(200)
        if method == "DESCRIBE":
            return self._describe(request)
        if method == "SETUP":
            return await self._setup(request)
        if method == "PLAY":
            return self._play(request)
        self._stop_media()
        self._close_udp()
        self.set_up = False
        return Response(200)

    def _authorize(self, request: Request) -> Response | None:
        camera = self.camera
        lockout = camera.lockout
        if lockout is not None and lockout.locked(self.client):
            return Response(401, [("WWW-Authenticate", c) for c in challenges(camera.auth, camera.credentials.realm)])
        verdict = camera.credentials.check(camera.auth, request.headers.get("authorization"), request.method)
        if verdict is Verdict.OK and camera.has(SimFault.AUTH_FAIL):
            verdict = Verdict.WRONG
        if verdict is Verdict.OK:
            if lockout is not None:
                lockout.succeeded(self.client)
            return None
        if verdict is Verdict.WRONG and lockout is not None:
            lockout.failed(self.client)
        stale = verdict is Verdict.STALE
        return Response(
            401, [("WWW-Authenticate", c) for c in challenges(camera.auth, camera.credentials.realm, stale=stale)]
        )

    def _path_ok(self, url: str, *, track: bool = False) -> bool:
        endpoint = self.camera.rtsp
        if endpoint is None:
            return False
        path = urlsplit(url).path.rstrip("/")
        want = endpoint.path.rstrip("/")
        if track and path.endswith("/trackID=1"):
            path = path[: -len("/trackID=1")]
        return path == want or url == "*"

    def _describe(self, request: Request) -> Response:
        if self.camera.has(SimFault.NOT_FOUND) or not self._path_ok(request.url):
            return Response(404)
        if self.camera.broadcaster is None:
            return Response(404)
        body = sdp(self.camera, request.url)
        if self.camera.has(SimFault.MALFORMED) and self.camera.fault and self.camera.fault.word(0, "") == "sdp":
            body = b"v=0\r\no=- x\r\nm=video RTP/AVP\r\na=rtpmap:96 H264\r\na=fmtp:96 sprop-parameter-sets=%%%\r\n"
        base = request.url if request.url.endswith("/") else request.url + "/"
        return Response(200, [("Content-Base", base), ("Content-Type", "application/sdp")], body)

    async def _setup(self, request: Request) -> Response:
        if self.camera.has(SimFault.NOT_FOUND) or not self._path_ok(request.url, track=True):
            return Response(404)
        transport = request.headers.get("transport", "")
        session = ("Session", f"{self.session_id};timeout=60")
        ports = _CLIENT_PORT.search(transport)
        if "TCP" not in transport.upper() and "interleaved" not in transport:
            if ports is None or "multicast" in transport:
                return Response(461)
            server_port = await self._open_udp(int(ports[1]))
            reply = (
                f"RTP/AVP;unicast;client_port={ports[1]}-{ports[2] or int(ports[1]) + 1};"
                f"server_port={server_port}-{server_port + 1};ssrc={self.camera.ssrc:08X}"
            )
            self.set_up = True
            return Response(200, [("Transport", reply), session])
        match = _INTERLEAVED.search(transport)
        self.channel = int(match[1]) if match else 0
        if self.channel > 255:
            return Response(400)
        self.set_up = True
        reply = f"RTP/AVP/TCP;unicast;interleaved={self.channel}-{self.channel + 1};ssrc={self.camera.ssrc:08X}"
        return Response(200, [("Transport", reply), session])

    async def _open_udp(self, client_port: int) -> int:
        """A datagram socket on the camera's address that sends RTP to the client's port; returns its port."""
        self._close_udp()
        host = self.camera.rtsp.host if self.camera.rtsp else "127.0.0.1"
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
        self.udp = UdpSink(transport, (self.client, client_port))
        return int(transport.get_extra_info("sockname")[1])

    def _close_udp(self) -> None:
        if self.udp is not None:
            self.udp.transport.close()
            self.udp = None

    def _play(self, request: Request) -> Response:
        if not self.set_up:
            return Response(455)
        if request.headers.get("session", "").split(";")[0].strip() != self.session_id:
            return Response(454)
        broadcaster = self.camera.broadcaster
        if broadcaster is None:
            return Response(404)
        sink: Sink = self.udp if self.udp is not None else self.writer.transport
        self.viewer = Viewer(sink, self.channel, self.camera.ssrc)
        self.camera.streaming.add(self.writer.transport)
        rtptime = broadcaster.first_timestamp(self.viewer, at_once=self.camera.start_on_keyframe)
        track = request.url.rstrip("/") + "/trackID=1"
        return Response(
            200,
            [
                ("Session", f"{self.session_id};timeout=60"),
                ("Range", "npt=0.000-"),
                ("RTP-Info", f"url={track};seq={self.viewer.seq};rtptime={rtptime}"),
            ],
        )

    def _start_media(self) -> None:
        camera = self.camera
        if self.viewer is None or camera.broadcaster is None or camera.has(SimFault.NO_MEDIA):
            return
        camera.broadcaster.add(self.viewer, at_once=camera.start_on_keyframe)
        if camera.has(SimFault.RESET) and camera.fault is not None:
            asyncio.get_running_loop().call_later(camera.fault.number(0, 1.0), self._reset)

    def _stop_media(self) -> None:
        if self.viewer is not None and self.camera.broadcaster is not None:
            self.camera.broadcaster.remove(self.viewer)
        self.viewer = None
        self.camera.streaming.discard(self.writer.transport)

    def _reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0)."""
        self._stop_media()
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def _reply(self, request: Request, response: Response) -> None:
        data = self._render(request, response)
        fault = self.camera.fault
        if fault is not None and fault.kind is SimFault.SLOW:
            await asyncio.sleep(fault.number(0, 2.0))
        if fault is not None and fault.kind is SimFault.DRIP:
            pause = 1.0 / max(fault.number(0, 1.0), 1e-3)
            for i in range(len(data)):
                self.writer.write(data[i : i + 1])
                await asyncio.sleep(pause)
            return
        self.writer.write(data)
        await self.writer.drain()

    def _render(self, request: Request, response: Response) -> bytes:
        if (
            self.camera.has(SimFault.MALFORMED)
            and self.camera.fault
            and self.camera.fault.word(0, "status") == "status"
        ):
            return f"RTSP/1.0 2x0 W#at?\r\nCSeq: {request.cseq}\r\n\r\n".encode()
        lines = [f"RTSP/1.0 {response.code} {_REASONS.get(response.code, 'Error')}", f"CSeq: {request.cseq}"]
        lines.append("Server: sharpeyes-sim")
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        if response.body:
            lines.append(f"Content-Length: {len(response.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body


async def serve_rtsp(camera: SimCamera) -> asyncio.Server:
    """Listen at the camera's RTSP endpoint."""
    assert camera.rtsp is not None

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await RtspSession(camera, reader, writer).run()

    return await asyncio.start_server(
        connected, camera.rtsp.host, camera.rtsp.port, backlog=BACKLOG, reuse_address=True, limit=_MAX_HEADER
    )
