"""Results: state derivation, transitions, roll-ups, the bounded buffer, and the writer on a real SQLite file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sharpeyes.probers.base import FaultCode, Phase, ProbeResult, Reason
from sharpeyes.rates import time_online
from sharpeyes.registry import db
from sharpeyes.results import (
    ResultStore,
    State,
    StoreWriter,
    derive_state,
    fetch_transitions,
    state_points,
    write_batch,
)

MIDNIGHT = dt.datetime(2026, 11, 29, tzinfo=dt.UTC).timestamp()
PROBERS = {"live": "rtsp", "inv": "onvif", "pic": "frame"}


def res(
    cam: str,
    at: float,
    reason: Reason = Reason.OK,
    module: str = "live",
    *,
    phase: Phase = Phase.DESCRIBE,
    faults: tuple[FaultCode, ...] = (),
) -> ProbeResult:
    ok = reason is Reason.OK
    return ProbeResult(
        cam, module, ok, reason, Phase.DONE if ok else phase, 0.0, started_wall=at, started_mono=0.0, faults=faults
    )


def test_derive_state() -> None:
    assert derive_state(res("c", 0)) is State.UP
    assert derive_state(res("c", 0, Reason.TIMEOUT)) is State.DOWN
    assert derive_state(res("c", 0, Reason.FRAME_FAULT)) is State.FAULT
    assert derive_state(res("c", 0, Reason.CLOCK_SKEW)) is State.FAULT
    assert derive_state(res("c", 0, Reason.INTERNAL)) is None
    assert derive_state(res("c", 0, Reason.LOCKED_OUT_BACKOFF)) is None


def test_transitions_only_on_change_and_internal_keeps_state() -> None:
    s = ResultStore(PROBERS)
    got = [
        s.record(r) for r in (res("c", 10), res("c", 20), res("c", 30, Reason.INTERNAL), res("c", 40, Reason.REFUSED))
    ]
    assert [(t.from_state, t.to_state, t.reason) for t in got if t] == [
        ("unknown", "up", "ok"),
        ("up", "down", "refused"),
    ]
    assert got[3] is not None and got[3].at == dt.datetime.fromtimestamp(40, dt.UTC)
    assert [tr for _, tr in s.pending] == [t for t in got if t]
    assert s.counters.results[("live", "internal")] == 1


def test_rollups_credit_the_previous_state_and_split_at_midnight() -> None:
    s = ResultStore(PROBERS, default_max_gap_s=600)
    s.record(res("c", MIDNIGHT - 30))  # unknown → up: no seconds yet
    s.record(res("c", MIDNIGHT + 30, Reason.TIMEOUT))  # 60 s up, split 30/30 across midnight
    s.record(res("c", MIDNIGHT + 90))  # 60 s down
    s.record(res("c", MIDNIGHT + 5000))  # a gap beyond 600 s: not observed
    before = s.rollups[("c", "live", dt.date(2026, 11, 28))]
    after = s.rollups[("c", "live", dt.date(2026, 11, 29))]
    assert (before.seconds_up, before.seconds_known, before.probes, before.failures) == (30, 30, 1, 0)
    assert (after.seconds_up, after.seconds_known, after.probes, after.failures) == (30, 90, 3, 1)


def test_buffer_is_bounded_and_counts_drops() -> None:
    s = ResultStore(PROBERS, buffer_limit=3)
    for i in range(10):
        s.record(res("c", i, Reason.OK if i % 2 == 0 else Reason.TIMEOUT))
    assert len(s.pending) == 3 and s.counters.dropped == 7
    assert [tr.at.timestamp() for _, tr in s.pending] == [7, 8, 9]  # the newest are kept


def test_camera_status_prefers_rtsp_and_reads_frame_faults() -> None:
    s = ResultStore(PROBERS)
    s.record(res("c", 100, Reason.TIMEOUT, "inv"))
    s.record(res("c", 90, Reason.OK, "live"))
    st = s.camera_status("c")
    assert st.up is True and st.stream_reached_at == 90 and st.frame_faults is None
    s.record(res("c", 110, Reason.FRAME_FAULT, "pic", phase=Phase.ANALYSE, faults=(FaultCode.BLUR,)))
    assert s.camera_status("c").frame_faults == (FaultCode.BLUR,)
    assert s.camera_status("c").stream_reached_at == 110
    s.record(res("c", 120, Reason.TIMEOUT, "pic", phase=Phase.CONNECT))  # not checked this time: keeps verdict
    assert s.camera_status("c").frame_faults == (FaultCode.BLUR,)
    s.record(res("c", 130, Reason.NO_MEDIA, "pic", phase=Phase.FIRST_BYTE))
    assert s.camera_status("c").frame_faults == (FaultCode.SIGNAL_LOSS,)
    s.record(res("c", 140, Reason.PROTOCOL, "live", phase=Phase.SETUP))  # DESCRIBE was answered
    assert s.camera_status("c").up is False and s.camera_status("c").stream_reached_at == 140
    assert s.camera_status("other").up is None


def test_forget_cameras_drops_removed_ones() -> None:
    s = ResultStore(PROBERS)
    s.record(res("a", 1))
    s.record(res("b", 1))
    s.forget_cameras({"a"})
    assert set(s.by_camera) == {"a"} and ("b", "live") not in s.latest


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


async def test_writer_flushes_is_idempotent_and_restart_does_not_double_count(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        s = ResultStore(PROBERS)
        for r in (res("c", 10), res("c", 20, Reason.REFUSED), res("d", 15)):
            s.record(r)
        w = StoreWriter(s, engine)
        assert await w.flush_once()
        assert not s.pending and not s.dirty
        written = fetch_transitions(engine)
        assert [(t.camera_id, t.to_state) for t in written] == [("c", "up"), ("d", "up"), ("c", "down")]
        write_batch(engine, written, {})  # a retried batch inserts nothing twice
        assert len(fetch_transitions(engine)) == 3

        # restart: a fresh store reloads the last state; the same state again is no new transition
        s2 = ResultStore(PROBERS)
        w2 = StoreWriter(s2, engine)
        await w2.restore()
        assert s2.latest[("c", "live")].state == "down"
        assert s2.record(res("c", 30, Reason.TIMEOUT)) is None
        t = s2.record(res("d", 30, Reason.TIMEOUT))
        assert t is not None and t.from_state == "up"
        assert await w2.flush_once()
        assert [x.to_state for x in fetch_transitions(engine, "d")] == ["up", "down"]
    finally:
        engine.dispose()


async def test_rollups_are_upserted_and_reloaded(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    db.upgrade(url)
    engine = db.make_engine(url)
    now = dt.datetime.now(dt.UTC).timestamp()
    try:
        s = ResultStore(PROBERS)
        s.record(res("c", now - 20))
        s.record(res("c", now - 10))
        w = StoreWriter(s, engine)
        assert await w.flush_once()
        s.record(res("c", now))
        assert await w.flush_once()
        s2 = ResultStore(PROBERS)
        await StoreWriter(s2, engine).restore()
        (roll,) = s2.rollups.values()
        assert (roll.probes, roll.seconds_up) == (3, 20)
    finally:
        engine.dispose()


async def test_database_down_keeps_records_counts_errors_and_recovers(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    url = f"sqlite:///{missing / 'db.sqlite'}"
    engine = db.make_engine(url)
    try:
        s = ResultStore(PROBERS, buffer_limit=2)
        w = StoreWriter(s, engine)
        for i in range(4):
            s.record(res("c", i, Reason.OK if i % 2 == 0 else Reason.TIMEOUT))
        assert not await w.flush_once()
        assert not await w.flush_once()
        assert s.counters.storage_errors == 2 and not w.healthy
        assert len(s.pending) == 2 and s.counters.dropped == 2
        missing.mkdir()  # storage comes back
        db.upgrade(url)
        assert await w.flush_once() and w.healthy
        assert [t.at.timestamp() for t in fetch_transitions(engine)] == [2, 3]
        assert s.counters.transitions_written == 2
    finally:
        engine.dispose()


async def test_state_points_feed_time_weighted_online_across_window_edges(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        s = ResultStore(PROBERS)
        for r in (
            res("c", MIDNIGHT - 500),  # up before the window opens
            res("c", MIDNIGHT + 100, Reason.TIMEOUT),
            res("c", MIDNIGHT + 400),
            res("c", MIDNIGHT + 2000, Reason.TIMEOUT),  # after the window
            res("d", MIDNIGHT + 700, Reason.TIMEOUT),
            res("c", MIDNIGHT - 100, Reason.OK, "pic"),  # another module: not counted
        ):
            s.record(r)
        assert await StoreWriter(s, engine).flush_once()
        start, end = (dt.datetime.fromtimestamp(MIDNIGHT + x, dt.UTC) for x in (0, 1000))
        pts = state_points(engine, "live", start, end)
        assert [(p.at - MIDNIGHT, p.state) for p in pts["c"]] == [(-500, "up"), (100, "down"), (400, "up")]
        c = time_online(pts["c"], MIDNIGHT, MIDNIGHT + 1000)
        assert (c.seconds_up, c.seconds_known) == (100 + 600, 1000)
        d = time_online(pts["d"], MIDNIGHT, MIDNIGHT + 1000)
        assert (d.seconds_up, d.seconds_known) == (0, 300)
    finally:
        engine.dispose()
