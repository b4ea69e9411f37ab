"""The frame prober end to end through the real RTSP path, against Debian's gst-rtsp-server (third-party).

Mounts are videotestsrc patterns encoded by x264 like a camera (GOP 50 at 25 fps): black → black, snow → noise,
SMPTE 100 % bars (a still pattern) → frozen, moving bars through ``gaussianblur sigma=8`` → blur, and the
bouncing ball (a small bright object on black) must be healthy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharpeyes.config import find_probe_module as find_module
from sharpeyes.probers import frame
from sharpeyes.probers.base import Deadline, FaultCode, ProbeTarget, Reason, run_probe
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.settings import ProbeModule
from tests.servers.gst import Mount, gst_rtsp_server, gst_unavailable

ROOT = Path(__file__).resolve().parents[2]
MOUNTS = [
    Mount("black", "open", "black"),
    Mount("snow", "open", "snow"),
    Mount("still", "open", "smpte100"),
    Mount("blur", "open", "smpte horizontal-speed=4", blur=True),  # moving bars, defocused
    Mount("ball", "open", "ball"),
    Mount("hevc", "open", "ball", h265=True),
]


@pytest.fixture(scope="module")
def gst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    reason = gst_unavailable()
    if reason:
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("gst") / "gst.log"
    with gst_rtsp_server(MOUNTS, width=640, height=360, log_path=log) as urls:
        yield urls


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool("sharpeyes.probers.frame_job.analyse", size=2)
    workers.start()
    frame.set_pool(workers)
    yield workers
    frame.close_pool()
    assert workers.alive == 0


# the shipped module with a roomier deadline: CI machines running several suites at once are slow to encode
SLOW_OK = {"timeout_s": 15.0}


@pytest.fixture(scope="module")
def module() -> ProbeModule:
    return find_module(ROOT / "probes", "frame_health").model_copy(update=SLOW_OK)


@pytest.fixture(scope="module")
def modules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("probes")
    text = (ROOT / "probes" / "frame_health.yml").read_text(encoding="utf-8")
    (folder / "frame_health.yml").write_text(text.replace("timeout_s: 8", "timeout_s: 15"), encoding="utf-8")
    return folder


def _target(name: str, url: str) -> ProbeTarget:
    return ProbeTarget(camera_id=f"gst-{name}-{time.monotonic_ns()}", host="127.0.0.1", rtsp_url=url)


@pytest.mark.parametrize(
    ("mount", "fault"),
    [("black", FaultCode.BLACK), ("snow", FaultCode.NOISE), ("still", FaultCode.FROZEN), ("blur", FaultCode.BLUR)],
)
async def test_faulty_mounts_are_classified(
    gst: dict[str, str], pool: WorkerPool, module: ProbeModule, mount: str, fault: FaultCode
) -> None:
    started = time.monotonic()
    result = await run_probe(_target(mount, gst[mount]), module, deadline=Deadline(module.timeout_s))
    assert result.reason is Reason.FRAME_FAULT, result
    assert result.faults == (fault,)
    assert fault.value in result.scores
    assert time.monotonic() - started < module.timeout_s + 0.5
    obs = result.observations
    assert (obs["width"], obs["height"]) == (640, 360)
    assert 0 < float(obs["ttfb_s"]) <= float(obs["keyframe_s"]) <= float(obs["verdict_s"])
    assert obs["second_frame"] == 1
    assert result.to_json()["faults"] == [fault.value]


async def test_healthy_ball_is_not_flagged_and_saves_the_frame(
    gst: dict[str, str], pool: WorkerPool, module: ProbeModule, tmp_path: Path
) -> None:
    path = tmp_path / "frame.jpg"
    token = frame.SAVE_FRAME.set(path)
    try:
        result = await run_probe(_target("ball", gst["ball"]), module, deadline=Deadline(module.timeout_s))
    finally:
        frame.SAVE_FRAME.reset(token)
    assert result.reason is Reason.OK, result
    assert result.faults == ()
    assert "frozen" in result.scores
    assert path.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert float(result.observations["decode_ms"]) > 0
    assert pool.alive == 2


def test_cli_probe_json_and_save_frame(gst: dict[str, str], modules_dir: Path, tmp_path: Path) -> None:
    """``sharpeyes probe URL --module frame_health --format json --save-frame F.jpg`` in a fresh process."""
    path = tmp_path / "snow.jpg"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "sharpeyes", "probe", gst["snow"], "--module", "frame_health"),
            *("--format", "json", "--modules-dir", str(modules_dir), "--save-frame", str(path)),
        ],
        capture_output=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    out = json.loads(proc.stdout)
    assert out["reason"] == "frame_fault"
    assert out["faults"] == ["noise"]
    assert out["scores"]["noise"] > 6
    assert path.read_bytes()[:2] == b"\xff\xd8"


async def test_h265_stream_is_decoded_and_healthy(gst: dict[str, str], pool: WorkerPool, module: ProbeModule) -> None:
    result = await run_probe(_target("hevc", gst["hevc"]), module, deadline=Deadline(module.timeout_s))
    assert result.reason is Reason.OK, result
    assert (result.observations["width"], result.observations["height"]) == (640, 360)
