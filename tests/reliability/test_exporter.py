"""RELIABILITY.md E1–E5: the exporter/API app from main on a real loopback socket (the ``served`` fixture of
tests/integration/test_exporter_app.py, reused by import), with raw-socket attackers where aiohttp's client
would normalise the request."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from sharpeyes.registry.inventory import Camera
from sharpeyes.runtime import Runtime
from tests.exporter_helpers import promtool_check, samples
from tests.integration import test_exporter_app as app
from tests.reliability.contract import back_to_baseline
from tests.unit.test_collector import scrape

Served = tuple[str, Runtime, app.Hooks]


async def test_e1_admin_endpoints_need_the_token(served: Served) -> None:
    await app.test_token_guards_everything_else(served)


async def test_e1_cross_origin_post_is_refused(served: Served) -> None:
    await app.test_cross_origin_post_is_refused(served)


async def test_e1_binds_loopback_by_default() -> None:
    await app.test_binds_loopback_by_default()


async def test_e1_no_endpoint_returns_secrets(served: Served) -> None:
    await app.test_camera_api_is_redacted(served)
    base, _, _ = served
    async with aiohttp.ClientSession(headers=app.AUTH) as s:
        for path in ("/metrics", "/-/ready", "/-/healthy", "/api/v1/cameras/c1", "/probe?camera=c1&module=live"):
            async with s.get(base + path) as r:
                body = await r.text()
            assert "pa@ss" not in body and "pa%40ss" not in body and app.TOKEN not in body, path


HOSTILE_NAMES = ['evil" } up 1\n# HELP x', "back\\slash", "new\nline", "x" * 1_000_000, "bad\udcff\udcfeutf8"]


def test_e2_hostile_camera_names_never_reach_labels_and_the_exposition_parses() -> None:
    extra = tuple(Camera(f"n{i}", name, "a1", f"127.0.1.{i + 1}") for i, name in enumerate(HOSTILE_NAMES))
    body = scrape(extra)
    check = promtool_check(body)
    assert check.returncode == 0, check.stdout + check.stderr
    text = body.decode()
    for name in HOSTILE_NAMES:
        assert name[:12] not in text  # names are not labels: only ids are
    ids = {dict(k[1]).get("camera_id") for k in samples(text)}
    assert {f"n{i}" for i in range(len(HOSTILE_NAMES))} <= ids


async def _raw_get(port: int, target: str) -> int:
    """Send a request line exactly as written (no client-side normalisation); return the status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {app.TOKEN}\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status.split()[1])


async def test_e3_path_traversal_in_ids_is_404(served: Served) -> None:
    base, _, _ = served
    port = int(base.rsplit(":", 1)[1])
    for target in (
        "/api/v1/cameras/../../etc/passwd",
        "/api/v1/cameras/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/v1/cameras/..%2f..%2fetc%2fpasswd",
        "/api/v1/cameras/%2E%2E",
        "/probe?camera=..%2f..%2fetc%2fpasswd&module=live",
        "/probe?camera=c1&module=..%2f..%2fetc",
    ):
        assert await _raw_get(port, target) in (400, 404), target


async def test_e4_probe_of_an_unregistered_target_is_refused_and_never_probed(served: Served) -> None:
    base, _, hooks = served
    before = len(hooks.deadlines)
    async with aiohttp.ClientSession(headers=app.AUTH) as s:
        for params in (
            {"camera": "nope", "module": "live"},
            {"target": "rtsp://127.0.0.1/x", "module": "live"},
            {"camera": "rtsp://admin:x@127.0.0.1/", "module": "live"},
        ):
            async with s.get(f"{base}/probe", params=params) as r:
                assert r.status in (400, 404), params
    assert len(hooks.deadlines) == before  # nothing was probed, so no credentials went anywhere


async def test_e5_concurrent_scrapes_and_slowloris_clients(served: Served) -> None:
    base, _, _ = served
    port = int(base.rsplit(":", 1)[1])
    async with back_to_baseline(wait_s=2.0):
        loris = []
        for _ in range(50):  # each sends half a request head and then trickles
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            loris.append(writer)
        try:
            started = time.monotonic()
            await app.test_concurrent_scrapes_while_state_changes(served)
            assert time.monotonic() - started < 10  # generous: scrapes are not starved by the slow clients
        finally:
            for writer in loris:
                writer.close()
            await asyncio.gather(*(w.wait_closed() for w in loris), return_exceptions=True)


async def test_e5_removed_camera_series_are_gone_after_reload(served: Served) -> None:
    await app.test_reload_swaps_atomically_and_a_bad_reload_keeps_the_old_config(served)
