"""The simulated cameras' JPEG snapshot over HTTP (``GET /snapshot.jpg``), with Basic or Digest auth."""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from sharpeyes.sim.auth import Verdict, challenges
from sharpeyes.sim.camera import SimCamera
from sharpeyes.sim.faults import SimFault


def unauthorized(camera: SimCamera, *, stale: bool = False) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for value in challenges(camera.auth, camera.credentials.realm, stale=stale):
        headers.add("WWW-Authenticate", value)
    return web.Response(status=401, headers=headers, text="401 Unauthorized")


def check_http_auth(camera: SimCamera, request: web.Request) -> web.Response | None:
    """None when the request may proceed, else the 401 to answer (lockout and auth_fail included)."""
    client = request.remote or "?"
    lockout = camera.lockout
    if lockout is not None and lockout.locked(client):
        return unauthorized(camera)
    header = request.headers.get("Authorization")
    verdict = camera.credentials.check(camera.auth, header, request.method)
    if verdict is Verdict.OK and camera.has(SimFault.AUTH_FAIL):
        verdict = Verdict.WRONG
    if verdict is Verdict.OK:
        if lockout is not None:
            lockout.succeeded(client)
        return None
    if verdict is Verdict.WRONG and lockout is not None:
        lockout.failed(client)
    return unauthorized(camera, stale=verdict is Verdict.STALE)


async def handle_snapshot(camera: SimCamera, request: web.Request) -> web.Response:
    """The JPEG of the camera's current picture."""
    if request.method not in ("GET", "HEAD"):
        return web.Response(status=405)
    denied = check_http_auth(camera, request)
    if denied is not None:
        return denied
    if camera.broadcaster is None:
        return web.Response(status=503, text="no picture")
    if camera.has(SimFault.MALFORMED):
        return web.Response(body=b"\xff\xd8\xff\xe0garbage", content_type="image/jpeg")
    return web.Response(body=camera.broadcaster.clip.clip.jpeg, content_type="image/jpeg")
