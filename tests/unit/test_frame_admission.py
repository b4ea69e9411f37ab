"""Admission of frame probes: open sessions bounded by what the decode workers keep up with, FIFO, bounded wait."""

from __future__ import annotations

import asyncio

from sharpeyes.probers.frame_admission import UNMEASURED_PER_WORKER, UTILISATION, FrameAdmission


def _measured(session_s: float) -> FrameAdmission:
    admission = FrameAdmission()
    admission.session_s = session_s
    return admission


async def test_a_few_sessions_per_worker_are_admitted_before_anything_was_measured() -> None:
    admission = FrameAdmission()
    assert all([await admission.enter(2, None, 0.0) for _ in range(2 * UNMEASURED_PER_WORKER)])
    assert not await admission.enter(2, None, 0.0)
    admission.leave(2, 0.01, session_s=1.2)  # the first keyframe: both times are known now
    assert admission.session_s == 1.2 and admission.open == 2 * UNMEASURED_PER_WORKER - 1
    assert await admission.enter(2, 0.01, 0.0)  # and the limit is the measured one
    assert admission.limit(2, 0.01) == int(UTILISATION * 2 * 1.2 / 0.01)


async def test_open_sessions_are_bounded_by_the_workers_capacity() -> None:
    admission = _measured(1.0)
    limit = admission.limit(2, 0.04)
    assert limit == int(UTILISATION * 2 * 1.0 / 0.04)  # keyframes arrive at most at 80 % of what 2 workers finish
    assert all([await admission.enter(2, 0.04, 0.0) for _ in range(limit)])
    assert not await admission.enter(2, 0.04, 0.0)  # full: not admitted within its (zero) wait
    assert admission.open == limit
    assert admission.limit(2, 10.0) == 2  # however slow the jobs, each worker may have one on its way


async def test_waiting_sessions_are_admitted_in_order_as_others_leave() -> None:
    admission = _measured(1.0)
    for _ in range(2):
        assert await admission.enter(2, 1.0, 0.0)  # limit: max(2, int(0.8 * 2 * 1 / 1)) = 2
    order: list[int] = []

    async def wait(i: int) -> None:
        if await admission.enter(2, 1.0, 30):
            order.append(i)

    waiters = [asyncio.create_task(wait(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert order == [] and admission.open == 2
    admission.leave(2, 1.0, session_s=1.0)
    await asyncio.sleep(0)
    assert order == [0] and admission.open == 2
    admission.leave(2, 1.0)  # a session that ended without a keyframe frees its place too
    admission.leave(2, 1.0)
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2] and admission.open == 2


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    admission = _measured(1.0)
    for _ in range(2):
        await admission.enter(2, 1.0, 0.0)
    waiter = asyncio.create_task(admission.enter(2, 1.0, 30))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    admission.leave(2, 1.0)
    assert admission.open == 1  # nobody was admitted in the cancelled waiter's place
