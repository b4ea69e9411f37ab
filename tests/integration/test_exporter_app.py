"""The aiohttp app on a real loopback socket: /metrics, /probe, health, reload, camera API, token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from sharpeyes.exporter.app import ApiOptions, make_app, serve
from sharpeyes.probers.base import Deadline, ProbeResult, Reason, ResultBuilder
from sharpeyes.redact import Secret
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.runtime import Config, Runtime
from sharpeyes.settings import ProbeModule
from tests.exporter_helpers import MODULES, inventory, promtool_check, result, runtime, samples

TOKEN = "s3cret-token"


class Hooks:
    """Records what the app asked of the daemon."""

    def __init__(self) -> None:
        self.deadlines: list[float] = []
        self.next_config: Config | Exception = Config(Inventory(), MODULES)

    async def probe(self, camera: Camera, module: ProbeModule, deadline: Deadline) -> ProbeResult:
        self.deadlines.append(deadline.remaining())
        b = ResultBuilder(camera.target(None), module.name)
        b.observe("latency_s", 0.01)
        b.observe("vendor", "x")
        return b.finish(Reason.OK if camera.id == "c1" else Reason.REFUSED)

    async def reload(self) -> Config:
        if isinstance(self.next_config, Exception):
            raise self.next_config
        return self.next_config


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Runtime, Hooks]]:
    rt, hooks = runtime(), Hooks()
    started = asyncio.Event()

    async def background(app: web.Application) -> AsyncIterator[None]:
        started.set()
        yield

    app = make_app(rt, ApiOptions(probe=hooks.probe, reload=hooks.reload, token=Secret(TOKEN)), [background])
    runner, port = await serve(app)
    assert started.is_set()
    try:
        yield f"http://127.0.0.1:{port}", rt, hooks
    finally:
        await runner.cleanup()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_metrics_and_health_need_no_token(served: tuple[str, Runtime, Hooks]) -> None:
    base, _, _ = served
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/metrics") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            body = await r.read()
        assert promtool_check(body).returncode == 0
        assert samples(body.decode())[("sharpeyes_camera_up", frozenset({("camera_id", "c1")}))] == 1
        for path in ("/-/healthy", "/-/ready"):
            async with s.get(base + path) as r:
                assert r.status == 200


async def test_ready_reflects_startup(served: tuple[str, Runtime, Hooks]) -> None:
    base, rt, _ = served
    rt.ready = False
    async with aiohttp.ClientSession() as s, s.get(f"{base}/-/ready") as r:
        assert r.status == 503


async def test_token_guards_everything_else(served: tuple[str, Runtime, Hooks]) -> None:
    base, _, _ = served
    async with aiohttp.ClientSession() as s:
        for method, path in (("GET", "/probe?camera=c1&module=live"), ("GET", "/api/v1/cameras/c1"),
                             ("POST", "/-/reload")):  # fmt: skip
            async with s.request(method, base + path) as r:
                assert r.status == 401, path
            async with s.request(method, base + path, headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401, path


async def test_probe_blackbox_style(served: tuple[str, Runtime, Hooks]) -> None:
    base, _, hooks = served
    async with aiohttp.ClientSession(headers=AUTH) as s:
        hdr = {"X-Prometheus-Scrape-Timeout-Seconds": "2.5"}
        async with s.get(f"{base}/probe", params={"camera": "c1", "module": "live"}, headers=hdr) as r:
            assert r.status == 200
            body = await r.read()
        got = samples(body.decode())
        assert got[("probe_success", frozenset())] == 1
        assert got[("sharpeyes_probe_observation", frozenset({("name", "latency_s")}))] == 0.01
        assert promtool_check(body).returncode == 0
        assert 1.9 < hooks.deadlines[-1] <= 2.0  # 2.5 s scrape timeout minus 0.5 s
        async with s.get(f"{base}/probe", params={"camera": "c3", "module": "live"}) as r:
            got = samples(await r.text())
            assert got[("probe_success", frozenset())] == 0
            assert got[("sharpeyes_probe_reason", frozenset({("reason", "refused"), ("phase", "connect")}))] == 1
        assert 2.9 < hooks.deadlines[-1] <= 3.0  # no header: the module's own timeout
        cases = [
            ({"camera": "nope", "module": "live"}, {}, 404),
            ({"camera": "c1", "module": "nope"}, {}, 404),
            ({"camera": "../etc/passwd", "module": "live"}, {}, 404),
            ({"camera": "c1"}, {}, 400),
            ({"camera": "c1", "module": "live"}, {"X-Prometheus-Scrape-Timeout-Seconds": "abc"}, 400),
            ({"camera": "c1", "module": "live"}, {"X-Prometheus-Scrape-Timeout-Seconds": "0.4"}, 400),
            ({"camera": "c1", "module": "live"}, {"X-Prometheus-Scrape-Timeout-Seconds": "nan"}, 400),
        ]
        for params, headers, status in cases:
            async with s.get(f"{base}/probe", params=params, headers=headers) as r:
                assert r.status == status, (params, headers)


async def test_camera_api_is_redacted(served: tuple[str, Runtime, Hooks]) -> None:
    base, _, _ = served
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.get(f"{base}/api/v1/cameras/c1") as r:
            assert r.status == 200
            text = await r.text()
            data = await r.json()
        assert "pa%40ss" not in text and "pa@ss" not in text
        assert data["camera"]["rtsp_url"] == "rtsp://admin:***@127.0.0.1/x"
        assert data["camera"]["has_password"] is True
        assert data["healthy"] is True and data["modules"]["live"]["state"] == "up"
        assert data["modules"]["live"]["last_result"]["reason"] == "ok"
        for bad in ("nope", "..%2f..%2fetc%2fpasswd", "%2e%2e"):
            async with s.get(f"{base}/api/v1/cameras/{bad}") as r:
                assert r.status == 404


async def test_reload_swaps_atomically_and_a_bad_reload_keeps_the_old_config(
    served: tuple[str, Runtime, Hooks],
) -> None:
    base, rt, hooks = served
    old = rt.config
    hooks.next_config = ValueError("registry.yml:12: duplicate camera id 'c1'")
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(f"{base}/-/reload") as r:
            assert r.status == 500
            assert "duplicate camera id" in (await r.json())["error"]
        assert rt.config is old and not rt.last_reload_ok
        async with s.get(f"{base}/metrics") as r:
            assert samples(await r.text())[("sharpeyes_config_last_reload_successful", frozenset())] == 0
        smaller = Inventory(old.inventory.districts, old.inventory.areas, old.inventory.cameras[:1])
        hooks.next_config = Config(smaller, MODULES)
        async with s.post(f"{base}/-/reload") as r:
            assert r.status == 200 and (await r.json())["cameras"] == 1
        assert rt.config is hooks.next_config and rt.last_reload_ok
        async with s.get(f"{base}/metrics") as r:
            body = await r.text()
        assert 'camera_id="c2"' not in body and 'camera_id="c1"' in body  # removed camera's series are gone
        assert set(rt.store.by_camera) == {"c1"}


async def test_binds_loopback_by_default() -> None:
    app = make_app(Runtime(Config(inventory(), MODULES), runtime().store), ApiOptions())
    runner, _ = await serve(app)
    try:
        assert all(addr[0] == "127.0.0.1" for addr in runner.addresses)
    finally:
        await runner.cleanup()


async def test_concurrent_scrapes_while_state_changes(served: tuple[str, Runtime, Hooks]) -> None:
    """E5: 20 scrapes at once while the loop keeps recording results (rendering runs in a worker thread)."""
    base, rt, _ = served
    stop = asyncio.Event()

    async def churn() -> None:
        i = 0
        while not stop.is_set():
            for cam in ("c1", "c2", "c3", f"new{i % 50}"):
                rt.store.record(result(cam, f"m{i % 7}", Reason.OK if i % 2 else Reason.TIMEOUT))
            i += 1
            await asyncio.sleep(0)

    async def scrape(s: aiohttp.ClientSession) -> str:
        async with s.get(f"{base}/metrics") as r:
            assert r.status == 200
            return await r.text()

    task = asyncio.create_task(churn())
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(3):
                bodies = await asyncio.gather(*(scrape(s) for _ in range(20)))
                assert all(samples(b) for b in bodies)
    finally:
        stop.set()
        await task


async def test_cross_origin_post_is_refused(served: tuple[str, Runtime, Hooks]) -> None:
    base, rt, _ = served
    old = rt.config
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(f"{base}/-/reload", headers={"Origin": "http://evil.example"}) as r:
            assert r.status == 403
        assert rt.config is old
        async with s.post(f"{base}/-/reload", headers={"Origin": base}) as r:
            assert r.status == 200
