"""A daemon process for the R3 test (file-descriptor budget): real rtsp prober, N cameras spread over the
given loopback listeners (which accept and never answer), so the per-host limit does not serialise them.

Usage: python -m tests.reliability.fd_child DB_URL HTTP_PORT N_CAMERAS HOST:PORT...
The test sets ``RLIMIT_NOFILE`` for this process (``preexec_fn``).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import sharpeyes.probers.rtsp  # noqa: F401  (registers the real rtsp prober)
from sharpeyes.daemon import Daemon, DaemonOptions
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.runtime import Config
from sharpeyes.settings import ProbeModule


def city(endpoints: list[tuple[str, int]], n: int) -> Config:
    """``n`` cameras, round-robin over the endpoints, one area per 50."""
    districts = (District("C", "city", DistrictLevel.CITY),)
    areas = tuple(Area(f"a{i}", f"a{i}", "C", Scope.PUBLIC, "square", 1) for i in range((n + 49) // 50))
    cameras = tuple(
        Camera(f"c{i}", f"c{i}", f"a{i // 50}", host, rtsp_url=f"rtsp://{host}:{port}/s")
        for i, (host, port) in ((i, endpoints[i % len(endpoints)]) for i in range(n))
    )  # fmt: skip
    module = ProbeModule(name="live", prober="rtsp", interval_s=3.0, timeout_s=1.5, read_timeout_s=1.0)
    return Config(Inventory(districts, areas, cameras), {"live": module})


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db_url, http_port, n, *endpoints = sys.argv[1:]
    config = city([(e.rsplit(":", 1)[0], int(e.rsplit(":", 1)[1])) for e in endpoints], int(n))
    daemon = Daemon(lambda: config, DaemonOptions(db_url=db_url, port=int(http_port), flush_interval_s=0.5))
    asyncio.run(daemon.run_until_signalled())


if __name__ == "__main__":
    main()
