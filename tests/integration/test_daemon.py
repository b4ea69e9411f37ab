"""The whole daemon in-process: real TCP listeners as cameras, real SQLite, real HTTP; restart and reload."""

from __future__ import annotations

import asyncio
import gc
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from sharpeyes.daemon import Daemon, DaemonOptions, Shard
from sharpeyes.errors import UserError
from sharpeyes.exporter.file_sd import to_file_sd
from sharpeyes.probers.base import PROBERS
from sharpeyes.registry import db
from sharpeyes.results import fetch_transitions
from sharpeyes.runtime import Config
from tests.daemon_helpers import tcp_config, tcp_probe
from tests.exporter_helpers import samples
from tests.prometheus_server import prometheus, wait_value


@pytest.fixture(autouse=True)
def _tcp_prober(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROBERS, "rtsp", tcp_probe)


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture
async def listeners() -> AsyncIterator[tuple[list[int], list[asyncio.Server]]]:
    """Two listening 'cameras' and one closed port."""
    servers = [await asyncio.start_server(_accept, "127.0.0.1", 0) for _ in range(2)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    ports = [srv.sockets[0].getsockname()[1] for srv in servers] + [closed]
    try:
        yield ports, servers
    finally:
        for srv in servers:
            srv.close()


async def metric(base: str, name: str, camera: str) -> float | None:
    async with aiohttp.ClientSession() as s, s.get(f"{base}/metrics") as r:
        got = samples(await r.text())
    return got.get((name, frozenset({("camera_id", camera)})))


async def until(check: Callable[[], object], timeout: float = 6.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_daemon_probes_exports_records_and_restarts_without_double_counting(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    ports, servers = listeners
    url = f"sqlite:///{tmp_path / 'sharpeyes.db'}"
    d = Daemon(lambda: tcp_config(ports), DaemonOptions(db_url=url))
    port = await d.start()
    base = f"http://127.0.0.1:{port}"
    try:
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c2"), 0))
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c0"), 1))
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c1"), 1))
        async with aiohttp.ClientSession() as s, s.get(f"{base}/-/ready") as r:
            assert r.status == 200
        servers[1].close()  # camera c1 goes offline: visible within one interval plus the deadline
        await servers[1].wait_closed()
        t = time.monotonic()
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c1"), 0))
        assert time.monotonic() - t < 1.0 + 0.5 + 0.5
    finally:
        await d.stop()
    engine = db.make_engine(url)
    try:
        first = [(t.camera_id, t.from_state, t.to_state) for t in fetch_transitions(engine)]
        assert sorted(first) == [("c0", "unknown", "up"), ("c1", "unknown", "up"), ("c1", "up", "down"),
                                 ("c2", "unknown", "down")]  # fmt: skip
        d2 = Daemon(lambda: tcp_config(ports), DaemonOptions(db_url=url))
        await d2.start()
        try:
            assert d2.runtime is not None
            rt = d2.runtime
            await until(lambda: rt.sweeps["live"].sweeps >= 2)
        finally:
            await d2.stop()
        assert [(t.camera_id, t.from_state, t.to_state) for t in fetch_transitions(engine)] == first
    finally:
        engine.dispose()


async def _is(value: object, expected: float) -> bool:
    assert asyncio.iscoroutine(value)
    return bool(await value == expected)


async def test_reload_keeps_the_old_config_on_error_and_applies_a_good_one(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    ports, _ = listeners
    configs: list[Config | Exception] = [tcp_config(ports)]

    def load() -> Config:
        item = configs[-1]
        if isinstance(item, Exception):
            raise item
        return item

    d = Daemon(load, DaemonOptions(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    port = await d.start()
    base = f"http://127.0.0.1:{port}"
    try:
        configs.append(UserError("cameras.csv:3: duplicate camera id 'c1'"))
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{base}/-/reload") as r:
                assert r.status == 500 and "cameras.csv:3" in (await r.json())["error"]
            assert d.runtime is not None and len(d.runtime.config.inventory.cameras) == 3
            configs.append(tcp_config(ports[:1], interval=2.0))
            async with s.post(f"{base}/-/reload") as r:
                assert r.status == 200
        assert d.scheduler is not None
        job = d.scheduler._sched.get_job("live")
        assert job is not None and job.trigger.interval_length == 2.0
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c0"), 1))
        assert await metric(base, "sharpeyes_camera_up", "c2") is None
    finally:
        await d.stop()


def test_shards_split_by_area_and_cover_everything() -> None:
    inv = tcp_config(list(range(1000, 1200))).inventory  # 100 areas, 200 cameras
    parts = [Shard(k, 3).select(inv) for k in (1, 2, 3)]
    cams = [c.id for p in parts for c in p.cameras]
    assert sorted(cams) == sorted(c.id for c in inv.cameras)  # each camera in exactly one shard
    for p in parts:
        areas = {a.id for a in p.areas}
        assert all(c.area in areas for c in p.cameras) and 20 <= len(areas) <= 50
        assert p.districts == inv.districts
    assert Shard.parse("2/8") == Shard(2, 8)
    # rendezvous: going from 3 to 4 shards moves only the areas the new shard takes
    moved = [a.id for a in inv.areas if Shard(1, 3).owner(a.id) != Shard(1, 4).owner(a.id)]
    assert all(Shard(1, 4).owner(a) == 4 for a in moved)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(UserError):
            Shard.parse(bad)


async def test_prometheus_sees_a_camera_go_offline_within_one_interval(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    ports, servers = listeners
    d = Daemon(lambda: tcp_config(ports), DaemonOptions(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    port = await d.start()
    try:
        async with prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prom:
            assert await wait_value(prom, 'up{job="sharpeyes"}', 1) == 1
            assert await wait_value(prom, "sum(sharpeyes_camera_up)", 2) == 2
            online = 'sum(sharpeyes_cameras_online{scope="all",district="all"})'
            assert await wait_value(prom, online + ' / sum(sharpeyes_cameras_in_service{scope="all",'
                                    'district="all"})', 2 / 3) == 2 / 3  # fmt: skip
            servers[0].close()
            await servers[0].wait_closed()
            t = time.monotonic()
            # one interval (1 s) + the deadline (0.5 s) + one scrape (1 s) + query slack
            assert await wait_value(prom, 'sharpeyes_camera_up{camera_id="c0"}', 0, timeout=4.0) == 0
            assert time.monotonic() - t < 4.0
            assert await wait_value(prom, "sharpeyes_last_sweep_success_timestamp_seconds > bool (time() - 5)", 1) == 1
    finally:
        await d.stop()


async def test_storage_locked_by_another_process_keeps_probing_then_recovers(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    """RELIABILITY D1/D3: a foreign write lock makes writes fail (short busy timeout here); probing goes on,
    records wait in the buffer, errors are counted, readiness drops; when the lock goes, all is written."""
    ports, servers = listeners
    path = tmp_path / "db.sqlite"
    opts = DaemonOptions(db_url=f"sqlite:///{path}", busy_timeout_ms=100, flush_interval_s=0.2)
    d = Daemon(lambda: tcp_config(ports), opts)
    port = await d.start()
    base = f"http://127.0.0.1:{port}"
    assert d.runtime is not None
    rt = d.runtime
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c0"), 1))
        await until(lambda: rt.store.counters.storage_errors > 0)
        async with aiohttp.ClientSession() as s, s.get(f"{base}/-/ready") as r:
            assert r.status == 503 and "database" in await r.text()
        servers[0].close()  # the world keeps changing while storage is down
        await until(lambda: _is(metric(base, "sharpeyes_camera_up", "c0"), 0))
        assert rt.store.pending and rt.store.counters.dropped == 0
        locker.execute("ROLLBACK")
        await until(lambda: not rt.store.pending and rt.storage_ok)
        async with aiohttp.ClientSession() as s, s.get(f"{base}/-/ready") as r:
            assert r.status == 200
    finally:
        locker.close()
        await d.stop()
    engine = db.make_engine(opts.db_url)
    try:
        rows = [(t.camera_id, t.to_state) for t in fetch_transitions(engine, "c0")]
    finally:
        engine.dispose()
    assert rows == [("c0", "up"), ("c0", "down")]


def open_fds() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


async def test_the_daemon_releases_free_heap_pages_on_its_interval_and_stops_doing_so_when_stopped(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    """RELIABILITY R2: freed heap pages go back to the system every ``heap_release_s`` (in a worker thread)."""
    ports, _ = listeners
    options = DaemonOptions(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", heap_release_s=0.05)
    d = Daemon(lambda: tcp_config(ports), options)
    await d.start()
    try:
        await until(lambda: d.heap_releases >= 3)
    finally:
        await d.stop()
    stopped_at = d.heap_releases
    await asyncio.sleep(0.2)
    assert d.heap_releases == stopped_at  # the loop ended with the daemon


async def test_start_stop_cycles_return_to_the_fd_baseline(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    """RELIABILITY L5: a daemon started and stopped leaves no socket, engine or task behind."""
    ports, _ = listeners
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    counts = []
    for _ in range(3):
        d = Daemon(lambda: tcp_config(ports), DaemonOptions(db_url=url))
        port = await d.start()
        base = f"http://127.0.0.1:{port}"
        await until(lambda b=base: _is(metric(b, "sharpeyes_camera_up", "c0"), 1))  # type: ignore[misc]
        frozen = gc.get_freeze_count()
        await d.stop()
        assert frozen > 10_000 and gc.get_freeze_count() == 0  # the start-up heap was out of the collector's walk
        await asyncio.sleep(0.2)
        counts.append(open_fds())
    assert counts[2] <= counts[1] <= counts[0], counts
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftover, leftover


async def test_prometheus_probes_every_camera_through_file_sd_and_probe(
    tmp_path: Path, listeners: tuple[list[int], list[asyncio.Server]]
) -> None:
    """The blackbox-style path: file_sd targets from the registry, relabelled to /probe on the daemon."""
    ports, _ = listeners
    config = tcp_config(ports)
    sd = tmp_path / "cameras.json"
    sd.write_text(to_file_sd(config.inventory, ["live"]), encoding="utf-8")
    d = Daemon(lambda: config, DaemonOptions(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    port = await d.start()
    job = (
        "  - job_name: sharpeyes_probe\n    metrics_path: /probe\n"
        f"    file_sd_configs: [{{files: ['{sd}']}}]\n"
        "    relabel_configs:  # as in dashboards/prometheus/prometheus.example.yml\n"
        "      - {source_labels: [__address__], target_label: __param_camera}\n"
        "      - {source_labels: [module], target_label: __param_module}\n"
        "      - {source_labels: [__param_camera], target_label: camera_id}\n"
        f"      - {{target_label: __address__, replacement: '127.0.0.1:{port}'}}\n"
    )
    try:
        async with prometheus(tmp_path, [f"127.0.0.1:{port}"], extra_jobs=job) as prom:
            assert await wait_value(prom, 'count(up{job="sharpeyes_probe"} == 1)', 3) == 3
            assert await wait_value(prom, 'probe_success{camera_id="c0"}', 1) == 1
            assert await wait_value(prom, 'probe_success{camera_id="c2"}', 0) == 0
            reason = 'sharpeyes_probe_reason{camera_id="c2",reason="refused"}'
            assert await wait_value(prom, reason, 1) == 1
            assert await wait_value(prom, 'count(probe_success{job="sharpeyes_probe",area_id="a0"})', 2) == 2
    finally:
        await d.stop()
