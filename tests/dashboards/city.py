"""The cities the dashboard integration test watches, and the Prometheus that scrapes them.

What *the daemon knows* is decided here, in one place: a :class:`City` is an inventory plus a :class:`Plan` per
camera (its liveness reason, its picture, its clock skew), the variable values to select on each dashboard,
and the cameras the ``/probe`` job watches. Two cities:

- :func:`fixture_city`: small and hand-made: three districts (with streets and a community below one), both
  scopes, cameras up, down (timeout, refused, auth), with picture faults (blur, frozen, scene changed, noise),
  never frame-checked, out of service, never probed, one with a skewed clock, a district in a mass outage;
- :func:`demo_city`: the demo city's registry (``config/demo``, 300 cameras in a 96-district tree) with
  outcomes assigned by a fixed rule.

:func:`watched_city` serves a city's state through the exporter's aiohttp app, re-records it twice a
second like the scheduler would, and starts a real Prometheus on it. When the simulator and ``sharpeyes run``
/ ``sharpeyes demo`` land, replace :func:`city_runtime` and :class:`Sweeper` with the daemon watching the
simulated demo city; the tests only need a :class:`City`'s ``choices`` and ``probed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sharpeyes.exporter.app import ApiOptions, make_app, serve
from sharpeyes.probers.base import Deadline, FaultCode, Phase, ProbeResult, Reason
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.io import read_inventory
from sharpeyes.results import ResultStore
from sharpeyes.runtime import Config, Runtime, SweepStats
from sharpeyes.settings import ProbeModule
from tests.exporter_helpers import MODULES
from tests.prometheus_server import prometheus

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
ALL_MODULES = {**MODULES, "onvif": ProbeModule(name="onvif", prober="onvif", interval_s=300, timeout_s=5)}

DISTRICTS = (
    District("150200", "包头市", DistrictLevel.CITY),
    District("150202", "东河区", DistrictLevel.DISTRICT, "150200"),
    District("150203", "昆都仑区", DistrictLevel.DISTRICT, "150200"),
    District("150204", "青山区", DistrictLevel.DISTRICT, "150200"),
    District("150202001", "和平路街道", DistrictLevel.STREET, "150202"),
    District("150202002", "西脑包街道", DistrictLevel.STREET, "150202"),
    District("150202001001", "南门外社区", DistrictLevel.COMMUNITY, "150202001"),
)
AREAS = (
    Area("P-E1", "南门外广场", "150202001001", Scope.PUBLIC, "square", 2),
    Area("P-E2", "包头东站", "150202001", Scope.PUBLIC, "station", 2),
    Area("P-E3", "第一中学", "150202002", Scope.PUBLIC, "school", 1),
    Area("S-E1", "东河银行", "150202", Scope.SECTOR, "bank", 1, sector="finance"),
    Area("P-W1", "第三医院", "150203", Scope.PUBLIC, "hospital", 1),
    Area("S-W1", "客运枢纽", "150203", Scope.SECTOR, "transport_hub", 2, sector="transport"),
    Area("P-N1", "青年农贸市场", "150204", Scope.PUBLIC, "market", 1),
    Area("P-N2", "钢铁大街路口", "150204", Scope.PUBLIC, "junction", 1),
    Area("S-N1", "青山宾馆", "150204", Scope.SECTOR, "hotel", 1, sector="hotel"),
    Area("P-X1", "未登记区域广场", "999999", Scope.PUBLIC, "square", 1),
)

FROZEN, BLUR, SCENE, NOISE, STRIPES = (FaultCode.FROZEN, FaultCode.BLUR, FaultCode.SCENE_CHANGED, FaultCode.NOISE,
                                       FaultCode.STRIPES)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Plan:
    """What one camera shows: its liveness reason, its picture (None: never checked), its clock skew."""

    camera: str
    area: str
    live: Reason | None = Reason.OK
    picture: tuple[FaultCode, ...] | None = ()
    skew_s: float | None = None
    in_service: bool = True


PLANS = (
    Plan("E01", "P-E1", skew_s=1.2),
    Plan("E02", "P-E1", picture=(BLUR,)),
    Plan("E12", "P-E1", picture=None),  # never frame-checked: healthy while up
    Plan("E11", "P-E1", in_service=False),
    Plan("E13", "P-E1", live=None, picture=None),  # registered, never probed yet
    Plan("E03", "P-E2"),
    Plan("E04", "P-E2", live=Reason.TIMEOUT, picture=None),
    Plan("E05", "P-E3", picture=(FROZEN,)),
    Plan("E06", "P-E3", picture=(FROZEN,), skew_s=420.0),
    Plan("E07", "P-E3", picture=(FROZEN,)),
    Plan("E08", "S-E1", live=Reason.AUTH, picture=None),
    Plan("E09", "S-E1"),
    Plan("E10", "S-E1", picture=(SCENE,)),
    Plan("W01", "P-W1"),
    Plan("W02", "S-W1"),
    Plan("W03", "S-W1", live=Reason.REFUSED, picture=None),
    Plan("W04", "S-W1", picture=(NOISE, STRIPES)),
    Plan("N01", "P-N1"),
    *(Plan(f"N0{i}", area, live=Reason.UNREACHABLE, picture=None)
      for i, area in ((2, "P-N1"), (3, "P-N2"), (4, "P-N2"), (5, "S-N1"), (6, "S-N1"))),
    Plan("X01", "P-X1"),
)  # fmt: skip

LIVE_PHASES = {"resolve": 0.001, "connect": 0.002, "options": 0.004, "describe": 0.006}
FRAME_PHASES = {**LIVE_PHASES, "setup": 0.005, "play": 0.004, "first_byte": 0.03, "keyframe": 0.8, "decode": 0.008,
                "analyse": 0.003}  # fmt: skip
ONVIF_PHASES = {"connect": 0.002, "clock": 0.01, "device_info": 0.012, "profiles": 0.02, "stream_uri": 0.015}


def _result(camera: str, module: str, reason: Reason, at: float, **kw: object) -> ProbeResult:
    ok = reason is Reason.OK
    phase = kw.pop("phase", Phase.DONE if ok else Phase.CONNECT)
    return ProbeResult(camera, module, ok, reason, phase, 0.05 if ok else 0.4, at, time.monotonic(), **kw)  # type: ignore[arg-type]


def outcomes(plan: Plan, at: float) -> list[ProbeResult]:
    """The results one sweep records for a camera."""
    out = []
    if plan.live is not None:
        phase = (
            Phase.DESCRIBE if plan.live is Reason.AUTH else (Phase.DONE if plan.live is Reason.OK else Phase.CONNECT)
        )
        out.append(_result(plan.camera, "live", plan.live, at, phase=phase, phase_timings=LIVE_PHASES))
    if plan.live is Reason.OK and plan.picture is not None:
        reason = Reason.FRAME_FAULT if plan.picture else Reason.OK
        out.append(_result(plan.camera, "pic", reason, at, phase=Phase.ANALYSE if plan.picture else Phase.DONE,
                           faults=plan.picture, phase_timings=FRAME_PHASES))  # fmt: skip
    if plan.skew_s is not None:
        out.append(_result(plan.camera, "onvif", Reason.OK, at, observations={"clock_skew_s": plan.skew_s},
                           phase_timings=ONVIF_PHASES))  # fmt: skip
    return out


@dataclass(frozen=True)
class City:
    """A registry, what each camera shows, the variable values to select, and the cameras /probe watches."""

    name: str
    inventory: Inventory
    plans: tuple[Plan, ...]
    choices: Mapping[str, Mapping[str, str]]
    """Per dashboard uid: the variable values to select (each must be offered by the variable's own query)."""
    probed: tuple[tuple[str, str], ...]
    """(camera, module) listed in the sharpeyes_probe job's file_sd."""


def fixture_city() -> City:
    cameras = tuple(
        Camera(p.camera, f"camera {p.camera}", p.area, f"127.0.1.{i}", rtsp_url=f"rtsp://127.0.1.{i}/main",
               in_service=p.in_service)
        for i, p in enumerate(PLANS, start=1)
    )  # fmt: skip
    detail = "E06"
    by_district = {"scope": "all", "level": "district", "district": "150202"}
    return City(
        "fixture",
        Inventory(DISTRICTS, AREAS, cameras),
        PLANS,
        {
            "sharpeyes-overview": {"scope": "all", "district": "all"},
            "sharpeyes-district": by_district,
            "sharpeyes-camera": {"district": "150202", "camera_id": detail},
            "sharpeyes-frame-health": by_district,
            "sharpeyes-operations": {},
        },
        ((detail, "pic"), (detail, "live"), ("E01", "pic")),
    )


OUTAGE_DISTRICT = "150204"
"""The demo city's district (level district) where most cameras are unreachable at once."""


def _demo_plan(i: int, camera: Camera, outage: bool) -> Plan:
    """A fixed rule: about 1 in 9 cameras down, 1 in 37 never probed, 1 in 3 with a picture fault, 1 in 5 never
    frame-checked; in the outage district three in four unreachable."""
    if outage and i % 4 != 0:
        return Plan(camera.id, camera.area, live=Reason.UNREACHABLE, picture=None, in_service=camera.in_service)
    if i % 37 == 5:  # registered, never probed yet: not connected
        return Plan(camera.id, camera.area, live=None, picture=None, in_service=camera.in_service)
    live = Reason.TIMEOUT if i % 9 == 4 else Reason.AUTH if i % 23 == 11 else Reason.OK
    faults = ((BLUR,), (FROZEN,), (SCENE,), (NOISE, STRIPES))
    picture = None if i % 5 == 0 else faults[(i // 3) % 4] if i % 3 == 1 else ()
    skew = 450.0 if i % 31 == 3 else 1.5 if i % 11 == 0 else None
    return Plan(camera.id, camera.area, live=live, picture=picture, skew_s=skew, in_service=camera.in_service)


def demo_city() -> City:
    inv = read_inventory(sorted((ROOT / "config" / "demo").glob("*.csv")))
    in_outage = {a.id for a in inv.areas if OUTAGE_DISTRICT in (d.code for d in inv.ancestors(a.district))}
    plans = [_demo_plan(i, c, c.area in in_outage) for i, c in enumerate(inv.cameras)]
    # three cameras of one leaf district outside the outage freeze (a rising count); the first, with a skewed
    # clock too, is the camera shown in detail
    leaf = {a.id: a.district for a in inv.areas}
    district_of = {a.id: next((d.code for d in inv.ancestors(a.district) if d.level is DistrictLevel.DISTRICT), "")
                   for a in inv.areas}  # fmt: skip
    ok_by_leaf: dict[str, list[int]] = {}
    for i, p in enumerate(plans):
        if p.in_service and p.live is Reason.OK and district_of[p.area] not in ("", OUTAGE_DISTRICT):
            ok_by_leaf.setdefault(leaf[p.area], []).append(i)
    frozen = next(ix for ix in ok_by_leaf.values() if len(ix) >= 3)[:3]
    for i in frozen:
        plans[i] = Plan(plans[i].camera, plans[i].area, picture=(FROZEN,), skew_s=420.0 if i == frozen[0] else None)
    detail = plans[frozen[0]]
    district = district_of[detail.area]
    by_district = {"scope": "all", "level": "district", "district": district}
    return City(
        "demo",
        inv,
        tuple(plans),
        {
            "sharpeyes-overview": {"scope": "all", "district": "all"},
            "sharpeyes-district": by_district,
            "sharpeyes-camera": {"district": district, "camera_id": detail.camera},
            "sharpeyes-frame-health": by_district,
            "sharpeyes-operations": {},
        },
        ((detail.camera, "pic"), (detail.camera, "live")),
    )


def city_runtime(city: City, now: float | None = None) -> Runtime:
    """The daemon's state: offline cameras were up 15 minutes ago (so they have a last success)."""
    now = time.time() if now is None else now
    store = ResultStore({n: m.prober for n, m in ALL_MODULES.items()})
    rt = Runtime(Config(city.inventory, ALL_MODULES), store)
    for plan in city.plans:
        if plan.live not in (None, Reason.OK):
            store.record(_result(plan.camera, "live", Reason.OK, now - 900, phase_timings=LIVE_PHASES))
        for r in outcomes(plan, now - 30):
            store.record(r)
    store.counters.last_flush_ok = now - 5
    store.counters.transitions_written = 40
    for name, module in ALL_MODULES.items():
        rt.sweeps[name] = SweepStats(sweeps=3, last_duration_s=module.interval_s / 10, last_lag_s=0.2,
                                     last_complete=now - 20, skipped={"backoff": 1})  # fmt: skip
    rt.ready = True
    return rt


@dataclass
class Sweeper:
    """Re-records every camera's outcome twice a second, as the scheduler would: counters and sweeps advance."""

    runtime: Runtime
    plans: Sequence[Plan]
    period_s: float = 0.5
    task: asyncio.Task[None] | None = field(default=None, init=False)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            now = time.time()
            for plan in self.plans:
                for r in outcomes(plan, now):
                    self.runtime.store.record(r)
            for stats in self.runtime.sweeps.values():
                stats.sweeps += 1
                stats.last_complete = now

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def prometheus_config(tmp: Path, exporter: str, probed: Sequence[tuple[str, str]]) -> str:
    """dashboards/prometheus/prometheus.example.yml with this test's paths, ports and 1 s intervals."""
    cfg = yaml.safe_load((DASHBOARDS / "prometheus" / "prometheus.example.yml").read_text())
    cfg["global"] = {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"}
    cfg["rule_files"] = [str(DASHBOARDS / "rules" / Path(f).name) for f in cfg["rule_files"]]
    jobs = {job["job_name"]: job for job in cfg["scrape_configs"]}
    for job in jobs.values():
        job.update(scrape_interval="1s", scrape_timeout="900ms")
    jobs["sharpeyes"]["static_configs"] = [{"targets": [exporter]}]
    probe = jobs["sharpeyes_probe"]
    sd = tmp / "probe-targets.yml"
    groups: dict[str, list[str]] = {}
    for camera, module in probed:
        groups.setdefault(module, []).append(camera)
    sd.write_text(yaml.safe_dump([{"targets": cams, "labels": {"module": m}} for m, cams in groups.items()]))
    probe["file_sd_configs"] = [{"files": [str(sd)], "refresh_interval": "1s"}]
    probe["relabel_configs"][-1]["replacement"] = exporter
    return yaml.safe_dump(cfg)


@contextlib.asynccontextmanager
async def watched_city(tmp: Path, city: City) -> AsyncIterator[tuple[str, Runtime]]:
    """The exporter serving the city on 127.0.0.1, a sweeper, and a real Prometheus with our rules scraping it."""
    rt = city_runtime(city)

    async def replay(camera: Camera, module: ProbeModule, deadline: Deadline) -> ProbeResult:
        """The /probe hook: the module's latest result for the camera (a real prober once the daemon runs)."""
        entry = rt.store.latest[(camera.id, module.name)]
        assert entry.result is not None
        return entry.result

    runner, port = await serve(make_app(rt, ApiOptions(probe=replay)))
    sweeper = Sweeper(rt, city.plans)
    sweeper.start()
    try:
        exporter = f"127.0.0.1:{port}"
        config = prometheus_config(tmp, exporter, city.probed)
        async with prometheus(tmp, [exporter], config=config) as base:
            yield base, rt
    finally:
        await sweeper.stop()
        await runner.cleanup()
