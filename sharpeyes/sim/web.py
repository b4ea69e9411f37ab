"""One aiohttp application serving the ONVIF and snapshot endpoints of every simulated camera.

Each camera gets its own listening site at its registry host and port; a request is routed to its camera by the
local address it arrived on, then by path. Network faults (blackhole, slow, drip, reset, not_found) are applied
here, before the protocol handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

from sharpeyes.sim.camera import SimCamera
from sharpeyes.sim.faults import SimFault
from sharpeyes.sim.onvif import MEDIA_PATH, handle_soap
from sharpeyes.sim.snapshot import handle_snapshot

BACKLOG = 1024


class HttpFront:
    """The shared HTTP server: sites per (host, port), cameras looked up by the local address of a request."""

    def __init__(self) -> None:
        self.cameras: dict[tuple[str, int], SimCamera] = {}
        self.sites: dict[tuple[str, int], web.TCPSite] = {}
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)

    async def start(self) -> None:
        await self.runner.setup()

    async def stop(self) -> None:
        await self.runner.cleanup()

    @staticmethod
    def endpoints(camera: SimCamera) -> set[tuple[str, int]]:
        return {(e.host, e.port) for e in (camera.onvif, camera.snapshot) if e is not None}

    async def open(self, camera: SimCamera) -> None:
        """Listen at the camera's ONVIF and snapshot addresses."""
        for key in self.endpoints(camera):
            self.cameras[key] = camera
            if key in self.sites:
                continue
            site = web.TCPSite(self.runner, key[0], key[1], backlog=BACKLOG, reuse_address=True)
            await site.start()
            self.sites[key] = site

    async def close(self, camera: SimCamera) -> None:
        """Stop listening for the camera (connections are then refused)."""
        for key in self.endpoints(camera):
            site = self.sites.pop(key, None)
            if site is not None:
                await site.stop()

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        camera = self.cameras.get((sockname[0], sockname[1])) if sockname else None
        if camera is None:
            return web.Response(status=404)
        fault = camera.fault
        if fault is not None and fault.kind is SimFault.BLACKHOLE:
            await asyncio.Event().wait()
        if fault is not None and fault.kind is SimFault.RESET:
            _reset(request)
            return web.Response(status=500)
        if fault is not None and fault.kind is SimFault.SLOW:
            await asyncio.sleep(fault.number(0, 2.0))
        response = await self._route(camera, request)
        if fault is not None and fault.kind is SimFault.DRIP:
            return await _drip(request, response, fault.number(0, 1.0))
        return response

    async def _route(self, camera: SimCamera, request: web.Request) -> web.Response:
        if camera.has(SimFault.NOT_FOUND):
            return web.Response(status=404, text="404 Not Found")
        path = request.path
        if camera.onvif is not None and path in (camera.onvif.path, MEDIA_PATH) and request.method == "POST":
            return await handle_soap(camera, request)
        if camera.snapshot is not None and path == camera.snapshot.path:
            return await handle_snapshot(camera, request)
        return web.Response(status=404, text="404 Not Found")


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _drip(request: web.Request, response: web.Response, rate: float) -> web.StreamResponse:
    """Send the headers, then the body one byte at a time at ``rate`` bytes per second."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    pause = 1.0 / max(rate, 1e-3)
    for i in range(len(body)):
        await stream.write(body[i : i + 1])
        await asyncio.sleep(pause)
    await stream.write_eof()
    return stream
