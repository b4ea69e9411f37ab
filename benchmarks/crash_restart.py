"""Crash-restart (RELIABILITY.md D2, issue 9 item 4): kill -9 the daemon at random moments while it writes,
on SQLite then PostgreSQL, with the simulator as the ground truth.

The simulator (``sharpeyes sim --registry … --truth …``) serves a small fleet on this benchmark's own loopback
range 127.44.x.y; the daemon (``sharpeyes run --config …``, the shipped ``rtsp_describe`` module as ``live``
every second, the writer flushing every second) runs as a real process (``tests/fleet_processes.py``). The
simulator's fault assignment at start (its ``--truth`` file) and every fault change made through its control
API (the fault the API answers as active) are the ground truth: a camera is expected ``down`` under a fault
that takes liveness down (``offline``, ``blackhole``, ``not_found``, ``malformed:status``) and ``up`` otherwise
(healthy, or a picture fault such as ``black`` or ``frozen`` that liveness does not see).

Each round starts the daemon, waits for ``/-/ready``, changes the faults of random cameras between healthy and
a fault of either kind (each camera holds a state at least ``interval + timeout + 1 s``, so the daemon can see
every change; a picture change restarts the camera's streams, never a DESCRIBE in flight), and SIGKILLs the
daemon at a random moment 2–12 s after it was ready. The changes go to ``truth.jsonl``. After each kill:

- **integrity**: SQLite ``PRAGMA integrity_check``; on both backends the consistency queries of
  :func:`consistency`: no duplicate (camera, module, at), no transition of an unknown camera or module (orphan),
  each camera's chain consistent (every ``from_state`` is the previous ``to_state``, ``unknown`` first), no
  transition to the state it came from;
- **nothing committed is lost**: the transitions read after the previous kill are a prefix of those read now;
- **the recorded ``live`` transitions equal the truth up to the last commit**, per camera: the recorded
  sequence of states is a prefix of the truth's sequence of expected state changes, each recorded no earlier
  than its change (less the probe timeout) — none duplicated, none the truth does not explain; and every change
  due before the kill is there — none lost. A change is due ``interval + timeout + flush + slack`` after the
  API answered; a change not yet due when the daemon was killed is due that long after the next ``/-/ready``.
  A change due but not recorded at a check is **late** when a later check finds it (the daemon was slow, e.g.
  on a loaded machine) and **lost** when it never appears.

A last round ends with every camera stable for longer than the due time and a SIGTERM: every change recorded,
and each camera's last state equals what the simulator's control API reports. There is no baseline to compare
with: the figures are counts of checks that passed.

    nice -n 19 .venv/bin/python -m benchmarks.crash_restart --kills 20
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import random
import signal
import sqlite3
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text

from sharpeyes.rates import SERVICE_MODULE
from sharpeyes.registry import db
from sharpeyes.registry.history import Transition
from sharpeyes.results import fetch_transitions
from tests.fleet_processes import (
    ROOT,
    DaemonProcess,
    SimProcess,
    camera_id,
    daemon_config,
    fleet_inventory,
    probe_module_file,
    write_registry,
)
from tests.prometheus_server import free_port

OCTET = 44  # 127.44.x.y: this benchmark's own loopback range
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MODULE = "live"
LIVE_DOWN = ("offline", "blackhole", "not_found", "malformed:status")  # liveness sees these as down
LIVE_UP = ("black", "frozen")  # picture faults: DESCRIBE still answers, liveness must stay up
FLUSH_S = 1.0  # the daemon's writer flush interval (DaemonOptions.flush_interval_s)


def expected_live(fault: str | None) -> str:
    return "down" if fault in LIVE_DOWN else "up"


@dataclass(frozen=True, slots=True)
class Plan:
    interval_s: float = 1.0
    timeout_s: float = 2.0
    read_timeout_s: float = 1.5
    slack_s: float = 3.0
    round_min_s: float = 2.0
    round_max_s: float = 12.0

    @property
    def due_s(self) -> float:
        """How long after a change it must be committed: one interval, one probe deadline, one flush, slack."""
        return self.interval_s + self.timeout_s + FLUSH_S + self.slack_s

    @property
    def hold_s(self) -> float:
        """The shortest time a camera keeps a state: long enough for one probe to see it."""
        return self.interval_s + self.timeout_s + 1.0


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a camera's expected state: asked at ``sent``, answered by the API at ``done`` (wall)."""

    camera: str
    state: str
    sent: float
    done: float


@dataclass(frozen=True, slots=True)
class Round:
    ready: float  # wall time the daemon answered /-/ready
    end: float  # wall time of the SIGKILL (or SIGTERM)


@dataclass
class Truth:
    """The simulator's faults as the benchmark set them, and the expected-state changes per camera."""

    faults: dict[str, str | None]
    changes: dict[str, list[Change]] = field(default_factory=dict)
    fault_changes: int = 0

    @classmethod
    def initial(cls, assignment: dict[str, str | None], first_ready: float) -> Truth:
        truth = cls(dict(assignment))
        for cam, fault in assignment.items():
            truth.changes[cam] = [Change(cam, expected_live(fault), -math.inf, first_ready)]
        return truth

    def record(self, cam: str, fault: str | None, sent: float, done: float) -> None:
        self.faults[cam] = fault
        self.fault_changes += 1
        state = expected_live(fault)
        if self.changes[cam][-1].state != state:
            self.changes[cam].append(Change(cam, state, sent, done))


def due_at(done: float, rounds: Sequence[Round], due_s: float) -> float:
    """When a change answered at ``done`` must be committed: ``due_s`` later if the daemon lived that long,
    else ``due_s`` after the next ready (and so on); ``inf`` when no round so far was long enough."""
    t = done
    for r in rounds:
        if r.end < t:
            continue
        t = max(t, r.ready)
        if t + due_s <= r.end:
            return t + due_s
    return math.inf


@dataclass
class Verdict:
    """What one check found; every list empty is a pass."""

    missing: list[Change] = field(default_factory=list)  # due, not recorded (late or lost: the end decides)
    duplicated: list[Transition] = field(default_factory=list)
    unexplained: list[tuple[Transition, str]] = field(default_factory=list)
    not_yet_due: int = 0  # changes not recorded yet and not due (pending at the kill)
    delays: list[float] = field(default_factory=list)  # recorded at − made, for changes the daemon lived through


def check_truth(truth: Truth, rows: list[Transition], rounds: Sequence[Round], plan: Plan) -> Verdict:
    """The recorded ``live`` transitions against the truth, as of the end of the last round."""
    out = Verdict()
    by_cam: dict[str, list[Transition]] = {}
    for r in rows:
        if r.module == MODULE:
            by_cam.setdefault(r.camera_id, []).append(r)
    for cam, recorded in by_cam.items():
        if cam not in truth.changes:
            out.unexplained += [(r, "camera not in the truth") for r in recorded]
    end = rounds[-1].end
    for cam, changes in truth.changes.items():
        recorded = by_cam.get(cam, [])
        out.duplicated += [b for a, b in itertools.pairwise(recorded) if a.to_state == b.to_state]
        for i, r in enumerate(recorded):
            if i >= len(changes):
                out.unexplained.append((r, "more transitions than truth changes"))
            elif r.to_state != changes[i].state:
                out.unexplained.append((r, f"truth change {i} is to {changes[i].state}"))
            elif r.at.timestamp() < changes[i].sent - plan.timeout_s - 0.5:
                out.unexplained.append((r, f"recorded {changes[i].sent - r.at.timestamp():.1f} s before the change"))
            elif (
                changes[i].sent > -math.inf
                and due_at(changes[i].done, rounds, plan.due_s) == changes[i].done + plan.due_s
            ):
                out.delays.append(r.at.timestamp() - changes[i].done)
        for change in changes[len(recorded) :]:
            if due_at(change.done, rounds, plan.due_s) <= end:
                out.missing.append(change)
            else:
                out.not_yet_due += 1
    return out


def last_recorded(rows: Sequence[Transition], cam: str) -> str | None:
    return next((r.to_state for r in reversed(rows) if r.camera_id == cam and r.module == MODULE), None)


# --- integrity ---------------------------------------------------------------------------------------------

assert (MODULE, SERVICE_MODULE) == ("live", "service")  # the queries below spell them out
CONSISTENCY = {
    "duplicate (camera, module, at)": "SELECT count(*) FROM (SELECT camera_id, module, at FROM transitions "
    "GROUP BY camera_id, module, at HAVING count(*) > 1) d",
    "orphan transitions (camera not registered)": "SELECT count(*) FROM transitions t "
    "WHERE NOT EXISTS (SELECT 1 FROM cameras c WHERE c.id = t.camera_id)",
    "orphan transitions (module neither configured nor service)": "SELECT count(*) FROM transitions "
    "WHERE module NOT IN ('live', 'service')",
    # a probe module's chain starts at unknown; a service chain at the opposite of its first to_state
    "broken chain (from_state is not the previous to_state)": "SELECT count(*) FROM (SELECT module, from_state, "
    "LAG(to_state) OVER (PARTITION BY camera_id, module ORDER BY at, id) AS prev FROM transitions) s "
    "WHERE (prev IS NOT NULL AND from_state <> prev) OR (prev IS NULL AND module <> 'service' "
    "AND from_state <> 'unknown')",
    "transition to the same state": "SELECT count(*) FROM transitions WHERE from_state = to_state "
    "AND to_state <> 'fault'",
    # the registry never changes during the run: one service transition (added) per camera, never again
    "service transitions other than one 'added' per camera": "SELECT count(*) FROM cameras c WHERE (SELECT "
    "count(*) FROM transitions t WHERE t.camera_id = c.id AND t.module = 'service' "
    "AND t.reason = 'added') <> 1 OR EXISTS (SELECT 1 FROM transitions t WHERE t.camera_id = c.id "
    "AND t.module = 'service' AND t.reason <> 'added')",
    "orphan roll-ups": "SELECT count(*) FROM daily_rollups r "
    "WHERE NOT EXISTS (SELECT 1 FROM cameras c WHERE c.id = r.camera_id)",
}


def consistency(url: str) -> list[str]:
    """The consistency queries that fail, with their counts (both backends)."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            counts = {name: conn.execute(text(q)).scalar_one() for name, q in CONSISTENCY.items()}
    finally:
        engine.dispose()
    return [f"{name}: {n}" for name, n in counts.items() if n]


def sqlite_integrity(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        result = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    return [] if result == "ok" else [f"integrity_check: {result}"]


# --- one backend -------------------------------------------------------------------------------------------


@dataclass
class Figures:
    backend: str
    kills: int = 0
    kills_after_new_commits: int = 0
    kills_with_changes_pending: int = 0  # truth changes not yet recorded when the daemon was killed
    pending_at_kills: int = 0
    fault_changes: int = 0
    state_changes: int = 0
    transitions: int = 0  # every row, the service ones (one per camera) included
    live_transitions: int = 0
    ready_s: list[float] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def line(self) -> str:
        result = (
            "; ".join(self.problems[:5])
            if self.problems
            else "integrity ok, none lost, none duplicated, none unexplained, final = simulator"
        )
        return (
            f"{self.backend:10} kills={self.kills} kills_after_new_commits={self.kills_after_new_commits} "
            f"kills_with_changes_pending={self.kills_with_changes_pending} (pending={self.pending_at_kills}) "
            f"fault_changes={self.fault_changes} state_changes={self.state_changes} "
            f"live_transitions={self.live_transitions} transitions={self.transitions} "
            f"late={len(self.late)} probe_delay_median/max={statistics.median(self.delays or [0]):.1f}/"
            f"{max(self.delays or [0]):.1f}s median_restart_to_ready={statistics.median(self.ready_s):.2f}s "
            f"wall={self.wall_s:.0f}s load1={os.getloadavg()[0]:.1f}: "
            f"{'PASS' if not self.problems else 'FAIL'}: {result}"
        )


class Run:
    """One backend's rounds against one simulator."""

    def __init__(self, url: str, integrity: Callable[[], list[str]], workdir: Path, cameras: int, plan: Plan,
                 seed: int, cache_dir: Path, say: Callable[[str], None]) -> None:  # fmt: skip
        self.url, self.integrity, self.workdir, self.plan, self.say = url, integrity, workdir, plan, say
        self.rng = random.Random(seed)
        self.ids = [camera_id(i) for i in range(cameras)]
        self.cache_dir = cache_dir
        self.rounds: list[Round] = []
        self.reported_missing: dict[tuple[str, float], float] = {}  # (camera, done) → the kill that missed it

    def files(self) -> tuple[list[Path], Path, Path]:
        # a free RTSP port: two runs at once (the benchmark and its CI-sized test) do not collide
        registry = write_registry(fleet_inventory(len(self.ids), OCTET, free_port()), self.workdir / "registry")
        mix = LIVE_DOWN + LIVE_UP
        # every fault of the mix is in the initial assignment, so the simulator encodes each clip at start
        initial = {c: mix[i] for i, c in enumerate(self.rng.sample(self.ids, min(len(mix), len(self.ids))))}
        faults = self.workdir / "sim-faults.yml"
        lines = ["defaults: {auth: digest}", "cameras:", *(f'  "{c}": "{f}"' for c, f in sorted(initial.items()))]
        faults.write_text("\n".join(lines) + "\n", encoding="utf-8")
        probes = self.workdir / "probes"
        probe_module_file(ROOT / "probes/rtsp_describe.yml", probes, MODULE, {
            "interval_s": self.plan.interval_s, "timeout_s": self.plan.timeout_s,
            "read_timeout_s": self.plan.read_timeout_s,
        })  # fmt: skip
        self.port = free_port()
        config = daemon_config(self.workdir, self.url, self.port, registry, probes, concurrency=64)
        return registry, faults, config

    def execute(self, kills: int) -> Figures:
        figures = Figures("sqlite" if self.url.startswith("sqlite") else "postgresql")
        registry, faults, config = self.files()
        started = time.monotonic()
        truth_file = self.workdir / "sim-truth.json"
        sim = SimProcess.start(registry, faults, free_port(), size="180p", cache_dir=self.cache_dir,
                               log=self.workdir / "sim.log", truth=truth_file)  # fmt: skip
        try:
            assignment: dict[str, str | None] = json.loads(truth_file.read_text(encoding="utf-8"))
            self.say(f"  simulator ready in {time.monotonic() - started:.1f} s, {len(assignment)} cameras")
            engine = db.make_engine(self.url)
            try:
                self.rounds_of(sim, config, assignment, kills, engine, figures)
            finally:
                engine.dispose()
        finally:
            sim.stop()
        figures.wall_s = time.monotonic() - started
        return figures

    def start_daemon(self, config: Path, figures: Figures) -> DaemonProcess:
        t = time.monotonic()
        daemon = DaemonProcess.start(config, self.port, self.workdir / "daemon.log")
        figures.ready_s.append(time.monotonic() - t)
        return daemon

    def flip_until(self, sim: SimProcess, truth: Truth, due: dict[str, float], until: float, *, flip: bool) -> None:
        """Change the faults of cameras whose hold time is over, until ``until`` (wall)."""
        while (now := time.time()) < until:
            for cam in sorted(c for c, t in due.items() if t <= now) if flip else []:
                fault = None if truth.faults[cam] is not None else self.rng.choice(LIVE_DOWN + LIVE_UP)
                sent = time.time()
                active = sim.set_fault(cam, fault)
                done = time.time()
                assert active == fault, (cam, fault, active)
                truth.record(cam, active, sent, done)
                with (self.workdir / "truth.jsonl").open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"camera": cam, "fault": active, "sent": sent, "done": done}) + "\n")
                due[cam] = done + self.rng.uniform(self.plan.hold_s, 2.5 * self.plan.hold_s)
            time.sleep(min(0.05, max(0.0, until - time.time())))

    def rounds_of(self, sim: SimProcess, config: Path, assignment: dict[str, str | None], kills: int,
                  engine: Engine, figures: Figures) -> None:  # fmt: skip
        truth: Truth | None = None
        before: list[Transition] = []
        for k in range(kills + 1):
            last = k == kills
            daemon = self.start_daemon(config, figures)
            ready = time.time()
            if truth is None:
                truth = Truth.initial(assignment, ready)
            # a camera whose current state is not committed yet (or at the first start: every camera) keeps it
            # until the restarted daemon had time to probe it once; the others may change at any moment
            stale = {c for c in self.ids if last_recorded(before, c) != truth.changes[c][-1].state}
            due = {
                c: ready + self.plan.hold_s * self.rng.uniform(1.0, 1.5)
                if c in stale
                else ready + self.rng.uniform(0.0, self.plan.hold_s)
                for c in self.ids
            }
            length = self.rng.uniform(self.plan.round_min_s, self.plan.round_max_s)
            self.flip_until(sim, truth, due, ready + length, flip=True)
            if last:  # stable long enough for every change to be due, then a clean stop
                self.flip_until(sim, truth, due, time.time() + self.plan.due_s + 1.0, flip=False)
                end = time.time()
                code = daemon.stop()
                if code != 0:
                    figures.problems.append(f"SIGTERM exit status {code}")
            else:
                end = time.time()
                daemon.proc.send_signal(signal.SIGKILL)
                daemon.proc.wait()
                figures.kills += 1
            self.rounds.append(Round(ready, end))
            problems = self.integrity() + consistency(self.url)
            rows = fetch_transitions(engine)
            if rows[: len(before)] != before:
                problems.append("a transition committed before was lost or changed")
            figures.kills_after_new_commits += not last and len(rows) > len(before)
            verdict = check_truth(truth, rows, self.rounds, self.plan)
            problems += [f"duplicated: {t}" for t in verdict.duplicated]
            problems += [f"unexplained: {t} ({why})" for t, why in verdict.unexplained]
            for change in verdict.missing:
                self.reported_missing.setdefault((change.camera, change.done), end)
            if not last:
                figures.kills_with_changes_pending += verdict.not_yet_due > 0 or bool(verdict.missing)
                figures.pending_at_kills += verdict.not_yet_due
            figures.problems += [f"round {k}: {p}" for p in problems]
            self.say(
                f"  round {k:2d} {'SIGTERM' if last else 'kill -9'} after {end - ready:4.1f} s: "
                f"{len(rows)} transitions, {verdict.not_yet_due} changes pending, {len(verdict.missing)} due and "
                f"missing, {len(problems)} problems"
            )
            before = rows
        assert truth is not None
        self.final(sim, truth, before, figures)

    def final(self, sim: SimProcess, truth: Truth, rows: list[Transition], figures: Figures) -> None:
        """After the SIGTERM round: every change recorded, the last states equal the simulator's."""
        verdict = check_truth(truth, rows, self.rounds, self.plan)
        figures.delays = verdict.delays
        recorded: dict[str, list[Transition]] = {}
        for r in rows:
            if r.module == MODULE:
                recorded.setdefault(r.camera_id, []).append(r)
        for (cam, done), kill_end in sorted(self.reported_missing.items()):
            idx = next(i for i, c in enumerate(truth.changes[cam]) if c.done == done)
            found = recorded.get(cam, [])
            if idx < len(found):
                figures.late.append(f"{cam} change at {done:.1f} recorded at {found[idx].at.timestamp():.1f} "
                                    f"(due by the kill at {kill_end:.1f})")  # fmt: skip
        figures.problems += [f"lost: {c}" for c in verdict.missing]
        with urllib.request.urlopen(f"http://127.0.0.1:{sim.control_port}/cameras", timeout=30) as r:
            sim_faults = {c["id"]: c["fault"] for c in json.loads(r.read())}
        if sim_faults != truth.faults:
            figures.problems.append("the simulator's faults differ from the changes the benchmark recorded")
        final = {cam: found[-1].to_state for cam, found in recorded.items()}
        expected = {cam: expected_live(f) for cam, f in sim_faults.items()}
        if final != expected:
            figures.problems.append(
                f"final states differ from the simulator: {set(final.items()) ^ set(expected.items())}"
            )
        figures.fault_changes = truth.fault_changes
        figures.state_changes = sum(len(c) for c in truth.changes.values())
        figures.transitions = len(rows)
        figures.live_transitions = sum(len(found) for found in recorded.values())


# --- backends ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    name = f"crashsim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(backend: str, kills: int, cameras: int, plan: Plan, seed: int, cache_dir: Path, workdir: Path,
                say: Callable[[str], None] = print) -> Figures:  # fmt: skip
    if backend == "sqlite":
        path = workdir / "crash.db"
        return Run(f"sqlite:///{path}", lambda: sqlite_integrity(path), workdir, cameras, plan, seed, cache_dir,
                   say).execute(kills)  # fmt: skip
    with pg_database() as url:
        return Run(url, list, workdir, cameras, plan, seed, cache_dir, say).execute(kills)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--slack", type=float, default=3.0, help="seconds added to the due time")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "crash-restart-clips")
    parser.add_argument("--keep", type=Path, help="keep the work files (logs, databases) under this folder")
    args = parser.parse_args()
    plan = Plan(slack_s=args.slack)
    print(f"crash-restart: {args.cameras} cameras, {args.kills} kills per backend, plan {plan}, "
          f"due {plan.due_s:.1f} s, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)  # fmt: skip
    failed = False
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = args.keep / backend if args.keep else Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            figures = run_backend(backend, args.kills, args.cameras, plan, args.seed, args.cache_dir, workdir,
                                  lambda s: print(s, flush=True))  # fmt: skip
        print(figures.line(), flush=True)
        for late in figures.late:
            print(f"  late: {late}", flush=True)
        for problem in figures.problems:
            print(f"  problem: {problem}", flush=True)
        failed |= bool(figures.problems)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
