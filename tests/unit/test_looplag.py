"""The event loop's lag monitor: the sum of late wake-ups, including one that is late right now."""

from __future__ import annotations

import asyncio
import time

from sharpeyes.looplag import LoopLagMonitor


async def test_a_held_loop_adds_its_hold_and_a_free_loop_adds_little() -> None:
    monitor = LoopLagMonitor(tick_s=0.05)
    monitor.start()
    try:
        await asyncio.sleep(0.3)
        free = monitor.total()
        time.sleep(0.5)  # the loop is held
        during = monitor.total()  # the overdue wake-up counts before it runs
        await asyncio.sleep(0.2)
        after = monitor.total()
    finally:
        await monitor.stop()
    assert free < 0.1
    assert 0.4 <= during - free <= 0.6
    assert 0.4 <= after - free <= 0.7
    assert monitor.max_tick_lag_s >= 0.4


async def test_stop_ends_the_task_and_a_stopped_monitor_reads_its_last_total() -> None:
    monitor = LoopLagMonitor(tick_s=0.05)
    monitor.start()
    await asyncio.sleep(0.1)
    await monitor.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "loop-lag-monitor"]
    assert monitor.total() >= 0.0


async def test_lag_since_sees_a_recent_stall_and_forgets_an_old_one() -> None:
    monitor = LoopLagMonitor(tick_s=0.05)
    monitor.start()
    try:
        await asyncio.sleep(0.2)
        time.sleep(0.4)  # held
        stalled_at = time.monotonic()
        assert 0.3 <= monitor.lag_since(stalled_at - 1.0) <= 0.6  # the stall, read as it ends
        await asyncio.sleep(1.2)
        assert monitor.lag_since(time.monotonic() - 1.0) < 0.1  # a second of free loop since
        assert monitor.lag_since(stalled_at - 1.0) >= 0.3  # still there, looking further back
    finally:
        await monitor.stop()
