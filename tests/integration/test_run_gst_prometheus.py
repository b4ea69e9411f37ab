"""End to end with real parts: ``sharpeyes run`` (a process, the real rtsp prober) watches gst-rtsp-server
cameras; a real Prometheus scrapes it; the counts and ratios it returns match the cameras' known faults, and
a camera going dark shows within one interval plus the deadline (plus one scrape)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_run_command import ready
from tests.prometheus_server import free_port, prometheus, query, wait_value
from tests.servers.gst import Mount, gst_rtsp_server, gst_unavailable

pytestmark = pytest.mark.skipif(gst_unavailable() is not None, reason=str(gst_unavailable()))
PASSWORD = "pa@ss:w/rd#?%密"
CITY = '{scope="all",district="all"}'


def registry(tmp: Path, urls: dict[str, str], closed_port: int) -> list[Path]:
    (tmp / "districts.csv").write_text("code,name,level,parent\n150200,包头市,city,\n150202,东河区,district,150200\n")
    (tmp / "areas.csv").write_text(
        "id,name,district,scope,sector,kind,required_cameras,lat,lon\n"
        "A1,广场,150202,public,,square,1,,\nA2,银行,150202,sector,finance,bank,1,,\n"
    )
    header = "id,name,area_id,host,rtsp_url,onvif_url,snapshot_url,username,password_env,password_file,auth,"
    header += "point_class,in_service,expected_resolution,tags\n"
    rows = [
        f"cam-digest,东门,A1,127.0.0.1,{urls['d']},,,admin,CAM_PW,,digest,,true,,",
        f"cam-open,西门,A1,127.0.0.1,{urls['o']},,,,,,digest,,true,,",
        f"cam-badpw,金库,A2,127.0.0.1,{urls['d']},,,admin,CAM_BAD,,digest,,true,,",
        f"cam-dark,大厅,A2,127.0.0.1,rtsp://127.0.0.1:{closed_port}/x,,,,,,digest,,true,,",
    ]
    (tmp / "cameras.csv").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return [tmp / "districts.csv", tmp / "areas.csv", tmp / "cameras.csv"]


def config(tmp: Path, port: int, files: list[Path]) -> Path:
    probes = tmp / "probes"
    probes.mkdir()
    (probes / "live.yml").write_text("prober: rtsp\ninterval_s: 2\ntimeout_s: 1\nread_timeout_s: 1\n")
    cfg = tmp / "sharpeyes.yml"
    listed = "\n".join(f"    - {f}" for f in files)
    cfg.write_text(
        f"database:\n  url: sqlite:///{tmp / 'db.sqlite'}\nlisten:\n  port: {port}\nprobes_dir: {probes}\n"
        f"registry:\n  files:\n{listed}\nconcurrency:\n  per_host: 4\n"
    )
    return cfg


async def test_daemon_with_real_prober_scraped_by_real_prometheus(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    port = free_port()
    log = tmp_path / "daemon.log"
    with contextlib.ExitStack() as cameras:
        urls = cameras.enter_context(
            gst_rtsp_server([Mount("d", auth="digest"), Mount("o", auth="open")], password=PASSWORD, shared=True)
        )
        cfg = config(tmp_path, port, registry(tmp_path, urls, closed))
        env = {**os.environ, "CAM_PW": PASSWORD, "CAM_BAD": "wrong-password"}
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "sharpeyes", "run", "--config", str(cfg)], cwd=tmp_path,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            await ready(f"http://127.0.0.1:{port}", proc, log)
            async with prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prom:
                await expect_known_faults(prom)
                cameras.close()  # gst-rtsp-server stops: both live cameras go dark
                t = time.monotonic()
                up = 'sum(sharpeyes_camera_up{camera_id=~"cam-digest|cam-open"})'
                assert await wait_value(prom, up, 0, timeout=10.0) == 0
                assert time.monotonic() - t < 2 + 1 + 1 + 2  # interval + deadline + a scrape + query slack
            proc.terminate()
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert PASSWORD not in text and "wrong-password" not in text


async def expect_known_faults(prom: str) -> None:
    """Two cameras up in the public square; the bank's are down (wrong password, closed port)."""
    assert await wait_value(prom, 'up{job="sharpeyes"}', 1) == 1
    for cam, up in (("cam-digest", 1), ("cam-open", 1), ("cam-badpw", 0), ("cam-dark", 0)):
        assert await wait_value(prom, f'sharpeyes_camera_up{{camera_id="{cam}"}}', up) == up, cam
    ratio = "sum(sharpeyes_{0}{1}) / sum(sharpeyes_{2}{1})"
    assert await wait_value(prom, ratio.format("areas_covered", CITY, "areas_registered"), 0.5) == 0.5
    assert await wait_value(prom, 'sharpeyes_areas_covered{scope="sector",district="all"}', 0) == 0
    assert await wait_value(prom, ratio.format("cameras_connected", CITY, "cameras_in_service"), 0.5) == 0.5
    assert await wait_value(prom, ratio.format("cameras_healthy", CITY, "cameras_in_service"), 0.5) == 0.5
    reasons = {r["metric"]["reason"] for r in await query(prom, "sharpeyes_results_total > 0")}
    assert {"ok", "auth", "refused"} <= reasons, reasons
    joined = "sum(sharpeyes_camera_up * on(camera_id) group_left(area_id) sharpeyes_camera_info{area_id='A1'})"
    assert await wait_value(prom, joined, 2) == 2
