"""The audit reads a SQLite database the daemon is writing to: it never stalls the writer (RELIABILITY D5)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.source import read_history, reading
from sharpeyes.registry.db import make_engine
from sharpeyes.registry.history import Transition, record_transitions
from sharpeyes.registry.models import transitions
from sharpeyes.registry.store import load_inventory
from tests.audit.fixture import WINDOW, make_db

BUSY_MS = 200  # a writer that would wait on the audit gives up after this and counts as stalled


def _batch(seq: int, n: int = 50) -> list[Transition]:
    at = dt.datetime.fromtimestamp(WINDOW.start + 3600, dt.UTC) + dt.timedelta(seconds=seq)
    return [Transition(f"w{seq}-{i}", "rtsp", "unknown", "up", "ok", at) for i in range(n)]


def _bulk(url: str) -> None:
    """50,000 extra transitions, so that each audit read takes a while."""
    engine = make_engine(url)
    rows = [
        {"camera_id": f"bulk{i % 500}", "module": "rtsp", "from_state": "up", "to_state": ("down", "up")[i % 2],
         "reason": "ok", "at": dt.datetime.fromtimestamp(WINDOW.start + i * 6, dt.UTC)}
        for i in range(50_000)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(transitions), rows)
    engine.dispose()


def test_writer_commits_while_an_audit_read_is_open(tmp_path: Path) -> None:
    url, engine = make_db(tmp_path)
    writer = make_engine(url, busy_timeout_ms=BUSY_MS)
    with reading(engine) as conn:
        before = conn.scalar(sa.select(sa.func.count()).select_from(transitions))
        t0 = time.monotonic()
        with writer.begin() as w:
            record_transitions(w, _batch(0))
        assert time.monotonic() - t0 < 1.0
        # the audit's snapshot does not move under it
        assert conn.scalar(sa.select(sa.func.count()).select_from(transitions)) == before
    with reading(engine) as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(transitions)) == (before or 0) + 50
    writer.dispose()
    engine.dispose()


def test_audits_in_a_loop_never_stall_a_busy_writer(tmp_path: Path) -> None:
    url, engine = make_db(tmp_path)
    _bulk(url)
    writer = make_engine(url, busy_timeout_ms=BUSY_MS)
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []

    def write() -> None:
        seq = 1
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                with writer.begin() as conn:
                    record_transitions(conn, _batch(seq))
            except sa.exc.OperationalError as exc:
                errors.append(str(exc.orig))
            latencies.append(time.monotonic() - t0)
            seq += 1

    thread = threading.Thread(target=write)
    thread.start()
    t0 = time.monotonic()
    try:
        for _ in range(3):
            inventory = load_inventory(engine)
            history = read_history(engine, WINDOW)
            report = build_report(inventory, history, WINDOW, AuditOptions(), generated_at=WINDOW.end)
            assert report.groups
    finally:
        stop.set()
        thread.join(timeout=30)
    print(f"3 audits in {time.monotonic() - t0:.2f} s; {len(latencies)} writes, slowest {max(latencies):.3f} s")
    assert errors == []
    assert len(latencies) > 10 and max(latencies) < 1.0
    # no reader is left behind: the WAL can be checkpointed to zero
    raw = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    assert busy == 0
    writer.dispose()
    engine.dispose()
