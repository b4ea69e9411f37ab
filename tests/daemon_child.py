"""A daemon process for the kill -9 / SIGTERM tests: TCP-connect prober, cameras on the given ports.

Usage: python -m tests.daemon_child DB_URL HTTP_PORT CAMERA_PORT...
"""

from __future__ import annotations

import asyncio
import logging
import sys

from sharpeyes.daemon import Daemon, DaemonOptions
from sharpeyes.probers.base import PROBERS
from tests.daemon_helpers import tcp_config, tcp_probe


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db_url, http_port, *ports = sys.argv[1:]
    PROBERS["rtsp"] = tcp_probe
    camera_ports = [int(p) for p in ports]
    daemon = Daemon(lambda: tcp_config(camera_ports), DaemonOptions(db_url=db_url, port=int(http_port)))
    asyncio.run(daemon.run_until_signalled())


if __name__ == "__main__":
    main()
