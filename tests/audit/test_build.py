"""Every number of the audit on the hand-computed fixture (tests/audit/fixture.py), read back from SQLite."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.model import Report, Window
from sharpeyes.audit.source import read_history
from sharpeyes.rates import ALL
from sharpeyes.registry.models import areas
from sharpeyes.registry.store import import_inventory, load_inventory
from tests.audit.fixture import GENERATED, INVENTORY, WINDOW, D, make_db, parsed


def audit(folder: Path, options: AuditOptions | None = None) -> Report:
    _, engine = make_db(folder)
    try:
        return build_report(
            load_inventory(engine),
            read_history(engine, WINDOW),
            WINDOW,
            options or AuditOptions(),
            generated_at=GENERATED,
        )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return audit(tmp_path_factory.mktemp("audit"))


def row(report: Report, scope: str, district: str) -> dict[str, object]:
    g = next(g for g in report.groups if g.scope == scope and g.district == district)
    counts = {k: getattr(g, k) for k in ("areas", "areas_covered", "cameras", "in_service", "connected", "online")}
    counts |= {k: getattr(g, k) for k in ("healthy", "frame_checked", "frame_unchecked")}
    rates = {r.name: (r.numerator, r.denominator) for r in g.rates}
    return {**counts, "rates": rates, "time": (g.seconds_up / D, g.seconds_known / D, g.seconds_in_service / D)}


def test_street_public(report: Report) -> None:
    assert row(report, "public", "S1") == {
        "areas": 1, "areas_covered": 0, "cameras": 3, "in_service": 2, "connected": 2, "online": 2,
        "healthy": 1, "frame_checked": 1, "frame_unchecked": 1,
        "rates": {
            "coverage": (0, 1), "connection": (2, 2), "online_now": (2, 2),
            # c1 2 of 4 days, c2 4 of 4, c3 1 of its 2 days in service
            "online_time": (pytest.approx(7 * D), pytest.approx(10 * D)),
            "good_order": (1, 2), "image_quality": (0, 1),
        },
        "time": (pytest.approx(7), pytest.approx(10), pytest.approx(10)),
    }  # fmt: skip


def test_district_includes_its_street(report: Report) -> None:
    r = row(report, "public", "D1")
    assert (r["areas"], r["areas_covered"], r["cameras"], r["in_service"], r["connected"], r["online"]) == (
        2, 0, 4, 3, 2, 2,
    )  # fmt: skip
    # c4 adds 3.75 known days (unknown for its first quarter day), none up
    assert r["time"] == (pytest.approx(7), pytest.approx(13.75), pytest.approx(14))
    g = next(g for g in report.groups if g.scope == "public" and g.district == "D1")
    assert g.rate("online_time").value == pytest.approx(7 / 13.75)


def test_sector_and_city_wide(report: Report) -> None:
    s = row(report, "sector", "D2")
    assert s["rates"] == {
        "coverage": (1, 1), "connection": (1, 1), "online_now": (1, 1),
        "online_time": (pytest.approx(3 * D), pytest.approx(3 * D)), "good_order": (1, 1), "image_quality": (1, 1),
    }  # fmt: skip
    a = row(report, ALL, "C")
    assert (a["areas"], a["areas_covered"], a["cameras"], a["in_service"], a["connected"], a["online"]) == (
        4, 1, 6, 5, 3, 3,
    )  # fmt: skip
    assert (a["healthy"], a["frame_checked"], a["frame_unchecked"]) == (2, 2, 3)
    assert a["time"] == (pytest.approx(10), pytest.approx(16.75), pytest.approx(22))
    assert row(report, ALL, ALL) == a


def test_public_never_probed_area(report: Report) -> None:
    r = row(report, "public", "D2")
    assert r["rates"]["online_time"] == (0, 0)  # type: ignore[index]
    assert (r["in_service"], r["connected"], r["online"], r["healthy"]) == (1, 0, 0, 0)


def test_targets_and_verdict(report: Report) -> None:
    g = next(g for g in report.groups if g.scope == "sector" and g.district == "D2")
    assert [(r.name, r.target, r.met) for r in g.rates if r.target is not None] == [
        ("coverage", 1.0, True),
        ("connection", 1.0, True),
        ("good_order", 0.95, True),
    ]
    assert not report.passed
    failing = {(g.scope, g.district, r.name) for g, r, _ in report.failures()}
    assert ("public", "S1", "coverage") in failing and ("public", "S1", "connection") not in failing
    assert not any(s == ALL for s, _, _ in failing)  # no targets for both scopes together


def test_rows_in_tree_order_without_empty_districts(report: Report) -> None:
    order = [g.district for g in report.groups if g.scope == "public"]
    assert order == [ALL, "C", "D1", "S1", "D2"]  # S9 has nothing and is left out
    assert [g.depth for g in report.groups if g.scope == "public"] == [0, 1, 2, 3, 2]


def test_uncovered_areas_say_why(report: Report) -> None:
    by_id = {u.area_id: u for u in report.uncovered}
    assert set(by_id) == {"A1", "A2", "A3"}
    a1 = by_id["A1"]
    assert (a1.required, a1.registered, a1.healthy, a1.more_needed, a1.to_register) == (2, 2, 1, 1, 0)
    assert [(c.camera_id, c.why) for c in a1.cameras] == [("c2", "fault:blur"), ("c3", "out_of_service")]
    assert [(c.camera_id, c.why) for c in by_id["A2"].cameras] == [("c4", "offline")]
    a3 = by_id["A3"]
    assert (a3.more_needed, a3.to_register, [c.why for c in a3.cameras]) == (3, 2, ["never_probed"])


def test_camera_lists(report: Report) -> None:
    assert [c.camera_id for c in report.never_reached] == ["c4", "c6"]
    assert [(c.camera_id, round(c.seconds_down / D, 6)) for c in report.offline_longest] == [
        ("c4", 3.75),
        ("c1", 2),
        ("c3", 1),
    ]
    assert [(f.code, f.cameras) for f in report.faults] == [("blur", ("c2",))]
    c1 = next(c for c in report.offline_longest if c.camera_id == "c1")
    assert (c1.state, c1.since) == ("up", WINDOW.start + 3.5 * D)


def test_registry_gaps(report: Report) -> None:
    assert [(g.kind, g.id, g.required, g.registered) for g in report.registry_gaps] == [("area_short", "A3", 3, 1)]


def test_availability_per_day(report: Report) -> None:
    days = [
        (p.day, round(p.seconds_up / D, 6), round(p.seconds_known / D, 6))
        for p in report.availability
        if p.scope == ALL
    ]
    assert days == [("2026-10-01", 2.5, 3.75), ("2026-10-02", 3, 5), ("2026-10-03", 2, 4), ("2026-10-04", 2.5, 4)]


def test_one_district_subtree_and_one_scope(tmp_path: Path) -> None:
    r = audit(tmp_path, AuditOptions(district="D1", scopes=("public",)))
    assert [(g.district, g.depth) for g in r.groups] == [("D1", 0), ("S1", 1)]
    assert {u.area_id for u in r.uncovered} == {"A1", "A2"}
    assert [c.camera_id for c in r.never_reached] == ["c4"]
    assert r.registry_gaps == ()


def test_area_whose_required_count_rises(tmp_path: Path) -> None:
    _, engine = make_db(tmp_path)
    with engine.begin() as conn:
        conn.execute(sa.update(areas).where(areas.c.id == "B1").values(required_cameras=2))
    r = build_report(load_inventory(engine), read_history(engine, WINDOW), WINDOW, AuditOptions(), generated_at=0)
    engine.dispose()
    assert row(r, "sector", "D2")["rates"]["coverage"] == (0, 1)  # type: ignore[index]
    b1 = next(u for u in r.uncovered if u.area_id == "B1")
    assert (b1.required, b1.registered, b1.healthy, b1.more_needed, b1.to_register, b1.cameras) == (2, 1, 1, 1, 1, ())
    assert ("area_short", "B1", 2, 1) in [(g.kind, g.id, g.required, g.registered) for g in r.registry_gaps]


def test_camera_put_out_of_service_by_an_import_mid_window(tmp_path: Path) -> None:
    _, engine = make_db(tmp_path)
    cameras = tuple(dataclasses.replace(c, in_service=False) if c.id == "c2" else c for c in INVENTORY.cameras)
    at = dt.datetime.fromtimestamp(WINDOW.start + 3 * D, dt.UTC)
    import_inventory(engine, parsed(dataclasses.replace(INVENTORY, cameras=cameras)), now=at)
    r = build_report(load_inventory(engine), read_history(engine, WINDOW), WINDOW, AuditOptions(), generated_at=0)
    engine.dispose()
    s1 = row(r, "public", "S1")
    # c2 counts for its 3 days in service (up all of them), no longer for 4: c1 2 of 4, c2 3 of 3, c3 1 of 2
    assert s1["time"] == (pytest.approx(6), pytest.approx(9), pytest.approx(9))
    assert s1["rates"]["online_time"] == (pytest.approx(6 * D), pytest.approx(9 * D))  # type: ignore[index]
    assert (s1["in_service"], s1["online"]) == (1, 1)  # now: c1 only
    assert "c2" not in {c.camera_id for c in r.offline_longest}


def test_fail_under_replaces_the_targets(tmp_path: Path) -> None:
    r = audit(tmp_path, AuditOptions(scopes=("sector",), thresholds=(("online_time", 0.99),)))
    assert r.passed  # sector only: 3 of 3 days up; coverage targets no longer apply
    (tmp_path / "x").mkdir()
    r = audit(tmp_path / "x", AuditOptions(thresholds=(("online_time", 0.71),)))
    assert {(g.scope, g.district) for g, _, _ in r.failures()} >= {("public", "S1"), (ALL, ALL)}


def test_index_and_scan_reads_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sharpeyes.audit import source

    _, engine = make_db(tmp_path)
    for window in (WINDOW, Window(WINDOW.start + 2 * D, WINDOW.end), Window(WINDOW.start - 12 * D, WINDOW.start)):
        monkeypatch.setattr(source, "_time_key", lambda conn, w: source._no_index)
        scan = read_history(engine, window, use_summary=False)
        monkeypatch.setattr(source, "_time_key", lambda conn, w: lambda x: x)
        index = read_history(engine, window, use_summary=False)
        assert sorted(scan.rows()) == sorted(index.rows())
        assert len(scan.rows()) > 0
    engine.dispose()


def test_fast_inventory_read_equals_the_registry_snapshot(tmp_path: Path) -> None:
    from sharpeyes.audit.source import read_inventory_fast

    _, engine = make_db(tmp_path)
    assert read_inventory_fast(engine) == load_inventory(engine)
    engine.dispose()
