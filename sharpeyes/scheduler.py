"""The probe scheduler: each module's sweep spread over its interval, under concurrency limits and deadlines.

One APScheduler 3.x job per probe module (``AsyncIOScheduler``, async jobs only, ``max_instances=1``,
``coalesce``) starts a *sweep* every ``interval_s``. A sweep gives each in-service camera a *slot*: a stable
offset into the interval from a hash of (module, camera), so load is smooth and a camera is probed at the
same phase every time. Offsets lie in the first 90 % of ``[0, interval − timeout − margin)`` so that every
probe that starts on time ends before the next sweep.

A failure that may be transient (``timeout``, ``unreachable``, ``protocol``) is retried ``retries`` times after
a jittered pause if the slot's start-by allows; only the final result is recorded (retries are counted). A sweep
retries at most ``retry_share`` of its slots (at least :data:`MIN_RETRY_BUDGET`): when many cameras fail at once
(a segment down, a starved host), retrying every one doubles the work exactly when there is none to spare, and a
correlated failure is not a lost packet.

Overload (RELIABILITY.md R1-1): a ``timeout`` whose timer fired while the event loop itself was stalled
(:class:`~sharpeyes.looplag.LoopLagMonitor`: a lag of ``overload_lag_share`` of the module's read timeout, at least
:data:`OVERLOAD_MIN_LAG_S`, within the last :data:`OVERLOAD_WINDOW_S` and since the probe began) says more about
this host than about the camera: when a stalled loop resumes, an expired timer runs before the task whose answer has
just been read, so an answer waiting in the socket buffer is lost. Such a result is not recorded: the camera is
probed once more after a jittered pause, before the slot's start-by and within a re-probe budget the size of the
retry budget (its own: blackholed cameras spending the retries must not leave voided slots unprobed), so that a
change it would have shown is recorded in this sweep, not the next; that probe's result is the slot's. When there is
no time or budget left, or that probe is voided too, the slot is skipped as ``overload`` (counted, logged at most
once a minute) and the camera is probed again next sweep. A stall earlier in the probe does not count: once the loop
resumed, the camera's answer would have been read.

Limits: ``per_host`` probes at a time per host (default one: an NVR's channels, a camera's streams), then a
global concurrency limit (host first, so a busy host never holds a global permit while it waits). Each probe
runs under ``run_probe`` with its module's total deadline on the monotonic clock.

File descriptors (RELIABILITY.md R3): the global limit is capped at start by the process's soft
``RLIMIT_NOFILE``, less a reserve for the database, the exporter, logs and worker pipes, divided by the
descriptors one probe holds (:func:`fd_capped_concurrency`); the choice is logged once and exported
(``sharpeyes_probe_concurrency_limit``). If a probe still meets ``EMFILE``/``ENFILE`` (other fds grew, or
the system table is full), that is back-pressure, not the camera's result: the slot is skipped with reason
``fd_budget`` (the next sweep probes it again), counted, and logged at most once a minute. The same holds when
every decode worker stays busy until a frame probe's deadline (``decoders_busy``, RELIABILITY.md R4), except
that such a slot is first probed once more in the same sweep, as a voided one is (pause, re-probe budget,
start-by): the pool is busiest in moments (a daemon's first frame sweep, before admission has measured its
workers), and without it the camera's picture would wait a whole frame interval (RELIABILITY.md L4).

Completeness (RELIABILITY.md L1): every scheduled (camera, module, slot) ends in exactly one outcome, counted
in :class:`~sharpeyes.runtime.SweepStats`: ``ok``, ``failure`` or ``skipped`` with a reason —

- ``backoff``: the prober answered ``locked_out_backoff`` without touching the camera (repeated auth failures);
- ``late``: it could not start before its sweep's start-by time (limits saturated; it would overrun);
- ``overrun``: the whole sweep was not started because the previous one was still running;
- ``missed``: sweeps that should have run while the process was paused or the loop stalled;
- ``shutdown``: the daemon stopped before the probe started, or cancelled it after the grace period;
- ``fd_budget``: the probe ran out of file descriptors (``EMFILE``/``ENFILE``); not recorded for the camera;
- ``decoders_busy``: a frame probe found no free decode worker before its deadline, and its re-probe in the same
  sweep could not run or found them busy too; not recorded either;
- ``overload``: the probe timed out while the event loop lagged (see above); not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import math
import random
import resource
import time
import weakref
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sharpeyes.looplag import LoopLagMonitor
from sharpeyes.probers.base import BackPressureError, Deadline, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.registry.inventory import Camera
from sharpeyes.runtime import Runtime, SweepStats
from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)

TargetFor = Callable[[Camera], ProbeTarget]

RETRYABLE = frozenset({Reason.TIMEOUT, Reason.UNREACHABLE, Reason.PROTOCOL})
"""Failures worth one quick retry (transient on a busy network); never ``auth`` (cameras lock out)."""

MIN_RETRY_BUDGET = 10
"""Retries a sweep may always spend, however few its cameras."""

REPROBED_SKIPS = frozenset({"overload", "decoders_busy"})
"""Skips of our own making that pass in a moment: the slot is probed once more in the same sweep."""

OVERLOAD_MIN_LAG_S = 0.25
"""Loop lag below this never makes a timeout an ``overload`` (scheduling noise)."""

OVERLOAD_WINDOW_S = 1.0
"""How far before a timeout's result the loop's lag is looked at: the stall must overlap the timer's expiry."""


FDS_PER_PROBE = {"frame": 3}
"""File descriptors one probe may hold at once, by prober: a socket, plus a transient one (DNS, TLS, a
re-connect after a redirect); a frame probe also waits on its decode worker's pipe."""
DEFAULT_FDS_PER_PROBE = 2
BACK_PRESSURE_WARNING_EVERY_S = 60.0


def soft_fd_limit() -> int | None:
    """The process's soft ``RLIMIT_NOFILE``, or None when unlimited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def fd_capped_concurrency(configured: int, soft_limit: int | None, fds_per_probe: int, reserve: int) -> int:
    """The global probe limit that fits the fd budget: ``min(configured, (soft − reserve) // fds_per_probe)``,
    at least one (a daemon that probes slowly beats one that cannot probe)."""
    if soft_limit is None:
        return configured
    return max(1, min(configured, (soft_limit - reserve) // max(1, fds_per_probe)))


def slot_offset(module: str, camera_id: str, spread_s: float) -> float:
    """A stable offset in ``[0, spread_s)`` for one camera in one module's sweep."""
    digest = hashlib.sha256(f"{module}\0{camera_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * spread_s


def sweep_window(module: ProbeModule) -> tuple[float, float]:
    """(spread, start-by) in seconds after the sweep's start. Slots are spread over the first 90 % of the
    start window (the rest is slack for queueing at a busy host); a probe must start by the second so that it
    ends, deadline included, before the next sweep. When the interval is too short for its timeout, the
    window is half the interval and such probes may overrun (counted)."""
    margin = min(2.0, 0.1 * module.interval_s)
    start_by = max(module.interval_s - module.timeout_s - margin, 0.5 * module.interval_s)
    return round(0.9 * start_by, 9), start_by


@dataclass(frozen=True, slots=True)
class Limits:
    """Concurrency limits and the shutdown bound."""

    concurrency: int = 256
    per_host: int = 1
    shutdown_grace_s: float = 5.0
    retries: int = 1
    retry_jitter_s: tuple[float, float] = (0.2, 1.0)
    fd_reserve: int = 64  # descriptors kept for the database, the exporter and its clients, logs, worker pipes
    frame_share: float = 0.25  # of the global permits that frame-health probes may hold (RELIABILITY R1-1)
    retry_share: float = 0.1  # of a sweep's slots that may be retried (at least MIN_RETRY_BUDGET)
    overload_lag_share: float = 0.2  # of the read timeout the loop may lag as a timeout fires before it is ours


@dataclass(slots=True)
class SweepRun:
    """One sweep's shared state: its start-by time, the slots' start lags, the retries and re-probes it may still
    spend."""

    start_by: float
    retries_left: int
    reprobes_left: int  # of slots voided as ``overload``
    lags: array[float]  # 8 bytes a slot


class Scheduler:
    """Runs every module's sweeps against the runtime's current config and records results in its store."""

    def __init__(self, runtime: Runtime, *, limits: Limits = Limits(), target_for: TargetFor | None = None) -> None:
        self.runtime = runtime
        self.limits = limits
        self.target_for: TargetFor = target_for or (lambda cam: cam.target(None))
        self.fd_limit = soft_fd_limit()
        self.fds_per_probe = max(
            (FDS_PER_PROBE.get(m.prober, DEFAULT_FDS_PER_PROBE) for m in runtime.config.modules.values()),
            default=DEFAULT_FDS_PER_PROBE,
        )
        self.concurrency = fd_capped_concurrency(
            limits.concurrency, self.fd_limit, self.fds_per_probe, limits.fd_reserve
        )
        self.loop_lag = LoopLagMonitor()
        runtime.concurrency_limit = self.concurrency
        runtime.loop_lag_s = self.loop_lag.total
        self._global = asyncio.Semaphore(self.concurrency)
        self._pressure_warned_at: dict[str, float] = {}
        self._pressure_unwarned: defaultdict[str, int] = defaultdict(int)
        self._pressure_detail: dict[str, str] = {}  # the latest back-pressure message per re-probed skip reason
        self._hosts: weakref.WeakValueDictionary[str, asyncio.Semaphore] = weakref.WeakValueDictionary()
        self._module_limits: dict[str, asyncio.Semaphore] = {}
        self._sched = AsyncIOScheduler(timezone="UTC")
        self._sched.add_listener(self._on_overrun, EVENT_JOB_MAX_INSTANCES)
        self._stopping = asyncio.Event()
        self._slots: set[asyncio.Task[None]] = set()
        self._probing: set[asyncio.Task[None]] = set()
        self._sweeps: set[asyncio.Task[object]] = set()
        self._last_sweep_start: dict[str, float] = {}
        self._fractions: dict[tuple[str, str], float] = {}
        self._running: set[str] = set()
        self._watchdog_task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every module (first sweep now) and start the APScheduler loop."""
        self._log_concurrency()
        self.apply_config()
        self._sched.start()
        self.loop_lag.start()
        self._watchdog_task = asyncio.create_task(self._watchdog())

    def _log_concurrency(self) -> None:
        """Say once which global limit was chosen and why (a warning when the fd budget cut it)."""
        limit = "unlimited" if self.fd_limit is None else str(self.fd_limit)
        why = (
            f"configured {self.limits.concurrency}; fd soft limit {limit} − reserve {self.limits.fd_reserve}, "
            f"{self.fds_per_probe} fds per probe"
        )
        if self.concurrency < self.limits.concurrency:
            log.warning("probe concurrency capped at %d by the file-descriptor budget (%s); raise `ulimit -n` "
                        "(LimitNOFILE=) to probe more at once", self.concurrency, why)  # fmt: skip
        else:
            log.info("probe concurrency %d (%s)", self.concurrency, why)

    def apply_config(self) -> None:
        """Match the jobs to the runtime's current modules (after a reload): add, re-time, remove."""
        modules = self.runtime.config.modules
        self._fractions.clear()  # removed cameras leave no trace
        for job in self._sched.get_jobs():
            if job.id not in modules:
                job.remove()
        for name, module in modules.items():
            job = self._sched.get_job(name)
            trigger = IntervalTrigger(seconds=module.interval_s, timezone="UTC")
            if job is None:
                self._sched.add_job(
                    self._sweep, trigger, args=[name], id=name, name=f"sweep {name}", max_instances=1,
                    coalesce=True, misfire_grace_time=max(1, int(module.interval_s / 2)),
                    next_run_time=dt.datetime.now(dt.UTC),
                )  # fmt: skip
            elif getattr(job.trigger, "interval_length", None) != module.interval_s:
                job.reschedule(trigger)

    async def stop(self) -> None:
        """Stop within ``shutdown_grace_s``: no new probes; in-flight ones finish or are cancelled."""
        if self._sched.running:
            self._sched.pause()
        self._stopping.set()
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog_task
        await self.loop_lag.stop()
        if self._probing:
            await asyncio.wait(set(self._probing), timeout=self.limits.shutdown_grace_s)
        for task in list(self._slots):
            task.cancel()
        if self._slots:
            await asyncio.wait(set(self._slots), timeout=1.0)
        if self._sweeps:
            await asyncio.wait(set(self._sweeps), timeout=1.0)
        if self._sched.running:
            self._sched.shutdown(wait=False)

    async def _watchdog(self) -> None:
        """APScheduler times jobs on the wall clock: stepped back an hour, it would wait an hour. On the
        monotonic clock, a module whose last sweep started more than two intervals ago, with none running,
        is started now (RELIABILITY.md T1); the slots in between are counted as missed by that sweep."""
        while not self._stopping.is_set():
            modules = self.runtime.config.modules
            await asyncio.sleep(max(0.5, min((m.interval_s for m in modules.values()), default=1.0) / 2))
            now = time.monotonic()
            for name, module in self.runtime.config.modules.items():
                last = self._last_sweep_start.get(name)
                if last is None or name in self._running or now - last <= 2 * module.interval_s:
                    continue
                job = self._sched.get_job(name)
                if job is not None and not self._stopping.is_set():
                    log.warning("module %s: no sweep for %.0f s (wall clock stepped?); starting one", name, now - last)
                    job.modify(next_run_time=dt.datetime.now(dt.UTC))

    # --- sweeps ----------------------------------------------------------------------------------------

    def _stats(self, module: str) -> SweepStats:
        return self.runtime.sweeps[module]

    async def _sweep(self, name: str) -> None:
        """One sweep of one module: a slot task per in-service camera, awaited (not cancelled) until done."""
        this = asyncio.current_task()
        if this is not None:
            self._sweeps.add(this)
        self._running.add(name)
        try:
            await self._run_sweep(name)
        finally:
            self._running.discard(name)
            if this is not None:
                self._sweeps.discard(this)

    async def _run_sweep(self, name: str) -> None:
        """Walk the cameras in slot order, starting each one's probe task at its slot time.

        One sleeping sweep per module rather than a timer per camera: at 20,000 cameras, creating every
        slot's task up front stalls the loop for a second and makes the first slots late.
        """
        cfg = self.runtime.config
        module = cfg.modules.get(name)
        if module is None or self._stopping.is_set():
            return
        stats = self._stats(name)
        spread, start_by = sweep_window(module)
        order = sorted(
            ((self._fraction(name, c.id) * spread, c) for c in cfg.inventory.cameras if c.in_service),
            key=lambda item: item[0],
        )
        self._count_missed(name, module, stats, len(order))
        t0 = time.monotonic()
        stats.scheduled += len(order)
        tasks: set[asyncio.Task[None]] = set()
        budget = max(MIN_RETRY_BUDGET, math.ceil(self.limits.retry_share * len(order)))
        run = SweepRun(start_by=t0 + start_by, retries_left=budget, reprobes_left=budget, lags=array("d"))
        stop_waiter = asyncio.ensure_future(self._stopping.wait())
        try:
            for i, (offset, cam) in enumerate(order):
                delay = t0 + offset - time.monotonic()
                if delay > 0:
                    await asyncio.wait({stop_waiter}, timeout=delay)
                if self._stopping.is_set():
                    stats.skipped["shutdown"] += len(order) - i
                    break
                task = asyncio.create_task(self._slot(cam, module, t0 + offset, run))
                self._slots.add(task)
                task.add_done_callback(self._slots.discard)
                tasks.add(task)  # only while it runs: a sweep holds its slots in flight, not every finished one
                task.add_done_callback(tasks.discard)
        finally:
            stop_waiter.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._finish_sweep(stats, module, t0, run.lags)

    def _fraction(self, module: str, camera_id: str) -> float:
        """The camera's stable slot position in [0, 1), cached (a hash per camera per sweep adds up)."""
        key = (module, camera_id)
        value = self._fractions.get(key)
        if value is None:
            value = self._fractions[key] = slot_offset(module, camera_id, 1.0)
        return value

    def _count_missed(self, name: str, module: ProbeModule, stats: SweepStats, n_cameras: int) -> None:
        """Sweeps that should have started since the last one (overrun, paused process): slots skipped."""
        now = time.monotonic()
        last = self._last_sweep_start.get(name)
        self._last_sweep_start[name] = now
        overrun, stats.overrun_sweeps_pending = stats.overrun_sweeps_pending, 0
        if last is None:
            return
        missed = int((now - last) / module.interval_s + 0.5) - 1
        if missed <= 0:
            return
        overrun = min(overrun, missed)
        stats.scheduled += missed * n_cameras
        stats.skipped["overrun"] += overrun * n_cameras
        stats.skipped["missed"] += (missed - overrun) * n_cameras
        log.warning("module %s: %d sweep(s) not run (%d overrun)", name, missed, overrun)

    def _finish_sweep(self, stats: SweepStats, module: ProbeModule, t0: float, lags: array[float]) -> None:
        duration = time.monotonic() - t0
        stats.sweeps += 1
        stats.last_duration_s = duration
        stats.last_lag_s = max(lags, default=0.0)
        stats.last_lags = lags
        stats.max_lag_s = max(stats.max_lag_s, stats.last_lag_s)
        if duration > module.interval_s:
            stats.overruns += 1
        if not self._stopping.is_set():
            stats.last_complete = time.time()

    def _on_overrun(self, event: JobEvent) -> None:
        """APScheduler did not start a sweep: the previous one still ran. Its slots are counted by the next
        sweep's gap check (as ``overrun`` rather than ``missed``), so nothing is counted twice."""
        if event.job_id in self.runtime.config.modules:
            stats = self._stats(event.job_id)
            stats.overruns += 1
            stats.overrun_sweeps_pending += 1
            log.warning("module %s: a sweep was skipped, the previous one still runs", event.job_id)

    def _host(self, host: str) -> asyncio.Semaphore:
        """The host's semaphore (``per_host`` permits); it lives as long as someone holds or awaits it."""
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return sem

    # --- one slot --------------------------------------------------------------------------------------

    async def _slot(self, cam: Camera, module: ProbeModule, slot_at: float, run: SweepRun) -> None:
        """Take the host's permit then a global one, probe, record: exactly one outcome."""
        stats = self._stats(module.name)
        outcome = "shutdown"
        try:
            outcome = await self._acquire_and_probe(cam, module, slot_at, run)
        except asyncio.CancelledError:
            outcome = "shutdown"
        except Exception:  # a bug of ours must not lose the slot
            log.exception("slot of camera %s in module %s failed", cam.id, module.name)
            outcome = "internal"
        finally:
            if outcome in ("ok", "failure"):
                stats.outcomes[outcome] += 1
            else:
                stats.skipped[outcome] += 1

    async def _acquire_and_probe(self, cam: Camera, module: ProbeModule, slot_at: float, run: SweepRun) -> str:
        result = await self._attempt(cam, module, run, slot_at)
        if isinstance(result, str) and result in REPROBED_SKIPS:
            result = await self._reprobe_after_skip(cam, module, run, result)
        retries = self.limits.retries
        while isinstance(result, ProbeResult) and result.reason in RETRYABLE and retries > 0 and run.retries_left > 0:
            # a transient failure (lost packet, busy camera): once more after a jittered pause, if there is
            # still time before the slot's start-by, so that one glitch is not recorded as an outage
            retries -= 1
            pause = random.uniform(*self.limits.retry_jitter_s)
            if time.monotonic() + pause >= run.start_by:
                break
            run.retries_left -= 1
            await asyncio.sleep(pause)
            retry = await self._attempt(cam, module, run, None)
            if not isinstance(retry, ProbeResult):
                break
            self._stats(module.name).retries += 1
            result = retry
        if not isinstance(result, ProbeResult):
            return result
        self.runtime.store.record(result)
        if result.reason is Reason.LOCKED_OUT_BACKOFF:
            return "backoff"  # the prober did not touch the camera (repeated auth failures): a skip
        return "ok" if result.ok else "failure"

    async def _reprobe_after_skip(
        self, cam: Camera, module: ProbeModule, run: SweepRun, reason: str
    ) -> ProbeResult | str:
        """The slot's probe was voided as ``overload`` or found the decoders busy (``decoders_busy``): probe once
        more after a jittered pause (the stall or the burst is over by then), from the sweep's re-probe budget and
        before its start-by, so that a change the first probe would have seen is recorded in this sweep rather
        than the next. Still ``reason`` when it cannot (no time or budget, or the re-probe could not start or was
        skipped too); ``shutdown`` when the daemon stops."""
        if self._stopping.is_set():
            return "shutdown"
        pause = random.uniform(*self.limits.retry_jitter_s)
        if run.reprobes_left <= 0 or time.monotonic() + pause >= run.start_by:
            return self._not_reprobed(module, reason, "no time or re-probe budget left to probe it again in this sweep")
        run.reprobes_left -= 1
        await asyncio.sleep(pause)
        result = await self._attempt(cam, module, run, None)
        if not isinstance(result, str) or result in REPROBED_SKIPS:
            self._stats(module.name).retries += 1  # it ran: counted as a retry
        if result == "shutdown" or isinstance(result, ProbeResult):
            return result
        return self._not_reprobed(module, reason, f"and its re-probe was {result}")

    def _not_reprobed(self, module: ProbeModule, reason: str, detail: str) -> str:
        """The slot ends skipped as ``reason`` after all: counted by the caller, logged at most once a minute."""
        if reason == "overload":
            return self._overloaded(module, detail)
        self._warn_skip(module.name, reason, f"{self._pressure_detail.get(reason, reason)}, {detail}")
        return reason

    def _overloaded(self, module: ProbeModule, detail: str) -> str:
        lagged = self.loop_lag.lag_since(time.monotonic() - OVERLOAD_WINDOW_S)
        self._warn_skip(module.name, "overload", f"the event loop lagged as the probe timed out, {detail}; "
                        f"lag in the last second {lagged:.2f} s")  # fmt: skip
        return "overload"

    async def _attempt(
        self, cam: Camera, module: ProbeModule, run: SweepRun, slot_at: float | None
    ) -> ProbeResult | str:
        """Take the module's permit (frame health), the host's, then a global one (by the sweep's start-by) and
        probe: a result, or a skip reason."""
        permits = [*self._module_limit(module), self._host(cam.host), self._global]
        held: list[asyncio.Semaphore] = []
        try:
            async with asyncio.timeout(max(0.0, run.start_by - time.monotonic())):
                for permit in permits:
                    await permit.acquire()
                    held.append(permit)
        except TimeoutError:
            self._release(held)
            return "late"
        except BaseException:
            self._release(held)
            raise
        try:
            if self._stopping.is_set():
                return "shutdown"
            if slot_at is not None:
                lag = max(0.0, time.monotonic() - slot_at)
                run.lags.append(lag)
            return await self._probe_judged(cam, module)
        except BackPressureError as exc:
            if exc.skip_reason in REPROBED_SKIPS:
                self._pressure_detail[exc.skip_reason] = str(exc)  # logged if the slot ends skipped after all
            else:
                self._warn_skip(module.name, exc.skip_reason, str(exc))
            return exc.skip_reason
        finally:
            self._release(held)

    async def _probe_judged(self, cam: Camera, module: ProbeModule) -> ProbeResult | str:
        """Probe; a ``timeout`` that fired while the event loop was stalled is ours, not the camera's: the
        ``overload`` skip (RELIABILITY R1-1). Only a stall during this probe counts (one before it began, such as
        the one that voided the previous attempt, delayed no timer of this one): the lag is the least of that in the
        last :data:`OVERLOAD_WINDOW_S` and the growth of the monitor's total since the probe began (that total
        includes a wake-up overdue right now, so a stall the monitor has not yet recorded at the start is not
        counted again)."""
        lag_at_start = self.loop_lag.total()
        result = await self._probe_tracked(cam, module)
        if result.reason is Reason.TIMEOUT:
            lagged = min(
                self.loop_lag.lag_since(time.monotonic() - OVERLOAD_WINDOW_S), self.loop_lag.total() - lag_at_start
            )
            if lagged >= max(OVERLOAD_MIN_LAG_S, self.limits.overload_lag_share * module.read_timeout_s):
                return "overload"
        return result

    @staticmethod
    def _release(held: list[asyncio.Semaphore]) -> None:
        for permit in reversed(held):
            permit.release()

    def _module_limit(self, module: ProbeModule) -> list[asyncio.Semaphore]:
        """Frame-health probes hold a permit for seconds (keyframe wait, decode): they may take only
        ``frame_share`` of the global permits, so liveness is never queued behind them (RELIABILITY R1-1)."""
        if module.prober != "frame":
            return []
        limit = self._module_limits.get(module.name)
        if limit is None:
            size = max(1, int(self.concurrency * self.limits.frame_share))
            limit = self._module_limits[module.name] = asyncio.Semaphore(size)
        return [limit]

    def _warn_skip(self, module: str, reason: str, detail: str) -> None:
        """A probe ran out of our own capacity: counted by the caller as a skip; logged at most once a minute per
        reason (never a traceback per probe)."""
        self._pressure_unwarned[reason] += 1
        now = time.monotonic()
        last = self._pressure_warned_at.get(reason)
        if last is None or now - last >= BACK_PRESSURE_WARNING_EVERY_S:
            log.warning("module %s: %d probe(s) skipped as %s (%s; fd limit %s, concurrency %d); they are probed "
                        "again next sweep", module, self._pressure_unwarned[reason], reason, detail, self.fd_limit,
                        self.concurrency)  # fmt: skip
            self._pressure_warned_at[reason], self._pressure_unwarned[reason] = now, 0

    async def _probe_tracked(self, cam: Camera, module: ProbeModule) -> ProbeResult:
        """Run the probe as a task the shutdown can wait for (and cancel after the grace period)."""
        task = asyncio.current_task()
        assert task is not None
        self._probing.add(task)
        try:
            return await run_probe(self.target_for(cam), module, deadline=Deadline(module.timeout_s))
        finally:
            self._probing.discard(task)

    async def probe_now(self, cam: Camera, module: ProbeModule, deadline: Deadline) -> ProbeResult:
        """An on-demand probe (``/probe``) under the same per-host lock and global limit; not recorded."""
        async with self._host(cam.host), self._global:
            return await run_probe(self.target_for(cam), module, deadline=deadline)
