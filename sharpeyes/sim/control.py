"""The simulator's control API (JSON over HTTP, loopback only): list cameras and switch faults at run time.

``GET /cameras`` → every camera with its URLs and active fault; ``GET /cameras/{id}`` → one;
``POST /cameras/{id}/fault`` with ``{"fault": "offline"}`` (or ``"slow:3"``, ``"blur:0.8"``, ``null`` to heal);
``GET /faults`` → the catalogue.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from aiohttp import web

from sharpeyes.sim.camera import SimCamera
from sharpeyes.sim.faults import CATALOGUE, parse_fault
from sharpeyes.sim.fleet import Fleet

FLEET: web.AppKey[Fleet] = web.AppKey("fleet", Fleet)


def describe(camera: SimCamera) -> dict[str, Any]:
    """A camera as the API shows it (no credentials)."""
    rtsp, onvif, snap = camera.rtsp, camera.onvif, camera.snapshot
    return {
        "id": camera.id,
        "fault": str(camera.fault) if camera.fault else None,
        "auth": camera.auth.value,
        "rtsp_url": f"rtsp://{rtsp.host}:{rtsp.port}{rtsp.path}" if rtsp else None,
        "onvif_url": f"http://{onvif.host}:{onvif.port}{onvif.path}" if onvif else None,
        "snapshot_url": f"http://{snap.host}:{snap.port}{snap.path}" if snap else None,
        "start_on_keyframe": camera.start_on_keyframe,
    }


async def list_cameras(request: web.Request) -> web.Response:
    fleet = request.app[FLEET]
    return web.json_response([describe(c) for _, c in sorted(fleet.cameras.items())])


async def get_camera(request: web.Request) -> web.Response:
    camera = request.app[FLEET].cameras.get(request.match_info["id"])
    if camera is None:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such camera"}), content_type="application/json")
    return web.json_response(describe(camera))


async def set_fault(request: web.Request) -> web.Response:
    fleet = request.app[FLEET]
    camera_id = request.match_info["id"]
    if camera_id not in fleet.cameras:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such camera"}), content_type="application/json")
    try:
        payload = await request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("fault"), str | None):
            raise ValueError('body must be {"fault": "NAME[:PARAM]"} or {"fault": null}')
        fault = parse_fault(payload.get("fault"))
    except (ValueError, json.JSONDecodeError) as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": str(exc)}), content_type="application/json") from None
    camera = await fleet.set_fault(camera_id, fault)
    return web.json_response(describe(camera))


async def catalogue(request: web.Request) -> web.Response:
    return web.json_response(list(CATALOGUE))


def control_app(fleet: Fleet) -> web.Application:
    app = web.Application(client_max_size=16 * 1024)
    app[FLEET] = fleet
    app.router.add_get("/cameras", list_cameras)
    app.router.add_get("/cameras/{id}", get_camera)
    app.router.add_post("/cameras/{id}/fault", set_fault)
    app.router.add_get("/faults", catalogue)
    return app


async def serve_control(fleet: Fleet, host: str, port: int) -> web.AppRunner:
    """Start the control API; refuses non-loopback hosts."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError("the control API binds to loopback only")
    runner = web.AppRunner(control_app(fleet), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
