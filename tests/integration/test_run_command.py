"""``sharpeyes run --config`` as a real process on the demo city: metrics, API token, redaction, shards,
SIGTERM. (Probing results depend on the probers present in this build; this checks the wiring.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from sharpeyes.registry.io import read_inventory
from tests.exporter_helpers import samples
from tests.prometheus_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = sorted((ROOT / "config" / "demo").glob("*.csv"))
PASSWORD = "p@ss:w/rd#?%密"
TOKEN = "tok-123"
CITY = frozenset({("scope", "all"), ("district", "all"), ("level", "all")})


def write_config(tmp: Path, port: int, registry: list[Path] | None = None) -> Path:
    probes = tmp / "probes"
    probes.mkdir(exist_ok=True)
    (probes / "live.yml").write_text("prober: rtsp\ninterval_s: 2\ntimeout_s: 0.5\nread_timeout_s: 0.5\n")
    files = "\n".join(f"    - {p}" for p in (registry or DEMO))
    cfg = tmp / f"sharpeyes-{port}.yml"
    cfg.write_text(
        f"database:\n  url: sqlite:///{tmp / 'sharpeyes.db'}\n"
        f"listen:\n  host: 127.0.0.1\n  port: {port}\n"
        f"probes_dir: {probes}\n"
        f"registry:\n  files:\n{files}\n"
        "api:\n  token_env: SHARPEYES_TEST_TOKEN\n"
    )
    return cfg


@contextlib.asynccontextmanager
async def daemon(
    tmp: Path, *args: str, registry: list[Path] | None = None
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    cfg = write_config(tmp, port, registry)
    log = tmp / f"daemon-{port}.log"
    env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": PASSWORD, "SHARPEYES_TEST_TOKEN": TOKEN}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sharpeyes", "run", "--config", str(cfg), *args],
            cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            await ready(base, proc, log)
            yield base, proc, log
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


async def ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{base}/-/ready") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("not ready in 30 s: " + log.read_text()[-2000:])


async def get(base: str, path: str, token: str | None = None, method: str = "GET") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.request(method, base + path, headers=headers) as r:
        return r.status, await r.text()


async def test_run_serves_the_demo_city_with_token_and_redaction(tmp_path: Path) -> None:
    inv = read_inventory(DEMO)
    cam = inv.cameras[0]
    async with daemon(tmp_path) as (base, proc, log):
        status, text = await get(base, "/metrics")
        got = samples(text)
        assert status == 200
        assert got[("sharpeyes_cameras_registered", CITY)] == len(inv.cameras)
        assert got[("sharpeyes_areas_registered", CITY)] == len(inv.areas)
        assert sum(1 for k in got if k[0] == "sharpeyes_camera_info") == len(inv.cameras)
        assert (await get(base, f"/api/v1/cameras/{cam.id}"))[0] == 401
        status, body = await get(base, f"/api/v1/cameras/{cam.id}", TOKEN)
        assert status == 200 and '"has_password": true' in body
        await asyncio.sleep(2.5)  # a sweep has run: results recorded, whatever the probers in this build
        status, text = await get(base, "/metrics")
        assert any(k[0] == "sharpeyes_results_total" for k in samples(text))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        output = log.read_text()
        for leaked in (PASSWORD, TOKEN):
            assert leaked not in output and leaked not in body and leaked not in text


async def test_two_shards_split_the_city_exactly(tmp_path: Path) -> None:
    inv = read_inventory(DEMO)
    async with daemon(tmp_path, "--shard", "1/2") as (one, _, _), daemon(tmp_path, "--shard", "2/2") as (two, _, _):
        a = samples((await get(one, "/metrics"))[1])
        b = samples((await get(two, "/metrics"))[1])
    for name, total in (("sharpeyes_cameras_registered", len(inv.cameras)), ("sharpeyes_areas_registered",
                        len(inv.areas))):  # fmt: skip
        assert a[(name, CITY)] + b[(name, CITY)] == total
        assert a[(name, CITY)] > 0 and b[(name, CITY)] > 0
    ids_a = {dict(k[1])["camera_id"] for k in a if k[0] == "sharpeyes_camera_info"}
    ids_b = {dict(k[1])["camera_id"] for k in b if k[0] == "sharpeyes_camera_info"}
    assert not ids_a & ids_b and len(ids_a | ids_b) == len(inv.cameras)


async def test_reload_with_a_broken_registry_keeps_the_old_one(tmp_path: Path) -> None:
    copies = []
    for p in DEMO:
        copies.append(tmp_path / p.name)
        copies[-1].write_bytes(p.read_bytes())
    cameras = tmp_path / "cameras.csv"
    lines = cameras.read_text(encoding="utf-8").splitlines()
    n = len(read_inventory(copies).cameras)
    async with daemon(tmp_path, registry=copies) as (base, proc, log):
        cameras.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")  # a duplicate camera id
        status, body = await get(base, "/-/reload", TOKEN, "POST")
        assert status == 500 and "cameras.csv" in body and "duplicate" in body.lower(), body
        got = samples((await get(base, "/metrics"))[1])
        assert got[("sharpeyes_cameras_registered", CITY)] == n
        assert got[("sharpeyes_config_last_reload_successful", frozenset())] == 0
        assert "reload failed" in log.read_text()
        extra = lines[1].replace(lines[1].split(",")[0], "15020200001320999999", 1)
        cameras.write_text("\n".join([*lines, extra]) + "\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)  # systemd's ExecReload: the same reload
        deadline = time.monotonic() + 15
        while True:
            got = samples((await get(base, "/metrics"))[1])
            if got[("sharpeyes_cameras_registered", CITY)] == n + 1:
                break
            assert time.monotonic() < deadline, "SIGHUP reload not applied"
            await asyncio.sleep(0.2)
        assert got[("sharpeyes_config_last_reload_successful", frozenset())] == 1
        assert proc.poll() is None
