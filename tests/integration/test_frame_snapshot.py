"""The frame prober's snapshot fallback against a real HTTP server (aiohttp) on loopback, Digest and Basic."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterator

import cv2
import pytest
from aiohttp import web

from sharpeyes.probers import frame
from sharpeyes.probers.base import AuthPolicy, Deadline, FaultCode, ProbeTarget, Reason, run_probe
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.redact import Secret
from sharpeyes.settings import FrameOptions, ProbeModule
from sharpeyes.sim.picture import scene_frames

PASSWORD = "p@ss:w/o#r?d%密码"
REALM, NONCE = "cam", "abc123"
MODULE = ProbeModule(
    name="frame_snapshot", prober="frame", timeout_s=10.0, frame=FrameOptions(source="snapshot", decode_timeout_s=8.0)
)


def _jpeg(fault: FaultCode | None) -> bytes:
    rgb = next(scene_frames(1280, 720, 25, 1, scene="astronaut", fault=fault))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()  # noqa: S324 (RFC 2617)


def _digest_ok(request: web.Request) -> bool:
    value = request.headers.get("Authorization", "")
    if not value.startswith("Digest "):
        return False
    params = {}
    for part in value[len("Digest ") :].split(","):
        k, _, v = part.strip().partition("=")
        params[k] = v.strip('"')
    ha1 = _md5(f"admin:{REALM}:{PASSWORD}")
    ha2 = _md5(f"GET:{params.get('uri', '')}")
    expected = _md5(f"{ha1}:{NONCE}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}")
    return params.get("response") == expected and params.get("uri") == request.path_qs


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []
    images = {"healthy": _jpeg(None), "black": _jpeg(FaultCode.BLACK)}

    async def snap(request: web.Request) -> web.Response:
        seen.append(request.path)
        if not _digest_ok(request):
            challenge = f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        return web.Response(body=images[request.match_info["name"]], content_type="image/jpeg")

    async def basic_only(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="cam"'})

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xd8 not really a jpeg", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/snap/{name}.jpg", snap)
    app.router.add_get("/basic.jpg", basic_only)
    app.router.add_get("/garbage.jpg", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool("sharpeyes.probers.frame_job.analyse", size=1)
    workers.start()
    frame.set_pool(workers)
    yield workers
    frame.close_pool()


def _target(url: str, password: str = PASSWORD, host: str = "127.0.0.1") -> ProbeTarget:
    return ProbeTarget(
        camera_id=f"snap-{time.monotonic_ns()}",
        host=host,
        snapshot_url=url,
        username="admin",
        password=Secret(password),
        auth=AuthPolicy.DIGEST,
    )


async def test_digest_snapshot_is_diagnosed(server: tuple[str, list[str]], pool: WorkerPool) -> None:
    base, _ = server
    healthy = await run_probe(_target(f"{base}/snap/healthy.jpg"), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert healthy.reason is Reason.OK, healthy
    assert (healthy.observations["width"], healthy.observations["height"]) == (1280, 720)
    black = await run_probe(_target(f"{base}/snap/black.jpg"), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert black.reason is Reason.FRAME_FAULT
    assert black.faults == (FaultCode.BLACK,)


async def test_wrong_password_is_auth_after_one_failed_login(server: tuple[str, list[str]], pool: WorkerPool) -> None:
    base, seen = server
    result = await run_probe(_target(f"{base}/snap/healthy.jpg", "wrong"), MODULE, deadline=Deadline(5))
    assert result.reason is Reason.AUTH
    assert len(seen) == 2  # the challenge, then one failed login
    assert PASSWORD not in result.detail and "wrong" not in result.detail


async def test_basic_only_camera_is_refused_under_digest_policy(
    server: tuple[str, list[str]], pool: WorkerPool
) -> None:
    base, seen = server
    result = await run_probe(_target(f"{base}/basic.jpg"), MODULE, deadline=Deadline(5))
    assert result.reason is Reason.AUTH
    assert "Basic" in result.detail
    assert len(seen) == 1  # the password was never sent in the clear


async def test_other_host_missing_and_garbage(server: tuple[str, list[str]], pool: WorkerPool) -> None:
    base, seen = server
    other = await run_probe(_target(f"{base}/snap/healthy.jpg", host="camera.invalid"), MODULE, deadline=Deadline(5))
    assert other.reason is Reason.PROTOCOL
    assert seen == []  # nothing was sent to a host that is not the camera's
    missing = await run_probe(_target(f"{base}/nothing.jpg"), MODULE, deadline=Deadline(5))
    assert missing.reason is Reason.NOT_FOUND
    garbage = await run_probe(_target(f"{base}/garbage.jpg"), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert garbage.reason is Reason.DECODE_ERROR
    assert pool.alive == 1
