"""INTERIM — the daemon's two tables, until the registry's own models and migrations land (foundation branch).

Private on purpose: only :mod:`sharpeyes.results` imports it. When ``sharpeyes.registry`` ships the
``transitions`` and ``daily_rollups`` tables (and an alembic ``upgrade(url)``), results.py switches to those
and this module is deleted. The columns follow the agreed shape: transitions (camera_id, module, from_state,
to_state, reason, at UTC) with an idempotent unique key (camera_id, module, at); daily_rollups (camera_id,
module, day, seconds_up, seconds_known, probes, failures) keyed by (camera_id, module, day).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
)

metadata = MetaData()

transitions = Table(
    "transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera_id", String(128), nullable=False),
    Column("module", String(64), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("camera_id", "module", "at", name="uq_transitions_camera_module_at"),
)

daily_rollups = Table(
    "daily_rollups",
    metadata,
    Column("camera_id", String(128), primary_key=True),
    Column("module", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("seconds_up", Float, nullable=False, default=0.0),
    Column("seconds_known", Float, nullable=False, default=0.0),
    Column("probes", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
)


def make_engine(url: str) -> Engine:
    """An engine with SQLite's WAL, busy timeout, ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` writes."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30.0})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(url: str) -> None:
    """Create the tables if missing (the foundation's alembic ``upgrade(url)`` replaces this)."""
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()
