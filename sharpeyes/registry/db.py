"""Engines, transactions and migrations for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, foreign keys on, and ``synchronous=FULL`` (a committed
transaction survives kill -9 and power loss). Writes start with ``BEGIN IMMEDIATE`` so two writers never
deadlock on a lock upgrade; reads start with a plain ``BEGIN``. The WAL is checkpointed by SQLite every 1,000
pages (≈ 4 MB); a long reader (an audit, a backup) pins it and it grows meanwhile, so ``journal_size_limit``
truncates it back to :data:`WAL_SIZE_LIMIT` once the reader is gone (RELIABILITY.md D5) instead of keeping its
high-water mark. PostgreSQL is used through psycopg 3 (``postgresql+psycopg://…``; a bare ``postgresql://`` is
mapped to it) with pre-ping for restarts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from sharpeyes.errors import UserError

if TYPE_CHECKING:  # alembic is imported only when a migration runs: it is slow to import
    from alembic.config import Config

    from sharpeyes.settings import DatabaseSettings

DEFAULT_URL = "sqlite:///sharpeyes.db"
MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000
WAL_SIZE_LIMIT = 16 * 1024 * 1024

SqliteSync = Literal["FULL", "NORMAL"]


def parse_url(url: str) -> URL:
    """A database URL, with ``postgresql://`` mapped to the psycopg 3 driver. Bad URLs are a user error."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(
            "database url: not a valid SQLAlchemy URL (allowed: sqlite:///FILE or postgresql+psycopg://…)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UserError(
            f"database url: unsupported backend {parsed.get_backend_name()!r} (allowed: sqlite, postgresql)"
        )
    return parsed


def redacted(url: str | URL) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return "(invalid database url)"
    return parsed.render_as_string(hide_password=True)


def make_engine(
    url: str | URL, *, sqlite_synchronous: SqliteSync = "FULL", busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> Engine:
    """An engine for the URL with this project's SQLite pragmas and transaction hooks installed."""
    parsed = parse_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000})
    _install_sqlite_hooks(engine, sqlite_synchronous, busy_timeout_ms)
    return engine


def engine_for(settings: DatabaseSettings) -> Engine:
    """The engine the daemon config asks for (URL, SQLite synchronous mode, busy timeout)."""
    synchronous: SqliteSync = "NORMAL" if settings.sqlite_synchronous == "normal" else "FULL"
    return make_engine(
        settings.url, sqlite_synchronous=synchronous, busy_timeout_ms=int(settings.busy_timeout_s * 1000)
    )


def _install_sqlite_hooks(engine: Engine, synchronous: SqliteSync, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the "begin" hook below issues BEGIN itself
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite): commits on success, rolls back on any error."""
    with engine.connect() as conn, Session(bind=conn) as session, session.begin():
        session.connection()  # BEGIN now: the write lock is taken before any read of this transaction
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """One read transaction (a deferred ``BEGIN`` on SQLite, so readers never wait for the writer's lock)."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="DEFERRED")
        with Session(bind=conn) as session, session.begin():
            yield session


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str | URL | Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the latest) with the packaged Alembic migrations."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    from alembic import command

    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def downgrade(url: str | URL | Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"``: no tables). For tests and emergencies."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    from alembic import command

    try:
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def head_revision() -> str:
    """The newest migration shipped with this version."""
    from alembic.script import ScriptDirectory

    with sa.create_engine("sqlite://").connect() as conn:
        head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (``None`` when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="DEFERRED")
        return MigrationContext.configure(conn).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is older or newer than this version's."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise UserError(
            f"database {redacted(engine.url)}: schema revision {current or 'none'}, this version needs {head} "
            "(allowed: run `sharpeyes registry migrate --db URL`, or import, which migrates first)"
        )
