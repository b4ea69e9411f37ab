"""DESIGN §10: three shard daemons on one PostgreSQL. Every camera is probed by exactly one shard, and the
shards' aggregates sum to a single daemon's (real TCP 'cameras', real PostgreSQL, real HTTP)."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from sharpeyes.daemon import Daemon, DaemonOptions, Shard
from sharpeyes.probers.base import PROBERS
from sharpeyes.registry import db
from sharpeyes.results import fetch_transitions
from sharpeyes.runtime import Config
from tests.daemon_helpers import tcp_config, tcp_probe
from tests.exporter_helpers import samples
from tests.pg_required import postgres_missing

pytestmark = pytest.mark.postgres
ADMIN = os.environ.get("SHARPEYES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GROUP_NAMES = ("sharpeyes_cameras_registered", "sharpeyes_cameras_online", "sharpeyes_cameras_in_service",
               "sharpeyes_areas_registered", "sharpeyes_areas_covered")  # fmt: skip


@pytest.fixture
def schemas() -> Iterator[list[str]]:
    names = [f"shards_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = create_engine(ADMIN)
    try:
        with admin.begin() as conn:
            for n in names:
                conn.execute(text(f'CREATE SCHEMA "{n}"'))
    except OperationalError as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        postgres_missing(f"PostgreSQL not reachable on 127.0.0.1:5432: {type(exc).__name__}")
    try:
        yield [f"{ADMIN}?options=-csearch_path%3D{n}" for n in names]
    finally:
        with admin.begin() as conn:
            for n in names:
                conn.execute(text(f'DROP SCHEMA "{n}" CASCADE'))
        admin.dispose()


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture
async def cameras() -> AsyncIterator[list[int]]:
    """24 cameras: two in three listen, the rest are closed ports."""
    servers, ports = [], []
    for i in range(24):
        if i % 3:
            srv = await asyncio.start_server(_accept, "127.0.0.1", 0)
            servers.append(srv)
            ports.append(srv.sockets[0].getsockname()[1])
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
    try:
        yield ports
    finally:
        for srv in servers:
            srv.close()


def sharded(config: Config, shard: Shard | None) -> Config:
    return Config(shard.select(config.inventory), config.modules) if shard else config


def _all_probed(d: Daemon) -> bool:
    """Every camera of this daemon has a result (a slot may be skipped as late on a loaded machine)."""
    rt = d.runtime
    return rt is not None and all((c.id, "live") in rt.store.latest for c in rt.config.inventory.cameras)


async def groups(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        got = samples(await r.text())
    city = frozenset({("scope", "all"), ("district", "all"), ("level", "all")})
    return {name: got[(name, city)] for name in GROUP_NAMES}


async def test_three_shards_sum_to_one_daemon(
    monkeypatch: pytest.MonkeyPatch, schemas: list[str], cameras: list[int]
) -> None:
    monkeypatch.setitem(PROBERS, "rtsp", tcp_probe)
    full = tcp_config(cameras, interval=2.0)
    shards = [Shard(k, 3) for k in (1, 2, 3)]
    daemons = [Daemon(functools.partial(sharded, full, s), DaemonOptions(db_url=schemas[0])) for s in shards]
    single = Daemon(lambda: full, DaemonOptions(db_url=schemas[1]))
    ports = [await d.start() for d in [*daemons, single]]
    try:
        every = [*daemons, single]
        for _ in range(300):
            if all(_all_probed(d) for d in every):
                break
            await asyncio.sleep(0.1)
        assert all(_all_probed(d) for d in every), "not every camera probed within 30 s"
        per_shard = [await groups(p) for p in ports[:3]]
        whole = await groups(ports[3])
    finally:
        for d in every:
            await d.stop()
    for name in GROUP_NAMES:
        assert sum(g[name] for g in per_shard) == whole[name], name
    assert whole["sharpeyes_cameras_online"] == 16 and whole["sharpeyes_cameras_registered"] == 24
    assert all(g["sharpeyes_cameras_registered"] > 0 for g in per_shard)
    engine = db.make_engine(schemas[0])
    try:
        probed = [t.camera_id for t in fetch_transitions(engine)]
    finally:
        engine.dispose()
    assert sorted(probed) == sorted(c.id for c in full.inventory.cameras)  # each camera once, by one shard
