"""The frame prober end to end through the real RTSP path against the simulator: every picture-fault mode is
classified as its fault (its primary code), and the healthy camera is not flagged.

The healthy camera's first probe sets its reference view; the other cameras show the same scene, so that view is
their reference too (as after ``sharpeyes baseline``), which ``occluded`` and ``scene_changed`` need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharpeyes.config import find_probe_module
from sharpeyes.probers import frame
from sharpeyes.probers.base import Deadline, FaultCode, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.quality import store as signature_store
from sharpeyes.quality.store import MemorySignatureStore
from sharpeyes.redact import Secret
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.results import transition_reason
from sharpeyes.settings import ProbeModule
from sharpeyes.sim.fleet import Fleet, MediaOptions, SimConfig
from sharpeyes.sim.thread import FleetThread
from tests.integration.sim.conftest import PASSWORD, PICTURES, USER, SimSite, _free_port

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[3]


WIDTH, HEIGHT = 640, 360  # the analysers' working size (a sub-stream's); smaller pictures lose the fine detail
# that tells snow and a "NO VIDEO" caption apart


@pytest.fixture(scope="module")
def sim_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimSite]:
    """One simulated camera per picture mode (healthy and every fault), RTSP with Digest, on 127.78.x."""
    names = [f"pic-{p}" for p in PICTURES]
    first = "127.78.0.1"
    site = SimSite(_free_port(first), _free_port(first), names)
    site.hosts = {name: f"127.78.0.{i + 1}" for i, name in enumerate(names)}
    cameras = tuple(
        Camera(
            id=name,
            name=name,
            area="A",
            host=host,
            rtsp_url=f"rtsp://{host}:{site.rtsp_port}/Streaming/Channels/101",
            username=USER,
            password_env="SIM_FRAME_TEST_PASSWORD",
            tags=() if name == "pic-healthy" else (f"sim.fault={name[4:]}",),
        )
        for name, host in site.hosts.items()
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("SIM_FRAME_TEST_PASSWORD", PASSWORD)
    config = SimConfig.model_validate({"defaults": {"start_on_keyframe": True}})
    media = MediaOptions(width=WIDTH, height=HEIGHT, cache_dir=tmp_path_factory.mktemp("sim-frame-cache"))
    try:
        with FleetThread(Fleet(Inventory(cameras=cameras), media, config)) as thread:
            site.thread = thread
            yield site
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def module() -> ProbeModule:
    return find_probe_module(ROOT / "probes", "frame_health").model_copy(update={"timeout_s": 15.0})


@pytest.fixture(scope="module")
def store() -> Iterator[MemorySignatureStore]:
    previous = signature_store.get_store()
    memory = MemorySignatureStore()
    signature_store.set_store(memory)
    pool = WorkerPool("sharpeyes.probers.frame_job.analyse", size=2)
    pool.start()
    frame.set_pool(pool)
    yield memory
    frame.close_pool()
    signature_store.set_store(previous)


def target(site: SimSite, mode: str) -> ProbeTarget:
    host = site.host(f"pic-{mode}")
    url = f"rtsp://{host}:{site.rtsp_port}/Streaming/Channels/101"
    return ProbeTarget(f"pic-{mode}", host, rtsp_url=url, username=USER, password=Secret(PASSWORD))


async def probe(site: SimSite, mode: str, module: ProbeModule) -> ProbeResult:
    return await run_probe(target(site, mode), module, deadline=Deadline(module.timeout_s))


@pytest.fixture(scope="module")
def results(sim_site: SimSite, module: ProbeModule, store: MemorySignatureStore) -> dict[str, ProbeResult]:
    async def run() -> dict[str, ProbeResult]:
        healthy = await probe(sim_site, "healthy", module)
        reference = await store.get("pic-healthy", "reference")
        assert healthy.ok and reference is not None, healthy.to_json()
        faulty = [m for m in PICTURES if m != "healthy"]
        for mode in faulty:
            await store.put(f"pic-{mode}", "reference", reference)
        gate = asyncio.Semaphore(4)

        async def one(mode: str) -> ProbeResult:
            async with gate:
                return await probe(sim_site, mode, module)

        got = await asyncio.gather(*(one(m) for m in faulty))
        again = await probe(sim_site, "healthy", module)  # with its stored reference and last frame
        return {"healthy": healthy, "healthy-again": again, **dict(zip(faulty, got, strict=True))}

    return asyncio.run(run())


@pytest.mark.parametrize("mode", [f.value for f in FaultCode])
def test_picture_fault_is_classified(results: dict[str, ProbeResult], mode: str) -> None:
    r = results[mode]
    assert r.reason is Reason.FRAME_FAULT, r.to_json()
    assert transition_reason(r) == mode, r.to_json()


def test_healthy_camera_is_not_flagged(results: dict[str, ProbeResult]) -> None:
    for key in ("healthy", "healthy-again"):
        r = results[key]
        assert r.ok and r.faults == (), r.to_json()
        assert r.observations["second_frame"] == 1  # the in-probe freeze check ran
