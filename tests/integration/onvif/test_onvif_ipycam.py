"""The onvif prober against ipycam, a third-party pure-Python ONVIF camera, on 127.0.0.1.

ipycam needs a PasswordDigest UsernameToken on every call once a user is set, GetSystemDateAndTime included.
Its password here is deliberately hostile (``@ : / # ? %`` and non-ASCII); the credential test greps every
captured log line, stream and result for it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from sharpeyes.probers.base import Deadline, Phase, Reason, run_probe
from sharpeyes.probers.onvif import target_from_url
from sharpeyes.redact import Secret
from sharpeyes.settings import ProbeModule
from tests.integration.onvif.conftest import LeakCheck, probe
from tests.integration.onvif.ipycam_fixture import RunningIpycam, ipycam

HOSTILE_PASSWORD = "p@ss:w/o#r?d%密码"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIpycam]:
    with ipycam("admin", HOSTILE_PASSWORD, tmp_path_factory.mktemp("ipycam")) as running:
        yield running


async def test_ipycam_inventory_is_ok(camera: RunningIpycam) -> None:
    leaks = LeakCheck()
    result = await probe(camera.device_url, username="admin", password=HOSTILE_PASSWORD)
    assert result.reason is Reason.OK, result.detail
    obs = result.observations
    assert obs["manufacturer"] == "PythonCam"
    assert obs["model"] == "VirtualCam-1"
    assert isinstance(obs["firmware"], str)
    assert obs["firmware"]
    assert obs["profiles"] == 2
    assert (obs["width"], obs["height"]) == (1280, 720)
    assert obs["stream_uri_resolved"] == 1
    assert obs["snapshot_uri_resolved"] == 1
    assert abs(float(obs["clock_skew_s"])) < 2.0
    assert result.duration_s < 3.0
    await leaks.assert_clean()


@pytest.mark.parametrize(("user", "password"), [("admin", "wrong"), ("nobody", HOSTILE_PASSWORD)])
async def test_ipycam_wrong_credentials_is_auth(camera: RunningIpycam, user: str, password: str) -> None:
    result = await probe(camera.device_url, username=user, password=password)
    assert result.reason is Reason.AUTH
    assert result.phase is Phase.CLOCK  # ipycam wants auth even for the clock…
    assert abs(float(result.observations["clock_skew_s"])) < 2.0  # …so skew comes from its HTTP Date header


async def test_ipycam_without_credentials_is_auth(camera: RunningIpycam) -> None:
    result = await probe(camera.device_url, username=None, password=None)
    assert result.reason is Reason.AUTH
    assert result.phase is Phase.CLOCK


async def test_cli_style_dispatch_with_the_shipped_module(camera: RunningIpycam) -> None:
    """What ``sharpeyes probe http://127.0.0.1:PORT/onvif/device_service --module onvif_inventory`` does."""
    path = ROOT / "probes" / "onvif_inventory.yml"
    module = ProbeModule.model_validate({**yaml.safe_load(path.read_text(encoding="utf-8")), "name": path.stem})
    target = target_from_url(camera.device_url, username="admin", password=Secret(HOSTILE_PASSWORD))
    assert target.onvif_url == camera.device_url
    assert target.host == "127.0.0.1"
    result = await run_probe(target, module, deadline=Deadline(module.timeout_s))
    out = result.to_json()
    assert out["ok"] is True, out
    assert out["module"] == "onvif_inventory"
    assert out["camera_id"] == f"127.0.0.1:{camera.onvif_port}"
    observations = out["observations"]
    assert isinstance(observations, dict)
    assert {"clock_skew_s", "manufacturer", "model", "firmware", "profiles", "width", "height"} <= set(observations)


async def test_hostile_password_never_appears_anywhere(
    camera: RunningIpycam, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """DEBUG logging on every logger, to caplog and to stderr; an ok probe and a failing one."""
    caplog.set_level(logging.DEBUG)
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(stream)
    try:
        ok = await probe(camera.device_url, username="admin", password=HOSTILE_PASSWORD)
        wrong_user = await probe(camera.device_url, username="nobody", password=HOSTILE_PASSWORD)
    finally:
        root.removeHandler(stream)
    assert ok.reason is Reason.OK
    assert wrong_user.reason is Reason.AUTH
    captured = capsys.readouterr()
    haystack = "\n".join(
        [
            caplog.text,
            captured.out,
            captured.err,
            repr(ok),
            repr(wrong_user),
            str(ok.to_json()),
            str(wrong_user.to_json()),
        ]
    )
    assert len(caplog.records) > 0  # DEBUG logging really ran
    for form in (
        HOSTILE_PASSWORD,
        quote(HOSTILE_PASSWORD, safe=""),
        quote(HOSTILE_PASSWORD),
        "密码",
        "w/o#r",
    ):
        assert form not in haystack, f"password form {form!r} leaked"
