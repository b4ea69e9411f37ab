"""The frame prober's signature store backed by the ``frame_signatures`` table (the daemon installs it).

Reads never touch the database: every signature lives in memory (:class:`MemorySignatureStore`), loaded from the
table at start. Writes go to memory at once and are written behind, in batches, from a worker thread; a put of
the same (camera, kind) while an older one waits replaces it, so the backlog holds at most one value per
(camera, kind). While the database is down the in-memory store keeps working, failed batches are retried with
a growing back-off and counted in :attr:`SignatureStats.errors`.

Reference signatures follow the database: every ``refresh_s`` the ones updated lately (since the newest seen,
less an overlap for writers' clock differences) are listed again, so a re-baseline by ``sharpeyes baseline``
reaches a running daemon without a restart. A refresh lists (camera, updated_at) in that window and reads the
signature only of a reference whose time differs from the one in memory: the daemon's own references, written
during its first sweep, are not read back every minute for ten minutes (that churn of ~5 KB blocks, up to
25 MB a minute at 5,000 cameras, was allocated and freed in the write-behind thread). The prober's own
reference (the first healthy view of a camera that had none) is written only if the table still has none, so
it never overwrites an operator's baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from sharpeyes.quality.store import Kind, MemorySignatureStore
from sharpeyes.registry import history
from sharpeyes.registry.models import frame_signatures

REFRESH_OVERLAP = dt.timedelta(minutes=10)
READ_CHUNK = 500  # camera ids per IN list (well under SQLite's 32,766 bound parameters)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SignatureStats:
    """Counters of the write-behind (self-metrics)."""

    written: int = 0
    errors: int = 0
    dropped: int = 0
    last_ok: float | None = None


class DatabaseSignatureStore:
    """A :class:`~sharpeyes.quality.store.SignatureStore` on the registry's ``frame_signatures`` table."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval_s: float = 2.0,
        refresh_s: float = 60.0,
        max_pending: int = 200_000,
        max_backoff_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.memory = MemorySignatureStore()
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self.max_pending = max_pending
        self.max_backoff_s = max_backoff_s
        self.pending: dict[tuple[str, Kind], bytes] = {}
        self.stats = SignatureStats()
        self.healthy = True
        self._last_refresh = 0.0
        self._newest: dt.datetime | None = None
        self._reference_at: dict[str, dt.datetime] = {}

    async def get(self, camera_id: str, kind: Kind) -> bytes | None:
        return await self.memory.get(camera_id, kind)

    async def put(self, camera_id: str, kind: Kind, data: bytes) -> None:
        await self.memory.put(camera_id, kind, data)
        self.pending.pop((camera_id, kind), None)
        self.pending[(camera_id, kind)] = data
        while len(self.pending) > self.max_pending:
            del self.pending[next(iter(self.pending))]
            self.stats.dropped += 1

    async def load(self) -> bool:
        """Fill memory from the table (both kinds). False (counted, memory left as is) when the DB fails."""
        try:
            rows = await asyncio.to_thread(_load_all, self.engine)
        except Exception as exc:
            self._failed("load", exc)
            return False
        for (camera_id, kind), (data, updated) in rows.items():
            if (camera_id, kind) not in self.pending:
                await self.memory.put(camera_id, kind, data)
            if kind == "reference":
                self._reference_at[camera_id] = _utc(updated)
            self._seen(updated)
        self._last_refresh = time.monotonic()
        return True

    def _seen(self, updated: dt.datetime) -> None:
        updated = _utc(updated)
        if self._newest is None or updated > self._newest:
            self._newest = updated

    async def refresh_references(self) -> bool:
        """Take the table's recently updated reference signatures (an operator may have re-baselined cameras)."""
        since = self._newest - REFRESH_OVERLAP if self._newest is not None else None
        try:
            rows = await asyncio.to_thread(_load_references, self.engine, since, dict(self._reference_at))
        except Exception as exc:
            self._failed("refresh", exc)
            return False
        for camera_id, (data, updated) in rows.items():
            if (camera_id, "reference") not in self.pending:
                await self.memory.put(camera_id, "reference", data)
            self._reference_at[camera_id] = _utc(updated)
            self._seen(updated)
        self._last_refresh = time.monotonic()
        return True

    async def flush_once(self) -> bool:
        """Write everything pending in one transaction. True when committed (or nothing to write)."""
        if not self.pending:
            self.healthy = True
            return True
        batch = dict(self.pending)
        try:
            await asyncio.to_thread(_write, self.engine, batch)
        except Exception as exc:
            self._failed("write", exc)
            return False
        for key, data in batch.items():
            if self.pending.get(key) is data:  # not replaced while the batch was written
                del self.pending[key]
        self.stats.written += len(batch)
        self.stats.last_ok = time.time()
        self.healthy = True
        return True

    async def run(self) -> None:
        """Flush every ``interval_s`` (growing back-off while the DB fails); refresh references every
        ``refresh_s``."""
        delay = self.interval_s
        while True:
            await asyncio.sleep(delay)
            ok = await self.flush_once()
            if ok and time.monotonic() - self._last_refresh >= self.refresh_s:
                ok = await self.refresh_references()
            delay = self.interval_s if ok else min(self.max_backoff_s, max(delay * 2, self.interval_s))

    async def close(self, timeout_s: float) -> bool:
        """A final flush, bounded by ``timeout_s``. True when nothing is left unwritten."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                return await self.flush_once()
        log.error("frame signatures: final flush timed out (%d not written)", len(self.pending))
        return False

    def _failed(self, what: str, exc: Exception) -> None:
        self.stats.errors += 1
        self.healthy = False
        log.warning("frame signatures: %s failed (%d pending): %s", what, len(self.pending), type(exc).__name__)


# --- database I/O (sync; run in a worker thread) ------------------------------------------------------


def _load_all(engine: Engine) -> dict[tuple[str, Kind], tuple[bytes, dt.datetime]]:
    t = frame_signatures
    out: dict[tuple[str, Kind], tuple[bytes, dt.datetime]] = {}
    with engine.connect() as conn:
        for camera_id, kind, data, updated in conn.execute(
            sa.select(t.c.camera_id, t.c.kind, t.c.data, t.c.updated_at)
        ):
            if kind in ("last", "reference"):
                out[(camera_id, kind)] = (bytes(data), updated)
    return out


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _load_references(
    engine: Engine, since: dt.datetime | None, known: Mapping[str, dt.datetime]
) -> dict[str, tuple[bytes, dt.datetime]]:
    """Reference signatures updated at or after ``since`` (all when ``None``) whose time is not the ``known`` one
    (camera id → updated_at already in memory): the times are listed first, the data read only for those."""
    t = frame_signatures
    listed = sa.select(t.c.camera_id, t.c.updated_at).where(t.c.kind == "reference")
    if since is not None:
        listed = listed.where(t.c.updated_at >= since)
    out: dict[str, tuple[bytes, dt.datetime]] = {}
    with engine.connect() as conn:
        changed = [cid for cid, updated in conn.execute(listed) if known.get(cid) != _utc(updated)]
        for start in range(0, len(changed), READ_CHUNK):
            chunk = changed[start : start + READ_CHUNK]
            q = sa.select(t.c.camera_id, t.c.data, t.c.updated_at)
            q = q.where(t.c.kind == "reference", t.c.camera_id.in_(chunk))
            out.update((cid, (bytes(data), updated)) for cid, data, updated in conn.execute(q))
    return out


def _write(engine: Engine, batch: Mapping[tuple[str, Kind], bytes]) -> None:
    """One transaction: ``last`` signatures replace the stored ones; a ``reference`` is kept if one exists."""
    at = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        for (camera_id, kind), data in batch.items():
            history.save_signature(conn, camera_id, kind, data, at, replace=kind != "reference")
