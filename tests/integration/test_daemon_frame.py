"""The daemon with a ``frame`` module: the decode pool starts with the daemon, signatures go to the database,
and after stop no child process remains (workers, forkserver and resource tracker killed and reaped)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import aiohttp

from sharpeyes.daemon import Daemon, DaemonOptions
from sharpeyes.probers import frame
from sharpeyes.quality import store as signature_store
from sharpeyes.registry.signatures import DatabaseSignatureStore
from sharpeyes.runtime import Config
from sharpeyes.settings import ProbeModule
from tests.daemon_helpers import tcp_city
from tests.exporter_helpers import samples


def descendants(pid: int) -> dict[int, str]:
    """pid → state letter of every process below ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    state: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parent[int(entry.name)], state[int(entry.name)] = int(fields[1]), fields[0]
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in out:
                out[child] = state[child]
                todo.append(child)
    return out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def frame_config() -> Config:
    module = ProbeModule(name="frame_health", prober="frame", interval_s=1.0, timeout_s=1.0, read_timeout_s=0.5)
    return Config(tcp_city([_closed_port()]), {"frame_health": module})


async def test_pool_starts_with_the_daemon_and_no_child_outlives_its_stop(tmp_path: Path) -> None:
    before = descendants(os.getpid())
    d = Daemon(frame_config, DaemonOptions(db_url=f"sqlite:///{tmp_path / 'd.db'}"))
    port = await d.start()
    try:
        pool = frame.get_pool()
        assert pool.alive == pool.size  # started at daemon start, before any probe needed it
        assert isinstance(signature_store.get_store(), DatabaseSignatureStore)
        running = descendants(os.getpid())
        assert len(set(running) - set(before)) >= pool.size
        assert d.runtime is not None
        await asyncio.sleep(1.5)  # a sweep or two against the closed port
        assert d.runtime.store.counters.results[("frame_health", "refused")] >= 1
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
            got = samples(await r.text())
        assert got[("sharpeyes_frame_signature_errors_total", frozenset())] == 0
    finally:
        await d.stop()
    after = descendants(os.getpid())
    assert set(after) <= set(before), f"children left after stop: {set(after) - set(before)}"
    assert "Z" not in after.values()
    assert not isinstance(signature_store.get_store(), DatabaseSignatureStore)  # the previous store is back


async def test_signatures_written_by_the_prober_reach_the_table(tmp_path: Path) -> None:
    d = Daemon(frame_config, DaemonOptions(db_url=f"sqlite:///{tmp_path / 'd.db'}", signature_flush_s=0.1))
    await d.start()
    try:
        store = signature_store.get_store()
        await store.put("c0", "last", b"sig")  # as the frame prober does after a verdict
        await store.put("c0", "reference", b"ref")
        assert isinstance(store, DatabaseSignatureStore)
        for _ in range(50):
            if store.stats.written >= 2:
                break
            await asyncio.sleep(0.05)
        assert store.stats.written >= 2
    finally:
        await d.stop()
    again = Daemon(frame_config, DaemonOptions(db_url=f"sqlite:///{tmp_path / 'd.db'}"))
    await again.start()
    try:
        store = signature_store.get_store()
        assert await store.get("c0", "last") == b"sig"
        assert await store.get("c0", "reference") == b"ref"
    finally:
        await again.stop()
