"""The daemon: config → inventory → scheduler → results → exporter, with storage, reload, shards and signals.

:class:`Daemon` is independent of how the configuration is read: it takes a ``load`` callable returning a
:class:`~sharpeyes.runtime.Config` (run in a worker thread, at start and on every reload) and a
``target_for`` that turns a registered camera into a probe target with its resolved password.

Start order: database schema → reload last states and today's roll-ups → writer loop → (with a ``frame``
module) the decode worker pool and the frame signatures from the database → scheduler (the first sweep of
every module starts at once) → ready. SIGHUP reloads like ``POST /-/reload``. Stop order (SIGTERM,
SIGINT, or :meth:`Daemon.stop`): not ready → scheduler stops (in-flight probes get ``shutdown_grace_s``, then
are cancelled and counted) → frame signatures flushed, decode workers killed and reaped (with
multiprocessing's forkserver and resource tracker, so no child process outlives the stop) → final flush →
HTTP server closed → engine disposed.

Shards (DESIGN.md §10): ``--shard K/N`` keeps the areas whose rendezvous hash falls to shard K, with all their
cameras, so an area is never split and coverage stays exact when shards' aggregates are summed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import Engine

from sharpeyes.errors import UserError
from sharpeyes.exporter.app import ApiOptions, make_app, reload_config, serve
from sharpeyes.malloc_arenas import release_free_heap
from sharpeyes.probers import workers
from sharpeyes.redact import Secret
from sharpeyes.registry import db
from sharpeyes.registry.inventory import Inventory
from sharpeyes.registry.signatures import DatabaseSignatureStore
from sharpeyes.results import ResultStore, StoreWriter
from sharpeyes.runtime import Config, Runtime
from sharpeyes.scheduler import Limits, Scheduler, TargetFor

log = logging.getLogger(__name__)


# --- shards ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, as written on the command line: ``2/8``)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            k, n = (int(x) for x in text.split("/", 1))
        except ValueError:
            raise UserError(f"--shard {text!r}: expected K/N, e.g. 2/8") from None
        if not 1 <= k <= n:
            raise UserError(f"--shard {text!r}: K must be between 1 and N")
        return cls(k, n)

    def owner(self, area_id: str) -> int:
        """The shard (1..N) that owns an area: rendezvous (highest random weight) hashing of the area id."""
        return max(range(1, self.count + 1), key=lambda j: _weight(j, area_id))

    def select(self, inventory: Inventory) -> Inventory:
        """This shard's areas and their cameras; every district is kept so aggregates line up across shards."""
        areas = tuple(a for a in inventory.areas if self.owner(a.id) == self.index)
        kept = {a.id for a in areas}
        cameras = tuple(c for c in inventory.cameras if c.area in kept)
        return Inventory(inventory.districts, areas, cameras)


def _weight(shard: int, area_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{shard}\0{area_id}".encode()).digest()[:8], "big")


# --- the daemon ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """How this daemon runs (from the daemon config and the command line)."""

    db_url: str
    host: str = "127.0.0.1"
    port: int = 0
    token: Secret | None = None
    limits: Limits = field(default_factory=Limits)
    flush_interval_s: float = 1.0
    buffer_limit: int = 100_000
    final_flush_s: float = 10.0
    sqlite_synchronous: db.SqliteSync = "FULL"
    busy_timeout_ms: int = db.BUSY_TIMEOUT_MS
    signature_flush_s: float = 2.0
    signature_refresh_s: float = 60.0
    heap_release_s: float = 60.0


def freeze_startup_heap() -> None:
    """Move everything alive at start (imported modules, the registry, the engine: most of the heap)
    out of the cycle collector's reach (``gc.freeze``). Each full collection otherwise walks it all, and at
    5,000-10,000 cameras one such pass held the event loop for 0.1-0.3 s, several times a minute: probe timers then
    fire late (RELIABILITY R1-1). Reference counting still frees these objects; only cycles among them would
    wait for :meth:`Daemon.stop`, which unfreezes."""
    gc.collect()
    gc.freeze()
    log.debug("%d objects moved out of the cycle collector's generations", gc.get_freeze_count())


class Daemon:
    """One running daemon. ``await start()`` returns the bound port; ``await stop()`` shuts down in order."""

    def __init__(self, load: Callable[[], Config], options: DaemonOptions, target_for: TargetFor | None = None) -> None:
        self.load = load
        self.options = options
        self.target_for = target_for
        self.runtime: Runtime | None = None
        self.scheduler: Scheduler | None = None
        self.engine: Engine | None = None
        self.signatures: DatabaseSignatureStore | None = None
        self._runner: web.AppRunner | None = None
        self._signal_tasks: set[asyncio.Future[dict[str, object]]] = set()
        self.heap_releases = 0
        self.port = 0

    async def start(self) -> int:
        config = await asyncio.to_thread(self.load)
        o = self.options
        self.engine = db.make_engine(
            o.db_url, sqlite_synchronous=o.sqlite_synchronous, busy_timeout_ms=o.busy_timeout_ms
        )
        await asyncio.to_thread(db.upgrade, self.engine)
        store = ResultStore(buffer_limit=self.options.buffer_limit)
        store.configure(config.modules)
        rt = self.runtime = Runtime(config, store)
        rt.writer = StoreWriter(store, self.engine, interval_s=self.options.flush_interval_s)
        sched = self.scheduler = Scheduler(rt, limits=self.options.limits, target_for=self.target_for)
        api = ApiOptions(probe=sched.probe_now, reload=self._reload, token=self.options.token,
                         on_reloaded=self._reloaded)  # fmt: skip
        app = make_app(rt, api, [self._heap_ctx, self._writer_ctx, self._frame_ctx, self._scheduler_ctx])
        freeze_startup_heap()  # before serve starts the scheduler: its collection must not stall the first probes
        self._runner, self.port = await serve(app, self.options.host, self.options.port)
        log.info("sharpeyes listening on http://%s:%d (%d cameras, %d modules)", self.options.host, self.port,
                 len(config.inventory.cameras), len(config.modules))  # fmt: skip
        return self.port

    async def stop(self) -> None:
        gc.unfreeze()  # what start froze goes back to the collector (a process may start another daemon)
        if self._runner is not None:
            await self._runner.cleanup()  # runs the contexts' teardown: scheduler, then writer
            self._runner = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    async def run_until_signalled(self) -> None:
        """Start, then run until SIGTERM or SIGINT, then stop in order."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
        try:
            await self.start()
            await stop.wait()
            log.info("stopping")
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def _reload_on_signal(self) -> None:
        """SIGHUP (systemd ``ExecReload``): the same atomic reload as ``POST /-/reload``."""
        if self._runner is not None:
            task = asyncio.ensure_future(reload_config(self._runner.app))
            self._signal_tasks.add(task)
            task.add_done_callback(self._signal_tasks.discard)

    async def _reload(self) -> Config:
        return await asyncio.to_thread(self.load)

    def _reloaded(self) -> None:
        if self.scheduler is not None:
            self.scheduler.apply_config()

    async def _heap_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """Every ``heap_release_s``, free heap pages go back to the system (in a worker thread; see
        :mod:`sharpeyes.malloc_arenas`)."""
        task = asyncio.create_task(self._release_heap_every(self.options.heap_release_s))
        try:
            yield
        finally:
            await _cancel(task)

    async def _release_heap_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            released = await asyncio.to_thread(release_free_heap)
            self.heap_releases += 1
            log.debug("heap release %d: %s", self.heap_releases, "pages returned" if released else "nothing to return")

    async def _writer_ctx(self, app: web.Application) -> AsyncIterator[None]:
        rt = self.runtime
        assert rt is not None and rt.writer is not None
        writer = rt.writer
        await writer.restore()
        task = asyncio.create_task(writer.run())
        try:
            yield
        finally:
            await _cancel(task)
            try:
                async with asyncio.timeout(self.options.final_flush_s):
                    ok = await writer.flush_once()
            except TimeoutError:
                ok = False
            if not ok:
                log.error("final flush incomplete: %d transitions not written", len(rt.store.pending))

    async def _frame_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """The frame signatures on the database (installed even without a ``frame`` module, so one added by a
        reload finds them) and, with a ``frame`` module, the decode pool started now (the first probes do not pay
        for it); on stop, a bounded final flush and every worker process killed and reaped."""
        rt = self.runtime
        assert rt is not None and self.engine is not None
        from sharpeyes.quality import store as signature_store

        previous = signature_store.get_store()
        sigs = self.signatures = DatabaseSignatureStore(
            self.engine, interval_s=self.options.signature_flush_s, refresh_s=self.options.signature_refresh_s
        )
        await sigs.load()
        signature_store.set_store(sigs)
        rt.signatures = sigs
        if any(m.prober == "frame" for m in rt.config.modules.values()):
            from sharpeyes.probers import frame  # imported only when used: importing a prober registers it

            await asyncio.to_thread(frame.get_pool().start)
        task = asyncio.create_task(sigs.run())
        try:
            yield
        finally:
            await _cancel(task)
            await sigs.close(self.options.final_flush_s)
            signature_store.set_store(previous)
            rt.signatures = None
            await asyncio.to_thread(_close_workers)

    async def _scheduler_ctx(self, app: web.Application) -> AsyncIterator[None]:
        rt, sched = self.runtime, self.scheduler
        assert rt is not None and sched is not None
        sched.start()
        rt.ready = True
        try:
            yield
        finally:
            rt.ready = False
            await sched.stop()


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel a context's background task and wait until it has ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _close_workers() -> None:
    """Kill and reap the decode workers (if the frame prober was ever loaded), then multiprocessing's helper
    processes (in a worker thread)."""
    frame = sys.modules.get("sharpeyes.probers.frame")
    if frame is not None:
        frame.close_pool()
    workers.stop_helpers()
