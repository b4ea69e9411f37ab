"""RELIABILITY.md D5: a long audit read while the daemon writes (SQLite, WAL).

A real daemon (in-process, a prober that flips every camera's state each second, so it commits transitions
several times a second) writes to a database that also holds 3,000 cameras × 30 days of history; meanwhile
another OS process holds a read transaction open for 4 s and the real ``sharpeyes audit`` runs as a
subprocess. Checked: the daemon's writes go on (no storage error, never more than one batch pending), the WAL
grows only while the reader pins it and stops growing once it ends (checkpointed and reused), and the audit of a
closed window gives the same numbers while the daemon writes as after it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.audit import build_db
from sharpeyes.daemon import Daemon, DaemonOptions
from sharpeyes.probers.base import PROBERS, Deadline, ProbeResult, ProbeTarget, Reason, ResultBuilder
from sharpeyes.registry import db
from sharpeyes.results import ResultStore
from sharpeyes.settings import ProbeModule
from tests.daemon_helpers import tcp_config
from tests.integration.test_daemon import until
from tests.reliability.contract import back_to_baseline

ROOT = Path(__file__).resolve().parents[2]
N_CAMERAS = 100
FLIP_S = 1.0
READER_S = 4.0
# the history's window (benchmarks/audit.py: 30 days up to 2026-11-01), closed before the daemon writes anything
AUDIT_WINDOW = ("--from", "2026-10-05", "--to", "2026-10-30")

READER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")
n = conn.execute("SELECT count(*) FROM transitions").fetchone()[0]
print(n, flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


async def flip_probe(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """Up or refused, alternating every ``FLIP_S`` (cameras out of phase): a transition per camera per second."""
    up = (int(time.monotonic() / FLIP_S) + int(target.camera_id[1:])) % 2 == 0
    return ResultBuilder(target, module.name).finish(Reason.OK if up else Reason.REFUSED)


@pytest.fixture(autouse=True)
def _flip_prober(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROBERS, "rtsp", flip_probe)


@dataclass
class Watch:
    """Samples of the daemon's writer and of the WAL file, every 50 ms."""

    wal: Path
    store: ResultStore
    samples: list[tuple[float, int, int, int, int]] = field(default_factory=list)  # t, written, pending, err, wal

    async def run(self) -> None:
        while True:
            c = self.store.counters
            size = self.wal.stat().st_size if self.wal.exists() else 0
            self.samples.append(
                (time.monotonic(), c.transitions_written, len(self.store.pending), c.storage_errors, size)
            )
            await asyncio.sleep(0.05)

    def between(self, t0: float, t1: float) -> list[tuple[float, int, int, int, int]]:
        return [s for s in self.samples if t0 <= s[0] <= t1]


@contextlib.asynccontextmanager
async def watching(watch: Watch) -> AsyncIterator[Watch]:
    task = asyncio.create_task(watch.run())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def audit_cmd(url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "sharpeyes", "audit", "--db", url, *AUDIT_WINDOW, "--format", "json", "-o", str(out)]


def numbers(path: Path) -> dict[str, object]:
    """The audit's JSON without the time it was generated."""
    report = json.loads(path.read_text())
    report.pop("generated_at")
    return dict(report)


def checkpoint(path: Path) -> tuple[int, int, int]:
    """A PASSIVE checkpoint from another connection (never waits for the writer): (busy, WAL frames, frames
    checkpointed). All frames checkpointed means no reader pins the WAL."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(log), int(done)


async def fully_checkpointed(path: Path, timeout: float = 5.0) -> int:
    """Wait until a PASSIVE checkpoint gets every frame (the daemon appends meanwhile, so retry); the WAL's size."""
    end = time.monotonic() + timeout
    while True:
        busy, log, done = await asyncio.to_thread(checkpoint, path)
        if busy == 0 and log == done:
            return path.with_name(path.name + "-wal").stat().st_size
        assert time.monotonic() < end, f"the WAL stays pinned: {done} of {log} frames checkpointed"
        await asyncio.sleep(0.1)


def wal_restarts(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: it goes up each time a writer restarts the WAL from its
    start (after a complete checkpoint, with no reader left on the old frames)."""
    with wal.open("rb") as f:
        return int.from_bytes(f.read(16)[12:16], "big")


AUTOCHECKPOINT_BYTES = 1000 * 4096
"""SQLite's default auto-checkpoint (1,000 pages of 4 KiB): a WAL that missed one restart (a reader happened to
be on it at the writer's first commit after the checkpoint) is checkpointed and restarted by then."""


async def wal_restarted(wal: Path, since: int, timeout: float = 30.0) -> int:
    """Wait until the writer has restarted the WAL since checkpoint sequence ``since``; the new sequence."""
    end = time.monotonic() + timeout
    while (now := wal_restarts(wal)) <= since:
        assert time.monotonic() < end, f"the WAL was not restarted in {timeout} s"
        await asyncio.sleep(0.2)
    return now


async def test_d5_long_audit_read_while_the_daemon_writes(tmp_path: Path) -> None:
    url, _, rows = await asyncio.to_thread(build_db, tmp_path, 3000, 30)
    path = tmp_path / "bench.db"
    opts = DaemonOptions(db_url=url, flush_interval_s=0.2)
    async with back_to_baseline(wait_s=2.0):
        d = Daemon(lambda: tcp_config([1] * N_CAMERAS, interval=1.0), opts)
        await d.start()
        rt = d.runtime
        assert rt is not None
        watch = Watch(path.with_name(path.name + "-wal"), rt.store)
        try:
            async with watching(watch):
                await until(lambda: rt.store.counters.transitions_written >= 2 * N_CAMERAS, timeout=15)
                # an audit (a real CLI process) and a reader holding one transaction open for 4 s, together
                audit = await asyncio.create_subprocess_exec(*audit_cmd(url, tmp_path / "during.json"), cwd=ROOT)
                reader = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", READER, str(path), str(READER_S), stdout=subprocess.PIPE
                )
                assert reader.stdout is not None
                seen = int((await reader.stdout.readline()).strip())  # the reader's snapshot is taken
                pinned_at = time.monotonic()
                await asyncio.sleep(READER_S / 2)
                _, log, done = await asyncio.to_thread(checkpoint, path)
                assert done < log, (done, log)  # the reader pins the WAL: what was written since cannot be copied back
                assert await reader.wait() == 0
                released_at = time.monotonic()
                assert await audit.wait() in (0, 1)  # 1: the verdict "targets not met", not an error
                wal_released = await fully_checkpointed(path)  # nothing else pins it: not the daemon, not the audit
                restarts_released = wal_restarts(path.with_name(path.name + "-wal"))
                settled_at = time.monotonic()
                await asyncio.sleep(3.0)  # writes go on: into the start of the WAL again, not onto its end
                restarts_after = await wal_restarted(path.with_name(path.name + "-wal"), restarts_released)
                end = time.monotonic()
        finally:
            await d.stop()
    assert seen >= rows  # the reader saw the history (and whatever the daemon had written)
    during = watch.between(pinned_at, released_at)
    written_during = during[-1][1] - during[0][1]
    after = watch.between(settled_at, end)
    print(
        f"D5: reader {released_at - pinned_at:.1f} s: {written_during} transitions written meanwhile, max pending "
        f"{max(s[2] for s in watch.samples)}; WAL {watch.between(0, pinned_at)[-1][4] // 1024} kB before, "
        f"{max(s[4] for s in during) // 1024} kB pinned, {wal_released // 1024} kB at the checkpoint, "
        f"{max(s[4] for s in after) // 1024} kB after {after[-1][1] - after[0][1]} more transitions"
    )
    assert written_during >= N_CAMERAS * (READER_S - 1)  # ~one transition per camera per second went on
    assert max(s[3] for s in watch.samples) == 0  # no storage error: the writer never waited out its busy timeout
    assert max(s[2] for s in watch.samples) <= 4 * N_CAMERAS  # a few flushes' worth pending at most, no backlog
    assert after[-1][1] - after[0][1] >= N_CAMERAS * 2  # still writing in the last 3 s …
    # … into the start of the WAL again, not onto its end: the writer restarted it (its header says so, at once
    # or, if a reader was on it at that moment, at the next auto-checkpoint), and the file stays bounded
    assert restarts_after > restarts_released, (restarts_released, restarts_after)
    assert max(s[4] for s in after) <= max(wal_released, AUTOCHECKPOINT_BYTES + 1024 * 1024)
    # the audit of a closed window: the same numbers while the daemon wrote as from the database at rest
    done_after = subprocess.run(audit_cmd(url, tmp_path / "after.json"), cwd=ROOT, capture_output=True, timeout=120)
    assert done_after.returncode in (0, 1), done_after.stderr.decode()[-2000:]
    during_report, after_report = numbers(tmp_path / "during.json"), numbers(tmp_path / "after.json")
    assert during_report == after_report
    assert during_report["groups"], during_report


def test_d5_wal_grown_under_a_long_reader_is_truncated_back(tmp_path: Path) -> None:
    """With the daemon's engine settings: 24 MiB written while a reader pins the WAL (it must grow past the
    limit); once the reader is gone, a checkpoint and the next commit bring the file back to ``WAL_SIZE_LIMIT``."""
    path = tmp_path / "wal.db"
    engine = db.make_engine(f"sqlite:///{path}")
    wal = path.with_name(path.name + "-wal")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM blobs").fetchone()
            for _ in range(24):
                with engine.begin() as conn:
                    conn.exec_driver_sql("INSERT INTO blobs (data) VALUES (randomblob(1048576))")
            pinned = wal.stat().st_size
            reader.execute("COMMIT")
        assert pinned > 24 * 1024 * 1024 > db.WAL_SIZE_LIMIT
        assert checkpoint(path)[0] == 0
        with engine.begin() as conn:  # the next commit restarts the WAL and truncates it to the limit
            conn.exec_driver_sql("INSERT INTO blobs (data) VALUES (x'00')")
        assert wal.stat().st_size <= db.WAL_SIZE_LIMIT, (pinned, wal.stat().st_size)
    finally:
        engine.dispose()
