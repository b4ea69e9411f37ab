"""The collector: values, exposition validity (promtool), hostile label values, no global registry, docs."""

from __future__ import annotations

import re
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sharpeyes.exporter.collector import MAX_LABEL_CHARS, SharpeyesCollector, label
from sharpeyes.exporter.exposition import render
from sharpeyes.registry.inventory import Camera
from tests.exporter_helpers import HOSTILE, promtool_check, runtime, samples


def registry(extra: tuple[Camera, ...] = ()) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SharpeyesCollector(runtime(extra)))
    return reg


def scrape(extra: tuple[Camera, ...] = ()) -> bytes:
    return render(registry(extra))


def L(**kw: str) -> frozenset[tuple[str, str]]:  # noqa: N802 - reads like a label set
    return frozenset(kw.items())


def test_per_camera_series() -> None:
    s = samples(scrape().decode())
    assert s[("sharpeyes_camera_up", L(camera_id="c1"))] == 1
    assert s[("sharpeyes_camera_up", L(camera_id="c3"))] == 0
    assert ("sharpeyes_camera_up", L(camera_id="c4")) not in s  # never probed: no guess
    assert s[("sharpeyes_camera_healthy", L(camera_id="c2"))] == 0
    assert s[("sharpeyes_camera_fault", L(camera_id="c2", code="blur"))] == 1
    assert s[("sharpeyes_camera_fault", L(camera_id="c2", code="noise"))] == 1
    assert s[("sharpeyes_camera_clock_skew_seconds", L(camera_id="c1"))] == 1.5
    assert ("sharpeyes_camera_last_success_timestamp_seconds", L(camera_id="c1")) in s
    info = L(camera_id="c3", area_id="b1", district="D1", scope="sector", sector="finance", point_class="",
             in_service="true", district_path="/all/C/D1/", scope_path="/all/sector/")  # fmt: skip
    assert s[("sharpeyes_camera_info", info)] == 1


def test_aggregates_numerators_denominators_and_targets() -> None:
    s = samples(scrape().decode())
    pub = {"scope": "public", "district": "D1", "level": "district"}
    assert s[("sharpeyes_areas_registered", L(**pub))] == 1
    assert s[("sharpeyes_areas_covered", L(**pub))] == 0  # needs 2 healthy, has 1
    assert s[("sharpeyes_cameras_in_service", L(**pub))] == 2
    assert s[("sharpeyes_cameras_healthy", L(**pub))] == 1
    assert s[("sharpeyes_cameras", L(**pub, state="faulty"))] == 1
    city = {"scope": "all", "district": "all", "level": "all"}
    assert s[("sharpeyes_cameras_registered", L(**city))] == 4
    assert s[("sharpeyes_cameras_online", L(**city))] == 2
    assert s[("sharpeyes_cameras", L(**city, state="out_of_service"))] == 1
    assert s[("sharpeyes_cameras", L(**city, state="offline"))] == 1
    assert s[("sharpeyes_areas", L(**city, state="uncovered"))] == 2
    assert s[("sharpeyes_target_ratio", L(scope="public", rate="good_order"))] == 0.98
    assert s[("sharpeyes_target_ratio", L(scope="sector", rate="good_order"))] == 0.95


def test_self_metrics() -> None:
    s = samples(scrape().decode())
    assert s[("sharpeyes_results_total", L(module="live", reason="timeout"))] == 1
    assert s[("sharpeyes_probe_duration_seconds_count", L(module="live"))] == 3
    assert s[("sharpeyes_probe_duration_seconds_bucket", L(module="live", le="0.025"))] == 3
    assert s[("sharpeyes_results_dropped_total", L())] == 0
    assert s[("sharpeyes_storage_pending", L())] == 5  # the first state of each (camera, module), unwritten


def test_exposition_passes_promtool_even_with_hostile_ids() -> None:
    extra = (Camera(HOSTILE, "x", "a1", "127.0.0.9"), Camera("y" * 1_000_000, "x", "a1", "127.0.0.10"))
    body = scrape(extra)
    check = promtool_check(body)
    assert check.returncode == 0, check.stdout + check.stderr
    s = samples(body.decode())
    assert s[("sharpeyes_cameras_registered", L(scope="all", district="all", level="all"))] == 6
    ids = {dict(k[1])["camera_id"] for k in s if k[0] == "sharpeyes_camera_info"}
    assert label(HOSTILE) in ids and HOSTILE.replace("\udcff", "?") in ids
    assert max(len(i) for i in ids) == MAX_LABEL_CHARS


def test_collector_is_not_on_the_global_registry() -> None:
    before = generate_latest(prometheus_client.REGISTRY)
    scrape()
    assert b"sharpeyes_" not in before and b"sharpeyes_" not in generate_latest(prometheus_client.REGISTRY)


def test_lean_writer_matches_prometheus_client() -> None:
    reg = registry((Camera(HOSTILE, "x", "a1", "127.0.0.9"),))
    extra = Gauge("odd_values", "help with \\ and\nnewline", ["v"], registry=reg)
    for i, v in enumerate((float("nan"), float("inf"), float("-inf"), 1e20, -0.5, 3.0, 2**60)):
        extra.labels(str(i)).set(v)
    ours, theirs = render(reg).decode(), generate_latest(reg).decode()

    def flat(text: str) -> set[tuple[str, frozenset[tuple[str, str]], str]]:
        return {(s.name, frozenset(s.labels.items()), repr(float(s.value)))
                for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip

    assert flat(ours) == flat(theirs)
    assert [ln for ln in ours.splitlines() if ln.startswith("#")] == [
        ln for ln in theirs.splitlines() if ln.startswith("#")
    ]
    assert promtool_check(ours.encode()).returncode == 0


def test_every_metric_family_is_documented_in_dashboards_md() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "dashboards.md").read_text(encoding="utf-8")
    families = list(text_string_to_metric_families(scrape().decode()))
    names = [f.name + ("_total" if f.type == "counter" else "") for f in families]
    undocumented = [n for n in names if not re.search(rf"`{re.escape(n)}[`{{]", doc)]
    assert len(names) > 20 and not undocumented, f"add these to docs/dashboards.md, Metrics: {undocumented}"
