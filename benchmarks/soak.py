"""Soak (RELIABILITY.md R2): the daemon against 5,000 simulated cameras for an hour, 10 % of them flapping.

The simulator (``sharpeyes sim --registry …``) and the daemon (``sharpeyes run --config …``: SQLite, the
``live`` RTSP module and the ``frame`` health module with its decode worker pool) run as separate processes
(``tests/fleet_processes.py``), on their own loopback range 127.31.x.y. A seeded share of the cameras flaps: each
one switches between healthy and a fault (network/protocol faults that take liveness down, or picture faults
that only the frame module sees) after a random 1–10 min, through the simulator's control API.

Every 10 s: RSS, open fds, threads, child processes and zombies of the daemon and of each of its descendants
(the forkserver, the resource tracker, the decode workers), plus the sweep series of ``/metrics`` (each
completed sweep's duration and lag, the overrun counters). Samples go to ``samples.jsonl``, sweeps to
``sweeps.jsonl``, the simulator's fault changes (the ground truth) to ``truth.jsonl``, in ``--out``.

At the end: least-squares slopes after the warm-up (RSS in MB per 10 min, fds, threads, children), the zombie
maximum, the overrun count and the largest sweep lag, each against its target; then the daemon's recorded
``live`` transitions (from its database, after a clean SIGTERM) against the ground truth: every change of a
camera's expected liveness state must be recorded, in order, within one interval + the probe timeout + the
worst sweep lag.

    .venv/bin/python -m benchmarks.soak --duration 3600 --out soak-run
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import random
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    sample_process,
    sample_tree,
    write_registry,
)
from tests.prometheus_server import free_port

OCTET = 31  # 127.31.x.y: this benchmark's own loopback range
LIVE_DOWN = ("offline", "blackhole", "not_found", "malformed:status")  # liveness sees these as down
LIVE_UP = ("black", "blur:0.8", "frozen", "signal_loss", "noise")  # the picture is wrong; DESCRIBE still answers
MB_PER_10_MIN = 600.0


@dataclass(frozen=True, slots=True)
class Plan:
    """Intervals (seconds) chosen for the run: see benchmarks/README.md."""

    live_interval: float
    live_timeout: float
    frame_interval: float
    flap_min: float
    flap_max: float


# --- the flapping fault schedule ---------------------------------------------------------------------------


def expected_live(fault: str | None) -> str:
    return "down" if fault in LIVE_DOWN else "up"


class Flapper:
    """Seeded: which cameras flap, their first fault, and when each switches next."""

    def __init__(self, ids: Sequence[str], share: float, plan: Plan, seed: int) -> None:
        self.rng = random.Random(seed)
        self.plan = plan
        faulty = sorted(self.rng.sample(list(ids), round(len(ids) * share)))
        mix = LIVE_DOWN + LIVE_UP
        # every fault of the mix is in the initial assignment, so the simulator encodes each clip at start
        self.state: dict[str, str | None] = {c: mix[i % len(mix)] for i, c in enumerate(faulty)}
        self.due: dict[str, float] = {}

    def start(self, now: float) -> None:
        for c in self.state:
            self.due[c] = now + self.rng.uniform(self.plan.flap_min, self.plan.flap_max)

    def next_fault(self, camera: str) -> str | None:
        """Healthy after a fault; a random fault of the mix after healthy."""
        if self.state[camera] is not None:
            return None
        return self.rng.choice(LIVE_DOWN + LIVE_UP)

    def due_now(self, now: float) -> list[str]:
        return sorted(c for c, t in self.due.items() if t <= now)


# --- sampling ----------------------------------------------------------------------------------------------


def resource_sample(pid: int, sim_pid: int, t0: float) -> dict[str, Any]:
    daemon, kids = sample_tree(pid)
    sim = sample_process(sim_pid)
    assert daemon is not None and sim is not None, "the daemon or the simulator is gone"
    return {
        "t": round(time.monotonic() - t0, 2),
        "wall": time.time(),
        "rss_mb": round(daemon.rss_mb, 2),
        "fds": daemon.fds,
        "threads": daemon.threads,
        "children": len(kids),
        "zombies": sum(k.zombie for k in kids),
        "workers_rss_mb": round(sum(k.rss_mb for k in kids), 2),
        "workers_fds": sum(k.fds for k in kids),
        "workers_threads": sum(k.threads for k in kids),
        "workers": [[k.pid, k.name, round(k.rss_mb, 1), k.fds, k.threads, k.zombie] for k in kids],
        "cpu_s": round(daemon.cpu_s, 2),
        "workers_cpu_s": round(sum(k.cpu_s for k in kids), 2),
        "sim_rss_mb": round(sim.rss_mb, 1),
        "sim_cpu_s": round(sim.cpu_s, 2),
        "load1": os.getloadavg()[0],
    }


def new_sweeps(metrics: dict[tuple[str, str], float], seen: dict[str, float], t: float) -> list[dict[str, Any]]:
    """One record per module whose completed-sweep counter moved since the last sample."""
    out = []
    for (name, module), count in metrics.items():
        if name != "sharpeyes_sweeps_total" or count == seen.get(module, 0):
            continue
        out.append({
            "t": t, "module": module, "sweeps": count, "new": count - seen.get(module, 0),
            "duration_s": metrics.get(("sharpeyes_sweep_duration_seconds", module)),
            "lag_s": metrics.get(("sharpeyes_sweep_lag_seconds", module)),
            "overruns": metrics.get(("sharpeyes_sweep_overruns_total", module), 0.0),
            "interval_s": metrics.get(("sharpeyes_module_interval_seconds", module)),
            "skipped": {n.split(":", 1)[1]: v for (n, m), v in metrics.items()
                        if m == module and n.startswith("sharpeyes_probes_skipped_total:")},
            "results": {n.split(":", 1)[1]: v for (n, m), v in metrics.items()
                        if m == module and n.startswith("sharpeyes_results_total:")},
        })  # fmt: skip
        seen[module] = count
    return out


# --- figures -----------------------------------------------------------------------------------------------


def slope(points: Iterable[tuple[float, float]]) -> float:
    """Least-squares slope (units per second)."""
    pts = list(points)
    n = len(pts)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else float("nan")


def per_10_min(samples: list[dict[str, Any]], key: str, warmup: float) -> float:
    return slope((s["t"], s[key]) for s in samples if s["t"] >= warmup) * MB_PER_10_MIN


@dataclass(frozen=True, slots=True)
class TruthCheck:
    expected: int
    matched: int
    missed: list[dict[str, Any]]
    extra: int
    worst_delay_s: float


def check_truth(
    truth: list[dict[str, Any]], rows: list[Transition], module: str, tolerance_s: float, early_s: float, end: float
) -> TruthCheck:  # fmt: skip
    """Each change of a camera's expected liveness state (ground truth) must appear among the daemon's
    transitions of ``module`` for that camera, in order, at most ``early_s`` before and ``tolerance_s`` after.
    Changes later than ``end - tolerance_s`` are not required (the run stopped before they were due)."""
    by_cam: dict[str, list[Transition]] = {}
    for r in rows:
        if r.module == module:
            by_cam.setdefault(r.camera_id, []).append(r)
    expected_by_cam: dict[str, list[tuple[float, str]]] = {}
    last: dict[str, str] = {}
    for ev in truth:
        state = expected_live(ev["fault"])
        if last.get(ev["camera"], "up") != state or ev.get("initial"):
            expected_by_cam.setdefault(ev["camera"], []).append((ev["wall"], state))
        last[ev["camera"]] = state
    matched = expected = 0
    missed: list[dict[str, Any]] = []
    used = 0
    worst = 0.0
    for cam, changes in expected_by_cam.items():
        recorded = by_cam.get(cam, [])
        times = [r.at.timestamp() for r in recorded]
        cursor = 0
        for wall, state in changes:
            if wall > end - tolerance_s:
                continue
            expected += 1
            i = max(cursor, bisect.bisect_left(times, wall - early_s))
            hit = next((j for j in range(i, len(recorded)) if times[j] <= wall + tolerance_s
                        and recorded[j].to_state == state), None)  # fmt: skip
            if hit is None:
                missed.append({"camera": cam, "wall": wall, "state": state})
                continue
            matched += 1
            used += 1
            worst = max(worst, times[hit] - wall)
            cursor = hit + 1
    required = {c for c in expected_by_cam}
    extra = sum(len(v) for c, v in by_cam.items() if c in required) - used
    return TruthCheck(expected, matched, missed, extra, worst)


# --- the run -----------------------------------------------------------------------------------------------


def false_outages(truth: list[dict[str, Any]], rows: list[Transition], module: str) -> dict[str, int]:
    """``up → down`` transitions, by reason, of cameras the simulator never faulted (none is expected)."""
    flapping = {t["camera"] for t in truth}
    out: dict[str, int] = {}
    for r in rows:
        if r.module == module and r.camera_id not in flapping and r.from_state == "up":
            out[r.reason] = out.get(r.reason, 0) + 1
    return out


def write_jsonl(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def prepare(out: Path, cameras: int, plan: Plan, flapper: Flapper, port: int) -> tuple[list[Path], Path, Path]:
    """Registry CSVs, the simulator's faults file, the probe modules and the daemon config."""
    registry = write_registry(fleet_inventory(cameras, OCTET), out / "registry")
    faults = out / "sim-faults.yml"
    lines = ["defaults: {auth: digest}", "cameras:"] + [f'  "{c}": "{f}"' for c, f in sorted(flapper.state.items())]
    faults.write_text("\n".join(lines) + "\n", encoding="utf-8")
    probes = out / "probes"
    probe_module_file(ROOT / "probes/rtsp_describe.yml", probes, "live",
                      {"interval_s": plan.live_interval, "timeout_s": plan.live_timeout})  # fmt: skip
    probe_module_file(ROOT / "probes/frame_health.yml", probes, "frame", {"interval_s": plan.frame_interval})
    config = daemon_config(out, f"sqlite:///{out / 'soak.db'}", port, registry, probes)
    return registry, faults, config


def run(args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in ("samples.jsonl", "sweeps.jsonl", "truth.jsonl", "soak.db", "soak.db-wal", "soak.db-shm"):
        (out / name).unlink(missing_ok=True)
    plan = Plan(args.live_interval, 5.0, args.frame_interval, args.flap_min, args.flap_max)
    ids = [camera_id(i) for i in range(args.cameras)]
    flapper = Flapper(ids, args.faulty_share, plan, args.seed)
    port = free_port()
    registry, faults, config = prepare(out, args.cameras, plan, flapper, port)
    print(f"soak: {args.cameras} cameras, {len(flapper.state)} flapping, {args.duration:.0f} s; plan {asdict(plan)}; "
          f"out {out}", flush=True)  # fmt: skip
    started = time.monotonic()
    sim = SimProcess.start(registry, faults, free_port(), size=args.size, log=out / "sim.log")
    print(f"simulator ready in {time.monotonic() - started:.0f} s (pid {sim.proc.pid})", flush=True)
    daemon: DaemonProcess | None = None
    try:
        daemon = DaemonProcess.start(config, port, out / "daemon.log")
        t0 = time.monotonic()
        wall0 = time.time()
        print(f"daemon ready (pid {daemon.proc.pid}) at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC", flush=True)
        for cam, fault in sorted(flapper.state.items()):
            write_jsonl(out / "truth.jsonl", {"wall": wall0, "camera": cam, "fault": fault, "initial": True})
        flapper.start(t0)
        loop(args, out, sim, daemon, flapper, t0)
        end_wall = time.time()
        code = daemon.stop()
        daemon = None
        print(f"daemon stopped (exit {code})", flush=True)
    finally:
        if daemon is not None:
            daemon.stop()
        sim.stop()
    return report(args, out, plan, end_wall, code)


def loop(args: argparse.Namespace, out: Path, sim: SimProcess, daemon: DaemonProcess, flapper: Flapper,
         t0: float) -> None:  # fmt: skip
    seen: dict[str, float] = {}
    next_sample = t0
    while (now := time.monotonic()) < t0 + args.duration:
        for cam in flapper.due_now(now):
            fault = flapper.next_fault(cam)
            wall = time.time()
            sim.set_fault(cam, fault)
            flapper.state[cam] = fault
            flapper.due[cam] = time.monotonic() + flapper.rng.uniform(args.flap_min, args.flap_max)
            write_jsonl(out / "truth.jsonl", {"wall": wall, "camera": cam, "fault": fault})
        if now >= next_sample:
            next_sample += args.sample_every
            sample = resource_sample(daemon.proc.pid, sim.proc.pid, t0)
            write_jsonl(out / "samples.jsonl", sample)
            t = sample["t"]
            for sweep in new_sweeps(daemon.metrics(), seen, t):
                write_jsonl(out / "sweeps.jsonl", sweep)
            if int(t) % 300 < args.sample_every:
                print(progress_line(sample), flush=True)
        time.sleep(0.2)


def progress_line(s: dict[str, Any]) -> str:
    return (f"t={s['t']:6.0f}s rss={s['rss_mb']:.1f}MB fds={s['fds']} threads={s['threads']} "
            f"children={s['children']} zombies={s['zombies']} workers_rss={s['workers_rss_mb']:.1f}MB "
            f"cpu={s['cpu_s']:.0f}s load1={s['load1']:.1f}")  # fmt: skip


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def report(args: argparse.Namespace, out: Path, plan: Plan, end_wall: float, exit_code: int) -> int:
    samples = read_jsonl(out / "samples.jsonl")
    sweeps = read_jsonl(out / "sweeps.jsonl")
    truth = read_jsonl(out / "truth.jsonl")
    warm = args.warmup
    figures: dict[str, Any] = {
        "samples": len(samples),
        "rss_mb_first_last_max": [samples[0]["rss_mb"], samples[-1]["rss_mb"], max(s["rss_mb"] for s in samples)],
        "rss_slope_mb_per_10min": round(per_10_min(samples, "rss_mb", warm), 3),
        "workers_rss_slope_mb_per_10min": round(per_10_min(samples, "workers_rss_mb", warm), 3),
        "fds_slope_per_10min": round(per_10_min(samples, "fds", warm), 3),
        "workers_fds_slope_per_10min": round(per_10_min(samples, "workers_fds", warm), 3),
        "threads_slope_per_10min": round(per_10_min(samples, "threads", warm), 3),
        "children_slope_per_10min": round(per_10_min(samples, "children", warm), 3),
        "fds_min_max": [min(s["fds"] for s in samples), max(s["fds"] for s in samples)],
        "threads_min_max": [min(s["threads"] for s in samples), max(s["threads"] for s in samples)],
        "children_min_max": [min(s["children"] for s in samples), max(s["children"] for s in samples)],
        "zombies_max": max(s["zombies"] for s in samples),
        "load1_min_max": [min(s["load1"] for s in samples), max(s["load1"] for s in samples)],
        "cpu_share_of_one_core": {
            k: round((samples[-1][k] - samples[0][k]) / max(samples[-1]["t"] - samples[0]["t"], 1e-9), 3)
            for k in ("cpu_s", "workers_cpu_s", "sim_cpu_s")
        },
        "sim_rss_mb_last": samples[-1]["sim_rss_mb"],
    }
    for module in sorted({s["module"] for s in sweeps}):
        mine = [s for s in sweeps if s["module"] == module]
        lags = [s["lag_s"] for s in mine if s["lag_s"] is not None]
        durations = [s["duration_s"] for s in mine if s["duration_s"] is not None]
        figures[f"sweeps_{module}"] = {
            "completed": mine[-1]["sweeps"], "overruns": mine[-1]["overruns"],
            "max_lag_s": round(max(lags), 3) if lags else None,
            "max_duration_s": round(max(durations), 1) if durations else None,
            "interval_s": mine[-1]["interval_s"],
            "sweeps_between_samples_missed": sum(s["new"] - 1 for s in mine[1:]),
            "skipped": mine[-1].get("skipped", {}), "results": mine[-1].get("results", {}),
        }  # fmt: skip
    max_lag = max((s["lag_s"] or 0.0) for s in sweeps) if sweeps else 0.0
    overruns = sum(figures[f"sweeps_{m}"]["overruns"] for m in {s["module"] for s in sweeps})
    engine = db.make_engine(f"sqlite:///{out / 'soak.db'}")
    try:
        rows = fetch_transitions(engine)
    finally:
        engine.dispose()
    tolerance = plan.live_interval + plan.live_timeout + max_lag + 2.0
    check = check_truth(truth, rows, "live", tolerance, early_s=plan.live_timeout + 1.0, end=end_wall)
    # a slot skipped as ``late`` (counted, L1) defers the camera's change to its next sweep: also report what
    # was recorded within two intervals, i.e. late but not lost
    eventually = check_truth(truth, rows, "live", tolerance + plan.live_interval, early_s=plan.live_timeout + 1.0,
                             end=end_wall)  # fmt: skip
    figures["truth_live"] = {
        "fault_changes": sum(1 for t in truth if not t.get("initial")),
        "expected_state_changes_checked": check.expected, "recorded_in_time": check.matched,
        "missed": len(check.missed), "missed_first": check.missed[:10], "extra_transitions": check.extra,
        "worst_delay_s": round(check.worst_delay_s, 1), "tolerance_s": round(tolerance, 1),
        "missed_within_two_intervals": len(eventually.missed),
        "transitions_live": sum(1 for r in rows if r.module == "live"),
        "transitions_frame": sum(1 for r in rows if r.module == "frame"),
        "false_outages_of_never_faulty_cameras": false_outages(truth, rows, "live"),
    }  # fmt: skip
    figures["daemon_exit_code"] = exit_code
    targets = {
        "rss_slope_below_1mb_per_10min": figures["rss_slope_mb_per_10min"] < 1.0,
        "workers_rss_slope_below_1mb_per_10min": figures["workers_rss_slope_mb_per_10min"] < 1.0,
        "zero_zombies": figures["zombies_max"] == 0,
        "no_sweep_overrun": overruns == 0,
        "ground_truth_nothing_lost": not check.missed,
        "clean_exit": exit_code == 0,
    }
    figures["max_sweep_lag_s"] = round(max_lag, 3)
    figures["targets"] = targets
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2), flush=True)
    return 0 if all(targets.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=5000)
    parser.add_argument("--faulty-share", type=float, default=0.10)
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--warmup", type=float, default=1800.0, help="seconds left out of the slopes")
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--live-interval", type=float, default=60.0)
    parser.add_argument(
        "--frame-interval",
        type=float,
        default=900.0,
        help="two whole frame sweeps fit in the warm-up: a camera's state is complete only after its second frame "
        "probe (the first has no reference or last signature to compare against, so fewer scores)",
    )
    parser.add_argument("--flap-min", type=float, default=60.0)
    parser.add_argument("--flap-max", type=float, default=600.0)
    parser.add_argument("--size", default="360p", help="the simulator's picture size")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--out", default="soak-run")
    parser.add_argument("--report-only", action="store_true", help="recompute the figures of a finished run in --out")
    args = parser.parse_args()
    raise SystemExit(report_again(args) if args.report_only else run(args))


def report_again(args: argparse.Namespace) -> int:
    """The figures of a run already in ``--out``: it ended at its last sample; the exit status is in soak.out."""
    out = Path(args.out).resolve()
    plan = Plan(args.live_interval, 5.0, args.frame_interval, args.flap_min, args.flap_max)
    end_wall = read_jsonl(out / "samples.jsonl")[-1]["wall"]
    found = re.search(r"daemon stopped \(exit (-?\d+)\)", (out / "soak.out").read_text(encoding="utf-8"))
    return report(args, out, plan, end_wall, int(found.group(1)) if found else -1)


if __name__ == "__main__":
    main()
