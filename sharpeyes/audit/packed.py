"""The audit's history read from the per-day summary (``transition_days``, :mod:`sharpeyes.registry.daysummary`)
instead of the transitions: ~5 times fewer rows, and the times come as integers (no text to parse).

It gives the very :class:`~sharpeyes.audit.history.History` the transitions give (same groups in the same
order, same floats): the window's transitions per camera and module in time order, then per camera and module
its last transition before the window as a group of one; the last transition before the window's end of each;
the cameras online before the window. Two reads side by side (and the caller's consistency check), each its
own short read transaction: the days the window touches (their transitions are cut to the window in numpy: the
partial first and last days need no other read; SQLite joins a group's days in the order it scans them, the
primary key's, as the transitions read relies on its index order), and per camera and module the latest day
before the window (the left edge, from its ``last_*`` columns) and whether any earlier day had an online state.
A (camera, module) whose latest day read ends at or after the window's end (a window in the past) takes its
last transition before the end from the transitions table (looked up by its unique key, in batches).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sharpeyes.audit.history import ONLINE_CODES, STATE_CODES, History, Last
from sharpeyes.audit.model import Window
from sharpeyes.rates import SERVICE_MODULE
from sharpeyes.registry.daysummary import OTHER_CODE, day_of, micros
from sharpeyes.registry.models import transition_days, transitions

D = transition_days
_ONLINE = np.frombuffer("".join(sorted(ONLINE_CODES)).encode(), dtype=np.uint8)
Key = tuple[str, str]


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def bounds_us(window: Window) -> tuple[int, int]:
    """The window's bounds in integer microseconds, as the transitions read compares them (the bound
    ``datetime``, rounded to the microsecond)."""
    return micros(_utc(window.start)), micros(_utc(window.end))


def _days_read(first_day: int, last_day: int) -> Callable[[Connection], Any]:
    """Per camera and module with days from ``first_day`` to ``last_day``: their states and times joined in
    day order, and the latest day's last transition. SQLite joins them (its bare columns come from the row of
    the one ``max(day)``); elsewhere the day rows come in order and :func:`_grouped` joins them."""

    def stmt(conn: Connection) -> Any:
        c = D.c
        where = (c.day >= first_day) & (c.day <= last_day)
        last = (c.last_from, c.last_to, c.last_reason, c.last_at)
        if conn.dialect.name == "sqlite":
            states = sa.cast(sa.func.group_concat(c.states, ""), sa.LargeBinary)
            times = sa.cast(sa.func.group_concat(c.times, ""), sa.LargeBinary)
            grouped = (c.camera_id, c.module, states, times, *last, sa.func.sum(c.n), sa.func.max(c.day))
            return sa.select(*grouped).where(where).group_by(c.camera_id, c.module)
        per_day = (c.camera_id, c.module, c.states, c.times, *last, c.n)
        return sa.select(*per_day).where(where).order_by(c.camera_id, c.module, c.day)

    return stmt


def _grouped(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Day rows in (camera, module, day) order joined per camera and module, as SQLite's grouped read gives
    them: states and times joined, the last day's ``last_*``, the transitions counted."""
    out: list[tuple[Any, ...]] = []
    states: list[bytes] = []
    times: list[bytes] = []
    n = 0
    for i, r in enumerate(rows):
        states.append(bytes(r[2]))
        times.append(bytes(r[3]))
        n += int(r[8])
        if i + 1 == len(rows) or rows[i + 1][:2] != r[:2]:
            out.append((r[0], r[1], b"".join(states), b"".join(times), *r[4:8], n))
            states, times, n = [], [], 0
    return out


def _before_read(first_day: int) -> Callable[[Connection], Any]:
    """Per camera and module with days before ``first_day``: whether any had an online state, and the latest
    one's last transition."""

    def stmt(conn: Connection) -> Any:
        c = D.c
        ever = sa.func.max(c.online)
        if conn.dialect.name == "sqlite":  # the other columns come from the row of the one max(day)
            cols = (c.last_from, c.last_to, c.last_reason, c.last_at, sa.func.max(c.day))
            return (
                sa.select(c.camera_id, c.module, sa.func.total(c.online), *cols)
                .where(c.day < first_day)
                .group_by(c.camera_id, c.module)
            )
        g = (
            sa.select(c.camera_id, c.module, ever.label("ever"), sa.func.max(c.day).label("day"))
            .where(c.day < first_day)
            .group_by(c.camera_id, c.module)
            .cte("latest_days")
        )
        row = D.alias("row_d")
        on = (row.c.camera_id == g.c.camera_id) & (row.c.module == g.c.module) & (row.c.day == g.c.day)
        last = (row.c.last_from, row.c.last_to, row.c.last_reason, row.c.last_at)
        return sa.select(g.c.camera_id, g.c.module, g.c.ever, *last).join(row, on)

    return stmt


def read_packed(
    engine: Engine,
    window: Window,
    read: Callable[[Engine, Callable[[Connection], Any]], list[tuple[Any, ...]]],
    gaps: Callable[[], Collection[str] | None] = lambda: (),
    most: int = 2000,
) -> tuple[History, Collection[str]] | None:
    """The window's :class:`History` from the summary, and the cameras left out of it: those ``gaps``
    names (found while the summary is read), whose transitions the summary does not hold exactly, and those
    with a day in the window whose row packs fewer transitions than it counts (``PACKED_CAP``). ``None``:
    ``gaps`` says not to use the summary at all, or more than ``most`` cameras are left out."""
    s_us, e_us = bounds_us(window)
    first_day, last_day = day_of(s_us), day_of(e_us - 1)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="audit-days") as pool:
        skip_f = pool.submit(gaps)
        days_f = pool.submit(read, engine, _days_read(first_day, last_day))
        before = read(engine, _before_read(first_day))
        earlier = _Before(before)  # while the days are read
        days = days_f.result()
        skip = skip_f.result()
    if skip is None:
        return None
    if engine.dialect.name != "sqlite":  # one row per day: join them per camera and module
        days = _grouped(days)
    short = {r[0] for r in days if len(r[2]) != r[8] or len(r[3]) != 8 * r[8]}
    if short:
        skip = {*skip, *short}
        if len(skip) > most:
            return None
    if skip:
        days = [r for r in days if r[0] not in skip]
        earlier = _Before([r for r in before if r[0] not in skip])
    return _assemble(engine, days, earlier, s_us, e_us), skip


class _Before:
    """The latest day before the window of each (camera, module): its last transition as the left edge and
    as the last before the window's end, and the cameras online before (any module but ``service``)."""

    def __init__(self, before: list[tuple[Any, ...]]) -> None:
        keys: list[Key] = [(r[0], r[1]) for r in before]
        self.edge: dict[Key, tuple[str, float]] = {
            k: (STATE_CODES.get(r[4], OTHER_CODE), r[6] / 1e6) for k, r in zip(keys, before, strict=True)
        }
        self.ever = {r[0] for r in before if r[2] and r[1] != SERVICE_MODULE}
        self.last = {k: Last(r[1], r[3], r[4], r[5], r[6] / 1e6) for k, r in zip(keys, before, strict=True)}


def _assemble(
    engine: Engine,
    days: list[tuple[Any, ...]],
    before: _Before,
    s_us: int,
    e_us: int,
) -> History:
    """The :class:`History` of the day rows read (``days``) and the latest days before them (``before``)."""
    keys: list[Key] = [(r[0], r[1]) for r in days]
    n_per_group = np.fromiter((len(r[2]) for r in days), dtype=np.int64, count=len(days))
    codes = np.frombuffer(b"".join(r[2] for r in days), dtype=np.uint8)
    raw_times = b"".join(r[3] for r in days)
    if len(raw_times) != 8 * len(codes):
        raise ValueError("transition_days: times and states differ in length")
    t = np.frombuffer(raw_times, dtype="<i8").astype(np.int64)
    grp = np.repeat(np.arange(len(days), dtype=np.int64), n_per_group)
    if len(t) > 1 and np.any((grp[1:] == grp[:-1]) & (t[1:] < t[:-1])):
        order = np.lexsort((t, grp))  # appended out of time order: by group, then time
        codes, t, grp = codes[order], t[order], grp[order]
    inside = (t >= s_us) & (t < e_us)
    early = t < s_us

    # The window's groups, in (camera, module) order, transitions in time order.
    counts_all = np.bincount(grp[inside], minlength=len(keys))
    has = counts_all > 0
    win_idx = np.nonzero(has)[0].tolist()
    cameras = [keys[g][0] for g in win_idx]
    modules = [keys[g][1] for g in win_idx]
    counts = counts_all[has].astype(np.int64)
    states = codes[inside].tobytes()
    at = t[inside].astype(np.float64) / 1e6

    # Left edges: per (camera, module), its last transition before the window: in the first day read, or
    # the latest day before it.
    edge = dict(before.edge)
    ever = set(before.ever)
    bi = np.nonzero(early)[0]
    if len(bi):
        gb = grp[bi]
        last_of = np.append(gb[1:] != gb[:-1], True)
        firsts = zip(gb[last_of].tolist(), codes[bi][last_of].tolist(), t[bi][last_of].tolist(), strict=True)
        edge.update((keys[g], (chr(code), us / 1e6)) for g, code, us in firsts)
        on = np.isin(codes[bi], _ONLINE)
        ever.update(keys[g][0] for g in np.unique(gb[on]).tolist() if keys[g][1] != SERVICE_MODULE)
    edge_keys = sorted(edge)

    # The last transition before the window's end per (camera, module): those with a left edge first (in
    # that order), then the others of the window, as the transitions read gives them; None: to look up.
    ei = np.nonzero(t < e_us)[0]
    ge = grp[ei]
    last_before_end = np.append(ge[1:] != ge[:-1], True) if len(ge) else np.zeros(0, dtype=bool)
    final_us = dict(zip(ge[last_before_end].tolist(), t[ei][last_before_end].tolist(), strict=True))
    before_end = [g in final_us for g in range(len(keys))]
    from_days = {
        k: Last(r[1], r[4], r[5], r[6], r[7] / 1e6) if r[7] < e_us else None
        for k, r, some in zip(keys, days, before_end, strict=True)
        if some
    }
    last_in: dict[Key, Last | None] = dict.fromkeys(edge_keys)
    last_in.update(before.last)
    last_in.update(from_days)
    index = {k: g for g, k in enumerate(keys)}
    missing = [(k, final_us[index[k]]) for k, v in last_in.items() if v is None]
    found = _look_up(engine, missing) if missing else {}
    latest: dict[str, list[Last]] = {}
    for (camera_id, _), x in last_in.items():
        latest.setdefault(camera_id, []).append(x if x is not None else found[(camera_id, _)])

    e_cams = [k[0] for k in edge_keys]
    e_mods = [k[1] for k in edge_keys]
    e_codes = "".join(edge[k][0] for k in edge_keys).encode("ascii")
    e_at = np.array([edge[k][1] for k in edge_keys], dtype=np.float64)
    history = History(
        (*cameras, *e_cams),
        (*modules, *e_mods),
        np.concatenate([counts, np.ones(len(edge_keys), dtype=np.int64)]),
        states + e_codes,
        np.concatenate([at, e_at]),
    )
    history.last, history.ever_online_before = latest, ever
    return history


def _look_up(engine: Engine, items: list[tuple[Key, int]]) -> dict[Key, Last]:
    """The transitions of these (camera, module, time in microseconds) from the transitions table (the last of
    each before the window's end, when later ones share its day's row), by their unique key."""
    tc = transitions.c
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    out: dict[Key, Last] = {}
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            for i in range(0, len(items), 500):
                chunk = [(c, m, epoch + dt.timedelta(microseconds=us)) for (c, m), us in items[i : i + 500]]
                wanted = sa.values(
                    sa.column("c", tc.camera_id.type), sa.column("m", tc.module.type), sa.column("a", tc.at.type),
                    name="wanted",
                ).data(chunk).cte("wanted")  # fmt: skip
                on = (tc.camera_id == wanted.c.c) & (tc.module == wanted.c.m) & (tc.at == wanted.c.a)
                stmt = sa.select(tc.camera_id, tc.module, tc.from_state, tc.to_state, tc.reason, tc.at)
                for c, m, frm, to, reason, at in conn.execute(stmt.select_from(wanted).join(transitions, on)):
                    out[(c, m)] = Last(m, frm, to, reason, micros(at) / 1e6)
    if len(out) != len(items):
        raise LookupError("transition_days: a transition it holds is not in the transitions table")
    return out
