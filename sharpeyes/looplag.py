"""How late the event loop runs: the scheduler's test of whether a probe's ``timeout`` is the camera's or ours.

A starved host (CPU taken by other processes, or the loop itself busy) wakes a probe's read late; its deadline
then passes with the camera's answer waiting in the socket buffer, and a healthy camera would be recorded as an
outage (RELIABILITY.md R1-1). :class:`LoopLagMonitor` sleeps ``tick_s`` at a time and adds up by how much each
wake-up came late; :meth:`LoopLagMonitor.total` reads that sum on the monotonic clock, including a wake-up that
is late right now; :meth:`LoopLagMonitor.lag_since` the lag over the last seconds, from a short history of
readings (a stall that ended long ago did not delay the timer that fired just now).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import deque

TICK_S = 0.1
"""Ten wake-ups a second: cheap, and fine enough against deadlines of seconds."""

HISTORY_S = 60.0
"""How far back :meth:`LoopLagMonitor.lag_since` can look."""


class LoopLagMonitor:
    """A task that measures the event loop's accumulated lateness; start and stop it on the loop."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        self.tick_s = tick_s
        self.max_tick_lag_s = 0.0
        self._total = 0.0
        self._expected_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._woke: deque[float] = deque(maxlen=int(HISTORY_S / tick_s))
        self._totals: deque[float] = deque(maxlen=int(HISTORY_S / tick_s))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def total(self, now: float | None = None) -> float:
        """Seconds the loop has run late since start, counting the current wake-up if it is overdue."""
        now = time.monotonic() if now is None else now
        pending = 0.0 if self._expected_at is None else max(0.0, now - self._expected_at)
        return self._total + pending

    def lag_since(self, since: float) -> float:
        """Seconds the loop ran late since ``since`` (monotonic), to the precision of one tick: the total now less
        the total at the last wake-up at or before ``since``."""
        i = bisect.bisect_right(self._woke, since) - 1
        before = self._totals[i] if i >= 0 else (self._totals[0] if self._totals else 0.0)
        return self.total() - before

    async def _run(self) -> None:
        while True:
            self._expected_at = time.monotonic() + self.tick_s
            await asyncio.sleep(self.tick_s)
            woke = time.monotonic()
            lag = max(0.0, woke - self._expected_at)
            self._total += lag
            self.max_tick_lag_s = max(self.max_tick_lag_s, lag)
            self._woke.append(woke)
            self._totals.append(self._total)
