from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from sharpeyes.cli import main

PROBES = str(Path(__file__).resolve().parents[2] / "probes")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--modules-dir", PROBES], env=env, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "http://127.0.0.1:1/onvif", "--module", "rtsp_describe"], "needs an rtsp://"),
        (["probe", "rtsp://u:pw@127.0.0.1:1/x", "--module", "rtsp_describe"], "must not carry credentials"),
        (["probe", "ftp://127.0.0.1/x", "--module", "rtsp_describe"], "must be an rtsp://"),
        (["probe", "cam-001", "--module", "rtsp_describe"], "registry targets are not available"),
        (["probe", "rtsp://127.0.0.1:1/x", "--module", "nope"], "no probe module 'nope'"),
        (["probe", "rtsp://127.0.0.1:1/x", "--module", "../etc"], "invalid"),
        (["probe", "rtsp://127.0.0.1:1/x", "--module", "rtsp_describe", "--password-env", "UNSET_VAR_X"], "not set"),
        (["probe", "rtsp://127.0.0.1:1/x", "--module", "rtsp_describe", "--format", "xml"], "Invalid value"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(args: list[str], message: str) -> None:
    status, out = run(*args)
    assert status == 2
    assert message in out
    assert "pw@" not in out


def test_camera_failure_exits_1_with_the_json_shape() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    status, out = run("probe", f"rtsp://127.0.0.1:{port}/x", "--module", "rtsp_describe", "--format", "json")
    assert status == 1
    result = json.loads(out)
    assert (result["ok"], result["reason"], result["phase"]) == (False, "refused", "connect")
    assert result["camera_id"] == f"rtsp://127.0.0.1:{port}/x"
