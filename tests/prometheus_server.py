"""Start a real Prometheus (Debian package) on 127.0.0.1 for tests, and query it through its HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

PROMETHEUS = "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def prometheus(
    tmp: Path,
    targets: Sequence[str],
    *,
    metrics_path: str = "/metrics",
    extra_jobs: str = "",
    config: str | None = None,
) -> AsyncIterator[str]:
    """A Prometheus scraping ``targets`` (host:port) every second (plus ``extra_jobs``, YAML list items under
    ``scrape_configs``); yields its base URL; killed on exit.

    ``config``: a whole prometheus.yml to use instead (``targets``, ``metrics_path`` and ``extra_jobs`` are then
    ignored).
    """
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "prometheus.yml"
    quoted = ", ".join(f"'{t}'" for t in targets)
    cfg.write_text(
        config
        if config is not None
        else "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: sharpeyes\n    metrics_path: '{metrics_path}'\n"
        f"    static_configs: [{{targets: [{quoted}]}}]\n" + extra_jobs
    )
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{base}/-/ready") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError("prometheus not ready within 20 s")


async def query(base: str, expr: str) -> list[dict[str, Any]]:
    """An instant query; the result vector."""
    async with aiohttp.ClientSession() as s, s.get(f"{base}/api/v1/query", params={"query": expr}) as r:
        data = await r.json()
    assert data["status"] == "success", data
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


async def wait_value(base: str, expr: str, expected: float, timeout: float = 15.0) -> float:
    """Poll ``expr`` until its single value equals ``expected``; the last value seen otherwise (test fails)."""
    deadline = time.monotonic() + timeout
    last: float = float("nan")
    while time.monotonic() < deadline:
        result = await query(base, expr)
        if len(result) == 1:
            last = float(result[0]["value"][1])
            if last == expected:
                return last
        await asyncio.sleep(0.25)
    return last
