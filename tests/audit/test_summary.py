"""The per-day summary (``transition_days``): it holds exactly the transitions, is written in their
transaction, and the audit read from it gives the same history and byte for byte the same report as the
transitions alone, on SQLite and PostgreSQL; a summary that does not match is detected and not used."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from sharpeyes import rates, results
from sharpeyes.audit import history as audit_history
from sharpeyes.audit import packed, source
from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.history import History
from sharpeyes.audit.model import Window
from sharpeyes.audit.render.json_out import render_json
from sharpeyes.audit.source import read_history
from sharpeyes.registry import daysummary
from sharpeyes.registry.db import downgrade, make_engine, upgrade
from sharpeyes.registry.history import Transition, record_transitions
from sharpeyes.registry.models import transition_days, transitions
from sharpeyes.registry.store import load_inventory
from tests.audit.fixture import GENERATED, WINDOW, fill
from tests.pg_required import private_schema

DAY = 86400.0
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
GOLDEN = Path(__file__).with_name("golden") / "fixture.json"
MODULES = ("rtsp", "onvif", "snapshot", "frame", "rtsp_main", "service", "custom")
STATES = ("up", "down", "fault", "unknown", "in_service", "out_of_service", "stale")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        e = make_engine(f"sqlite:///{tmp_path / 'summary.db'}")
        yield e
        e.dispose()
    else:
        with private_schema("auditsum") as e:
            yield e


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def random_transitions(
    rnd: random.Random, cameras: int = 25, days: int = 12, modules: tuple[str, ...] = MODULES
) -> list[Transition]:
    """Per camera and module, transitions at random microsecond times over ``days`` days (some on midnight
    exactly, some a microsecond either side), in random states, shuffled."""
    out: list[Transition] = []
    midnights = [T0 + k * DAY for k in range(days + 1)]
    for c in range(cameras):
        for module in rnd.sample(modules, rnd.randint(1, 4)):
            times: set[int] = set()
            for _ in range(rnd.choice((1, 2, 5, 30))):
                if rnd.random() < 0.15:
                    us = int(rnd.choice(midnights) * 1e6) + rnd.choice((-1, 0, 1))
                else:
                    us = int((T0 + rnd.random() * days * DAY) * 1e6)
                times.add(us)
            state = "unknown"
            for us in sorted(times):
                new = rnd.choice(STATES)
                at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
                out.append(Transition(f"C{c:03d}", module, state, new, rnd.choice(("ok", "timeout", "blur")), at))
                state = new
    rnd.shuffle(out)
    return out


def write_in_batches(engine: Engine, items: list[Transition], rnd: random.Random) -> None:
    """As the daemon does: batches in their own transactions, some re-sent (duplicates are skipped)."""
    i = 0
    while i < len(items):
        n = rnd.randint(1, 40)
        with engine.begin() as conn:
            record_transitions(conn, items[i : i + n])
        if rnd.random() < 0.3:
            with engine.begin() as conn:
                record_transitions(conn, items[max(0, i - 5) : i + n])
        i += n


def windows(rnd: random.Random, days: int = 12) -> list[Window]:
    ws = [
        Window(T0, T0 + days * DAY),  # whole days
        Window(T0 + 2 * DAY, T0 + 5 * DAY),  # midnight to midnight, history before and after
        Window(T0 - 3 * DAY, T0 + 0.5 * DAY),  # starts before any transition
        Window(T0 + days * DAY + 10, T0 + days * DAY + 20),  # after every transition
    ]
    for _ in range(8):
        a = T0 + rnd.uniform(-1, days + 1) * DAY
        ws.append(Window(a, a + rnd.choice((0.001, 3600.0, 0.7 * DAY, 3 * DAY, 9.5 * DAY))))
    return ws


def in_time_order(h: History) -> tuple[bytes, Any]:
    """States and times with each group's transitions in time order (PostgreSQL's raw read leaves them in
    any order within a group, as :class:`History` allows)."""
    group = np.repeat(np.arange(len(h.counts)), h.counts)
    order = np.lexsort((h.at, group))
    return bytes(np.frombuffer(h.states, dtype=np.uint8)[order]), h.at[order]


def groups(h: History) -> list[tuple[str, str, list[tuple[float, int]]]]:
    states, at = in_time_order(h)
    ends = np.cumsum(h.counts).tolist()
    starts = [0, *ends][: len(ends)]
    return [
        (c, m, list(zip(at[a:b].tolist(), states[a:b], strict=True)))
        for c, m, a, b in zip(h.group_camera, h.group_module, starts, ends, strict=True)
    ]


def assert_same_history(a: History, b: History, *, strict_order: bool | None = True) -> None:
    """The same history: the same groups of transitions (the same floats, not approximately), the same
    latest transitions, the same cameras online before. ``strict_order``: groups, and each camera's latest
    transitions, in the same order too (SQLite's raw read gives them in key order; PostgreSQL's in any);
    ``None``: in the same order per camera (all the audit's figures depend on)."""
    if strict_order:
        assert a.group_camera == b.group_camera
        assert a.group_module == b.group_module
        assert np.array_equal(a.counts, b.counts)
        assert groups(a) == groups(b)
        assert list(a.last) == list(b.last)
        for camera_id, lasts in a.last.items():
            assert lasts == b.last[camera_id]  # same records in the same order
    elif strict_order is None:  # each camera's groups and latest transitions in the same order
        per_camera_a: dict[str, list[Any]] = {}
        per_camera_b: dict[str, list[Any]] = {}
        for g in groups(a):
            per_camera_a.setdefault(g[0], []).append(g)
        for g in groups(b):
            per_camera_b.setdefault(g[0], []).append(g)
        assert per_camera_a == per_camera_b
        assert a.last == b.last
    else:
        assert sorted(groups(a)) == sorted(groups(b))
        assert a.last.keys() == b.last.keys()
        for camera_id, lasts in a.last.items():
            assert sorted(lasts, key=lambda x: x.module) == sorted(b.last[camera_id], key=lambda x: x.module)
    assert a.ever_online_before == b.ever_online_before


def same_read(engine: Engine, w: Window, *, per_camera: bool = False) -> None:
    strict = None if per_camera and engine.dialect.name == "sqlite" else engine.dialect.name == "sqlite"
    assert_same_history(read_history(engine, w), read_history(engine, w, use_summary=False), strict_order=strict)


def summary_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        d = transition_days.c
        rows = conn.execute(sa.select(transition_days).order_by(d.camera_id, d.module, d.day)).all()
    return [tuple(bytes(x) if isinstance(x, memoryview) else x for x in r) for r in rows]


def canonical(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Summary rows with each day's transitions in time order (appends may come out of order)."""
    out = []
    for camera_id, module, day, n, states, times, online, *last in rows:
        ts = np.frombuffer(times, dtype="<i8")
        order = np.argsort(ts, kind="stable")
        codes = bytes(np.frombuffer(states, dtype=np.uint8)[order])
        out.append((camera_id, module, day, n, codes, ts[order].tobytes(), online, *last))
    return out


def test_summary_equals_the_transitions_and_the_read_equals_the_raw_read(engine: Engine) -> None:
    rnd = random.Random(8)
    upgrade(engine)
    items = random_transitions(rnd)
    write_in_batches(engine, items, rnd)
    written = summary_rows(engine)
    with engine.begin() as conn:
        assert daysummary.consistent(conn)
        n = daysummary.rebuild(conn)
    assert n == len({(t.camera_id, t.module, t.at) for t in items})
    assert canonical(summary_rows(engine)) == canonical(written)  # what the daemon wrote = built at once
    # Every day row holds exactly its day's transitions.
    by_day: dict[tuple[str, str, int], list[Transition]] = {}
    for t in {(t.camera_id, t.module, t.at): t for t in items}.values():
        by_day.setdefault((t.camera_id, t.module, daysummary.day_of(daysummary.micros(t.at))), []).append(t)
    assert len(written) == len(by_day)
    for camera_id, module, day, n_day, states, times, online, frm, to, reason, last_at in canonical(written):
        ts = sorted(by_day[(camera_id, module, day)], key=lambda t: t.at)
        assert n_day == len(ts)
        assert np.frombuffer(times, dtype="<i8").tolist() == [daysummary.micros(t.at) for t in ts]
        assert states.decode() == "".join(daysummary.STATE_CODES.get(t.to_state, "x") for t in ts)
        assert online == sum(t.to_state in rates.ONLINE_STATES for t in ts)
        assert (frm, to, reason, last_at) == (ts[-1].from_state, ts[-1].to_state, ts[-1].reason, last_at)
        assert last_at == daysummary.micros(ts[-1].at)
    assert source._summary_gaps(engine) == set()  # the summary is read, for every camera
    for w in windows(rnd):
        same_read(engine, w)


def test_the_report_is_byte_identical_with_and_without_the_summary(engine: Engine) -> None:
    fill(engine)
    inventory = load_inventory(engine)
    out = {}
    for use in (True, False):
        history = read_history(engine, WINDOW, use_summary=use)
        report = build_report(inventory, history, WINDOW, AuditOptions(), generated_at=GENERATED)
        out[use] = render_json(report, "en").encode("utf-8")
    assert out[True] == out[False]
    doc = json.loads(out[True])
    doc["generated_at"] = "(generated)"
    assert doc == json.loads(GOLDEN.read_text(encoding="utf-8"))
    # Random data too, over windows that cut days anywhere.
    rnd = random.Random(88)
    cams = sorted({c.id for c in inventory.cameras})
    # Two liveness modules of one prober (rtsp, rtsp_main): which one a camera's state "now" follows is
    # the first the read returns, and PostgreSQL's transitions-only read returns them in no fixed order.
    modules = MODULES if engine.dialect.name == "sqlite" else tuple(m for m in MODULES if m != "rtsp_main")
    items = [
        Transition(rnd.choice(cams), t.module, t.from_state, t.to_state, t.reason, t.at)
        for t in random_transitions(rnd, cameras=30, modules=modules)
    ]
    write_in_batches(engine, items, rnd)
    for w in windows(rnd)[:6]:
        docs = [
            render_json(
                build_report(inventory, read_history(engine, w, use_summary=use), w, AuditOptions(), generated_at=0),
                "en",
            )
            for use in (True, False)
        ]
        assert docs[0] == docs[1]


def test_summary_and_transitions_commit_or_roll_back_together(engine: Engine) -> None:
    upgrade(engine)
    at = _utc(T0 + 100)
    batch = [Transition("C1", "rtsp", "unknown", "up", "ok", at)]

    class CrashError(Exception):
        pass

    with pytest.raises(CrashError), engine.begin() as conn:
        record_transitions(conn, batch)
        raise CrashError  # the process dies before COMMIT
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(transitions)) == 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(transition_days)) == 0
    results.write_batch(engine, batch, {})
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(transitions)) == 1
        assert conn.scalar(sa.select(sa.func.sum(transition_days.c.n))) == 1
        assert daysummary.consistent(conn)


def test_a_failing_summary_write_rolls_back_the_transitions(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(engine)
    real_add = daysummary.add

    def add_then_fail(conn: Any, rows: Any) -> None:
        real_add(conn, rows)
        raise OSError("disk full")

    monkeypatch.setattr(daysummary, "add", add_then_fail)
    with pytest.raises(OSError):
        results.write_batch(engine, [Transition("C1", "rtsp", "unknown", "up", "ok", _utc(T0))], {})
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(transitions)) == 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(transition_days)) == 0


def test_transitions_written_around_the_summary_are_detected_and_read_raw(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rnd = random.Random(5)
    upgrade(engine)
    write_in_batches(engine, random_transitions(rnd, cameras=12, days=6), rnd)
    with engine.begin() as conn:  # by hand, as another tool would: not in the summary
        conn.execute(
            sa.insert(transitions),
            [
                {"camera_id": "C003", "module": "rtsp", "from_state": "up", "to_state": "down", "reason": "x",
                 "at": _utc(T0 + 2.5 * DAY + 0.25)},
                {"camera_id": "NEW", "module": "rtsp", "from_state": "unknown", "to_state": "up", "reason": "ok",
                 "at": _utc(T0 + 1.5 * DAY)},
            ],
        )  # fmt: skip
        # and a summary row whose transitions were deleted
        conn.execute(sa.delete(transitions).where(transitions.c.camera_id == "C007"))
    with engine.connect() as conn:
        assert not daysummary.consistent(conn)
        assert daysummary.mismatched_cameras(conn) == {"C003", "NEW", "C007"}
    used: list[set[str] | None] = []
    real = packed.read_packed

    def spy(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        used.append(None if found is None else set(found[1]))
        return found

    monkeypatch.setattr(packed, "read_packed", spy)
    for w in windows(rnd, days=6):
        same_read(engine, w, per_camera=True)  # the cameras read from their transitions come last
    assert used and all(u == {"C003", "NEW", "C007"} for u in used)
    # Too many cameras not held: the whole history from the transitions.
    monkeypatch.setattr(source, "_MANY_GAPS", 2)
    used.clear()
    w = Window(T0, T0 + 6 * DAY)
    same_read(engine, w)
    assert used == [None]
    with engine.begin() as conn:
        daysummary.rebuild(conn)
        assert daysummary.consistent(conn)


def test_migration_0004_fills_the_summary_from_recorded_transitions(engine: Engine) -> None:
    rnd = random.Random(4)
    upgrade(engine)
    items = random_transitions(rnd, cameras=10, days=4)
    write_in_batches(engine, items, rnd)
    expected = canonical(summary_rows(engine))
    downgrade(engine, "0003")
    assert not sa.inspect(engine).has_table("transition_days")
    upgrade(engine)
    assert canonical(summary_rows(engine)) == expected
    with engine.connect() as conn:
        assert daysummary.consistent(conn)


def test_the_audit_reads_the_transitions_where_there_is_no_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine)
    rnd = random.Random(3)
    write_in_batches(engine, random_transitions(rnd, cameras=5, days=3), rnd)
    w = Window(T0 + 0.5 * DAY, T0 + 2.5 * DAY)
    raw = read_history(engine, w, use_summary=False)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE transition_days"))
    assert_same_history(read_history(engine, w), raw)
    engine.dispose()


def test_the_summary_codes_are_the_audits() -> None:
    assert dict(daysummary.STATE_CODES) == dict(audit_history.STATE_CODES)
    assert daysummary.ONLINE_STATES == rates.ONLINE_STATES


def test_a_day_beyond_the_packing_cap_is_read_from_the_transitions(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daysummary, "PACKED_CAP", 4)  # a camera flapping all day, in small
    rnd = random.Random(11)
    upgrade(engine)
    items = random_transitions(rnd, cameras=15, days=5)
    write_in_batches(engine, items, rnd)
    with engine.connect() as conn:
        assert daysummary.consistent(conn)  # the counts still agree
        d = transition_days.c
        short = conn.execute(sa.select(d.camera_id).where(sa.func.length(d.states) < d.n)).scalars().all()
    assert short  # some rows stopped packing
    used: list[set[str] | None] = []
    real = packed.read_packed

    def spy(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        used.append(None if found is None else set(found[1]))
        return found

    monkeypatch.setattr(packed, "read_packed", spy)
    w = Window(T0 + 0.5 * DAY, T0 + 4.5 * DAY)
    same_read(engine, w, per_camera=True)
    assert used and used[0] and used[0] <= set(short)
    # More short cameras than the limit: the transitions alone.
    monkeypatch.setattr(source, "_MANY_GAPS", 1)
    used.clear()
    same_read(engine, w)
    assert used == [None]
