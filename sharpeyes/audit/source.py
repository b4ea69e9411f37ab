"""Reading the registry and the transitions for an audit: a few short read transactions, never a write lock.

On SQLite every read starts with a deferred ``BEGIN`` (a WAL reader: the daemon keeps writing meanwhile and
is never stalled); each query is its own short transaction so the WAL can be checkpointed between them.
Times are converted to epoch seconds inside the database, which is what makes 20,000 cameras × 30 days fast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sharpeyes.audit.history import History, Point
from sharpeyes.audit.model import Window
from sharpeyes.rates import ONLINE_STATES, SERVICE_MODULE
from sharpeyes.registry.models import transitions

Progress = Callable[[str], None]


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One short read transaction (deferred ``BEGIN`` on SQLite)."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            yield conn


def _epoch(conn: Connection) -> Any:
    """The ``at`` column as UTC epoch seconds, computed by the database."""
    at = transitions.c.at
    if conn.dialect.name == "sqlite":
        return ((sa.func.julianday(at) - 2440587.5) * 86400.0).label("epoch")
    return sa.func.extract("epoch", at).label("epoch")


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def read_history(engine: Engine, window: Window, progress: Progress | None = None) -> History:
    """Transitions in the window, the last one of each (camera, module) before it, and who was ever online."""
    t = transitions
    start, end = _utc(window.start), _utc(window.end)
    history = History()
    with reading(engine) as conn:
        cols = (t.c.camera_id, t.c.module, t.c.to_state, t.c.reason, _epoch(conn))
        inside = sa.select(*cols).where(t.c.at >= start, t.c.at < end)
        for camera_id, module, state, reason, at in conn.execute(inside):
            history.add(camera_id, module, Point(float(at), state, reason))
    if progress:
        progress("transitions in the window")
    with reading(engine) as conn:
        last = (
            sa.select(t.c.camera_id, t.c.module, sa.func.max(t.c.at).label("at"))
            .where(t.c.at < start)
            .group_by(t.c.camera_id, t.c.module)
            .subquery()
        )
        edge = sa.select(t.c.camera_id, t.c.module, t.c.to_state, t.c.reason, _epoch(conn)).join(
            last, (t.c.camera_id == last.c.camera_id) & (t.c.module == last.c.module) & (t.c.at == last.c.at)
        )
        for camera_id, module, state, reason, at in conn.execute(edge):
            history.add(camera_id, module, Point(float(at), state, reason))
    with reading(engine) as conn:
        online = (
            sa.select(t.c.camera_id)
            .where(t.c.at < start, t.c.to_state.in_(sorted(ONLINE_STATES)), t.c.module != SERVICE_MODULE)
            .distinct()
        )
        history.ever_online_before = set(conn.scalars(online))
    history.sort()
    if progress:
        progress("state before the window")
    return history
