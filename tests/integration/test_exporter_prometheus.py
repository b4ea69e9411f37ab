"""A real Prometheus scrapes the exporter every second; its query API returns the values the daemon holds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sharpeyes.exporter.app import ApiOptions, make_app, serve
from sharpeyes.probers.base import Reason
from sharpeyes.registry.inventory import Camera
from tests.exporter_helpers import HOSTILE, result, runtime
from tests.prometheus_server import PROMETHEUS, prometheus, query, wait_value

pytestmark = pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="Debian package prometheus not installed")


async def test_prometheus_scrapes_and_queries_match(tmp_path: Path) -> None:
    rt = runtime((Camera(HOSTILE, "x", "a1", "127.0.0.9"),))
    runner, port = await serve(make_app(rt, ApiOptions()))
    try:
        async with prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prom:
            assert await wait_value(prom, 'up{job="sharpeyes"}', 1) == 1
            assert await wait_value(prom, 'sharpeyes_camera_up{camera_id="c1"}', 1) == 1
            assert await wait_value(prom, 'sharpeyes_camera_up{camera_id="c3"}', 0) == 0
            assert await wait_value(prom, "count(sharpeyes_camera_info)", 5) == 5  # the hostile id too
            good = (
                'sum(sharpeyes_cameras_healthy{scope="public",district="D1"})'
                ' / sum(sharpeyes_cameras_in_service{scope="public",district="D1"})'
            )
            assert await wait_value(prom, good, 1 / 3) == 1 / 3  # c1 of c1, c2 and the never-probed hostile one
            by_group = 'sharpeyes_camera_up * on(camera_id) group_left(area_id) sharpeyes_camera_info{area_id="b1"}'
            assert await wait_value(prom, by_group, 0) == 0
            # the camera comes back: visible at the next scrape
            rt.store.record(result("c3", "live", Reason.OK, at=time.time()))
            assert await wait_value(prom, 'sharpeyes_camera_up{camera_id="c3"}', 1) == 1
            assert await wait_value(prom, 'sharpeyes_cameras_online{scope="sector",district="all"}', 1) == 1
            names = {r["metric"]["__name__"] for r in await query(prom, '{__name__=~"sharpeyes_.*"}')}
            assert {"sharpeyes_target_ratio", "sharpeyes_probe_duration_seconds_bucket"} <= names
    finally:
        await runner.cleanup()
