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


def _free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


REGISTRY_YAML = """
districts:
  - {{code: "150200", name: 包头市, level: city}}
areas:
  - {{id: A1, name: 市民广场, district: "150200", scope: public, kind: square, required_cameras: 1}}
cameras:
  - id: cam-001
    name: 广场东
    area_id: A1
    host: 127.0.0.1
    rtsp_url: rtsp://127.0.0.1:{port}/live
    username: admin
    password_env: SE_TEST_CAM_PW
"""


def test_registry_camera_id_is_probed_with_its_resolved_password(tmp_path: Path) -> None:
    port = _free_port()
    registry = tmp_path / "registry.yml"
    registry.write_text(REGISTRY_YAML.format(port=port), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert CliRunner().invoke(main, ["registry", "import", str(registry), "--db", db]).exit_code == 0
    env = {"SE_TEST_CAM_PW": "p@ss:w/o#r?d%密码"}
    status, out = run("probe", "cam-001", "--module", "rtsp_describe", "--format", "json", "--db", db, env=env)
    assert status == 1, out
    result = json.loads(out)
    assert (result["camera_id"], result["reason"]) == ("cam-001", "refused")
    assert "p@ss" not in out
    status, out = run("probe", "cam-404", "--module", "rtsp_describe", "--db", db, env=env)
    assert (status, "not in the registry" in out) == (2, True)
    status, out = run("probe", "cam-001", "--module", "rtsp_describe", "--db", db, env={})
    assert (status, "SE_TEST_CAM_PW is not set" in out) == (2, True)
