"""The audit's fast paths against the straightforward forms they replace, on random data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from benchmarks.audit import DAY, END, build_db
from sharpeyes.audit import source, stamps
from sharpeyes.audit import timeline as timeline_module
from sharpeyes.audit.build import AuditOptions, _fault_counts, _line, build_report, day_edges
from sharpeyes.audit.history import History, camera_now
from sharpeyes.audit.model import CameraLine, Report, Window
from sharpeyes.audit.source import read_all, read_history
from sharpeyes.audit.timeline import timeline
from sharpeyes.rates import ALL, SCOPES, TimeOnline, _group_keys, camera_time_order
from sharpeyes.registry.db import make_engine
from sharpeyes.registry.fields import Where
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.io import Parsed
from sharpeyes.registry.store import import_inventory

CODES = ("a", "b", "c", "d", "e", "f")


@st.composite
def forests(draw: st.DrawFn) -> Inventory:
    """Districts whose parents may be missing, unknown or form cycles, and areas in known or unknown ones."""
    codes = draw(st.lists(st.sampled_from(CODES), unique=True, max_size=len(CODES)))
    parents = st.none() | st.sampled_from((*CODES, "zz"))
    districts = tuple(District(c, c, DistrictLevel.STREET, draw(parents)) for c in codes)
    area_districts = draw(st.lists(st.sampled_from((*CODES, "zz")), max_size=8))
    areas = tuple(
        Area(f"A{i}", "x", d, draw(st.sampled_from(Scope)), "square", 1) for i, d in enumerate(area_districts)
    )
    return Inventory(districts, areas, ())


def _groups_by_ancestors(inventory: Inventory, area: Area) -> list[tuple[str, str]]:
    """The groups an area counts toward, walking :meth:`Inventory.ancestors` (the straightforward form)."""
    known = {d.code for d in inventory.districts}
    chain = [d.code for d in inventory.ancestors(area.district)] if area.district in known else []
    return [(scope, d) for scope in (area.scope.value, ALL) for d in (*chain, ALL)]


@settings(max_examples=200, deadline=None)
@given(forests())
def test_group_keys_walk_the_ancestors(inventory: Inventory) -> None:
    keys, of = _group_keys(inventory)
    assert len(keys) == len(set(keys))
    for area in inventory.areas:
        assert of(area) == _groups_by_ancestors(inventory, area)
        assert set(of(area)) <= set(keys)


@given(st.lists(st.tuples(st.sampled_from((None, "", "blur", "freeze")), st.sampled_from("abcdef"))))
def test_fault_counts_from_pairs(pairs: list[tuple[str | None, str]]) -> None:
    counts = _fault_counts(pairs)
    expected = {f: sorted(c for g, c in pairs if g == f) for f, _ in pairs if f}
    assert {x.code: list(x.cameras) for x in counts} == expected
    assert [len(x.cameras) for x in counts] == sorted((len(x.cameras) for x in counts), reverse=True)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inventory, Report, Window, list[CameraLine]]:
    """A small city with the benchmark's flapping transitions, its report, and every camera's line built
    eagerly as the lists were built before (one line per audited camera)."""
    folder: Path = tmp_path_factory.mktemp("bench")
    url, _, _ = build_db(folder, 400, 4)
    window = Window(END - 3 * DAY - 5000.0, END - 7000.0)
    engine = make_engine(url)
    inventory, history = read_all(engine, window)
    engine.dispose()
    options = AuditOptions(top=30)
    report = build_report(inventory, history, window, options, generated_at=window.end)
    areas = inventory.area_by_id()
    cams = [c for c in inventory.cameras if c.area in areas]
    scope_of = [areas[c.area].scope.value for c in cams]
    now = {c.id: camera_now(history.last.get(c.id, ()), window.end, {}) for c in cams}
    line = timeline(cams, scope_of, history, window, day_edges(window), {}, options.scopes)
    zero = TimeOnline(0.0, 0.0, 0.0)
    lines = [
        _line(c, s, areas[c.area], now[c.id], line.per_camera.get(c.id, zero))
        for c, s in zip(cams, scope_of, strict=True)
    ]
    return inventory, report, window, lines


def test_offline_longest_as_the_eager_sort(bench: tuple[Inventory, Report, Window, list[CameraLine]]) -> None:
    _, report, _, lines = bench
    down = sorted((x for x in lines if x.seconds_down > 0), key=lambda x: (-x.seconds_down, x.camera_id))
    assert len(down) > 30
    assert report.offline_longest == tuple(down[:30])


def test_fault_lists_as_the_eager_lines(bench: tuple[Inventory, Report, Window, list[CameraLine]]) -> None:
    inventory, report, _, lines = bench
    serving = {c.id for c in inventory.cameras if c.in_service}
    served = [x for x in lines if x.camera_id in serving]
    assert report.fault_cameras == tuple(sorted((x for x in served if x.fault), key=lambda x: x.camera_id))
    assert report.fault_cameras
    assert report.faults == _fault_counts((x.fault, x.camera_id) for x in served)
    by_id = {x.camera_id: x for x in lines}
    assert report.never_reached and all(by_id[x.camera_id] == x for x in report.never_reached)


TIMES = st.sampled_from((0.0, 5.0, 10.0, 10.0, 20.0, 30.0, 45.5))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), TIMES), max_size=40), st.sampled_from((0.0, 10.0, 25.0)))
def test_camera_time_order_is_lexsort(rows: list[tuple[int, float]], start: float) -> None:
    camera = np.array([c for c, _ in rows], dtype=np.int64)
    at = np.array([t for _, t in rows], dtype=np.float64)
    assert camera_time_order(camera, at, start).tolist() == np.lexsort((at, camera)).tolist()


def _as_read(rows: list[tuple[int, float]], start: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Rows laid out as the audit reads them: per camera its window in time order, then the left edges."""
    inside = sorted((c, t) for c, t in rows if t >= start)
    edges = sorted((c, t) for c, t in rows if t < start)
    both = inside + edges
    return np.array([c for c, _ in both], dtype=np.int64), np.array([t for _, t in both], dtype=np.float64)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), TIMES), max_size=40))
def test_camera_time_order_needs_no_full_sort_for_rows_as_read(rows: list[tuple[int, float]]) -> None:
    camera, at = _as_read(rows, 10.0)
    expected = np.lexsort((at, camera)).tolist()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np, "lexsort", None)
        assert camera_time_order(camera, at, 10.0).tolist() == expected


STAMPS = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999))


@settings(max_examples=200, deadline=None)
@given(st.lists(STAMPS, max_size=30))
def test_epochs_of_stored_text_are_those_of_datetime(times: list[dt.datetime]) -> None:
    text = ",".join(f"{t.year:04d}-{t:%m-%d %H:%M:%S.%f}" for t in times)  # as SQLAlchemy stores them
    expected = [t.replace(tzinfo=dt.UTC).timestamp() for t in times]
    assert stamps.epochs(text, len(times)).tolist() == expected
    assert stamps.epochs(text.encode(), len(times)).tolist() == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01 00:00:00",  # no microseconds: not the fixed width
        "2026-10-01T00:00:00.000000",  # a T: fixed width, other punctuation
        "2026-10-01 00:00:00+08:00",  # an offset
        "2024-02-29 23:59:59.999999,2026-10-01 00:00:00.5",
    ],
)
def test_epochs_of_other_text_go_one_by_one(text: str) -> None:
    items = text.split(",")
    assert stamps.epochs(text, len(items)).tolist() == [stamps.epoch(x) for x in items]


@pytest.mark.parametrize(
    "text", ["2026-02-30 00:00:00.000000", "2026-13-01 00:00:00.000000", "2026-10-01 24:00:00.000000"]
)
def test_epochs_refuse_impossible_times_as_datetime_does(text: str) -> None:
    with pytest.raises(ValueError):
        stamps.epochs(text, 1)
    with pytest.raises(ValueError):
        stamps.epoch(text)


@pytest.fixture(scope="module")
def flipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Window]:
    """The benchmark's small city (registered by an import before its first probe), then imports inside the
    window that put some cameras out of service and back and add some."""
    folder: Path = tmp_path_factory.mktemp("flipped")
    url, inventory, _ = build_db(folder, 300, 4)
    window = Window(END - 3 * DAY - 5000.0, END - 7000.0)
    engine = make_engine(url)
    cams = list(inventory.cameras)
    for step, at in enumerate((window.start + 0.3 * DAY, window.start + 1.7 * DAY, window.end + 100.0)):
        cams = [replace(c, in_service=not c.in_service) if i % (7 + step) == 0 else c for i, c in enumerate(cams)]
        cams.append(Camera(f"N{step}", "新", inventory.areas[step].id, "127.0.0.9"))
        where = Where("flip", step)
        p = Parsed([], [], [(c, where) for c in cams])
        p.kinds.add("cameras")
        import_inventory(engine, p, now=dt.datetime.fromtimestamp(at, dt.UTC))
    return engine, window


def test_bare_column_reads_equal_the_portable_joins(
    flipped: tuple[Engine, Window], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, window = flipped
    fast = read_history(engine, window, use_summary=False)
    monkeypatch.setattr(source, "bare_columns", lambda conn: False)
    portable = read_history(engine, window, use_summary=False)
    assert sorted(fast.rows()) == sorted(portable.rows())
    assert fast.last == portable.last and fast.ever_online_before == portable.ever_online_before
    assert {m for _, m, _, _ in fast.rows()} == {"rtsp", "frame", "service"}


def _service_as_before(cams: Sequence[Camera], history: History, r: Any, valid: Any, window: Window) -> Any:
    """Every camera with any service transition through the per-camera form; the others by their flag."""
    singled = np.zeros(len(cams), dtype=bool)
    singled[r.cam[valid & r.service]] = True
    return np.array([c.in_service for c in cams], dtype=bool), singled


def test_service_before_the_window_alone_as_the_per_camera_form(
    flipped: tuple[Engine, Window], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, window = flipped
    inventory, history = read_all(engine, window)
    areas = inventory.area_by_id()
    cams = [c for c in inventory.cameras if c.area in areas]
    scope_of = [areas[c.area].scope.value for c in cams]
    edges = day_edges(window)
    fast = timeline(cams, scope_of, history, window, edges, {}, SCOPES)
    monkeypatch.setattr(timeline_module, "_service", _service_as_before)
    slow = timeline(cams, scope_of, history, window, edges, {}, SCOPES)
    assert fast.per_camera.keys() == slow.per_camera.keys()
    for cid, t in slow.per_camera.items():
        assert fast.per_camera[cid].seconds_up == pytest.approx(t.seconds_up, rel=1e-12, abs=1e-6)
        assert fast.per_camera[cid].seconds_known == pytest.approx(t.seconds_known, rel=1e-12, abs=1e-6)
        assert fast.per_camera[cid].seconds_window == pytest.approx(t.seconds_window, rel=1e-12, abs=1e-6)
    for s in SCOPES:
        assert fast.days_up[s] == pytest.approx(slow.days_up[s], rel=1e-12)
        assert fast.days_known[s] == pytest.approx(slow.days_known[s], rel=1e-12)
    assert fast.online_in_window == slow.online_in_window
    in_window = {cid for cid, m, _, at in history.rows() if m == "service" and at >= window.start}
    assert 0 < len(in_window) < len(cams)  # both kinds of camera are there
