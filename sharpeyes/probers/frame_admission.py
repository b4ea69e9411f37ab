"""Admission of frame probes: no more cameras waiting for their keyframe than the decode workers can serve.

A session's keyframe reaches the worker pool some time after it is admitted (connecting, then up to a GOP of
waiting). With ``open`` sessions admitted and not yet handed to the pool, keyframes arrive at about
``open / session_s`` per second, and the pool finishes ``workers / job_s`` jobs per second. Sessions are admitted
while ``open`` stays under ``UTILISATION × workers × session_s / job_s``, both times measured as moving averages,
so keyframes never arrive faster than the workers keep up with, and each verdict follows its keyframe by about one
job's time instead of a queue. Until both are measured (the first keyframe decoded), ``UNMEASURED_PER_WORKER``
sessions per worker are admitted: a daemon starting a whole sweep at once does not flood its workers with
keyframes before it knows what they can take. A session waits for
admission in order of arrival; one not admitted within its limit is not started at all (our capacity, not the
camera's fault).
"""

from __future__ import annotations

import asyncio
import collections

UTILISATION = 0.8  # the share of the workers' capacity keyframes may use
UNMEASURED_PER_WORKER = 4


class FrameAdmission:
    """Process-wide count of admitted frame sessions, with a FIFO of those waiting to be admitted."""

    def __init__(self) -> None:
        self.open = 0
        self.session_s: float | None = None  # moving average: admission to keyframe handed to the pool
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    def limit(self, workers: int, job_s: float | None) -> int:
        """How many sessions may be open at once."""
        if job_s is None or self.session_s is None or job_s <= 0:
            return UNMEASURED_PER_WORKER * workers
        return max(workers, int(UTILISATION * workers * self.session_s / job_s))

    async def enter(self, workers: int, job_s: float | None, limit_s: float) -> bool:
        """Admit one session, waiting at most ``limit_s``; whether it was admitted (then call :meth:`leave`)."""
        limit = self.limit(workers, job_s)
        if not self._waiting and self.open < limit:
            self.open += 1
            return True
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            async with asyncio.timeout(max(0.0, limit_s)):
                await turn
        except TimeoutError:
            return turn.done() and not turn.cancelled()  # admitted just as the time ran out: it counts
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.open = max(0, self.open - 1)  # admitted, but cancelled before it could start: give it back
            raise
        finally:
            if turn in self._waiting:
                self._waiting.remove(turn)
        return True

    def leave(self, workers: int, job_s: float | None, session_s: float | None = None) -> None:
        """A session handed its keyframe to the pool (``session_s`` after admission) or ended without one."""
        self.open = max(0, self.open - 1)
        if session_s is not None:
            self.session_s = session_s if self.session_s is None else 0.9 * self.session_s + 0.1 * session_s
        limit = self.limit(workers, job_s)
        while self._waiting and self.open < limit:
            turn = self._waiting.popleft()
            if not turn.done() and not turn.get_loop().is_closed():
                turn.set_result(None)
                self.open += 1


DEFAULT_ADMISSION = FrameAdmission()
