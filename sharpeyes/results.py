"""Latest state per camera and module, state transitions and daily roll-ups (DESIGN.md §3, §8).

In memory: the latest :class:`ProbeResult` per (camera, module), the state it implies and since when. To the
database: only state *transitions* and daily *roll-ups* (never one row per probe), written in batches by
:class:`StoreWriter` from a bounded buffer.

States of one (camera, module):

- ``up``: the check passed;
- ``fault``: the camera answered but what it showed is wrong (a frame fault, a clock skew);
- ``down``: any other failure of the camera (refused, timeout, auth, no media …).

A transition records why: the result's reason, except for a frame fault, which records its primary fault code
(:func:`transition_reason`: the first of the result's faults in :class:`FaultCode` order, a closed set), so the
audit reports faults by code. A change of primary code while the camera stays faulty is recorded too, as a
``fault`` → ``fault`` transition (at most one per probe; the time-weighted rates are unaffected).

A result with reason ``internal`` (our failure) or ``locked_out_backoff`` (we did not probe) keeps the
previous state: it says nothing about the camera. The first state ever seen is a transition from
``unknown``.

Durability (RELIABILITY.md L2, L3): a transition is recorded once COMMITted. Until then it waits in a
bounded buffer; when the buffer is full the oldest record is dropped and counted. Writes are idempotent
(unique key camera, module, at; roll-ups are upserted with absolute values), so a retried batch never
duplicates. On restart, :meth:`ResultStore.restore` reloads each (camera, module)'s last recorded state and
today's roll-ups, so a state already recorded is not recorded again and roll-ups continue rather than
restart.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import enum
import logging
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from sharpeyes.probers.base import LIVENESS_RANK, FaultCode, Phase, ProbeResult, Reason
from sharpeyes.rates import ONLINE_STATES, CameraStatus, StatePoint
from sharpeyes.registry import history
from sharpeyes.registry import models as tables
from sharpeyes.registry.history import Transition
from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)

UNKNOWN = "unknown"

_REACHED_AFTER: Mapping[str, frozenset[Phase]] = {
    "rtsp": frozenset({Phase.SETUP, Phase.PLAY, Phase.FIRST_BYTE, Phase.KEYFRAME, Phase.DECODE, Phase.TEARDOWN}),
    "frame": frozenset({Phase.FIRST_BYTE, Phase.KEYFRAME, Phase.DECODE, Phase.ANALYSE, Phase.TEARDOWN}),
    "onvif": frozenset({Phase.SNAPSHOT_URI, Phase.SNAPSHOT}),
}
"""Failures in these phases still prove the stream was reached (DESCRIBE answered / stream URI resolved)."""

_NO_PICTURE = frozenset({Reason.NO_MEDIA, Reason.DECODE_ERROR})
_FAULT_ORDER: Mapping[FaultCode, int] = {code: i for i, code in enumerate(FaultCode)}

PROBE_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class State(enum.StrEnum):
    """The state of one (camera, module)."""

    UP = "up"
    DOWN = "down"
    FAULT = "fault"


def derive_state(result: ProbeResult) -> State | None:
    """The state a result implies, or ``None`` when it says nothing about the camera."""
    if result.ok:
        return State.UP
    if result.reason in (Reason.INTERNAL, Reason.LOCKED_OUT_BACKOFF):
        return None
    if result.reason in (Reason.FRAME_FAULT, Reason.CLOCK_SKEW):
        return State.FAULT
    return State.DOWN


def transition_reason(result: ProbeResult) -> str:
    """The reason a transition records: a frame fault's primary code (first in :class:`FaultCode` order, which
    puts causes before their symptoms), else the result's reason (``frame_fault`` for one without codes)."""
    if result.reason is Reason.FRAME_FAULT and result.faults:
        return min(result.faults, key=_FAULT_ORDER.__getitem__).value
    return result.reason.value


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


@dataclass(slots=True)
class Rollup:
    """One camera's day for one module: seconds online and observed, probes and failures."""

    seconds_up: float = 0.0
    seconds_known: float = 0.0
    probes: int = 0
    failures: int = 0


@dataclass(slots=True)
class Latest:
    """What is held in memory for one (camera, module)."""

    state: str = UNKNOWN
    since: float | None = None
    reason: str | None = None
    """The reason recorded with the last transition (for a fault: its primary code)."""
    result: ProbeResult | None = None
    last_at: float | None = None
    last_success: float | None = None
    stream_reached_at: float | None = None
    frame_faults: tuple[FaultCode, ...] | None = None


@dataclass(slots=True)
class DurationHistogram:
    """Cumulative probe-duration buckets for one module (rendered as a Prometheus histogram)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(PROBE_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(PROBE_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, n in zip((*PROBE_BUCKETS, float("inf")), self.counts, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


@dataclass(slots=True)
class Counters:
    """Self-metrics of results and storage."""

    results: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    dropped: int = 0
    storage_errors: int = 0
    transitions_written: int = 0
    last_flush_ok: float | None = None


class ResultStore:
    """The in-memory latest state, plus the pending transitions and dirty roll-ups waiting for the writer.

    Not thread-safe: use it from the event loop only (the writer copies batches on the loop).
    """

    def __init__(
        self,
        module_probers: Mapping[str, str] | None = None,
        *,
        buffer_limit: int = 100_000,
        max_gap_s: Mapping[str, float] | None = None,
        default_max_gap_s: float = 600.0,
    ) -> None:
        self.module_probers: dict[str, str] = dict(module_probers or {})
        self.max_gap_s: dict[str, float] = dict(max_gap_s or {})
        self.default_max_gap_s = default_max_gap_s
        self.latest: dict[tuple[str, str], Latest] = {}
        self.by_camera: dict[str, dict[str, Latest]] = defaultdict(dict)
        self.pending: deque[tuple[int, Transition]] = deque()
        self.buffer_limit = buffer_limit
        self._seq = 0
        self.rollups: dict[tuple[str, str, dt.date], Rollup] = {}
        self.dirty: set[tuple[str, str, dt.date]] = set()
        self.counters = Counters()
        self.histograms: dict[str, DurationHistogram] = defaultdict(DurationHistogram)

    def configure(self, modules: Mapping[str, ProbeModule]) -> None:
        """Follow the modules (after start or a reload): their probers, and the longest gap between two
        results still counted as observed time in roll-ups (two intervals plus the deadline)."""
        self.module_probers = {name: m.prober for name, m in modules.items()}
        self.max_gap_s = {name: 2 * m.interval_s + m.timeout_s for name, m in modules.items()}

    # --- recording ----------------------------------------------------------------------------------

    def record(self, result: ProbeResult) -> Transition | None:
        """Take one result in: latest state, counters, roll-ups, and a transition if the state changed."""
        key = (result.camera_id, result.module)
        entry = self.latest.get(key)
        if entry is None:
            entry = self.latest[key] = Latest()
            self.by_camera[result.camera_id][result.module] = entry
        end = result.started_wall + result.duration_s
        self.counters.results[(result.module, result.reason.value)] += 1
        self.histograms[result.module].observe(result.duration_s)
        self._credit(result, entry, end)
        entry.result = result
        entry.last_at = end
        self._update_observations(result, entry, end)
        return self._maybe_transition(result, entry, end)

    def _maybe_transition(self, result: ProbeResult, entry: Latest, end: float) -> Transition | None:
        state = derive_state(result)
        if state is None:
            return None
        reason = transition_reason(result)
        if state.value == entry.state and (state is not State.FAULT or reason == entry.reason):
            return None
        tr = Transition(result.camera_id, result.module, entry.state, state.value, reason, utc(end))
        if state.value != entry.state:
            entry.since = end
        entry.state, entry.reason = state.value, reason
        self._enqueue(tr)
        return tr

    def _enqueue(self, tr: Transition) -> None:
        self._seq += 1
        self.pending.append((self._seq, tr))
        while len(self.pending) > self.buffer_limit:
            self.pending.popleft()
            self.counters.dropped += 1

    def _update_observations(self, result: ProbeResult, entry: Latest, end: float) -> None:
        prober = self.module_probers.get(result.module, "")
        if result.ok:
            entry.last_success = end
        reached = result.ok or result.reason is Reason.FRAME_FAULT or result.phase in _REACHED_AFTER.get(prober, ())
        if reached or result.observations.get("stream_uri_resolved") == 1:
            entry.stream_reached_at = end
        if prober == "frame":
            if result.ok:
                entry.frame_faults = ()
            elif result.reason is Reason.FRAME_FAULT:
                entry.frame_faults = result.faults or (FaultCode.SIGNAL_LOSS,)
            elif result.reason in _NO_PICTURE:
                entry.frame_faults = (FaultCode.SIGNAL_LOSS,)

    def _credit(self, result: ProbeResult, entry: Latest, end: float) -> None:
        """Roll-ups: the span since the previous result goes to the previous state, split at UTC midnight."""
        day = utc(end).date()
        roll = self._rollup(result.camera_id, result.module, day)
        roll.probes += 1
        roll.failures += not result.ok
        prev = entry.last_at
        gap_limit = self.max_gap_s.get(result.module, self.default_max_gap_s)
        if prev is None or entry.state == UNKNOWN or not 0 < end - prev <= gap_limit:
            return
        online = entry.state in ONLINE_STATES
        start = prev
        while start < end:
            day_start = utc(start).date()
            next_midnight = dt.datetime.combine(day_start + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()
            stop = min(end, next_midnight)
            r = self._rollup(result.camera_id, result.module, day_start)
            r.seconds_known += stop - start
            r.seconds_up += (stop - start) if online else 0.0
            start = stop

    def _rollup(self, camera_id: str, module: str, day: dt.date) -> Rollup:
        key = (camera_id, module, day)
        self.dirty.add(key)
        roll = self.rollups.get(key)
        if roll is None:
            roll = self.rollups[key] = Rollup()
        return roll

    # --- reading -----------------------------------------------------------------------------------

    def camera_status(self, camera_id: str) -> CameraStatus:
        """The distilled status used by :mod:`sharpeyes.rates` (see there for the definitions)."""
        entries = self.by_camera.get(camera_id)
        if not entries:
            return CameraStatus()
        up: bool | None = None
        best: tuple[int, float] | None = None
        reached: float | None = None
        frame: tuple[float, tuple[FaultCode, ...]] | None = None
        for module, entry in list(entries.items()):  # a copy: the exporter may read from a worker thread
            prober = self.module_probers.get(module, "")
            rank = LIVENESS_RANK.get(prober)
            if rank is not None and entry.result is not None and entry.state != UNKNOWN:
                candidate = (-rank, entry.last_at or 0.0)
                if best is None or candidate > best:
                    best, up = candidate, entry.state in ONLINE_STATES
            if entry.stream_reached_at is not None:
                reached = max(reached or 0.0, entry.stream_reached_at)
            if entry.frame_faults is not None and (frame is None or (entry.last_at or 0.0) > frame[0]):
                frame = (entry.last_at or 0.0, entry.frame_faults)
        return CameraStatus(up=up, stream_reached_at=reached, frame_faults=frame[1] if frame else None)

    def statuses(self, camera_ids: Iterable[str]) -> dict[str, CameraStatus]:
        return {cid: self.camera_status(cid) for cid in camera_ids}

    def forget_cameras(self, keep: set[str]) -> None:
        """Drop the in-memory state of cameras no longer registered (their series vanish on the next scrape)."""
        for cid in [c for c in self.by_camera if c not in keep]:
            for module in self.by_camera.pop(cid):
                self.latest.pop((cid, module), None)

    # --- restart -----------------------------------------------------------------------------------

    def restore(self, last_states: LastStates, rollups: RollupRows) -> None:
        """Reload the last recorded state (and its reason) per (camera, module) and today's roll-ups after a
        restart."""
        for (cid, module), (state, at, reason) in last_states.items():
            entry = self.latest.get((cid, module))
            if entry is None:
                entry = self.latest[(cid, module)] = Latest()
                self.by_camera[cid][module] = entry
            entry.state, entry.since, entry.reason = state, _as_utc(at).timestamp(), reason
        for (cid, module, day), roll in rollups.items():
            self.rollups[(cid, module, day)] = roll

    # --- handing batches to the writer ---------------------------------------------------------------

    def take_batch(self, limit: int) -> tuple[int, list[Transition], dict[tuple[str, str, dt.date], Rollup]]:
        """A copy of up to ``limit`` pending transitions (oldest first) and of the dirty roll-ups."""
        batch = [tr for _, tr in list(self._first(limit))]
        last_seq = self.pending[len(batch) - 1][0] if batch else 0
        rolls = {k: Rollup(**_fields(self.rollups[k])) for k in self.dirty}
        return last_seq, batch, rolls

    def _first(self, limit: int) -> Iterable[tuple[int, Transition]]:
        for i, item in enumerate(self.pending):
            if i >= limit:
                break
            yield item

    def commit_batch(self, last_seq: int, rolls: Mapping[tuple[str, str, dt.date], Rollup], today: dt.date) -> None:
        """After COMMIT: drop the written transitions; clean roll-ups unchanged since; forget past days."""
        while self.pending and self.pending[0][0] <= last_seq:
            self.pending.popleft()
        for key, written in rolls.items():
            current = self.rollups.get(key)
            if current is not None and _fields(current) == _fields(written):
                self.dirty.discard(key)
                if key[2] < today:
                    del self.rollups[key]
        self.counters.last_flush_ok = dt.datetime.now(dt.UTC).timestamp()


RollupRows = Mapping[tuple[str, str, dt.date], Rollup]
LastStates = Mapping[tuple[str, str], tuple[str, dt.datetime, str]]
"""(camera, module) → the last recorded transition's state, time and reason."""


def _fields(r: Rollup) -> dict[str, Any]:
    return {"seconds_up": r.seconds_up, "seconds_known": r.seconds_known, "probes": r.probes, "failures": r.failures}


def _as_utc(at: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


# --- database I/O (sync; run in a worker thread) ------------------------------------------------------


def write_batch(engine: Engine, transitions: Sequence[Transition], rolls: RollupRows) -> None:
    """Write one batch in one transaction (``BEGIN IMMEDIATE`` on SQLite): all or nothing, idempotent on retry."""
    with engine.begin() as conn:
        history.record_transitions(conn, transitions)
        history.upsert_rollups(conn, [history.Rollup(c, m, d, **_fields(r)) for (c, m, d), r in rolls.items()])


def load_state(engine: Engine, today: dt.date) -> tuple[LastStates, RollupRows]:
    """The last recorded state (with its time and reason) per (camera, module), and today's roll-ups."""
    t = tables.transitions
    last = (
        select(t.c.camera_id, t.c.module, func.max(t.c.at).label("at")).group_by(t.c.camera_id, t.c.module).subquery()
    )
    q = select(t.c.camera_id, t.c.module, t.c.to_state, t.c.at, t.c.reason).join(
        last, (t.c.camera_id == last.c.camera_id) & (t.c.module == last.c.module) & (t.c.at == last.c.at)
    )
    r = tables.daily_rollups
    with engine.connect() as conn:
        states = {(row.camera_id, row.module): (row.to_state, row.at, row.reason) for row in conn.execute(q)}
        rolls = {
            (row.camera_id, row.module, row.day): Rollup(row.seconds_up, row.seconds_known, row.probes, row.failures)
            for row in conn.execute(select(r).where(r.c.day == today))
        }
    return states, rolls


def fetch_transitions(engine: Engine, camera_id: str | None = None) -> list[Transition]:
    """Recorded transitions, oldest first (for the audit and for tests)."""
    t = tables.transitions
    q = select(t).order_by(t.c.at, t.c.id)
    if camera_id is not None:
        q = q.where(t.c.camera_id == camera_id)
    with engine.connect() as conn:
        return [
            Transition(row.camera_id, row.module, row.from_state, row.to_state, row.reason, _as_utc(row.at))
            for row in conn.execute(q)
        ]


# --- the writer ------------------------------------------------------------------------------------------


class StoreWriter:
    """Flushes the store's pending records to the database in batches; survives and reports DB outages.

    Each flush copies a batch on the event loop, writes it in a worker thread in one transaction, and only
    after COMMIT removes it from the buffer. A failure counts a storage error, backs off (doubling up to
    ``max_backoff_s``) and retries the same records: the idempotent writes make the retry safe.
    """

    def __init__(
        self,
        store: ResultStore,
        engine: Engine,
        *,
        interval_s: float = 1.0,
        batch_size: int = 1000,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.store = store
        self.engine = engine
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.max_backoff_s = max_backoff_s
        self.healthy = True

    async def restore(self) -> None:
        """Reload the last recorded states and today's roll-ups into the store."""
        today = dt.datetime.now(dt.UTC).date()
        states, rolls = await asyncio.to_thread(load_state, self.engine, today)
        self.store.restore(states, rolls)

    async def flush_once(self) -> bool:
        """Write everything pending (in batches). True when all of it is committed."""
        while True:
            last_seq, batch, rolls = self.store.take_batch(self.batch_size)
            if not batch and not rolls:
                self.healthy = True
                return True
            try:
                await asyncio.to_thread(write_batch, self.engine, batch, rolls)
            except Exception as exc:
                self.store.counters.storage_errors += 1
                self.healthy = False
                log.warning("storage write failed (%d transitions kept for retry): %s", len(batch), type(exc).__name__)
                return False
            self.store.counters.transitions_written += len(batch)
            self.store.commit_batch(last_seq, rolls, dt.datetime.now(dt.UTC).date())
            if len(batch) < self.batch_size:
                self.healthy = True
                return True

    async def run(self) -> None:
        """Flush forever: every ``interval_s`` when healthy, with a growing back-off while the DB fails."""
        delay = self.interval_s
        while True:
            await asyncio.sleep(delay)
            ok = await self.flush_once()
            delay = self.interval_s if ok else min(self.max_backoff_s, max(delay * 2, self.interval_s))


def state_points(engine: Engine, module: str, start: dt.datetime, end: dt.datetime) -> dict[str, list[StatePoint]]:
    """Per camera, the transitions of ``module`` that decide its states within ``[start, end)``.

    Includes each camera's last transition *before* ``start`` (the state the window opens in), so
    :func:`sharpeyes.rates.time_online` handles transitions crossing the window's left edge.
    """
    t = tables.transitions
    before = (
        select(t.c.camera_id, func.max(t.c.at).label("at"))
        .where(t.c.module == module, t.c.at < start)
        .group_by(t.c.camera_id)
        .subquery()
    )
    opening = (
        select(t.c.camera_id, t.c.to_state, t.c.at)
        .join(before, (t.c.camera_id == before.c.camera_id) & (t.c.at == before.c.at))
        .where(t.c.module == module)
    )
    inside = select(t.c.camera_id, t.c.to_state, t.c.at).where(t.c.module == module, t.c.at >= start, t.c.at < end)
    out: dict[str, list[StatePoint]] = defaultdict(list)
    with engine.connect() as conn:
        for q in (opening, inside):
            for row in conn.execute(q):
                out[row.camera_id].append(StatePoint(_as_utc(row.at).timestamp(), row.to_state))
    for points in out.values():
        points.sort(key=lambda p: p.at)
    return dict(out)
