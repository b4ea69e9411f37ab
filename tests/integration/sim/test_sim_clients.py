"""Third-party clients (ffprobe, PyAV, OpenCV) decode every picture mode of the simulator over RTSP/TCP."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.sim.fleet import Fleet, MediaOptions
from sharpeyes.sim.thread import FleetThread
from tests.integration.sim.clients import ffprobe, opencv_frame, pyav_frames
from tests.integration.sim.conftest import PASSWORD, PICTURES, USER, SimSite, _free_port

pytestmark = pytest.mark.timeout(120)
T = TypeVar("T")


def _each_picture(check: Callable[[str], T], site: SimSite) -> dict[str, T]:
    """Run ``check(url)`` on every picture mode's camera at once."""
    with ThreadPoolExecutor(len(PICTURES)) as pool:
        return dict(zip(PICTURES, pool.map(check, (site.rtsp_url(f"pic-{p}") for p in PICTURES)), strict=True))


def test_ffprobe_decodes_every_picture_mode_with_digest(sim_site: SimSite) -> None:
    results = _each_picture(ffprobe, sim_site)
    for mode, (code, stream) in results.items():
        assert code == 0, mode
        assert stream["codec_name"] == "h264", mode
        assert (stream["width"], stream["height"]) == (320, 180), mode
        assert int(str(stream.get("nb_read_frames", 0))) >= 10, (mode, stream)


def test_pyav_decodes_every_picture_mode_with_digest(sim_site: SimSite) -> None:
    results = _each_picture(lambda url: pyav_frames(url, 5), sim_site)
    for mode, frames in results.items():
        assert len(frames) == 5, mode
        assert frames[0].shape == (180, 320, 3), mode


def test_opencv_decodes_every_picture_mode_with_digest(sim_site: SimSite) -> None:
    results = _each_picture(opencv_frame, sim_site)
    for mode, frame in results.items():
        assert frame is not None, mode
        assert frame.shape == (180, 320, 3), mode


@pytest.mark.parametrize("camera", ["basic", "both"])
def test_every_client_decodes_with_basic_auth_and_when_both_are_offered(sim_site: SimSite, camera: str) -> None:
    url = sim_site.rtsp_url(camera)
    code, stream = ffprobe(url)
    assert code == 0 and stream["width"] == 320
    assert len(pyav_frames(url, 3)) == 3
    frame = opencv_frame(url)
    assert frame is not None and frame.shape == (180, 320, 3)


def test_wrong_password_is_refused_by_every_client(sim_site: SimSite) -> None:
    url = sim_site.rtsp_url("digest", password="wrong")
    code, _ = ffprobe(url)
    assert code != 0
    with pytest.raises(Exception, match=r"401|Unauthorized|authori"):
        pyav_frames(url, 1)
    assert opencv_frame(url, timeout_ms=3000) is None


def test_no_credentials_get_a_401_not_a_stream(sim_site: SimSite) -> None:
    code, _ = ffprobe(sim_site.rtsp_url("digest", auth=False))
    assert code != 0


def test_720p_stream_declares_and_decodes_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_720_PASSWORD", PASSWORD)
    host = "127.77.9.1"
    port = _free_port(host)
    camera = Camera(
        id="hd",
        name="hd",
        area="A",
        host=host,
        rtsp_url=f"rtsp://{host}:{port}/Streaming/Channels/101",
        username=USER,
        password_env="SIM_720_PASSWORD",
    )
    media = MediaOptions(width=1280, height=720, cache_dir=tmp_path)
    with FleetThread(Fleet(Inventory(cameras=(camera,)), media)):
        from urllib.parse import quote

        code, stream = ffprobe(f"rtsp://{USER}:{quote(PASSWORD, safe='')}@{host}:{port}/Streaming/Channels/101")
    assert code == 0
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)
    assert stream["profile"] == "Main"


def test_rtp_over_udp(sim_site: SimSite) -> None:
    code, stream = ffprobe(sim_site.rtsp_url("digest"), transport="udp")
    assert code == 0
    assert (stream["codec_name"], stream["width"]) == ("h264", 320)
    assert int(str(stream.get("nb_read_frames", 0))) >= 10
