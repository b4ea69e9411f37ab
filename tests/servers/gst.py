"""Start and stop the gst-rtsp-server test camera (:mod:`tests.servers.gst_rtsp_server`) from pytest.

:func:`gst_rtsp_server` is a context manager: it runs the script under Debian's ``/usr/bin/python3`` (which
has python3-gi), waits for its ``READY`` line and yields the mount URLs; on exit it closes the script's stdin
(the script quits on EOF) and kills it if it lingers. :func:`gst_unavailable` says why it cannot run, if so.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
READY_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Mount:
    """One mount: its name, auth kind (``open``/``basic``/``digest``) and videotestsrc pattern."""

    name: str
    auth: str = "open"
    pattern: str = "ball"
    blur: bool = False
    h265: bool = False


def gst_unavailable() -> str | None:
    """A reason gst-rtsp-server cannot run here, or ``None``."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found (gst-rtsp-server runs under Debian's python3-gi)"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if probe.returncode != 0:
        return "python3-gi or gir1.2-gst-rtsp-server-1.0 is not installed (see scripts/setup.sh)"
    return None


@contextlib.contextmanager
def gst_rtsp_server(
    mounts: list[Mount],
    *,
    user: str = "admin",
    password: str = "admin",  # noqa: S107 (the test camera's default)
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    shared: bool = False,
    log_path: Path | None = None,
) -> Iterator[dict[str, str]]:
    """Run the server on 127.0.0.1 (free ports) and yield ``{mount name: rtsp URL}``."""
    argv = [SYSTEM_PYTHON, str(SCRIPT), "--address", "127.0.0.1"]
    argv += ["--width", str(width), "--height", str(height), "--fps", str(fps)]
    for m in mounts:
        argv += ["--mount", m.name, m.auth, m.pattern] + (["--blur", m.name] if m.blur else [])
        argv += ["--h265", m.name] if m.h265 else []
    if shared:
        argv.append("--shared")
    env = {**os.environ, "GST_RTSP_USER": user, "GST_RTSP_PASSWORD": password, "GST_DEBUG": "0"}
    with contextlib.ExitStack() as stack:
        stderr = stack.enter_context(log_path.open("wb")) if log_path else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env)
        try:
            yield _wait_ready(proc)
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes]) -> dict[str, str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RuntimeError(f"gst-rtsp-server did not become ready (exit {proc.poll()})")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("gst-rtsp-server closed its output before READY")
            line += chunk
    text = line.decode().strip()
    if not text.startswith("READY "):
        raise RuntimeError(f"unexpected gst-rtsp-server output: {text[:200]}")
    urls: dict[str, str] = json.loads(text[len("READY ") :])
    return urls


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
