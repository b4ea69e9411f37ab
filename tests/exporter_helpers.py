"""A small city and results for exporter tests."""

from __future__ import annotations

import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from sharpeyes.probers.base import FaultCode, Phase, ProbeResult, Reason
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.results import ResultStore
from sharpeyes.runtime import Config, Runtime
from sharpeyes.settings import ProbeModule

HOSTILE = 'evil"\\\nname{x="1"} 摄像机\udcff'

MODULES = {
    "live": ProbeModule(name="live", prober="rtsp", interval_s=60, timeout_s=3, read_timeout_s=1),
    "pic": ProbeModule(name="pic", prober="frame", interval_s=600, timeout_s=10),
}


def inventory(extra_cameras: tuple[Camera, ...] = ()) -> Inventory:
    return Inventory(
        districts=(
            District("C", "city", DistrictLevel.CITY),
            District("D1", "east", DistrictLevel.DISTRICT, "C"),
        ),
        areas=(
            Area("a1", "square", "D1", Scope.PUBLIC, "square", 2),
            Area("b1", "bank", "D1", Scope.SECTOR, "finance", 1, sector="finance"),
        ),
        cameras=(
            Camera("c1", "东门", "a1", "127.0.0.1", rtsp_url="rtsp://admin:pa%40ss@127.0.0.1/x", password_env="PW"),
            Camera("c2", "西门", "a1", "127.0.0.2"),
            Camera("c3", "bank", "b1", "127.0.0.3"),
            Camera("c4", "old", "b1", "127.0.0.4", in_service=False),
            *extra_cameras,
        ),
    )


def result(
    cam: str, module: str, reason: Reason, *, faults: tuple[FaultCode, ...] = (), at: float | None = None
) -> ProbeResult:
    ok = reason is Reason.OK
    return ProbeResult(
        cam,
        module,
        ok,
        reason,
        Phase.DONE if ok else Phase.ANALYSE,
        0.02,
        started_wall=time.time() if at is None else at,
        started_mono=time.monotonic(),
        faults=faults,
        observations={"clock_skew_s": 1.5} if cam == "c1" else {},
    )


def runtime(extra_cameras: tuple[Camera, ...] = ()) -> Runtime:
    """c1 healthy; c2 up with a blurred picture; c3 down; c4 out of service."""
    store = ResultStore({n: m.prober for n, m in MODULES.items()})
    rt = Runtime(Config(inventory(extra_cameras), MODULES), store)
    for r in (
        result("c1", "live", Reason.OK),
        result("c1", "pic", Reason.OK),
        result("c2", "live", Reason.OK),
        result("c2", "pic", Reason.FRAME_FAULT, faults=(FaultCode.BLUR, FaultCode.NOISE)),
        result("c3", "live", Reason.TIMEOUT),
    ):
        store.record(r)
    rt.ready = True
    return rt


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse an exposition into {(sample name, labels): value}."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def promtool_check(text: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/usr/bin/promtool", "check", "metrics"], input=text.decode(), capture_output=True, text=True, timeout=30
    )
