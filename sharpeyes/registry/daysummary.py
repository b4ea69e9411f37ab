"""The transitions packed per camera, module and UTC day (table ``transition_days``), for the audit.

A row holds every transition of one (camera, module, UTC day): the states as one code byte each
(:data:`STATE_CODES`, ``x`` for any other state), the times as 8-byte little-endian integer microseconds since
the epoch (the exact value of the stored ``at``), how many went to an online state, and the day's latest
transition in full. The audit reads these ~5 times fewer rows instead of the transitions and gets the very
same transitions back (the packing loses nothing the audit uses), so its figures stay exact.

The rows are written by :func:`~sharpeyes.registry.history.record_transitions` in the same transaction as
the transitions (:func:`add`: an upsert that appends to the day's row), and built from the transitions by
:func:`rebuild` (migration 0004, and for a database filled by other means). :func:`consistent` tells whether
the summary still holds exactly the transitions table's rows (counts), :func:`mismatched_cameras` which
cameras it does not (then the audit reads those cameras' transitions instead).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from sharpeyes.registry.models import transition_days, transitions

STATE_CODES: Mapping[str, str] = {"up": "u", "fault": "f", "down": "d", "in_service": "i", "out_of_service": "o"}
"""One byte per state in ``states`` (``x``: any other state)."""
OTHER_CODE = "x"
ONLINE_STATES = frozenset({"up", "fault"})
"""The states ``online`` counts (:data:`sharpeyes.rates.ONLINE_STATES`; a test keeps them equal)."""

PACKED_CAP = 1024
"""At most this many transitions are packed in a row's ``states`` and ``times`` by appends: a camera flapping all
day would otherwise make each write rewrite an ever longer row. Beyond it, ``n``, ``online`` and ``last_*``
keep counting but the packed transitions stop (fewer than ``n``): the audit then reads that camera's
transitions from the table instead."""

DAY_US = 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)

Row = tuple[str, str, str, str, str, dt.datetime]
"""(camera_id, module, from_state, to_state, reason, at) of one transition."""


def micros(at: dt.datetime) -> int:
    """``at`` (naive: UTC) as integer microseconds since the epoch: exact."""
    return ((at if at.tzinfo else at.replace(tzinfo=dt.UTC)) - _EPOCH) // _ONE_US


def day_of(us: int) -> int:
    """The UTC day number (days since 1970-01-01) of a time in microseconds."""
    return us // DAY_US


def pack(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """The ``transition_days`` rows for these transitions, one per (camera, module, day), in the order met;
    each day's transitions in the order given."""
    days: dict[tuple[str, str, int], list[tuple[int, str, str, str]]] = {}
    for camera_id, module, frm, to, reason, at in rows:
        us = micros(at)
        days.setdefault((camera_id, module, day_of(us)), []).append((us, frm, to, reason))
    out = []
    for (camera_id, module, day), items in days.items():
        last = max(items, key=lambda x: x[0])
        out.append(
            {
                "camera_id": camera_id,
                "module": module,
                "day": day,
                "n": len(items),
                "states": "".join(STATE_CODES.get(to, OTHER_CODE) for _, _, to, _ in items).encode("ascii"),
                "times": struct.pack(f"<{len(items)}q", *(us for us, _, _, _ in items)),
                "online": sum(1 for _, _, to, _ in items if to in ONLINE_STATES),
                "last_from": last[1],
                "last_to": last[2],
                "last_reason": last[3],
                "last_at": last[0],
            }
        )
    return out


def _concat(conn: Connection, a: Any, b: Any) -> Any:
    """Two byte strings joined (SQLite's ``||`` gives text of the same bytes: cast back to a blob)."""
    joined = a.op("||")(b)
    return sa.cast(joined, sa.LargeBinary) if conn.dialect.name == "sqlite" else joined


def add(conn: Connection, rows: Sequence[Row]) -> None:
    """Add transitions (only ones just inserted into ``transitions``) to their days' rows, in the caller's
    transaction: one upsert that appends to an existing row, so concurrent writers never lose an update.

    Nothing is written to a database whose schema predates the table (code writing to an older schema, as
    tests of migrations do): migration 0004 then builds the rows from the transitions."""
    packed = pack(rows)
    if not packed or not present(conn):
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(transition_days)
    t, new = transition_days.c, stmt.excluded
    newer = new.last_at > t.last_at
    latest = {k: sa.case((newer, new[k]), else_=t[k]) for k in ("last_from", "last_to", "last_reason", "last_at")}
    fits = t.n + new.n <= PACKED_CAP  # else the packed transitions stop growing (see PACKED_CAP)
    stmt = stmt.on_conflict_do_update(
        index_elements=["camera_id", "module", "day"],
        set_={
            "n": t.n + new.n,
            "states": sa.case((fits, _concat(conn, t.states, new.states)), else_=t.states),
            "times": sa.case((fits, _concat(conn, t.times, new.times)), else_=t.times),
            "online": t.online + new.online,
            **latest,
        },
    )
    conn.execute(stmt, packed)


def rebuild(conn: Connection, chunk: int = 50_000) -> int:
    """Rebuild the whole summary from the transitions table (in the caller's transaction). Returns the
    transitions summarised."""
    conn.execute(sa.delete(transition_days))
    tc = transitions.c
    stmt = sa.select(tc.camera_id, tc.module, tc.from_state, tc.to_state, tc.reason, tc.at)
    ordered = stmt.order_by(tc.camera_id, tc.module, tc.at)
    result = conn.execute(ordered.execution_options(stream_results=True, yield_per=chunk))
    total = 0
    for part in result.partitions(chunk):
        rows: list[Row] = [tuple(r) for r in part]
        add(conn, rows)
        total += len(rows)
    return total


def present(conn: Connection) -> bool:
    """Whether the database has the summary table (schema revision 0004 or later)."""
    return sa.inspect(conn).has_table(transition_days.name)


def consistent(conn: Connection) -> bool:
    """Whether the summary holds as many transitions as the table (two cheap counts, in one statement: one
    snapshot even under PostgreSQL's READ COMMITTED). Every write goes through
    :func:`~sharpeyes.registry.history.record_transitions`, which adds both in one transaction; rows written or
    deleted around it (by hand, by another tool) make the counts differ."""
    raw = sa.select(sa.func.count()).select_from(transitions).scalar_subquery()
    packed = sa.select(sa.func.coalesce(sa.func.sum(transition_days.c.n), 0)).scalar_subquery()
    row = conn.execute(sa.select(raw, packed)).one()
    return int(row[0]) == int(row[1])


def mismatched_cameras(conn: Connection) -> set[str]:
    """Cameras whose transitions per module are not as many as their summary rows hold (a full pass over
    both tables, in one statement: only run when :func:`consistent` says no)."""
    tc, dc = transitions.c, transition_days.c
    zero = sa.literal(0, sa.BigInteger)
    raw = sa.select(tc.camera_id, tc.module, sa.func.count(), zero).group_by(tc.camera_id, tc.module)
    packed = sa.select(dc.camera_id, dc.module, zero, sa.func.sum(dc.n)).group_by(dc.camera_id, dc.module)
    counts: dict[tuple[str, str], list[int]] = {}
    for c, m, n_raw, n_packed in conn.execute(sa.union_all(raw, packed)):
        acc = counts.setdefault((c, m), [0, 0])
        acc[0] += int(n_raw)
        acc[1] += int(n_packed)
    return {c for (c, _), (a, b) in counts.items() if a != b}
