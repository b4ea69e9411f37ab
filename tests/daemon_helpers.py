"""Stand-ins for the daemon tests until the real probers land: a TCP-connect prober and a small city.

The prober really connects (asyncio, loopback only) to the port of the camera's ``rtsp_url``: up when a
listener accepts, ``refused`` when nothing listens. Registered in PROBERS under ``rtsp`` by the tests only.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from sharpeyes.probers.base import Deadline, Phase, ProbeResult, ProbeTarget, Reason, ResultBuilder
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.runtime import Config
from sharpeyes.settings import ProbeModule


async def tcp_probe(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """Connect to the rtsp_url's host:port; nothing else."""
    b = ResultBuilder(target, module.name)
    parts = urlsplit(target.rtsp_url or "")
    host, port = parts.hostname or target.host, parts.port or 554
    assert host.startswith("127."), "tests probe loopback only"
    try:
        async with asyncio.timeout(deadline.clip(module.read_timeout_s)):
            _, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return b.finish(Reason.REFUSED, "connection refused")
    except TimeoutError:
        return b.finish(Reason.TIMEOUT, "connect timeout")
    b.enter(Phase.DESCRIBE)
    writer.close()
    await writer.wait_closed()
    return b.finish(Reason.OK)


def live_module(interval: float = 1.0) -> ProbeModule:
    return ProbeModule(name="live", prober="rtsp", interval_s=interval, timeout_s=0.5, read_timeout_s=0.5)


def tcp_city(ports: list[int]) -> Inventory:
    """One camera per port, two per area, all in one district under the city. Each camera has its own
    loopback host (so per-host limits do not serialise them); the listener is on 127.0.0.1."""
    districts = (District("C", "city", DistrictLevel.CITY), District("D", "d", DistrictLevel.DISTRICT, "C"))
    n_areas = (len(ports) + 1) // 2
    areas = tuple(Area(f"a{i}", f"a{i}", "D", Scope.PUBLIC, "square", 1) for i in range(n_areas))
    cameras = tuple(
        Camera(f"c{i}", f"cam {i}", f"a{i // 2}", f"127.0.0.{i % 250 + 1}", rtsp_url=f"rtsp://127.0.0.1:{port}/s")
        for i, port in enumerate(ports)
    )
    return Inventory(districts, areas, cameras)


def tcp_config(ports: list[int], interval: float = 1.0) -> Config:
    return Config(tcp_city(ports), {"live": live_module(interval)})
