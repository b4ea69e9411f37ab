"""The rtsp prober and client against Debian's gst-rtsp-server (third-party) on loopback."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import av
import pytest

from sharpeyes.probe_modules import find_module
from sharpeyes.probers.backoff import AuthBackoff
from sharpeyes.probers.base import AuthPolicy, Deadline, ProbeTarget, Reason, run_probe
from sharpeyes.probers.rtsp import probe_with_backoff
from sharpeyes.redact import Secret
from sharpeyes.rtsp.client import RtspClient
from sharpeyes.rtsp.h264 import AccessUnit, depacketizer_for, parse_rtp
from sharpeyes.settings import ProbeModule
from tests.servers.gst import Mount, gst_rtsp_server, gst_unavailable

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "p@ss:w/o#r?d%密码"
WIDTH, HEIGHT = 640, 360  # 360 is not a multiple of 16: the SPS crops
MOUNTS = [
    Mount("open", "open"),
    Mount("basic", "basic"),
    Mount("digest", "digest", "smpte"),
    Mount("hevc", "digest", "ball", h265=True),
]


@pytest.fixture(scope="module")
def gst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    reason = gst_unavailable()
    if reason:
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("gst") / "gst.log"
    with gst_rtsp_server(MOUNTS, password=PASSWORD, width=WIDTH, height=HEIGHT, log_path=log) as urls:
        yield urls


@pytest.fixture(scope="module")
def module() -> ProbeModule:
    return find_module(ROOT / "probes", "rtsp_describe")


def target(url: str, password: str | None = PASSWORD, auth: AuthPolicy = AuthPolicy.DIGEST) -> ProbeTarget:
    return ProbeTarget(
        camera_id=f"cam-{os.urandom(4).hex()}",
        host="127.0.0.1",
        rtsp_url=url,
        username="admin" if password is not None else None,
        password=Secret(password) if password is not None else None,
        auth=auth,
    )


@pytest.mark.parametrize("mount", ["open", "basic", "digest", "hevc"])
async def test_prober_ok_with_codec_and_size(gst: dict[str, str], module: ProbeModule, mount: str) -> None:
    policy = AuthPolicy.BASIC_ALLOWED if mount == "basic" else AuthPolicy.DIGEST
    result = await run_probe(target(gst[mount], auth=policy), module, deadline=Deadline(module.timeout_s))
    assert result.reason is Reason.OK, result.detail
    assert result.observations["codec"] == ("h265" if mount == "hevc" else "h264")
    assert (result.observations["width"], result.observations["height"]) == (WIDTH, HEIGHT)
    for phase in ("resolve", "connect", "options", "describe"):
        assert 0 <= float(result.observations[f"{phase}_s"]) < module.timeout_s


@pytest.mark.parametrize(("mount", "policy"), [("digest", "digest"), ("basic", "basic_allowed")])
async def test_wrong_password_is_auth(gst: dict[str, str], module: ProbeModule, mount: str, policy: str) -> None:
    t = target(gst[mount], password="wrong", auth=AuthPolicy(policy))
    result = await run_probe(t, module, deadline=Deadline(module.timeout_s))
    assert result.reason is Reason.AUTH
    assert not result.ok


async def test_missing_credentials_is_auth(gst: dict[str, str], module: ProbeModule) -> None:
    result = await run_probe(target(gst["digest"], password=None), module, deadline=Deadline(2))
    assert result.reason is Reason.AUTH
    assert "credentials" in result.detail


async def test_basic_refused_under_digest_policy(gst: dict[str, str], module: ProbeModule) -> None:
    result = await run_probe(target(gst["basic"]), module, deadline=Deadline(module.timeout_s))
    assert result.reason is Reason.AUTH
    assert "Basic" in result.detail


async def test_repeated_auth_failures_back_off_until_credentials_change(
    gst: dict[str, str], module: ProbeModule
) -> None:
    backoff = AuthBackoff(threshold=1, base_s=600, cap_s=600)
    wrong = target(gst["digest"], password="wrong")
    first = await probe_with_backoff(wrong, module, deadline=Deadline(5), backoff=backoff)
    assert first.reason is Reason.AUTH
    second = await probe_with_backoff(wrong, module, deadline=Deadline(5), backoff=backoff)
    assert second.reason is Reason.LOCKED_OUT_BACKOFF
    assert "options_s" not in second.observations  # the camera was not contacted
    fixed = dataclasses.replace(wrong, password=Secret(PASSWORD))
    third = await probe_with_backoff(fixed, module, deadline=Deadline(5), backoff=backoff)
    assert third.reason is Reason.OK
    assert len(backoff) == 0


@pytest.mark.parametrize(("mount", "codec"), [("digest", "h264"), ("hevc", "hevc")])
async def test_client_plays_to_a_decodable_keyframe_and_tears_down(gst: dict[str, str], mount: str, codec: str) -> None:
    """The frame grabber's path: DESCRIBE, SETUP (TCP interleaved), PLAY, RTP to an IDR/IRAP access unit."""
    deadline = Deadline(5)
    async with RtspClient(gst[mount], deadline=deadline, username="admin", password=Secret(PASSWORD)) as c:
        await c.connect()
        sdp = await c.describe()
        video = sdp.first_video()
        assert video is not None
        rtp_channel, _ = await c.setup(video.control)
        await c.play()
        depack = depacketizer_for(video.codec)
        idr: AccessUnit | None = None
        while idr is None:
            frame = await c.read_frame()
            if frame.channel == rtp_channel:
                units = depack.push(parse_rtp(frame.payload))
                idr = next((u for u in units if u.is_idr and u.complete), None)
        c.teardown()
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    pictures = [*decoder.decode(av.Packet(idr.annexb())), *decoder.decode(None)]
    assert (pictures[0].width, pictures[0].height) == (WIDTH, HEIGHT)


def run_cli(*args: str, password: str = PASSWORD, modules_dir: Path = ROOT / "probes") -> tuple[int, str]:
    """Run ``python -m sharpeyes`` and return its exit status and all of stdout + stderr."""
    env = {**os.environ, "CAM_PASSWORD": password}
    proc = subprocess.run(
        [sys.executable, "-m", "sharpeyes", *args, "--modules-dir", str(modules_dir)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", errors="replace")


def digest_args(gst: dict[str, str]) -> list[str]:
    auth = ["--user", "admin", "--password-env", "CAM_PASSWORD"]
    return ["probe", gst["digest"], "--module", "rtsp_describe", *auth]


def test_cli_probe_digest_mount_ok_with_codec_and_size(gst: dict[str, str]) -> None:
    status, out = run_cli(*digest_args(gst), "--format", "json")
    assert status == 0, out
    result = json.loads(out)
    assert result["ok"] is True
    assert result["reason"] == "ok"
    assert result["observations"]["codec"] == "h264"
    assert (result["observations"]["width"], result["observations"]["height"]) == (WIDTH, HEIGHT)
    keys = {"camera_id", "module", "ok", "reason", "phase", "duration_s", "observations", "detail"}
    assert set(result) >= keys


def test_cli_text_output_and_camera_failure_exit_code(gst: dict[str, str]) -> None:
    status, out = run_cli(*digest_args(gst))
    assert status == 0, out
    assert "codec=h264" in out
    assert f"width={WIDTH} height={HEIGHT}" in out
    status, out = run_cli(*digest_args(gst), password="wrong")
    assert status == 1
    assert "reason=auth" in out


def forbidden_forms(password: str, user: str = "admin") -> list[str]:
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    forms = [password, quote(password, safe=""), quote(password), password.encode().hex(), basic]
    forms += [quote(password, safe="").lower(), password.encode("unicode_escape").decode()]
    return forms


def test_credentials_never_appear_in_any_output(gst: dict[str, str], tmp_path: Path) -> None:
    basic_module = tmp_path / "rtsp_basic.yml"
    basic_module.write_text("prober: rtsp\nauth: basic_allowed\ntimeout_s: 5\n")
    (tmp_path / "rtsp_describe.yml").write_text((ROOT / "probes" / "rtsp_describe.yml").read_text())
    outputs: list[str] = []
    # -v output is a superset of the plain output (same stdout, more logs on stderr)
    for mount, name in [("digest", "rtsp_describe"), ("basic", "rtsp_basic")]:
        for password in (PASSWORD, PASSWORD + "x"):
            for fmt in ("json", "text"):
                status, out = run_cli(
                    "-v", "probe", gst[mount], "--module", name, "--format", fmt,
                    "--user", "admin", "--password-env", "CAM_PASSWORD",
                    password=password, modules_dir=tmp_path,
                )  # fmt: skip
                assert status == (0 if password == PASSWORD else 1), out
                outputs.append(out)
    everything = "\n".join(outputs)
    assert "DEBUG" in everything  # -v really logged
    assert "reason" in everything
    for form in forbidden_forms(PASSWORD) + forbidden_forms(PASSWORD + "x"):
        assert form not in everything
