"""Run a :class:`Fleet` on its own event loop in a background thread (for tests and tools with blocking clients)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from sharpeyes.sim.fleet import Fleet

T = TypeVar("T")


class FleetThread:
    """``with FleetThread(fleet) as ft:`` serves the fleet until the block ends; ``ft.call(coro)`` runs on its loop."""

    def __init__(self, fleet: Fleet, *, start_timeout: float = 120.0) -> None:
        self.fleet = fleet
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="sim-fleet", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._start_timeout = start_timeout

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.fleet.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> FleetThread:
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError("fleet did not start")
        if self._error is not None:
            raise self._error
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _shutdown(self) -> None:
        """Stop the fleet, then cancel whatever still runs (hung handlers of blackholed cameras)."""
        await self.fleet.stop()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self.loop.is_running():
            self.call(self._shutdown())
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()

    def __enter__(self) -> FleetThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
