"""A parametrised fake ONVIF device and a canary, served by aiohttp on 127.0.0.1 in a thread of their own.

The servers run on their own event loop so that the test's loop holds only the client under test: any task
left behind after a probe is the client's. Quirks are fields of :class:`Quirks`; ``raw`` replaces the answer
to one action with anything at all (hostile XML, a hang, 50 MB…).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from tests.integration.onvif import soap

LOOPBACK = "127.0.0.1"
RawHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ACTION = re.compile(rb"<(?:[\w.-]+:)?Body[^>]*>\s*<(?:[\w.-]+:)?(\w+)")


@dataclass
class Quirks:
    """How the fake camera misbehaves. The defaults are a well-behaved camera needing no auth."""

    clock_offset: dt.timedelta = dt.timedelta(0)
    reject_authenticated: bool = False  # NotAuthorized fault for every call carrying a UsernameToken
    reject_all: bool = False  # HTTP 401 + NotAuthorized for every call, GetSystemDateAndTime included
    media_xaddr: str | None = None  # advertised media XAddr (default: our own /onvif/media)
    stream_uri: str | None = None
    snapshot_uri: str | None = None
    raw: dict[str, RawHandler] = field(default_factory=dict)


class LoopThread:
    """An asyncio loop in a daemon thread; coroutines are submitted to it from the test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-servers", daemon=True)
        self.thread.start()

    async def run(self, coro: Awaitable[Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class Canary:
    """A TCP listener that must never be contacted: counts connections and bytes received."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = 0
        self.connections = 0
        self.received = b""
        self._server: asyncio.Server | None = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(TimeoutError):
            self.received += await asyncio.wait_for(reader.read(4096), 1.0)
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connect, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class FakeCamera:
    """An ONVIF device service and media service on one port, with :class:`Quirks`."""

    def __init__(self, quirks: Quirks | None = None, host: str = LOOPBACK) -> None:
        self.quirks = quirks or Quirks()
        self.host = host
        self.port = 0
        self.requests: list[tuple[str, bool]] = []  # (action, carried a UsernameToken)
        self._runner: web.AppRunner | None = None

    @property
    def device_url(self) -> str:
        return f"http://{self.netloc}/onvif/device_service"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/onvif/{service}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        match = _ACTION.search(body)
        action = match.group(1).decode() if match else "?"
        authenticated = b"UsernameToken" in body
        self.requests.append((action, authenticated))
        if action in self.quirks.raw:
            return await self.quirks.raw[action](request)
        if self.quirks.reject_all:
            return self._dated(soap_response(soap.envelope(soap.NOT_AUTHORIZED), status=401))
        if authenticated and self.quirks.reject_authenticated:
            return self._dated(soap_response(soap.envelope(soap.NOT_AUTHORIZED), status=400))
        return self._dated(soap_response(soap.envelope(self._answer(action))))

    def _dated(self, response: web.Response) -> web.Response:
        """The HTTP Date header from the camera's (possibly wrong) clock, as real cameras send it."""
        response.headers["Date"] = format_datetime(dt.datetime.now(dt.UTC) + self.quirks.clock_offset, usegmt=True)
        return response

    def _answer(self, action: str) -> str:
        q = self.quirks
        own = f"http://{self.netloc}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        answers: dict[str, Callable[[], str]] = {
            "GetSystemDateAndTime": lambda: soap.system_date_and_time(dt.datetime.now(dt.UTC) + q.clock_offset),
            "GetDeviceInformation": lambda: soap.DEVICE_INFORMATION,
            "GetCapabilities": lambda: soap.capabilities(q.media_xaddr or f"{own}/onvif/media"),
            "GetServices": lambda: soap.services(q.media_xaddr or f"{own}/onvif/media"),
            "GetProfiles": lambda: soap.PROFILES,
            "GetStreamUri": lambda: soap.media_uri("GetStreamUri", _or(q.stream_uri, f"rtsp://{host}:554/main")),
            "GetSnapshotUri": lambda: soap.media_uri("GetSnapshotUri", _or(q.snapshot_uri, f"{own}/snap.jpg")),
        }
        return answers.get(action, lambda: soap.ACTION_NOT_SUPPORTED)()


def _or(value: str | None, default: str) -> str:
    return default if value is None else value


def soap_response(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="application/soap+xml", charset="utf-8")
