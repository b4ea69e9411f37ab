"""The control API switches faults at run time; ``sharpeyes sim`` serves, prints READY, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

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
