"""Frame faults in history: a transition records the primary fault code, a change of code while faulty is
recorded, and the audit then reports the faults by code (daemon's results → real SQLite → audit)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.model import Window
from sharpeyes.audit.source import read_history
from sharpeyes.probers.base import FaultCode, Phase, ProbeResult, Reason
from sharpeyes.registry import db
from sharpeyes.registry.store import import_inventory, load_inventory
from sharpeyes.results import ResultStore, StoreWriter, fetch_transitions, transition_reason
from tests.audit.fixture import parsed
from tests.daemon_helpers import tcp_city

PROBERS = {"live": "rtsp", "frame_health": "frame"}
FRAME = "frame_health"


def frame_result(cam: str, at: float, *faults: FaultCode, reason: Reason | None = None) -> ProbeResult:
    reason = reason or (Reason.FRAME_FAULT if faults else Reason.OK)
    ok = reason is Reason.OK
    phase = Phase.DONE if ok else Phase.ANALYSE
    return ProbeResult(cam, FRAME, ok, reason, phase, 0.1, started_wall=at, started_mono=0.0, faults=faults)


def test_the_primary_code_is_the_first_in_fault_code_order() -> None:
    assert transition_reason(frame_result("c", 0, FaultCode.BLUR)) == "blur"
    assert transition_reason(frame_result("c", 0, FaultCode.FROZEN, FaultCode.BLACK)) == "black"
    assert transition_reason(frame_result("c", 0, reason=Reason.FRAME_FAULT)) == "frame_fault"  # no code given
    assert transition_reason(frame_result("c", 0, reason=Reason.NO_MEDIA)) == "no_media"
    assert transition_reason(frame_result("c", 0)) == "ok"


def test_a_change_of_code_while_faulty_is_a_transition_the_same_code_is_not() -> None:
    s = ResultStore(PROBERS)
    got = [
        s.record(r)
        for r in (
            frame_result("c", 10),
            frame_result("c", 20, FaultCode.BLUR),
            frame_result("c", 30, FaultCode.BLUR, FaultCode.NOISE),  # same primary code
            frame_result("c", 40, FaultCode.BLACK),
            frame_result("c", 50, reason=Reason.INTERNAL),  # says nothing about the camera
            frame_result("c", 60),
        )
    ]
    assert [(t.from_state, t.to_state, t.reason) for t in got if t] == [
        ("unknown", "up", "ok"),
        ("up", "fault", "blur"),
        ("fault", "fault", "black"),
        ("fault", "up", "ok"),
    ]
    assert s.latest[("c", FRAME)].since == 60.1  # end of the probe that went up


async def test_restart_keeps_the_code_so_the_same_fault_is_not_recorded_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    now = dt.datetime.now(dt.UTC).timestamp()
    try:
        s = ResultStore(PROBERS)
        s.record(frame_result("c", now - 30, FaultCode.STRIPES))
        assert await StoreWriter(s, engine).flush_once()
        s2 = ResultStore(PROBERS)
        w2 = StoreWriter(s2, engine)
        await w2.restore()
        assert s2.record(frame_result("c", now - 20, FaultCode.STRIPES)) is None
        t = s2.record(frame_result("c", now - 10, FaultCode.OCCLUDED))
        assert t is not None and (t.from_state, t.reason) == ("fault", "occluded")
        assert await w2.flush_once()
        assert [(x.to_state, x.reason) for x in fetch_transitions(engine)] == [
            ("fault", "stripes"),
            ("fault", "occluded"),
        ]
    finally:
        engine.dispose()


async def test_the_audit_reports_daemon_recorded_faults_by_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
    try:
        import_inventory(engine, parsed(tcp_city([1, 2, 3, 4])))
        s = ResultStore(PROBERS)
        for cam, faults in (("c0", (FaultCode.BLUR,)), ("c1", (FaultCode.NOISE, FaultCode.FROZEN)),
                            ("c2", (FaultCode.BLUR,)), ("c3", ())):  # fmt: skip
            s.record(frame_result(cam, start + 60))
            s.record(frame_result(cam, start + 120, *faults))
        s.record(frame_result("c2", start + 180, FaultCode.SCENE_CHANGED))  # the camera was turned
        assert await StoreWriter(s, engine).flush_once()
        window = Window(start, start + 3600)
        report = build_report(
            load_inventory(engine),
            read_history(engine, window),
            window,
            AuditOptions(module_probers=PROBERS),
            generated_at=start + 3600,
        )
    finally:
        engine.dispose()
    assert sorted((f.code, f.cameras) for f in report.faults) == [
        ("blur", ("c0",)),
        ("noise", ("c1",)),
        ("scene_changed", ("c2",)),
    ]
    assert sorted((c.camera_id, c.fault) for c in report.fault_cameras) == [
        ("c0", "blur"),
        ("c1", "noise"),
        ("c2", "scene_changed"),
    ]
