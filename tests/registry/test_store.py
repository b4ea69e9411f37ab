"""Registry on a real database (SQLite and PostgreSQL): migrations, import, upsert, prune, history tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from sharpeyes.audit.source import read_inventory_fast
from sharpeyes.errors import InputError
from sharpeyes.probers.base import AuthPolicy
from sharpeyes.registry import store
from sharpeyes.registry.db import current_revision, downgrade, head_revision, upgrade
from sharpeyes.registry.fields import Where
from sharpeyes.registry.history import (
    Rollup,
    Transition,
    load_signatures,
    record_transitions,
    save_signature,
    transitions_between,
    upsert_rollups,
)
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Scope
from sharpeyes.registry.io import Parsed, parse_files, read_inventory
from sharpeyes.registry.models import Base, daily_rollups
from sharpeyes.registry.store import counts, import_inventory, load_inventory

from .conftest import DEMO_FILES


def test_migrations_build_exactly_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_downgrade_to_nothing_and_back(engine: Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"districts", "areas", "cameras", "transitions", "daily_rollups", "frame_signatures"} <= set(
        sa.inspect(engine).get_table_names()
    )


def test_demo_import_then_load_gives_the_same_inventory(engine: Engine) -> None:
    upgrade(engine)
    report = import_inventory(engine, parse_files(DEMO_FILES))
    assert len(report.kinds["cameras"].added) == 300
    loaded = load_inventory(engine)
    from_files = read_inventory(DEMO_FILES)
    assert loaded.cameras == tuple(sorted(from_files.cameras, key=lambda c: c.id))
    assert loaded.areas == tuple(sorted(from_files.areas, key=lambda a: a.id))
    assert loaded.districts == tuple(sorted(from_files.districts, key=lambda d: d.code))
    c = counts(loaded)
    assert (c["districts"], c["areas"], c["cameras"]) == (96, 78, 300)
    assert c["by_scope"]["public"]["areas"] + c["by_scope"]["sector"]["areas"] == 78


def test_reimport_is_idempotent_and_updates_by_id(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    before = load_inventory(engine)
    again = import_inventory(engine, parse_files(DEMO_FILES))
    assert again.kinds["cameras"].unchanged == 300
    assert not again.kinds["cameras"].added and not again.kinds["cameras"].updated
    assert load_inventory(engine) == before

    text = DEMO_FILES[2].read_text(encoding="utf-8").replace("银河广场全景", "银河广场全景(新)", 1)
    changed = tmp_path / "cameras.csv"
    changed.write_text(text, encoding="utf-8")
    report = import_inventory(engine, parse_files([changed]))
    assert report.kinds["cameras"].updated == ["15020200001320000001"]
    assert load_inventory(engine).camera_by_id()["15020200001320000001"].name == "银河广场全景(新)"


def test_a_district_moves_under_a_new_parent_in_one_import(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    moved = tmp_path / "districts.csv"
    moved.write_text(
        "code,name,level,parent\n150203003001,团结社区,community,150203099\n150203099,新街道,street,150203\n",
        encoding="utf-8",
    )
    report = import_inventory(engine, parse_files([moved]))
    assert report.kinds["districts"].added == ["150203099"]
    districts = load_inventory(engine).district_by_code()
    assert districts["150203003001"].parent == "150203099"


def test_an_area_moves_away_from_a_pruned_district_in_one_import(engine: Engine, tmp_path: Path) -> None:
    districts = tmp_path / "districts.csv"
    districts.write_text(
        "code,name,level,parent\n150200,包头市,city,\n150203,昆都仑区,district,150200\n"
        "150203001,旧街道,street,150203\n",
        encoding="utf-8",
    )
    areas = tmp_path / "areas.csv"
    areas.write_text("id,name,district,scope,kind\nA1,广场,150203001,public,square\n", encoding="utf-8")
    upgrade(engine)
    import_inventory(engine, parse_files([districts, areas]))
    districts.write_text(
        "code,name,level,parent\n150200,包头市,city,\n150203,昆都仑区,district,150200\n"
        "150203002,新街道,street,150203\n",
        encoding="utf-8",
    )
    areas.write_text("id,name,district,scope,kind\nA1,广场,150203002,public,square\n", encoding="utf-8")
    report = import_inventory(engine, parse_files([districts, areas]), prune=True)
    assert report.kinds["districts"].removed == ["150203001"]
    inv = load_inventory(engine)
    assert [d.code for d in inv.districts] == ["150200", "150203", "150203002"]
    assert inv.areas[0].district == "150203002"


def _first_lines(src: Path, dst: Path, rows: int) -> Path:
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1]), encoding="utf-8")
    return dst


def test_missing_cameras_are_reported_and_removed_only_with_prune(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    subset = _first_lines(DEMO_FILES[2], tmp_path / "cameras.csv", 10)
    kept = import_inventory(engine, parse_files([subset]))
    assert len(kept.kinds["cameras"].missing) == 290 and not kept.kinds["cameras"].removed
    assert not kept.kinds["areas"].missing  # areas were not in the input: nothing to report
    assert len(load_inventory(engine).cameras) == 300
    pruned = import_inventory(engine, parse_files([subset]), prune=True)
    assert len(pruned.kinds["cameras"].removed) == 290
    assert len(load_inventory(engine).cameras) == 10


def test_pruning_districts_still_referenced_is_refused(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    only_city = _first_lines(DEMO_FILES[0], tmp_path / "districts.csv", 1)
    with pytest.raises(InputError) as err:
        import_inventory(engine, parse_files([only_city]), prune=True)
    assert any("(database)" in p and "unknown district" in p for p in err.value.problems)
    assert len(load_inventory(engine).districts) == 96


def test_bad_input_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    before = load_inventory(engine)
    bad = tmp_path / "cameras.csv"
    lines = DEMO_FILES[2].read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1]
    renamed = first.replace("银河广场全景", "改名", 1)  # a valid update that must not be written either
    rest = first.split(",", 1)[1]
    rows = [header, renamed, "abc," + rest, "ABC," + rest.replace("P150202-01", "NOPE")]
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_inventory(engine, parse_files([bad]))
    text = "\n".join(err.value.problems)
    assert f"{bad}:4: id: duplicate camera id 'ABC'" in text
    assert f"{bad}:4: area_id: unknown area 'NOPE'" in text
    assert load_inventory(engine) == before


def test_an_id_differing_from_a_stored_one_only_by_case_is_refused(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    areas = tmp_path / "areas.csv"
    areas.write_text("id,name,district,scope,kind\np150202-01,银河广场,150202,public,square\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_inventory(engine, parse_files([areas]))
    assert err.value.problems == [
        f"{areas}:2: id: duplicate area id 'p150202-01' (already at (database) as 'P150202-01')"
    ]


def test_transitions_are_idempotent_and_utc(engine: Engine) -> None:
    upgrade(engine)
    beijing = dt.timezone(dt.timedelta(hours=8))
    at = dt.datetime(2026, 11, 29, 8, 0, 0, 123456, tzinfo=beijing)
    batch = [
        Transition("c1", "rtsp_describe", "unknown", "up", "ok", at),
        Transition("c1", "rtsp_describe", "up", "down", "timeout", at + dt.timedelta(minutes=5)),
    ]
    with engine.begin() as conn:
        assert record_transitions(conn, batch) == 2
    with engine.begin() as conn:
        assert record_transitions(conn, batch) == 0  # a retried batch adds nothing
    with engine.begin() as conn:
        rows = transitions_between(conn, at - dt.timedelta(hours=1), at + dt.timedelta(hours=1))
    assert [r.to_state for r in rows] == ["up", "down"]
    assert rows[0].at == at and rows[0].at.tzinfo == dt.UTC
    assert rows[0].at.hour == 0  # 08:00 in Beijing is 00:00 UTC
    with pytest.raises(sa.exc.StatementError), engine.begin() as conn:
        record_transitions(conn, [dataclasses.replace(batch[0], at=dt.datetime(2026, 1, 1))])


def test_rollups_upsert_and_signatures_replace(engine: Engine) -> None:
    upgrade(engine)
    day = dt.date(2026, 11, 29)
    with engine.begin() as conn:
        upsert_rollups(conn, [Rollup("c1", "rtsp_describe", day, 100.0, 120.0, 2, 1)])
        upsert_rollups(conn, [Rollup("c1", "rtsp_describe", day, 3600.0, 3660.0, 61, 1)])
        rows = conn.execute(sa.select(daily_rollups)).all()
    assert len(rows) == 1 and rows[0].seconds_up == 3600.0 and rows[0].probes == 61
    t0 = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    with engine.begin() as conn:
        save_signature(conn, "c1", "last", b"\x00\x01", t0)
        save_signature(conn, "c1", "last", b"\x02", t0 + dt.timedelta(seconds=60))
        save_signature(conn, "c1", "reference", b"\x09", t0)
        assert load_signatures(conn, "last") == {"c1": b"\x02"}
        assert load_signatures(conn, "reference") == {"c1": b"\x09"}


def _city(**in_service: bool) -> Parsed:
    """One district, one area, and cameras by id with their in-service flags."""
    where = Where("test", 1)
    parsed = Parsed(
        districts=[(District("C", "市", DistrictLevel.CITY), where)],
        areas=[(Area("A", "广场", "C", Scope.PUBLIC, "square", 1), where)],
        cameras=[(Camera(cid, cid, "A", "127.0.0.1", in_service=flag), where) for cid, flag in in_service.items()],
    )
    parsed.kinds.update({"districts", "areas", "cameras"})
    return parsed


def _service_rows(engine: Engine) -> list[tuple[str, str, str, str, dt.datetime]]:
    with engine.connect() as conn:
        rows = transitions_between(conn, T0, T0 + dt.timedelta(days=365))
    assert {t.module for t in rows} <= {"service"}
    return [(t.camera_id, t.from_state, t.to_state, t.reason, t.at) for t in rows]


T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def test_import_records_service_changes(engine: Engine) -> None:
    upgrade(engine)
    t1, t2, t3 = (T0 + dt.timedelta(days=d) for d in (1, 2, 3))
    import_inventory(engine, _city(a=True, b=True, c=False), now=t1)
    assert _service_rows(engine) == [
        ("a", "out_of_service", "in_service", "added", t1),
        ("b", "out_of_service", "in_service", "added", t1),
    ]  # c: added out of service, out of service before and after: nothing to record
    import_inventory(engine, _city(b=False, c=True, d=True), now=t2, prune=True)
    assert _service_rows(engine)[2:] == [
        ("b", "in_service", "out_of_service", "flag_changed", t2),
        ("c", "out_of_service", "in_service", "flag_changed", t2),
        ("d", "out_of_service", "in_service", "added", t2),
        ("a", "in_service", "out_of_service", "removed", t2),
    ]
    import_inventory(engine, _city(b=False, c=True, d=True), now=t3)
    assert len(_service_rows(engine)) == 6  # nothing changed: nothing recorded


def test_service_changes_roll_back_with_the_registry(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(engine)
    import_inventory(engine, _city(a=True), now=T0)

    def fail_after_writing(conn: sa.Connection, items: object) -> int:
        record_transitions(conn, items)  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "record_transitions", fail_after_writing)
    with pytest.raises(RuntimeError):
        import_inventory(engine, _city(a=False, b=True), now=T0 + dt.timedelta(days=1))
    assert [(c.id, c.in_service) for c in load_inventory(engine).cameras] == [("a", True)]
    assert _service_rows(engine) == [("a", "out_of_service", "in_service", "added", T0)]


def test_audit_inventory_read_equals_the_registry_snapshot(engine: Engine) -> None:
    upgrade(engine)
    import_inventory(engine, parse_files(DEMO_FILES))
    varied = _city(a=True, b=False)
    varied.cameras = [
        (Camera("a", "甲", "A", "127.0.0.1", "rtsp://127.0.0.1/a", None, None, "admin", "PW_A"), Where("t", 1)),
        (
            Camera(
                "b", "乙", "A", "127.0.0.2", None, "http://127.0.0.2/onvif", "http://127.0.0.2/snap", None, None,
                "/run/pw", AuthPolicy.BASIC_ALLOWED, "一类", False, 1920, 1080, ("night", "逆光"),
            ),
            Where("t", 2),
        ),
    ]  # fmt: skip
    import_inventory(engine, varied)
    snapshot = load_inventory(engine)
    assert {c.tags for c in snapshot.cameras} >= {("night", "逆光"), ()}
    assert read_inventory_fast(engine) == snapshot
    assert [type(c.in_service) for c in read_inventory_fast(engine).cameras] == [bool] * len(snapshot.cameras)
