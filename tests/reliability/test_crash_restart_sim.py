"""RELIABILITY.md D2 (issue 9 item 4), CI-sized: ``benchmarks/crash_restart.py`` with 3 kill -9 on SQLite, the
simulator (its ``--truth`` file and control API) as the ground truth; plus the benchmark's checks themselves,
each shown to catch what it is there for (a lost, duplicated, unexplained or too-early transition, a broken
chain, an orphan)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from benchmarks.crash_restart import (
    MODULE,
    Change,
    Plan,
    Round,
    Truth,
    check_truth,
    consistency,
    due_at,
    run_backend,
)
from sharpeyes.registry import db
from sharpeyes.registry.history import Transition, record_transitions
from tests.fleet_processes import ROOT

CAMERAS = 10
PLAN = Plan()  # interval 1 s, timeout 2 s, flush 1 s, slack 3 s: a change is due 7 s after it was made
T0 = 1_800_000_000.0


def tr(cam: str, src: str, dst: str, at: float, module: str = MODULE) -> Transition:
    return Transition(cam, module, src, dst, "ok" if dst == "up" else "timeout", dt.datetime.fromtimestamp(at, dt.UTC))


def truth_with_one_change() -> Truth:
    """c1 starts up (daemon ready at T0), goes down at T0 + 5 (made in 0.01 s)."""
    truth = Truth.initial({"c1": None}, T0)
    truth.record("c1", "offline", T0 + 5.0, T0 + 5.01)
    return truth


def test_due_time_moves_to_the_next_ready_when_the_daemon_died_first() -> None:
    rounds = [Round(T0, T0 + 20.0), Round(T0 + 30.0, T0 + 34.0), Round(T0 + 40.0, T0 + 60.0)]
    assert due_at(T0 + 5.0, rounds, PLAN.due_s) == T0 + 12.0  # the daemon lived 7 s after the change
    assert due_at(T0 + 15.0, rounds, PLAN.due_s) == T0 + 47.0  # killed at +20; the +30 round is too short
    assert due_at(T0 + 15.0, rounds[:2], PLAN.due_s) == math.inf  # not due yet


def test_everything_recorded_in_order_passes() -> None:
    rows = [tr("c1", "unknown", "up", T0 + 0.5), tr("c1", "up", "down", T0 + 5.5)]
    verdict = check_truth(truth_with_one_change(), rows, [Round(T0, T0 + 20.0)], PLAN)
    assert (verdict.missing, verdict.duplicated, verdict.unexplained, verdict.not_yet_due) == ([], [], [], 0)
    assert verdict.delays == [pytest.approx(0.49)]  # the change made at +5.01 recorded at +5.5; initial ones not


def test_a_due_change_not_recorded_is_missing_and_one_not_due_is_pending() -> None:
    rows = [tr("c1", "unknown", "up", T0 + 0.5)]
    truth = truth_with_one_change()
    verdict = check_truth(truth, rows, [Round(T0, T0 + 20.0)], PLAN)
    assert verdict.missing == [Change("c1", "down", T0 + 5.0, T0 + 5.01)]
    verdict = check_truth(truth, rows, [Round(T0, T0 + 8.0)], PLAN)  # killed 3 s after the change
    assert verdict.missing == [] and verdict.not_yet_due == 1


def test_a_duplicate_and_an_unexplained_transition_are_caught() -> None:
    truth = truth_with_one_change()
    rounds = [Round(T0, T0 + 20.0)]
    doubled = [
        tr("c1", "unknown", "up", T0 + 0.5),
        tr("c1", "up", "down", T0 + 5.5),
        tr("c1", "down", "down", T0 + 6.5),
    ]
    verdict = check_truth(truth, doubled, rounds, PLAN)
    assert verdict.duplicated == [doubled[2]]
    assert [why for _, why in verdict.unexplained] == ["more transitions than truth changes"]
    flapped = [tr("c1", "unknown", "up", T0 + 0.5), tr("c1", "up", "down", T0 + 2.0), tr("c1", "down", "up", T0 + 3.0)]
    early = check_truth(truth, flapped, rounds, PLAN)  # a down 3 s before the camera went down, then an extra up
    assert [r for r, _ in early.unexplained] == flapped[1:]
    ghost = check_truth(truth, [*flapped[:1], tr("c9", "unknown", "up", T0 + 1.0)], rounds, PLAN)
    assert [why for _, why in ghost.unexplained] == ["camera not in the truth"]


def test_consistency_queries_catch_broken_chains_and_orphans(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        record_transitions(conn, [
            tr("ghost", "unknown", "up", T0),  # a camera that is not registered
            tr("ghost", "down", "up", T0 + 1),  # from_state is not the previous to_state
            tr("ghost", "up", "up", T0 + 2),  # to the state it came from
            tr("ghost", "unknown", "up", T0, module="other"),  # a module that is not configured
        ])  # fmt: skip
    engine.dispose()
    found = {p.split(":")[0] for p in consistency(url)}
    assert found == {
        "orphan transitions (camera not registered)",
        "orphan transitions (module neither configured nor service)",
        "broken chain (from_state is not the previous to_state)",
        "transition to the same state",
    }


def test_d2_three_kill_9_with_the_simulator_as_ground_truth(tmp_path: Path) -> None:
    """The real ``sharpeyes sim`` and ``sharpeyes run``: 3 kill -9 at random moments 2–5 s after ready, then a
    SIGTERM round; integrity, nothing committed lost, recorded ``live`` transitions = the simulator's truth."""
    plan = Plan(round_min_s=2.0, round_max_s=5.0)
    lines: list[str] = []
    clips = ROOT / ".cache" / "crash-restart-clips"  # the benchmark's clip cache: encoded once per checkout
    figures = run_backend("sqlite", 3, CAMERAS, plan, 5, clips, tmp_path, lines.append)
    assert figures.problems == [], "\n".join(lines + figures.problems)
    assert figures.kills == 3
    assert figures.fault_changes > 0 and figures.state_changes > CAMERAS, lines
    assert figures.live_transitions == figures.state_changes, lines  # every truth change recorded once, no more
    assert figures.transitions == figures.live_transitions + CAMERAS  # and one service transition (added) per camera
