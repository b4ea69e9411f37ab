"""A pool of worker processes whose jobs can be killed: hung or crashed work never takes the daemon down.

``concurrent.futures.ProcessPoolExecutor`` cannot cancel a running job, and one crashed worker breaks the whole
executor. Here each worker is one process with one pipe: a job that outlives its timeout gets its worker
SIGKILLed, and a fresh worker takes its place; a worker that dies mid-job (a decoder crash) is replaced the same
way. The caller sees :class:`JobTimeoutError` or :class:`WorkerCrashedError` at once; reaping the dead worker and
starting its replacement (tens of milliseconds each on a busy machine) run in a thread, never on the event loop,
so a mass of crashing decoders cannot stall the daemon (RELIABILITY.md R4); a replacement that cannot start (no
file descriptors, say) is retried every second, so restarts are paced. Workers are started by ``forkserver``
(never ``fork`` from a process with an event loop and threads), with the handler's module preloaded so a
replacement is ready in milliseconds. A job and its answer cross the worker's socket on the event loop itself
(non-blocking, :class:`_Exchange`), without a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler as _ForkingPickler
from typing import Any

log = logging.getLogger(__name__)

_FIRST_READ = 64 * 1024  # the first read of an answer: its header, and the whole of a typical one


class WorkerError(Exception):
    """A job did not produce a result."""


class JobTimeoutError(WorkerError):
    """The job outlived its timeout; its worker was killed and replaced. ``ran_s``: how long a worker had the job
    (0 when it never got one); ``cut_by_limit``: it was stopped by the overall limit, not by its own ``run_s``."""

    def __init__(self, message: str, *, ran_s: float = 0.0, cut_by_limit: bool = True) -> None:
        super().__init__(message)
        self.ran_s = ran_s
        self.cut_by_limit = cut_by_limit


class PoolBusyError(JobTimeoutError):
    """No worker became free within the job's time: the pool is overloaded (our capacity, not the camera)."""


class WorkerCrashedError(WorkerError):
    """The worker died during the job (a decoder crash); it was replaced."""


class _Exchange:
    """One job's round trip over a worker's non-blocking socket, in ``multiprocessing.connection``'s framing
    (a 4-byte big-endian length, or -1 and an 8-byte one, then the pickle), which the worker reads and writes
    with :meth:`~multiprocessing.connection.Connection.recv` and ``send``. A worker that dies shows as the end of
    its socket (or a reset) before a whole answer: :class:`WorkerCrashedError`; an answer that cannot be read is
    a :class:`WorkerError`. Either way the job failed and the worker is replaced."""

    def __init__(self, fd: int, payload: memoryview | bytes) -> None:
        self.fd = fd
        size = len(payload)
        header = struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)
        self.out = [memoryview(header), memoryview(payload).cast("B")]  # written as they are: no copy of the job
        self.head = bytearray()
        self.body: bytearray | None = None
        self.got = 0
        self.done: asyncio.Future[tuple[bool, Any]] | None = None

    async def run(self) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        self._write()
        if self.out and not self.done.done():
            loop.add_writer(self.fd, self._write)
        loop.add_reader(self.fd, self._read)
        try:
            return await self.done
        finally:
            loop.remove_reader(self.fd)
            loop.remove_writer(self.fd)
            self.done = None  # else future → exception → traceback → this frame → future: a cycle that keeps a
            # dead worker's pipes open until the garbage collector runs

    def _fail(self, exc: BaseException) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)

    def _write(self) -> None:
        try:
            sent = os.writev(self.fd, self.out)
        except BlockingIOError:
            return
        except OSError as exc:  # EPIPE, ECONNRESET: the worker is gone
            self._fail(WorkerCrashedError(f"worker died ({type(exc).__name__})"))
            return
        while self.out and sent >= len(self.out[0]):
            sent -= len(self.out[0])
            self.out.pop(0)
        if self.out:
            self.out[0] = self.out[0][sent:]
        else:
            asyncio.get_running_loop().remove_writer(self.fd)

    def _read(self) -> None:
        try:
            if self.body is None:
                count = self._read_head()
            else:
                count = os.readv(self.fd, [memoryview(self.body)[self.got :]])
                self.got += count
        except BlockingIOError:
            return
        except OSError as exc:  # ECONNRESET
            self._fail(WorkerCrashedError(f"worker died ({type(exc).__name__})"))
            return
        except ValueError:  # a header no worker of ours sends
            self._fail(WorkerError("worker sent a broken answer"))
            return
        if count == 0:
            self._fail(WorkerCrashedError("worker died"))
        elif self.body is not None and self.got == len(self.body) and self.done is not None and not self.done.done():
            try:
                self.done.set_result(_ForkingPickler.loads(self.body))
            except Exception as exc:  # an answer that does not unpickle: the worker is replaced (run's finally)
                self._fail(WorkerError(f"worker sent an answer that does not load ({type(exc).__name__})"))

    def _read_head(self) -> int:
        """Read the header (with whatever of the body came along); the byte count read (0: end of the socket)."""
        chunk = os.read(self.fd, _FIRST_READ)
        self.head += chunk
        size, start = _frame_size(self.head)
        if size is not None:
            rest = self.head[start : start + size]
            self.body = bytearray(size)
            self.body[: len(rest)] = rest
            self.got = len(rest)
        return len(chunk)


def _frame_size(head: bytearray) -> tuple[int | None, int]:
    """The length of the message that ``head`` starts and where its body starts (None: header incomplete)."""
    if len(head) < 4:
        return None, 0
    (size,) = struct.unpack_from("!i", head)
    if size == -1:
        return (struct.unpack_from("!Q", head, 4)[0], 12) if len(head) >= 12 else (None, 0)
    if size < 0:
        raise ValueError("bad frame header")
    return size, 4


def _serve(conn: multiprocessing.connection.Connection, handler_path: str) -> None:
    """A worker's life: receive a job, run the handler, send back its result (or the exception's text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    module_name, _, name = handler_path.rpartition(".")
    handler: Callable[[Any], Any] = getattr(importlib.import_module(module_name), name)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, handler(job)))
        except Exception as exc:  # the handler's failure is the job's result, the worker lives on
            conn.send((False, f"{type(exc).__name__}: {exc}"[:300]))


@dataclass(slots=True)
class JobTimes:
    """Where one job's time went: waiting for a free worker, then on the worker (send, run, answer read)."""

    queued_s: float = 0.0
    ran_s: float = 0.0


@dataclass(slots=True, eq=False)
class _Worker:
    process: BaseProcess
    conn: multiprocessing.connection.Connection


class WorkerPool:
    """``size`` worker processes running ``handler_path`` (``"package.module.function"``) on picklable jobs."""

    def __init__(self, handler_path: str, size: int | None = None) -> None:
        self.handler_path = handler_path
        self.size = size or max(1, os.cpu_count() or 1)
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload([handler_path.rpartition(".")[0]])
        self._idle: asyncio.Queue[_Worker] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()  # guards _all: replacements start in threads
        self._respawns: set[asyncio.Task[None]] = set()
        self.replaced = 0
        self._closed = False
        self.job_wall_s: float | None = None  # moving average of a job's time on its worker (None: no job yet)

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_serve, args=(child, self.handler_path), daemon=True, name="sharpeyes-worker"
        )
        process.start()
        child.close()
        os.set_blocking(parent.fileno(), False)  # the parent's end is driven by the event loop (_Exchange)
        worker = _Worker(process, parent)
        with self._lock:
            self._all.add(worker)
        return worker

    def _queue(self) -> asyncio.Queue[_Worker]:
        if self._closed:
            raise RuntimeError("worker pool is closed")
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:  # a queue belongs to one event loop
            idle: asyncio.Queue[_Worker] = asyncio.Queue()
            while self._idle is not None and not self._idle.empty():
                idle.put_nowait(self._idle.get_nowait())
            if self._idle is None:
                self.start()
                for worker in self._started:
                    idle.put_nowait(worker)
                self._started = []
            self._idle, self._loop = idle, loop
        return self._idle

    def start(self) -> None:
        """Start the workers now (else the first job starts them): the daemon calls this at startup so the
        first probes do not pay for the forkserver and the imports."""
        if self._idle is None and not self._started and not self._closed:
            self._started = [self._spawn() for _ in range(self.size)]

    @property
    def alive(self) -> int:
        """Workers whose process is running (the pool's health: ``alive == size`` when healthy)."""
        with self._lock:
            workers = list(self._all)
        return sum(1 for w in workers if w.process.is_alive())

    def pids(self) -> set[int]:
        """Process ids of the current workers."""
        with self._lock:
            return {w.process.pid for w in self._all if w.process.pid is not None}

    async def settled(self) -> None:
        """Wait until every replacement under way has started (or given up because the pool closed)."""
        while self._respawns:
            await asyncio.wait(set(self._respawns))

    async def run(self, job: object, limit_s: float, run_s: float | None = None, times: JobTimes | None = None) -> Any:
        """Run one job within ``limit_s`` seconds in all, of which at most ``run_s`` on the worker.

        Waiting for a free worker is bounded by ``limit_s`` alone (:class:`PoolBusyError`); the job itself gets
        ``run_s`` from the moment a worker takes it, so time spent queueing never makes a job look hung. ``times``,
        if given, receives the wait for a worker and the job's time on it (send to answer).
        """
        queue = self._queue()
        loop = asyncio.get_running_loop()
        asked = loop.time()
        limit_end = asked + max(0.0, limit_s)
        try:
            async with asyncio.timeout_at(limit_end):
                worker = await queue.get()
        except TimeoutError:
            raise PoolBusyError("no worker became free in time") from None
        started = loop.time()
        if times is not None:
            times.queued_s = started - asked
        end = min(limit_end, started + run_s) if run_s is not None else limit_end
        healthy = False
        try:
            result = await self._exchange(worker, job, end)
            healthy = True
            wall = loop.time() - started
            self.job_wall_s = wall if self.job_wall_s is None else 0.9 * self.job_wall_s + 0.1 * wall
            if times is not None:
                times.ran_s = wall
        except JobTimeoutError:
            raise JobTimeoutError(
                "job timed out; worker killed", ran_s=loop.time() - started, cut_by_limit=end >= limit_end
            ) from None
        finally:
            if healthy:
                queue.put_nowait(worker)
            else:
                self._replace(worker)
        ok, value = result
        if not ok:
            raise WorkerError(str(value))
        return value

    async def _exchange(self, worker: _Worker, job: object, end: float) -> tuple[bool, Any]:
        """Send ``job`` and read the answer on the event loop: the worker's socket is non-blocking and its reader
        and writer callbacks move the bytes, so a job costs no thread hand-offs (the two per job cost ~2 ms of the
        prober's CPU in all, and each waited for the GIL while the loop was busy, the worker idle meanwhile)."""
        exchange = _Exchange(worker.conn.fileno(), _ForkingPickler.dumps(job))
        try:
            async with asyncio.timeout_at(end):
                return await exchange.run()
        except TimeoutError:
            raise JobTimeoutError("job timed out; worker killed") from None

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker that hung, crashed or was interrupted (SIGKILL now, on the loop: it does not block), then
        reap it and start a fresh one in a thread."""
        with contextlib.suppress(Exception):
            worker.process.kill()
        with self._lock:
            self._all.discard(worker)
        idle = self._idle
        if self._closed or idle is None:
            self._reap(worker)
            return
        self.replaced += 1
        task = asyncio.get_running_loop().create_task(self._respawn(worker, idle))
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _respawn(self, dead: _Worker, idle: asyncio.Queue[_Worker]) -> None:
        """Reap ``dead`` and put a fresh worker in its place; retried every second while it cannot start."""
        await asyncio.to_thread(self._reap, dead)
        while not self._closed:
            try:
                fresh = await asyncio.to_thread(self._spawn_unless_closed)
            except Exception as exc:  # e.g. EMFILE: the pool runs one short until it can start again
                log.warning("could not start a decode worker (%s); retrying in 1 s", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if fresh is not None:
                idle.put_nowait(fresh)
            return

    def _spawn_unless_closed(self) -> _Worker | None:
        """A fresh worker, or None if the pool closed meanwhile (then it is killed again at once)."""
        fresh = self._spawn()
        if self._closed:  # close() may have missed it: it took its list before this one was added
            self._kill(fresh)
            return None
        return fresh

    def _kill(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        with contextlib.suppress(Exception):
            worker.process.kill()
        self._reap(worker)

    def _reap(self, worker: _Worker) -> None:
        """Wait for a killed worker's exit (no zombie) and close its pipe; blocking, so never on the loop."""
        worker.process.join(timeout=5)
        worker.conn.close()
        if worker.process.exitcode not in (None, 0, -signal.SIGKILL):
            log.warning("decode worker exited with %s; replaced", worker.process.exitcode)

    def close(self) -> None:
        """Stop every worker (kill and reap); idempotent."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            self._kill(worker)
        self._idle, self._started = None, []


def stop_helpers() -> None:
    """Stop multiprocessing's forkserver and resource tracker, the helper processes behind every pool.

    For the daemon's shutdown, once every pool is closed: without it they live until the interpreter exits, so
    the daemon would still have children after :meth:`~sharpeyes.daemon.Daemon.stop`. A later pool starts
    them again. Uses the standard library's own stop hooks (present in 3.11 to 3.13), if there.
    """
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    for module, name in (
        (multiprocessing.forkserver, "_forkserver"),
        (multiprocessing.resource_tracker, "_resource_tracker"),
    ):
        helper: Any = getattr(module, name, None)
        stop: Callable[[], None] | None = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except Exception as exc:  # a helper already gone is fine; anything else is worth a line
                log.warning("could not stop %s: %s", name.strip("_"), type(exc).__name__)
