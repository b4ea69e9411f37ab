"""Start and stop the ipycam camera (``ipycam_camera.py``) in a subprocess for a test session."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("ipycam_camera.py")


@dataclass(frozen=True)
class RunningIpycam:
    onvif_port: int
    rtsp_port: int
    username: str
    pid: int

    @property
    def device_url(self) -> str:
        return f"http://127.0.0.1:{self.onvif_port}/onvif/device_service"


@contextmanager
def ipycam(username: str, password: str, workdir: Path, ready_timeout_s: float = 20.0) -> Iterator[RunningIpycam]:
    """ipycam on 127.0.0.1 with these credentials (passed by environment, never argv)."""
    env = {**os.environ, "IPYCAM_USER": username, "IPYCAM_PASSWORD": password}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=workdir,
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], ready_timeout_s)
        line = process.stdout.readline() if readable else b""
        if not line:
            raise RuntimeError("ipycam did not report ready")
        ports = json.loads(line)
        yield RunningIpycam(ports["onvif_port"], ports["rtsp_port"], username, process.pid)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
