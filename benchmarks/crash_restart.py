"""Crash-restart: kill -9 the daemon at random moments while it writes, on SQLite then PostgreSQL.

Each round starts the daemon child of ``tests/reliability/test_kill_restart.py`` (TCP-connect prober, 12
loopback cameras that flap), flaps the cameras for a random 1.5–6 s (the writer flushes every second) and
kills the daemon with SIGKILL at that random moment. After each kill: the database's integrity (SQLite
``PRAGMA integrity_check``; PostgreSQL: no duplicate transition keys), every transition committed before is
still there (the old list is a prefix of the new one: none lost), and every camera's transitions form one
chain (each ``from_state`` is the previous ``to_state``, never ``from == to``: none duplicated, none missing).
A last run ends with the cameras stable and SIGTERM: each camera's last recorded state equals the ground truth.

    .venv/bin/python -m benchmarks.crash_restart --kills 20
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy import text

from sharpeyes.registry import db
from sharpeyes.registry.history import Transition
from sharpeyes.results import fetch_transitions
from tests.prometheus_server import free_port
from tests.reliability.test_kill_restart import N_CAMERAS, Cameras, assert_chains, child, integrity

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def rounds(url: str, kills: int, check_integrity: Callable[[], str], workdir: str) -> dict[str, float]:
    """``kills`` kill -9 rounds then one SIGTERM round; returns the figures."""
    cams = Cameras([free_port() for _ in range(N_CAMERAS)])
    log = Path(workdir) / "daemon.log"
    engine = db.make_engine(url)
    rng = random.Random(9)
    before: list[Transition] = []
    ready_s: list[float] = []
    writes = 0
    flips = 0
    try:
        for _ in range(kills):
            started = time.monotonic()
            async with child(url, free_port(), cams.ports, log) as proc:
                ready_s.append(time.monotonic() - started)
                deadline = time.monotonic() + rng.uniform(1.5, 6.0)
                while time.monotonic() < deadline:
                    flips += 1
                    for i in range(N_CAMERAS):
                        await cams.set(i, (i + flips) % 3 != 0)
                    await asyncio.sleep(rng.uniform(0.3, 1.2))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            assert check_integrity() == "ok"
            after = fetch_transitions(engine)
            assert after[: len(before)] == before, "a committed transition was lost"
            assert_chains(after)
            writes += len(after) > len(before)
            before = list(after)
        async with child(url, free_port(), cams.ports, log) as proc:
            await cams.flap(rounds=2, period=0.7)
            await asyncio.sleep(2.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        assert check_integrity() == "ok"
        final_rows = fetch_transitions(engine)
        assert final_rows[: len(before)] == before
        final = assert_chains(final_rows)
        truth = {f"c{i}": ("up" if cams.ports[i] in cams.servers else "down") for i in range(N_CAMERAS)}
        assert final == truth, (final, truth)
        return {
            "kills": kills,
            "rounds_with_new_commits": writes,
            "transitions": len(final_rows),
            "median_ready_s": sorted(ready_s)[len(ready_s) // 2],
        }
    finally:
        engine.dispose()
        cams.close()


def pg_database() -> tuple[str, str]:
    name = f"crash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def pg_drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_integrity(url: str) -> str:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            dup = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT camera_id, module, at FROM transitions "
                    "GROUP BY camera_id, module, at HAVING count(*) > 1) d"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return "ok" if dup == 0 else f"{dup} duplicate transition keys"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            if backend == "sqlite":
                path = f"{tmp}/crash.db"
                figures = await rounds(f"sqlite:///{path}", args.kills, functools.partial(integrity, Path(path)), tmp)
            else:
                name, url = pg_database()
                try:
                    figures = await rounds(url, args.kills, functools.partial(pg_integrity, url), tmp)
                finally:
                    pg_drop(name)
            took = time.monotonic() - started
        print(
            f"{backend:10} kills={figures['kills']} rounds_with_new_commits={figures['rounds_with_new_commits']} "
            f"transitions={figures['transitions']} "
            f"median_restart_to_ready={figures['median_ready_s']:.2f}s wall={took:.0f}s: "
            "integrity ok, none lost, none duplicated, final states = ground truth"
        )


if __name__ == "__main__":
    asyncio.run(main())
