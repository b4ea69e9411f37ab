"""Fixtures for the ONVIF prober's tests: fake servers in a thread, leak checks, a probe helper."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sharpeyes.probers.onvif  # noqa: F401  (registers the "onvif" prober)
from sharpeyes.onvif.client import PARSER_THREAD_PREFIX
from sharpeyes.onvif.wsdl import load_document_sync
from sharpeyes.probers.base import Deadline, ProbeResult, ProbeTarget, run_probe
from sharpeyes.redact import Secret
from sharpeyes.settings import OnvifOptions, ProbeModule
from tests.integration.onvif.fake_camera import Canary, FakeCamera, LoopThread, Quirks


@pytest.fixture(scope="session", autouse=True)
def _wsdls_loaded() -> None:
    """Parse the WSDLs once per session, as the daemon does at start-up, so probes time only the network."""
    load_document_sync("devicemgmt")
    load_document_sync("media")


@pytest.fixture
def servers() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@dataclass
class Peers:
    """Start fake cameras and canaries on the servers' loop; stop them all at the end."""

    loop: LoopThread

    def __post_init__(self) -> None:
        self._started: list[FakeCamera | Canary] = []

    async def camera(self, quirks: Quirks | None = None, host: str = "127.0.0.1") -> FakeCamera:
        camera = FakeCamera(quirks, host)
        await self.loop.run(camera.start())
        self._started.append(camera)
        return camera

    async def canary(self, host: str = "127.0.0.1") -> Canary:
        canary = Canary(host)
        await self.loop.run(canary.start())
        self._started.append(canary)
        return canary

    async def stop(self) -> None:
        for peer in reversed(self._started):
            await self.loop.run(peer.stop())


@pytest.fixture
async def peers(servers: LoopThread) -> AsyncIterator[Peers]:
    started = Peers(servers)
    yield started
    await started.stop()


def module(timeout_s: float = 3.0, read_timeout_s: float = 2.0, **onvif: object) -> ProbeModule:
    return ProbeModule(
        name="onvif_inventory",
        prober="onvif",
        timeout_s=timeout_s,
        read_timeout_s=min(read_timeout_s, timeout_s),
        onvif=OnvifOptions.model_validate(onvif),
    )


PASSWORD = "secret-pw"


def target(
    url: str, username: str | None = "admin", password: str | None = PASSWORD, host: str | None = None
) -> ProbeTarget:
    return ProbeTarget(
        camera_id="cam-1",
        host=host or "127.0.0.1",
        onvif_url=url,
        username=username,
        password=Secret(password) if password else None,
    )


async def probe(url: str, *, deadline_s: float = 3.0, mod: ProbeModule | None = None, **kw: str | None) -> ProbeResult:
    """Run the onvif prober through ``run_probe``, as the scheduler and the CLI do.

    Every probe must end within its deadline + 0.5 s and leave no task, fd or thread behind.
    """
    mod = mod or module(timeout_s=deadline_s)
    leaks = LeakCheck()
    started = time.monotonic()
    result = await run_probe(target(url, **kw), mod, deadline=Deadline(deadline_s))
    elapsed = time.monotonic() - started
    assert elapsed <= deadline_s + 0.5, f"probe took {elapsed:.2f} s for a {deadline_s} s deadline"
    await leaks.assert_clean()
    return result


def other_threads() -> int:
    """Threads other than the shared, bounded SOAP parser pool (its threads live as long as the process)."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith(PARSER_THREAD_PREFIX))


def open_fds() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


class LeakCheck:
    """Counts fds and threads before a probe; :meth:`assert_clean` waits up to 1 s for them, and for any
    other task on the test's loop, to go away. The fake servers run on another loop: their tasks do not count.
    """

    def __init__(self) -> None:
        self.fds = open_fds()
        self.threads = other_threads()

    async def assert_clean(self) -> None:
        me = asyncio.current_task()
        for _ in range(50):
            tasks = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
            if not tasks and open_fds() <= self.fds and other_threads() <= self.threads:
                return
            await asyncio.sleep(0.02)
        assert not tasks, f"leaked tasks: {tasks}"
        assert open_fds() <= self.fds, f"leaked fds: {open_fds()} > {self.fds}"
        assert other_threads() <= self.threads, "leaked threads"
