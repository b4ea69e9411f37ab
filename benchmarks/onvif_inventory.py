"""ONVIF inventory probes per second against a fake camera on loopback, and the event-loop stall they cause.

Compares, in the same run and at equal concurrency, the ``onvif`` prober (hardened transport, cached WSDLs)
with a baseline doing the same calls through onvif-zeep-async's stock ``ONVIFCamera``. Then measures the
longest event-loop stall while probing a camera whose GetProfiles answer is close to the 1 MiB cap (zeep
parses answers on the loop). Run: ``.venv/bin/python -m benchmarks.onvif_inventory [probes] [concurrency]``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from multiprocessing.queues import Queue
from typing import Any

from aiohttp import web

import sharpeyes.onvif.client as onvif_client
import sharpeyes.probers.onvif  # noqa: F401  (registers the prober)
from sharpeyes.onvif.settings import import_onvif_client
from sharpeyes.onvif.wsdl import load_document_sync
from sharpeyes.probers.base import Deadline, ProbeTarget, Reason, run_probe
from sharpeyes.redact import Secret
from sharpeyes.settings import ProbeModule
from tests.integration.onvif import soap
from tests.integration.onvif.fake_camera import FakeCamera, Quirks, soap_response

MODULE = ProbeModule(name="onvif_inventory", prober="onvif", timeout_s=10, read_timeout_s=5)


async def ours(url: str) -> None:
    target = ProbeTarget("bench", "127.0.0.1", onvif_url=url, username="admin", password=Secret("pw"))
    result = await run_probe(target, MODULE, deadline=Deadline(MODULE.timeout_s))
    assert result.reason is Reason.OK, result.detail


async def stock(url: str) -> None:
    """The same calls through onvif-zeep-async as its README shows them (no zeep sqlite cache)."""
    onvif_client = import_onvif_client()
    port = int(url.split(":")[2].split("/")[0])
    camera = onvif_client.ONVIFCamera("127.0.0.1", port, "admin", "pw", no_cache=True)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        await device.GetSystemDateAndTime()
        await device.GetDeviceInformation()
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        token = profiles[0].token
        setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
        await media.GetStreamUri({"StreamSetup": setup, "ProfileToken": token})
        await media.GetSnapshotUri({"ProfileToken": token})
    finally:
        await camera.close()


async def rate(
    fn: Callable[[str], Awaitable[None]], url: str, probes: int, concurrency: int
) -> tuple[float, float, float]:
    """(probes per second, median seconds per probe, client CPU seconds per probe) at ``concurrency``."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            await fn(url)
            latencies.append(time.perf_counter() - started)

    await fn(url)  # warm-up: WSDL caches of both clients
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(probes)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return probes / wall, statistics.median(latencies), cpu / probes


async def max_stall(url: str, probes: int) -> float:
    """The longest gap a 1 ms ticker sees while ``probes`` probes run one after another."""
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    task = asyncio.create_task(ticker())
    for _ in range(probes):
        await ours(url)
    running = False
    await task
    return worst


class InlineExecutor(Executor):
    """Runs the parse on the calling thread: the event loop, as zeep does by default (the stall baseline)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def big_profiles(target_bytes: int) -> str:
    one = soap.PROFILES.removeprefix("<trt:GetProfilesResponse>").removesuffix("</trt:GetProfilesResponse>")
    count = max(1, target_bytes // len(one))
    return f"<trt:GetProfilesResponse>{one * count}</trt:GetProfilesResponse>"


def serve(ports: Queue[tuple[int, int]]) -> None:
    """The fake cameras, in a process of their own so they do not compete with the client for the GIL."""

    async def run() -> None:
        big_answer = soap.envelope(big_profiles(1000 * 1024))

        async def big(request: web.Request) -> web.StreamResponse:
            return soap_response(big_answer)

        normal, heavy = FakeCamera(), FakeCamera(Quirks(raw={"GetProfiles": big}))
        for camera in (normal, heavy):
            await camera.start()
        ports.put((normal.port, heavy.port))
        await asyncio.Event().wait()

    asyncio.run(run())


async def main(probes: int, concurrency: int) -> None:
    load_document_sync("devicemgmt")
    load_document_sync("media")
    context = multiprocessing.get_context("fork")
    ports: Queue[tuple[int, int]] = context.Queue()
    server = context.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    try:
        normal, heavy = (f"http://127.0.0.1:{port}/onvif/device_service" for port in ports.get(timeout=30))
        ours_rate, ours_median, ours_cpu = await rate(ours, normal, probes, concurrency)
        stock_rate, stock_median, stock_cpu = await rate(stock, normal, probes, concurrency)
        stall = await max_stall(heavy, 5)
        baseline_stall = await max_stall(normal, 5)
        real_pool, onvif_client.PARSER = onvif_client.PARSER, InlineExecutor()
        try:
            inline_stall = await max_stall(heavy, 5)
        finally:
            onvif_client.PARSER = real_pool
    finally:
        server.terminate()
        server.join(timeout=5)
    print(f"probes={probes} concurrency={concurrency} (fake cameras: aiohttp in a separate process)")
    for name, per_s, median, cpu in (
        ("sharpeyes onvif prober", ours_rate, ours_median, ours_cpu),
        ("onvif-zeep-async stock", stock_rate, stock_median, stock_cpu),
    ):
        timing = f"median {median * 1000:6.1f} ms, client CPU {cpu * 1000:5.1f} ms/probe"
        print(f"{name} : {per_s:6.1f} probes/s, {timing}")
    print(f"ratio (probes/s)       : {ours_rate / stock_rate:6.2f}x; CPU per probe {ours_cpu / stock_cpu:.2f}x")
    print(f"max loop stall, ~1 MiB GetProfiles, parser pool     : {stall * 1000:7.1f} ms")
    print(f"max loop stall, ~1 MiB GetProfiles, parsed on loop  : {inline_stall * 1000:7.1f} ms")
    print(f"max loop stall, small answers, parser pool          : {baseline_stall * 1000:7.1f} ms")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [200, 20][len(args) :])))
