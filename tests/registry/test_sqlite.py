"""SQLite specifics: WAL, busy timeout, foreign keys, BEGIN IMMEDIATE for writes, deferred reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sharpeyes.errors import UserError
from sharpeyes.registry.db import (
    engine_for,
    make_engine,
    parse_url,
    read_session,
    redacted,
    upgrade,
    write_session,
)
from sharpeyes.registry.models import DistrictRow
from sharpeyes.settings import DatabaseSettings


def test_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_engine_follows_the_config(tmp_path: Path) -> None:
    settings = DatabaseSettings(url=f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous="normal", busy_timeout_s=2)
    engine = engine_for(settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2000
    engine.dispose()


def test_writes_take_the_lock_at_begin_and_readers_do_not_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    first = make_engine(url, busy_timeout_ms=50)
    second = make_engine(url, busy_timeout_ms=50)
    try:
        with write_session(first) as session:
            session.add(DistrictRow(code="150200", code_key="150200", name="包头市", level="city", parent=None))
            session.flush()
            # BEGIN IMMEDIATE: a second writer fails at BEGIN (after the busy timeout), not at its first write
            with pytest.raises(sa.exc.OperationalError, match="locked"), write_session(second):
                pass
            with read_session(second) as reader:  # a deferred BEGIN: readers are never blocked by the writer
                assert reader.scalars(sa.select(DistrictRow)).all() == []
        with read_session(second) as reader:
            assert [d.code for d in reader.scalars(sa.select(DistrictRow))] == ["150200"]
    finally:
        first.dispose()
        second.dispose()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    with pytest.raises(sa.exc.IntegrityError), write_session(engine) as session:
        session.add(DistrictRow(code="150203", code_key="150203", name="昆都仑区", level="district", parent="nope"))
    engine.dispose()


def test_urls_map_postgresql_to_psycopg_and_hide_passwords() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert "s3cret" not in redacted("postgresql+psycopg://u:s3cret@h/db")
    with pytest.raises(UserError, match="unsupported backend"):
        parse_url("mysql://u@h/db")
    with pytest.raises(UserError, match="not a valid") as err:
        parse_url("::not a url p@ss")
    assert "p@ss" not in str(err.value)
