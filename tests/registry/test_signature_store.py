"""The daemon's frame-signature store on the ``frame_signatures`` table (SQLite and PostgreSQL): write-behind,
reload, operator baselines kept, and a database that is down (the in-memory store keeps working, errors counted)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine

from sharpeyes.registry import db, history
from sharpeyes.registry.signatures import DatabaseSignatureStore, _load_references


def _stored(engine: Engine, kind: str) -> dict[str, bytes]:
    with engine.connect() as conn:
        return dict(history.load_signatures(conn, kind))


async def test_writes_behind_and_a_new_store_loads_them(engine: Engine) -> None:
    db.upgrade(engine)
    store = DatabaseSignatureStore(engine)
    await store.put("c1", "last", b"one")
    await store.put("c1", "last", b"two")  # coalesced: one row, the newest value
    await store.put("c2", "reference", b"ref2")
    assert _stored(engine, "last") == {}  # nothing written on the caller's path
    assert await store.flush_once()
    assert store.pending == {} and store.stats.written == 2 and store.stats.errors == 0
    assert _stored(engine, "last") == {"c1": b"two"}
    again = DatabaseSignatureStore(engine)
    assert await again.load()
    assert await again.get("c1", "last") == b"two"
    assert await again.get("c2", "reference") == b"ref2"
    assert await again.get("c2", "last") is None


async def test_the_probers_reference_never_overwrites_a_baseline(engine: Engine) -> None:
    db.upgrade(engine)
    with engine.begin() as conn:  # an operator's baseline, written by `sharpeyes baseline`
        history.save_signature(conn, "c1", "reference", b"baseline", dt.datetime.now(dt.UTC))
    store = DatabaseSignatureStore(engine)
    await store.put("c1", "reference", b"first-healthy-view")  # the daemon had not loaded it yet
    assert await store.flush_once()
    assert _stored(engine, "reference") == {"c1": b"baseline"}
    assert await store.refresh_references()
    assert await store.get("c1", "reference") == b"baseline"


async def test_refresh_takes_a_rebaseline_made_while_running(engine: Engine) -> None:
    db.upgrade(engine)
    store = DatabaseSignatureStore(engine)
    await store.load()
    with engine.begin() as conn:
        history.save_signature(conn, "c9", "reference", b"new view", dt.datetime.now(dt.UTC))
    assert await store.get("c9", "reference") is None
    assert await store.refresh_references()
    assert await store.get("c9", "reference") == b"new view"


async def test_database_down_keeps_memory_working_counts_errors_and_recovers(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    engine = db.make_engine(f"sqlite:///{folder / 'sharpeyes.db'}")  # the directory is missing: every connect fails
    try:
        store = DatabaseSignatureStore(engine)
        assert not await store.load()
        await store.put("c1", "last", b"sig")
        assert await store.get("c1", "last") == b"sig"
        assert not await store.flush_once()
        assert not await store.flush_once()
        assert store.stats.errors == 3 and not store.healthy
        assert store.pending == {("c1", "last"): b"sig"}  # kept for the retry
        folder.mkdir()
        db.upgrade(engine)
        assert await store.flush_once()
        assert store.healthy and store.pending == {}
        assert _stored(engine, "last") == {"c1": b"sig"}
    finally:
        engine.dispose()


async def test_pending_is_bounded_and_drops_are_counted(engine: Engine) -> None:
    store = DatabaseSignatureStore(engine, max_pending=3)
    for i in range(5):
        await store.put(f"c{i}", "last", b"x")
    assert len(store.pending) == 3 and store.stats.dropped == 2
    assert await store.get("c0", "last") == b"x"  # memory still has it


async def test_refresh_reads_only_recently_updated_references(engine: Engine) -> None:
    db.upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        history.save_signature(conn, "c1", "reference", b"seen", now)
    store = DatabaseSignatureStore(engine)
    assert await store.load()
    with engine.begin() as conn:  # written long before the newest seen: outside the overlap, not read again
        history.save_signature(conn, "old", "reference", b"stale", now - dt.timedelta(days=1))
        history.save_signature(conn, "c2", "reference", b"fresh", now + dt.timedelta(seconds=1))
    assert await store.refresh_references()
    assert await store.get("c2", "reference") == b"fresh"
    assert await store.get("old", "reference") is None


async def test_refresh_reads_again_only_references_whose_time_changed(engine: Engine) -> None:
    db.upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        for cid in ("c1", "c2"):
            history.save_signature(conn, cid, "reference", b"view of " + cid.encode(), now)
    store = DatabaseSignatureStore(engine)
    assert await store.load()
    held = await store.get("c1", "reference")
    with engine.begin() as conn:  # an operator re-baselines c2 only
        history.save_signature(conn, "c2", "reference", b"new view", now + dt.timedelta(seconds=1))
    assert await store.refresh_references()
    assert await store.get("c1", "reference") is held  # inside the overlap window, unchanged: not read again
    assert await store.get("c2", "reference") == b"new view"
    assert _load_references(engine, None, store._reference_at) == {}  # nothing left that memory lacks
