"""The kill-able worker pool: hung and crashed jobs are killed and replaced, and the pool stays at strength."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

from sharpeyes.probers.workers import JobTimeoutError, PoolBusyError, WorkerCrashedError, WorkerError, WorkerPool

H = "tests.integration.worker_handlers"


@pytest.fixture
def pool_factory() -> Iterator[list[WorkerPool]]:
    pools: list[WorkerPool] = []
    yield pools
    for pool in pools:
        pool.close()
        assert pool.alive == 0


def _pool(pools: list[WorkerPool], handler: str, size: int = 2) -> WorkerPool:
    pool = WorkerPool(f"{H}.{handler}", size)
    pools.append(pool)
    return pool


async def test_jobs_run_and_return(pool_factory: list[WorkerPool]) -> None:
    pool = _pool(pool_factory, "echo")
    assert await pool.run({"a": b"x" * 100_000}, 30) == {"a": b"x" * 100_000}
    assert pool.alive == 2


async def test_large_jobs_and_answers_cross_the_non_blocking_socket_in_pieces(pool_factory: list[WorkerPool]) -> None:
    """Several MB each way (far more than one socket buffer): the parent writes and reads in pieces on the event
    loop while the worker reads and answers, and two workers do it at once; the loop keeps ticking meanwhile."""
    pool = _pool(pool_factory, "echo")
    payloads = [os.urandom(6_000_000), os.urandom(3_000_001)]
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        answers = await asyncio.gather(*(pool.run(p, 30) for p in payloads))
    finally:
        ticker.cancel()
    assert answers == payloads
    assert ticks > 2  # the transfers yielded to the loop: nothing blocked it until the end
    assert pool.replaced == 0 and pool.alive == 2


async def test_an_answer_that_does_not_load_fails_the_job_and_replaces_the_worker(
    pool_factory: list[WorkerPool],
) -> None:
    pool = _pool(pool_factory, "unloadable", size=1)
    with pytest.raises(WorkerError, match="does not load") as raised:
        await pool.run("x", 30)
    assert not isinstance(raised.value, WorkerCrashedError)
    assert pool.replaced == 1  # its end of the conversation is in an unknown state: not reused
    await pool.settled()
    assert pool.alive == 1


async def test_hung_job_is_killed_within_its_time_and_replaced(pool_factory: list[WorkerPool]) -> None:
    pool = _pool(pool_factory, "hang", size=1)
    started = time.monotonic()
    with pytest.raises(JobTimeoutError):
        await pool.run("x", 0.5)
    assert time.monotonic() - started < 0.5 + 2.0  # killing is quick (reaping and restarting go on in a thread)
    assert pool.replaced == 1
    await pool.settled()
    assert pool.alive == 1


async def test_crashed_worker_is_replaced_and_the_next_job_runs(pool_factory: list[WorkerPool]) -> None:
    pool = _pool(pool_factory, "crash", size=1)
    with pytest.raises(WorkerCrashedError):
        await pool.run("x", 30)
    assert pool.replaced == 1
    await pool.settled()
    assert pool.alive == 1
    with pytest.raises(WorkerCrashedError):  # and again: the replacement works (and crashes) the same way
        await pool.run("x", 30)


async def test_handler_exception_is_a_result_and_the_worker_lives(pool_factory: list[WorkerPool]) -> None:
    pool = _pool(pool_factory, "fail", size=1)
    with pytest.raises(WorkerError, match="ValueError: bad job"):
        await pool.run("x", 30)
    assert pool.replaced == 0


async def test_workers_are_reused(pool_factory: list[WorkerPool]) -> None:
    pool = _pool(pool_factory, "pid", size=1)
    assert await pool.run(None, 30) == await pool.run(None, 30)


async def test_queueing_does_not_count_against_the_jobs_own_time(pool_factory: list[WorkerPool]) -> None:
    """A job that waited for a busy worker still gets its full run time: queueing never looks like a hang."""
    pool = _pool(pool_factory, "nap", size=1)
    first = asyncio.create_task(pool.run(0.6, 10, run_s=1.0))
    await asyncio.sleep(0.05)
    assert await pool.run(0.6, 10, run_s=1.0) == 0.6  # waited ~0.6 s, then ran 0.6 s < run_s
    assert await first == 0.6
    assert pool.replaced == 0
    busy = asyncio.create_task(pool.run(1.0, 10, run_s=2.0))
    await asyncio.sleep(0.05)
    with pytest.raises(PoolBusyError):  # but waiting is bounded by the overall limit
        await pool.run(0.1, 0.3, run_s=2.0)
    assert await busy == 1.0


async def test_a_replacement_that_cannot_start_is_retried(
    pool_factory: list[WorkerPool], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Starting the replacement fails once (as under EMFILE): one warning, retried a second later, back at strength;
    the job's caller got its answer at once, and the event loop never waited for reaping or spawning."""
    pool = _pool(pool_factory, "crash", size=1)
    pool.start()
    spawn = pool._spawn
    failures = iter([OSError(24, "Too many open files")])

    def flaky_spawn() -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return spawn()

    monkeypatch.setattr(pool, "_spawn", flaky_spawn)
    started = time.monotonic()
    with pytest.raises(WorkerCrashedError):
        await pool.run("x", 30)
    answered = time.monotonic() - started
    await pool.settled()
    assert pool.alive == 1 and pool.replaced == 1
    assert time.monotonic() - started >= 1.0  # the retry waited its second
    assert answered < 1.0
    assert sum("could not start a decode worker (OSError)" in r.getMessage() for r in caplog.records) == 1
