"""The results writer against a real PostgreSQL (127.0.0.1:5432, database ``test``), in a private schema."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from sharpeyes.probers.base import Phase, ProbeResult, Reason
from sharpeyes.registry import db
from sharpeyes.results import ResultStore, StoreWriter, fetch_transitions, write_batch
from tests.pg_required import private_schema

pytestmark = pytest.mark.postgres
URL = os.environ.get("SHARPEYES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg() -> Iterator[Engine]:
    with private_schema("daemon") as engine:
        db.upgrade(engine)
        yield engine


def res(cam: str, at: float, reason: Reason) -> ProbeResult:
    ok = reason is Reason.OK
    return ProbeResult(cam, "live", ok, reason, Phase.DONE if ok else Phase.CONNECT, 0.1, at, 0.0)


async def test_postgres_write_is_idempotent_and_restores(pg: Engine) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    s = ResultStore({"live": "rtsp"})
    for i, reason in enumerate((Reason.OK, Reason.TIMEOUT, Reason.OK)):
        s.record(res("c1", now - 30 + i * 10, reason))
    w = StoreWriter(s, pg)
    assert await w.flush_once()
    rows = fetch_transitions(pg)
    assert [(t.from_state, t.to_state) for t in rows] == [("unknown", "up"), ("up", "down"), ("down", "up")]
    assert rows[0].at.tzinfo is not None
    write_batch(pg, rows, {})
    assert len(fetch_transitions(pg)) == 3
    s2 = ResultStore({"live": "rtsp"})
    await StoreWriter(s2, pg).restore()
    assert s2.latest[("c1", "live")].state == "up"
    (roll,) = s2.rollups.values()
    assert (roll.probes, roll.failures, roll.seconds_up, roll.seconds_known) == (3, 1, 10.0, 20.0)


async def test_connections_killed_by_the_server_are_recovered_without_duplicates(pg: Engine) -> None:
    """RELIABILITY D4: PostgreSQL drops our connections (restart, failover): the writer reconnects
    (pre-ping), retries the same batch idempotently, and no transition is lost or doubled."""
    now = dt.datetime.now(dt.UTC).timestamp()
    s = ResultStore({"live": "rtsp"})
    w = StoreWriter(s, pg)
    s.record(res("c1", now - 50, Reason.OK))
    assert await w.flush_once()
    with pg.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(URL)
    try:
        with admin.begin() as conn:  # kill every pooled connection of ours, as a server restart would
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    for i, reason in enumerate((Reason.TIMEOUT, Reason.OK, Reason.REFUSED)):
        s.record(res("c1", now - 40 + i, reason))
    ok = await w.flush_once() or await w.flush_once()
    assert ok and not s.pending
    rows = [(t.from_state, t.to_state) for t in fetch_transitions(pg)]
    assert rows == [("unknown", "up"), ("up", "down"), ("down", "up"), ("up", "down")]
    with pg.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid  # it really reconnected
