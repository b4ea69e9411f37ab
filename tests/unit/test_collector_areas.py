"""The series the dashboards need beyond the rates: per-area coverage, district paths, failing modules."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from sharpeyes.exporter.collector import SharpeyesCollector, district_paths
from sharpeyes.registry.inventory import District, DistrictLevel, Inventory
from tests.exporter_helpers import runtime, samples


def scraped() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SharpeyesCollector(runtime()))
    return samples(generate_latest(reg).decode())


def L(**kw: str) -> frozenset[tuple[str, str]]:  # noqa: N802 - reads like a label set
    return frozenset(kw.items())


def test_area_series_agree_with_the_aggregates() -> None:
    s = scraped()
    # a1 needs 2 healthy cameras and has c1 only (c2 is blurred); b1 needs 1 and c3 is down
    assert not [k for k in s if k[0] == "sharpeyes_area_required_cameras"]  # a label of area_info instead
    assert s[("sharpeyes_area_covered", L(area_id="a1"))] == 0
    assert s[("sharpeyes_area_healthy_cameras", L(area_id="a1"))] == 1
    assert s[("sharpeyes_area_covered", L(area_id="b1"))] == 0
    covered = sum(v for (name, _), v in s.items() if name == "sharpeyes_area_covered")
    city = L(scope="all", district="all", level="all")
    assert covered == s[("sharpeyes_areas_covered", city)]
    info = L(area_id="b1", district="D1", scope="sector", sector="finance", kind="finance",
             district_path="/all/C/D1/", scope_path="/all/sector/", required_cameras="1")  # fmt: skip
    assert s[("sharpeyes_area_info", info)] == 1


def test_failing_modules_carry_their_reason_and_ok_ones_are_absent() -> None:
    s = scraped()
    assert s[("sharpeyes_camera_probe_failure", L(camera_id="c3", module="live", reason="timeout"))] == 1
    assert s[("sharpeyes_camera_probe_failure", L(camera_id="c2", module="pic", reason="frame_fault"))] == 1
    assert not [k for k in s if k[0] == "sharpeyes_camera_probe_failure" and ("camera_id", "c1") in k[1]]


def test_module_intervals_are_exported() -> None:
    s = scraped()
    assert s[("sharpeyes_module_interval_seconds", L(module="live"))] == 60
    assert s[("sharpeyes_module_interval_seconds", L(module="pic"))] == 600


def test_district_paths_run_from_the_root() -> None:
    inv = Inventory(
        districts=(
            District("C", "city", DistrictLevel.CITY),
            District("D1", "east", DistrictLevel.DISTRICT, "C"),
            District("S1", "street", DistrictLevel.STREET, "D1"),
        )
    )
    assert district_paths(inv) == {"C": "/all/C/", "D1": "/all/C/D1/", "S1": "/all/C/D1/S1/"}
