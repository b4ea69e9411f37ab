"""Idempotent writes to the daemon's history tables (transitions and their per-day summary, daily roll-ups,
frame signatures).

Each function takes a :class:`~sqlalchemy.engine.Connection` inside the caller's transaction (use
``engine.begin()``: on SQLite that is ``BEGIN IMMEDIATE``) so a batch is all or nothing. Re-running a
batch after a crash or a lost connection writes no duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from sharpeyes.registry import daysummary
from sharpeyes.registry.models import daily_rollups, frame_signatures, transitions


@dataclass(frozen=True, slots=True)
class Transition:
    """A camera's state for one module changed from ``from_state`` to ``to_state`` at ``at`` (UTC)."""

    camera_id: str
    module: str
    from_state: str
    to_state: str
    reason: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Rollup:
    """Per camera, module and UTC day: seconds up and seconds known, probes run and failures."""

    camera_id: str
    module: str
    day: dt.date
    seconds_up: float
    seconds_known: float
    probes: int
    failures: int


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def record_transitions(conn: Connection, items: Sequence[Transition]) -> int:
    """Insert transitions; one already recorded (same camera, module and time) is skipped. Returns rows added.

    The ones added go into their days' rows of ``transition_days`` (:mod:`.daysummary`) in the same
    transaction: the summary and the transitions are committed, or rolled back, together."""
    if not items:
        return 0
    rows = [
        {
            "camera_id": t.camera_id,
            "module": t.module,
            "from_state": t.from_state,
            "to_state": t.to_state,
            "reason": t.reason,
            "at": t.at,
        }
        for t in items
    ]
    c = transitions.c
    stmt = (
        _insert(conn, transitions)
        .on_conflict_do_nothing(index_elements=["camera_id", "module", "at"])
        .returning(c.camera_id, c.module, c.from_state, c.to_state, c.reason, c.at)
    )
    added = [tuple(r) for r in conn.execute(stmt, rows).all()]
    daysummary.add(conn, added)
    return len(added)


def upsert_rollups(conn: Connection, items: Sequence[Rollup]) -> None:
    """Write roll-ups; an existing (camera, module, day) row takes the new totals."""
    if not items:
        return
    rows = [
        {
            "camera_id": r.camera_id,
            "module": r.module,
            "day": r.day,
            "seconds_up": r.seconds_up,
            "seconds_known": r.seconds_known,
            "probes": r.probes,
            "failures": r.failures,
        }
        for r in items
    ]
    stmt = _insert(conn, daily_rollups)
    stmt = stmt.on_conflict_do_update(
        index_elements=["camera_id", "module", "day"],
        set_={c: stmt.excluded[c] for c in ("seconds_up", "seconds_known", "probes", "failures")},
    )
    conn.execute(stmt, rows)


def save_signature(
    conn: Connection, camera_id: str, kind: str, data: bytes, at: dt.datetime, *, replace: bool = True
) -> None:
    """Store a camera's ``last`` or ``reference`` frame signature, replacing the previous one (or, with
    ``replace=False``, keeping it: the daemon's automatic first reference never overwrites a baseline)."""
    stmt = _insert(conn, frame_signatures).values(camera_id=camera_id, kind=kind, data=data, updated_at=at)
    if not replace:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["camera_id", "kind"]))
        return
    stmt = stmt.on_conflict_do_update(
        index_elements=["camera_id", "kind"], set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at}
    )
    conn.execute(stmt)


def load_signatures(conn: Connection, kind: str) -> Mapping[str, bytes]:
    """camera id → signature of one kind."""
    rows = conn.execute(
        sa.select(frame_signatures.c.camera_id, frame_signatures.c.data).where(frame_signatures.c.kind == kind)
    )
    return {camera_id: bytes(data) for camera_id, data in rows}


def transitions_between(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[Transition]:
    """Transitions with ``start <= at < end``, oldest first."""
    stmt = (
        sa.select(transitions)
        .where(transitions.c.at >= start, transitions.c.at < end)
        .order_by(transitions.c.at, transitions.c.id)
    )
    return [Transition(r.camera_id, r.module, r.from_state, r.to_state, r.reason, r.at) for r in conn.execute(stmt)]
