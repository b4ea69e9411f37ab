"""The control API switches faults at run time; ``sharpeyes sim`` serves, prints READY, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import onvif
import pytest
from onvif import ONVIFCamera

from sharpeyes.sim.control import serve_control
from tests.integration.sim.clients import ffprobe, pyav_frames
from tests.integration.sim.conftest import SimSite, _free_port

pytestmark = pytest.mark.timeout(90)


async def test_switch_faults_at_run_time(sim_site: SimSite) -> None:
    assert sim_site.thread is not None
    port = _free_port("127.0.0.1")
    runner = sim_site.thread.call(serve_control(sim_site.thread.fleet, "127.0.0.1", port))
    base = f"http://127.0.0.1:{port}"
    host = (sim_site.host("switch"), sim_site.rtsp_port)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/cameras") as response:
                cameras = {c["id"]: c for c in await response.json()}
            assert cameras["switch"]["fault"] is None
            assert cameras["net-slow"]["fault"] == "slow:1.0"
            assert "password" not in json.dumps(cameras)
            async with session.get(f"{base}/cameras/basic") as response:
                one = await response.json()
            assert one["auth"] == "basic" and one["rtsp_url"].endswith("/Streaming/Channels/101")

            async with session.post(f"{base}/cameras/switch/fault", json={"fault": "offline"}) as response:
                assert response.status == 200 and (await response.json())["fault"] == "offline"
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(host, timeout=2)

            async with session.post(f"{base}/cameras/switch/fault", json={"fault": "frozen"}) as response:
                assert response.status == 200
            frames = pyav_frames(sim_site.rtsp_url("switch"), 26)
            assert (frames[0] == frames[25]).all()

            async with session.post(f"{base}/cameras/switch/fault", json={"fault": None}) as response:
                assert response.status == 200
            frames = pyav_frames(sim_site.rtsp_url("switch"), 26)
            assert not (frames[0] == frames[25]).all()

            async with session.post(f"{base}/cameras/switch/fault", json={"fault": "bogus"}) as response:
                assert response.status == 400 and "unknown fault" in (await response.json())["error"]
            async with session.post(f"{base}/cameras/nope/fault", json={"fault": None}) as response:
                assert response.status == 404
    finally:
        sim_site.thread.call(runner.cleanup())


def test_cli_serves_prints_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    truth = tmp_path / "truth.json"
    control = _free_port("127.0.0.1")
    faults = tmp_path / "faults.yml"
    faults.write_text("cameras:\n  SIM-63001: offline\n", encoding="utf-8")
    argv = [
        sys.executable, "-m", "sharpeyes", "sim", "--synthetic", "3", "--synthetic-first", "63000",
        "--size", "180p", "--faults", str(faults), "--control-port", str(control),
        "--truth", str(truth), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": "cli-pass"}
    with (
        (tmp_path / "stderr.txt").open("w") as stderr,
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line == "READY 3 cameras\n"
            assert json.loads(truth.read_text()) == {"SIM-63000": None, "SIM-63001": "offline", "SIM-63002": None}
            host = "127.20.252.1"  # camera 63000 by the demo address convention
            code, stream = ffprobe(f"rtsp://admin:cli-pass@{host}:8554/Streaming/Channels/101")
            assert code == 0 and stream["width"] == 320
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.20.252.2", 8554), timeout=2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert proc.stdout.read() == ""  # exactly one line on stdout
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_cli_rejects_conflicting_sources() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sharpeyes", "sim", "--demo", "--synthetic", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2 and "exactly one of" in proc.stderr


async def test_demo_city_serves_with_its_fault_mix(tmp_path: Path) -> None:
    """``sim --demo`` on the demo registry (hosts moved to 127.78.x so a running demo cannot collide)."""
    demo = tmp_path / "demo"
    demo.mkdir()
    for name in ("districts.csv", "areas.csv", "cameras.csv"):
        text = (Path("config/demo") / name).read_text(encoding="utf-8")
        (demo / name).write_text(text.replace("127.20.", "127.78."), encoding="utf-8")
    truth = tmp_path / "truth.json"
    argv = [
        sys.executable, "-m", "sharpeyes", "sim", "--demo", "--demo-dir", str(demo), "--size", "180p",
        "--control-port", "0", "--truth", str(truth), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": "demo-test"}
    with (
        (tmp_path / "stderr.txt").open("w") as stderr,
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env) as proc,
    ):
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            assert ready.startswith("READY ") and ready.endswith(" cameras\n")
            served = json.loads(truth.read_text())
            assert len(served) == int(ready.split()[1]) > 250
            faulty = {k: v for k, v in served.items() if v}
            assert 0.05 < len(faulty) / len(served) < 0.15
            healthy = next(k for k, v in sorted(served.items()) if v is None)
            row = next(line for line in (demo / "cameras.csv").read_text().splitlines() if line.startswith(healthy))
            host = row.split(",")[3]
            code, stream = ffprobe(f"rtsp://admin:demo-test@{host}:8554/Streaming/Channels/101")
            assert code == 0 and (stream["codec_name"], stream["width"]) == ("h264", 320)
            cam = ONVIFCamera(host, 8080, "admin", "demo-test", str(Path(onvif.__file__).parent / "wsdl"))
            try:
                await cam.update_xaddrs()
                media = await cam.create_media_service()
                token = (await media.GetProfiles())[0].token
                setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
                uri = await media.GetStreamUri({"StreamSetup": setup, "ProfileToken": token})
                assert uri.Uri == f"rtsp://{host}:8554/Streaming/Channels/101"
            finally:
                await cam.close()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sigterm_during_clip_encoding_exits_promptly(tmp_path: Path) -> None:
    argv = [
        sys.executable, "-m", "sharpeyes", "sim", "--synthetic", "100", "--synthetic-first", "63300",
        "--size", "1080p", "--control-port", "0", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    err = tmp_path / "stderr.txt"
    with err.open("w") as stderr, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True) as proc:
        try:
            deadline = time.monotonic() + 30
            while "encoding" not in err.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "encoding" in err.read_text()  # several clips, in worker processes
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=8) == 0  # encoding five 1080p clips would take far longer
            assert proc.stdout is not None and proc.stdout.read() == ""  # never READY
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
