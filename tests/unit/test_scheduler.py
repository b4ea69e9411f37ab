"""The scheduler with fake probers in PROBERS: spreading, limits, deadlines, accounting, shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest

from sharpeyes.exporter.collector import SharpeyesCollector
from sharpeyes.probers.base import (
    PROBERS,
    Deadline,
    DecodersBusyError,
    ProbeResult,
    ProbeTarget,
    Reason,
    ResultBuilder,
)
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.results import ResultStore
from sharpeyes.runtime import Config, Runtime
from sharpeyes.scheduler import Limits, Scheduler, slot_offset, sweep_window
from sharpeyes.settings import ProbeModule


class FakeProber:
    """Sleeps per camera, tracks concurrency overall and per host, and when each camera was probed."""

    def __init__(self, sleep: Callable[[str], float] = lambda _: 0.0, fail: frozenset[str] = frozenset()) -> None:
        self.sleep, self.fail = sleep, fail
        self.locked: frozenset[str] = frozenset()
        self.started: dict[str, list[float]] = defaultdict(list)
        self.running = 0
        self.max_running = 0
        self.per_host: Counter[str] = Counter()
        self.max_per_host = 0

    async def __call__(self, target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        self.started[target.camera_id].append(time.monotonic())
        b = ResultBuilder(target, module.name)
        self.running += 1
        self.per_host[target.host] += 1
        self.max_running = max(self.max_running, self.running)
        self.max_per_host = max(self.max_per_host, self.per_host[target.host])
        try:
            await asyncio.sleep(self.sleep(target.camera_id))
        finally:
            self.running -= 1
            self.per_host[target.host] -= 1
        if target.camera_id in self.locked:
            return b.finish(Reason.LOCKED_OUT_BACKOFF)
        return b.finish(Reason.REFUSED if target.camera_id in self.fail else Reason.OK)


def module(interval: float = 2.0, timeout: float = 0.5) -> ProbeModule:
    return ProbeModule(name="live", prober="rtsp", interval_s=interval, timeout_s=timeout, read_timeout_s=timeout)


def city(n: int, hosts: int | None = None, out_of_service: int = 0) -> Inventory:
    cams = tuple(
        Camera(f"c{i}", f"c{i}", "a", f"127.0.0.{1 + (i % hosts if hosts else i)}", in_service=i >= out_of_service)
        for i in range(n)
    )
    return Inventory((District("C", "c", DistrictLevel.CITY),), (Area("a", "a", "C", Scope.PUBLIC, "x", 1),), cams)


def make(inv: Inventory, mod: ProbeModule, limits: Limits | None = None) -> tuple[Runtime, Scheduler]:
    rt = Runtime(Config(inv, {mod.name: mod}), ResultStore({mod.name: mod.prober}))
    return rt, Scheduler(rt, limits=limits or Limits())


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProber:
    f = FakeProber()
    monkeypatch.setitem(PROBERS, "rtsp", f)
    return f


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def run_sweeps(rt: Runtime, sched: Scheduler, sweeps: int, timeout: float = 5.0) -> None:
    """Start the scheduler, wait until the ``live`` module completed ``sweeps`` sweeps, and stop it."""
    sched.start()
    try:
        await wait_for(lambda: rt.sweeps["live"].sweeps >= sweeps, timeout=timeout)
    finally:
        await sched.stop()


def test_slot_offsets_are_stable_bounded_and_even() -> None:
    offsets = [slot_offset("live", f"cam-{i}", 60.0) for i in range(2000)]
    assert offsets == [slot_offset("live", f"cam-{i}", 60.0) for i in range(2000)]
    assert all(0 <= o < 60 for o in offsets)
    per_bin = Counter(int(o // 6) for o in offsets)
    assert all(140 <= per_bin[b] <= 260 for b in range(10)), per_bin  # 200 expected per 6 s bin
    assert slot_offset("frame", "cam-1", 60.0) != slot_offset("live", "cam-1", 60.0)


def test_sweep_window_leaves_room_for_the_deadline() -> None:
    assert sweep_window(module(60, 5)) == pytest.approx((47.7, 53.0))
    assert sweep_window(module(2, 0.5)) == pytest.approx((1.17, 1.3))
    assert sweep_window(module(1, 1)) == pytest.approx((0.45, 0.5))


async def test_one_sweep_spreads_probes_and_accounts_every_slot(fake: FakeProber) -> None:
    fake.fail = frozenset({"c3"})
    fake.locked = frozenset({"c5"})
    rt, sched = make(city(20, out_of_service=2), module())
    t0 = time.monotonic()
    await run_sweeps(rt, sched, 1)
    stats = rt.sweeps["live"]
    assert set(fake.started) == {f"c{i}" for i in range(2, 20)}  # out-of-service cameras are not probed
    firsts = sorted(v[0] - t0 for v in fake.started.values())
    assert firsts[-1] - firsts[0] > 0.5  # spread, not a burst
    assert firsts[-1] < 1.17 + 0.3
    assert stats.scheduled == stats.accounted() >= 18
    assert stats.outcomes["ok"] >= 16 and stats.outcomes["failure"] == 1 and stats.skipped["backoff"] == 1
    assert rt.store.camera_status("c3").up is False and rt.store.camera_status("c4").up is True
    assert stats.last_complete is not None and stats.last_lag_s is not None and stats.last_lag_s < 0.2


async def test_one_probe_per_host_and_a_global_limit(fake: FakeProber) -> None:
    fake.sleep = lambda _: 0.05
    rt, sched = make(city(24, hosts=3), module(interval=3.0, timeout=0.5), Limits(concurrency=2))
    await run_sweeps(rt, sched, 1)
    assert fake.max_per_host == 1 and fake.max_running <= 2
    assert rt.sweeps["live"].outcomes["ok"] == 24


async def test_saturated_limits_skip_late_slots_with_a_reason(fake: FakeProber) -> None:
    fake.sleep = lambda _: 0.4
    rt, sched = make(city(10), module(interval=2.0, timeout=0.5), Limits(concurrency=1))
    await run_sweeps(rt, sched, 1)
    stats = rt.sweeps["live"]
    assert stats.skipped["late"] >= 5  # ~1.3 s of start window, 0.4 s per probe, one at a time
    assert stats.outcomes["ok"] + stats.skipped["late"] == 10 == stats.accounted()
    assert stats.last_duration_s is not None and stats.last_duration_s < 2.0  # never overruns the interval


async def test_a_hung_camera_costs_one_deadline(fake: FakeProber) -> None:
    fake.sleep = lambda cid: 1000.0 if cid == "c0" else 0.0
    rt, sched = make(city(5), module(interval=2.0, timeout=0.5))
    await run_sweeps(rt, sched, 1)
    last = rt.store.latest[("c0", "live")].result
    assert last is not None and last.reason is Reason.TIMEOUT and last.duration_s < 0.7
    assert rt.sweeps["live"].outcomes == {"ok": 4, "failure": 1}


async def test_shutdown_is_bounded_and_records_every_slot(fake: FakeProber) -> None:
    fake.sleep = lambda _: 1000.0
    rt, sched = make(city(30), module(interval=10.0, timeout=100.0), Limits(concurrency=5, shutdown_grace_s=0.2))
    sched.start()  # slots spread over 4.5 s
    await wait_for(lambda: fake.running >= 2)  # a few in flight, most still waiting for their slot
    t = time.monotonic()
    await sched.stop()
    assert time.monotonic() - t < 1.5
    stats = rt.sweeps["live"]
    await wait_for(lambda: stats.accounted() == stats.scheduled == 30)
    assert stats.skipped["shutdown"] == 30 and fake.running == 0
    assert stats.last_complete is None  # an interrupted sweep is not a fresh one


async def test_overrun_and_missed_sweeps_are_counted_once(fake: FakeProber) -> None:
    # interval 1 s, timeout 1 s: start-by 0.5 s; c1 may wait for c0's host (0.3 s), then runs 0.9 s
    fake.sleep = lambda cid: 0.3 if cid == "c0" else 0.9
    inv = Inventory(city(1).districts, city(1).areas,
                    (Camera("c0", "c0", "a", "127.0.0.1"), Camera("c1", "c1", "a", "127.0.0.1")))  # fmt: skip
    rt, sched = make(inv, module(interval=1.0, timeout=1.0))
    await run_sweeps(rt, sched, 2, timeout=6)
    stats = rt.sweeps["live"]
    assert stats.overruns >= 1 and stats.skipped["overrun"] >= 2
    assert stats.scheduled == stats.accounted()


async def test_process_pause_counts_missed_slots(fake: FakeProber) -> None:
    rt, sched = make(city(3), module(interval=60.0, timeout=1.0))
    stats = rt.sweeps["live"]
    sched._last_sweep_start["live"] = time.monotonic() - 600  # as if the process was paused for 10 minutes
    sched._count_missed("live", module(interval=60.0, timeout=1.0), stats, 3)
    assert stats.skipped["missed"] == 27 and stats.scheduled == 27


async def test_reload_retimes_adds_and_removes_jobs(fake: FakeProber) -> None:
    rt, sched = make(city(2), module(interval=2.0))
    sched.start()
    try:
        await wait_for(lambda: rt.sweeps["live"].sweeps >= 1)
        other = ProbeModule(name="inv", prober="rtsp", interval_s=2, timeout_s=0.5, read_timeout_s=0.5)
        rt.swap(Config(rt.config.inventory, {"inv": other}))
        sched.apply_config()
        assert [j.id for j in sched._sched.get_jobs()] == ["inv"]
        await wait_for(lambda: rt.sweeps["inv"].sweeps >= 1)
    finally:
        await sched.stop()


async def test_probe_now_shares_the_host_lock(fake: FakeProber) -> None:
    fake.sleep = lambda _: 0.1
    rt, sched = make(city(2, hosts=1), module(interval=60.0))
    cams = rt.config.inventory.cameras
    mod = module(interval=60.0)
    results = await asyncio.gather(*(sched.probe_now(c, mod, Deadline(1.0)) for c in cams))
    assert all(r.ok for r in results) and fake.max_per_host == 1
    assert not rt.store.latest  # on-demand probes are not part of the schedule's record


async def test_wall_clock_stepped_back_does_not_stall_sweeps(fake: FakeProber) -> None:
    """T1: APScheduler's next run an hour away (what a wall clock stepped back an hour does): the monotonic
    watchdog starts the sweep anyway, and the slots in between are counted as missed."""
    rt, sched = make(city(3), module(interval=1.0, timeout=0.3))
    sched.start()
    try:
        stats = rt.sweeps["live"]
        await wait_for(lambda: stats.sweeps >= 1)
        job = sched._sched.get_job("live")
        assert job is not None
        job.modify(next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        done = stats.sweeps
        await wait_for(lambda: stats.sweeps >= done + 2, timeout=8.0)
    finally:
        await sched.stop()
    assert stats.skipped["missed"] >= 3 and stats.scheduled == stats.accounted()


async def test_a_transient_failure_is_retried_once_and_only_the_last_result_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: Counter[str] = Counter()

    async def flaky(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        calls[target.camera_id] += 1
        b = ResultBuilder(target, module.name)
        if target.camera_id == "c0" and calls["c0"] == 1:
            return b.finish(Reason.TIMEOUT)  # a lost packet, once
        if target.camera_id == "c1":
            return b.finish(Reason.AUTH)  # never retried: cameras lock out
        return b.finish(Reason.OK)

    monkeypatch.setitem(PROBERS, "rtsp", flaky)
    rt, sched = make(city(3), module(interval=4.0, timeout=0.5), Limits(retry_jitter_s=(0.05, 0.1)))
    await run_sweeps(rt, sched, 1)
    stats = rt.sweeps["live"]
    assert calls["c0"] == 2 and calls["c1"] == 1 and stats.retries == 1
    assert stats.outcomes == {"ok": 2, "failure": 1}
    assert [t.to_state for _, t in rt.store.pending if t.camera_id == "c0"] == ["up"]  # no false outage


async def test_frame_probes_hold_only_their_share_and_never_queue_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    """RELIABILITY R1-1: frame-health probes hold a permit for seconds; with ``frame_share`` 0.25 of 8 permits at
    most 2 run at once, and every liveness probe of the same sweep starts on time (none skipped ``late``)."""
    live, frames = FakeProber(), FakeProber(sleep=lambda _: 0.6)
    monkeypatch.setitem(PROBERS, "rtsp", live)
    monkeypatch.setitem(PROBERS, "frame", frames)
    live_mod = module(interval=3.0, timeout=0.5)
    frame_mod = ProbeModule(name="frame", prober="frame", interval_s=3.0, timeout_s=1.0, read_timeout_s=1.0)
    rt = Runtime(
        Config(city(20), {"live": live_mod, "frame": frame_mod}), ResultStore({"live": "rtsp", "frame": "frame"})
    )
    sched = Scheduler(rt, limits=Limits(concurrency=8, per_host=4, frame_share=0.25))
    sched.start()
    try:
        await wait_for(lambda: rt.sweeps["live"].sweeps >= 1 and rt.sweeps["frame"].sweeps >= 1, timeout=10.0)
    finally:
        await sched.stop()
    assert frames.max_running == 2, frames.max_running
    assert rt.sweeps["live"].outcomes["ok"] == 20 and not rt.sweeps["live"].skipped, rt.sweeps["live"]
    assert rt.sweeps["frame"].outcomes["ok"] + sum(rt.sweeps["frame"].skipped.values()) == 20


async def test_a_sweep_retries_at_most_its_retry_share_of_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """RELIABILITY R1-1: when every camera times out at once (a segment down, a starved host), a sweep of 40 slots
    with ``retry_share`` 0.5 retries 20 of them, not 40: the rest record their first result."""
    calls: Counter[str] = Counter()

    async def dead(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        calls[target.camera_id] += 1
        return ResultBuilder(target, module.name).finish(Reason.TIMEOUT)

    monkeypatch.setitem(PROBERS, "rtsp", dead)
    limits = Limits(retry_jitter_s=(0.01, 0.02), retry_share=0.5, concurrency=64)
    rt, sched = make(city(40), module(interval=4.0, timeout=0.5), limits)
    await run_sweeps(rt, sched, 1)
    stats = rt.sweeps["live"]
    assert stats.retries == 20 and sum(calls.values()) == 60
    assert sorted(Counter(calls.values()).items()) == [(1, 20), (2, 20)]
    assert stats.outcomes == {"failure": 40}


def starved_first_call(calls: list[float], answer: Callable[[int], Reason]) -> Callable[..., object]:
    """A prober whose first call holds the loop 0.4 s (what CPU starvation does to every coroutine) and then
    times out; call ``n`` (from 1) answers ``answer(n)`` after 0.1 s."""

    async def prober(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(0.4)
        await asyncio.sleep(0.1)
        return ResultBuilder(target, module.name).finish(Reason.TIMEOUT if len(calls) == 1 else answer(len(calls)))

    return prober


async def test_a_timeout_while_the_event_loop_lagged_is_probed_again_in_the_same_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RELIABILITY R1-1: the camera's probe times out just after the loop was held for 0.4 s (its answer may wait
    unread): that result is void, and the camera is probed again a moment later in the same sweep. It answers:
    recorded up, no skip, no outage."""
    calls: list[float] = []
    monkeypatch.setitem(PROBERS, "rtsp", starved_first_call(calls, lambda _: Reason.OK))
    rt, sched = make(city(1), module(interval=6.0, timeout=1.0), Limits(retry_jitter_s=(0.01, 0.02)))
    await run_sweeps(rt, sched, 1, timeout=8.0)
    stats = rt.sweeps["live"]
    assert stats.outcomes == {"ok": 1} and not stats.skipped and stats.retries == 1
    assert len(calls) == 2 and 0.5 <= calls[1] - calls[0] < 1.0
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "up")]
    exported = {s.name: s.value for m in SharpeyesCollector(rt).collect() for s in m.samples}
    assert 0.3 <= exported["sharpeyes_event_loop_lag_seconds_total"] < 1.0  # the hold, less up to one tick


async def test_a_camera_that_went_dark_during_a_stall_is_recorded_down_in_the_same_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The voided probe's camera really is blackholed: probed again it times out on a free loop, a real failure,
    retried once as any timeout is, then recorded down — in this sweep, not the next (soak R2: late onsets)."""
    calls: list[float] = []
    monkeypatch.setitem(PROBERS, "rtsp", starved_first_call(calls, lambda _: Reason.TIMEOUT))
    rt, sched = make(city(1), module(interval=6.0, timeout=1.0), Limits(retry_jitter_s=(0.01, 0.02)))
    await run_sweeps(rt, sched, 1, timeout=8.0)
    stats = rt.sweeps["live"]
    assert stats.outcomes == {"failure": 1} and not stats.skipped
    assert len(calls) == 3 and stats.retries == 2
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "down")]


async def test_a_stall_not_yet_seen_by_the_lag_monitor_when_the_reprobe_starts_does_not_void_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first probe holds the loop 0.4 s and times out at once; with no pause the re-probe starts in the same
    loop turn, before the lag monitor's overdue wake-up has recorded that stall. The re-probe's own timeout, on a
    free loop, is the camera's: recorded down in this sweep, not voided by the stall that ended before it began."""
    calls: list[float] = []

    async def prober(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(0.4)
        else:
            await asyncio.sleep(0.1)
        return ResultBuilder(target, module.name).finish(Reason.TIMEOUT)

    monkeypatch.setitem(PROBERS, "rtsp", prober)
    rt, sched = make(city(1), module(interval=6.0, timeout=1.0), Limits(retry_jitter_s=(0.0, 0.0)))
    await run_sweeps(rt, sched, 1, timeout=8.0)
    stats = rt.sweeps["live"]
    assert stats.outcomes == {"failure": 1} and not stats.skipped, (stats.outcomes, stats.skipped)
    assert len(calls) == 3
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "down")]


async def test_a_voided_probe_without_retry_budget_is_an_overload_skip_probed_next_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no retry budget left in the sweep the voided slot is skipped as ``overload``: nothing recorded.
    Next sweep the camera times out on a free loop and is recorded down."""
    calls: list[float] = []
    monkeypatch.setitem(PROBERS, "rtsp", starved_first_call(calls, lambda _: Reason.TIMEOUT))
    monkeypatch.setattr("sharpeyes.scheduler.MIN_RETRY_BUDGET", 0)
    limits = Limits(retry_jitter_s=(0.01, 0.02), retry_share=0.0)
    rt, sched = make(city(1), module(interval=2.0, timeout=1.0), limits)
    await run_sweeps(rt, sched, 2)
    stats = rt.sweeps["live"]
    assert stats.skipped == {"overload": 1} and stats.outcomes == {"failure": 1}
    assert len(calls) == 2 and stats.retries == 0
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "down")]


def busy_first_call(calls: list[float]) -> Callable[..., object]:
    """A frame-like prober whose first call finds every decode worker busy (back-pressure, camera not judged)
    and whose later calls answer ``ok``."""

    async def prober(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        calls.append(time.monotonic())
        await asyncio.sleep(0.05)
        if len(calls) == 1:
            raise DecodersBusyError("decode workers saturated; camera not contacted")
        return ResultBuilder(target, module.name).finish(Reason.OK)

    return prober


async def test_a_slot_that_found_the_decoders_busy_is_probed_again_in_the_same_sweep(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Soak on a slower machine: a daemon's first frame sweep found the decoders busy for a few cameras, whose
    pictures then waited a whole frame interval. Such a slot is probed once more a moment later, as a voided one
    is: recorded in this sweep, no skip counted, nothing logged as skipped."""
    calls: list[float] = []
    monkeypatch.setitem(PROBERS, "rtsp", busy_first_call(calls))
    rt, sched = make(city(1), module(interval=6.0, timeout=1.0), Limits(retry_jitter_s=(0.01, 0.02)))
    await run_sweeps(rt, sched, 1, timeout=8.0)
    stats = rt.sweeps["live"]
    assert stats.outcomes == {"ok": 1} and not stats.skipped and stats.retries == 1
    assert len(calls) == 2 and calls[1] - calls[0] < 1.0
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "up")]
    assert "skipped as decoders_busy" not in caplog.text


async def test_decoders_busy_without_re_probe_budget_is_a_skip_probed_next_sweep(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With no re-probe budget left the slot stays skipped as ``decoders_busy`` (counted, logged once with the
    pool's own message), nothing recorded; next sweep the camera is probed and recorded."""
    calls: list[float] = []
    monkeypatch.setitem(PROBERS, "rtsp", busy_first_call(calls))
    monkeypatch.setattr("sharpeyes.scheduler.MIN_RETRY_BUDGET", 0)
    limits = Limits(retry_jitter_s=(0.01, 0.02), retry_share=0.0)
    rt, sched = make(city(1), module(interval=2.0, timeout=1.0), limits)
    await run_sweeps(rt, sched, 2)
    stats = rt.sweeps["live"]
    assert stats.skipped == {"decoders_busy": 1} and stats.outcomes == {"ok": 1} and stats.retries == 0
    assert len(calls) == 2
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "up")]
    warnings = [r.getMessage() for r in caplog.records if "skipped as decoders_busy" in r.getMessage()]
    assert len(warnings) == 1 and "camera not contacted" in warnings[0] and "re-probe budget" in warnings[0]


async def test_a_stall_early_in_a_probe_does_not_void_its_later_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop is held 0.6 s at the start of a probe that times out 1.3 s later (a blackholed camera on a host
    with one long pause): once the loop resumed, an answer would have been read, so the timeout is the camera's
    — recorded down, not skipped."""

    async def blackholed(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        time.sleep(0.6)
        await asyncio.sleep(1.3)
        return ResultBuilder(target, module.name).finish(Reason.TIMEOUT)

    monkeypatch.setitem(PROBERS, "rtsp", blackholed)
    rt, sched = make(city(1), module(interval=4.0, timeout=2.0), Limits(retries=0))
    await run_sweeps(rt, sched, 1)
    stats = rt.sweeps["live"]
    assert stats.skipped == {} and stats.outcomes == {"failure": 1}
    assert [(t.camera_id, t.to_state) for _, t in rt.store.pending] == [("c0", "down")]


async def test_a_sweep_does_not_hold_its_finished_slots(fake: FakeProber) -> None:
    """Memory of a sweep in progress is its slots in flight: a finished slot's task is let go at once, not kept
    until the sweep ends (a 30-minute frame sweep of 5,000 cameras held ~2 MB of finished tasks, a sawtooth the
    soak's RSS slope measured as growth)."""
    rt, sched = make(city(40), module(interval=4.0, timeout=1.0))
    gc.collect()
    earlier = {id(t) for t in _finished_slots()}  # other tests' schedulers may leave theirs behind
    sched.start()
    try:
        await wait_for(lambda: len(fake.started) >= 10)
        assert rt.sweeps["live"].sweeps == 0  # the sweep is still going, its first slots are done
        gc.collect()
        finished = [t for t in _finished_slots() if id(t) not in earlier]
        assert len(finished) <= 1, finished  # at most the one the sweep's loop just created (its local variable)
    finally:
        await sched.stop()


def _finished_slots() -> list[asyncio.Task[object]]:
    return [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and o.done() and _is_slot(o)]


def _is_slot(task: asyncio.Task[object]) -> bool:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "") == "Scheduler._slot"


async def test_the_last_sweeps_slot_lags_are_kept_and_nothing_older(fake: FakeProber) -> None:
    """Each completed sweep replaces the kept slot lags (memory bounded by one sweep, not by the run's length)."""
    rt, sched = make(city(12), module(interval=1.0, timeout=0.3))
    await run_sweeps(rt, sched, 2)
    stats = rt.sweeps["live"]
    assert stats.sweeps >= 2
    assert 1 <= len(stats.last_lags) <= 12  # one sweep's slots, not the two sweeps' 24
    assert max(stats.last_lags) == stats.last_lag_s
