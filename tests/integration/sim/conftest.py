"""A fleet of simulated cameras (180p, cached clips in a temp dir) served from a background thread."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharpeyes.probers.base import FaultCode
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.sim.fleet import Fleet, MediaOptions, SimConfig
from sharpeyes.sim.thread import FleetThread

USER = "admin"
PASSWORD = "p@ss:w/rd#?%é"  # awkward characters on purpose
PICTURES = ("healthy", *(f.value for f in FaultCode))
NET_FAULTS = {
    "offline": "offline",
    "blackhole": "blackhole",
    "slow": "slow:1.0",
    "drip": "drip:2",
    "reset": "reset:0.5",
    "auth_fail": "auth_fail",
    "not_found": "not_found",
    "no_media": "no_media",
    "malformed": "malformed",
    "malformed_sdp": "malformed:sdp",
    "lockout": "lockout:2:2",
    "clock_skew": "clock_skew:3600",
}
HOST_PREFIX = "127.77"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SimSite:
    """Where the test cameras are: ``host(name)``, ``rtsp_url(name)``, etc."""

    def __init__(self, rtsp_port: int, http_port: int, names: list[str]) -> None:
        self.thread: FleetThread | None = None
        self.rtsp_port, self.http_port = rtsp_port, http_port
        self.hosts = {name: f"{HOST_PREFIX}.{i // 250}.{i % 250 + 1}" for i, name in enumerate(names)}

    def host(self, name: str) -> str:
        return self.hosts[name]

    def rtsp_url(self, name: str, *, auth: bool = True, password: str = PASSWORD) -> str:
        from urllib.parse import quote

        cred = f"{USER}:{quote(password, safe='')}@" if auth else ""
        return f"rtsp://{cred}{self.host(name)}:{self.rtsp_port}/Streaming/Channels/101"

    def http_base(self, name: str) -> str:
        return f"http://{self.host(name)}:{self.http_port}"


def _names() -> list[str]:
    pics = [f"pic-{p}" for p in PICTURES]
    return ["basic", "digest", "both", *pics, *(f"net-{k}" for k in NET_FAULTS), "switch"]


def _inventory(site: SimSite) -> Inventory:
    cameras = []
    for name, host in site.hosts.items():
        tags: tuple[str, ...] = ()
        if name.startswith("pic-") and name != "pic-healthy":
            tags = (f"sim.fault={name[4:]}",)
        if name.startswith("net-"):
            tags = (f"sim.fault={NET_FAULTS[name[4:]]}", "sim.auth=basic")
        if name == "basic":
            tags = ("sim.auth=basic",)
        if name == "both":
            tags = ("sim.auth=both",)
        cameras.append(
            Camera(
                id=name,
                name=name,
                area="A",
                host=host,
                rtsp_url=f"rtsp://{host}:{site.rtsp_port}/Streaming/Channels/101",
                onvif_url=f"http://{host}:{site.http_port}/onvif/device_service",
                snapshot_url=f"http://{host}:{site.http_port}/snapshot.jpg",
                username=USER,
                password_env="SIM_TEST_PASSWORD",
                tags=tags,
            )
        )
    return Inventory(cameras=tuple(cameras))


@pytest.fixture(scope="session")
def sim_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimSite]:
    """Every test camera, served for the whole session."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SIM_TEST_PASSWORD", PASSWORD)
    first = f"{HOST_PREFIX}.0.1"
    site = SimSite(_free_port(first), _free_port(first), _names())
    config = SimConfig.model_validate({"defaults": {"start_on_keyframe": True}})
    media = MediaOptions(width=320, height=180, cache_dir=_cache_dir(tmp_path_factory))
    fleet = Fleet(_inventory(site), media, config)
    with FleetThread(fleet) as thread:
        site.thread = thread
        yield site
    mp.undo()


def _cache_dir(factory: pytest.TempPathFactory) -> Path:
    return factory.mktemp("sim-cache")
