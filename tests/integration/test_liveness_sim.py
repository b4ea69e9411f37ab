"""The rtsp and onvif probers against the project's camera simulator: every fault of its catalogue maps to the
right :class:`Reason`, within the module's deadline + 0.5 s.

The simulator (``sharpeyes.sim``) runs in-process on its own event loop (:class:`FleetThread`), one camera per
fault, each on its own loopback address (127.79.0.x), serving a tiny clip at the camera's registered size.
The probe modules are the shipped ``probes/rtsp_describe.yml`` and ``probes/onvif_inventory.yml`` with their
deadlines shortened (total 2 s, per read 1 s) so that the hanging cases stay fast; every other limit is kept.

What each fault means for a liveness prober (documented here, asserted below):

- ``offline``: nothing listens → ``refused`` (connect / the first ONVIF call).
- ``blackhole``: accepts, reads, never answers → ``timeout`` at the per-read timeout (options / clock).
- ``slow:S``: each answer delayed S s → ``ok`` when the sum stays under the deadline; with S under the per-read
  timeout but the sum over the total deadline → ``timeout``: the total deadline holds.
- ``drip:B``: answers at B bytes/s → ``timeout`` at the total deadline (per-read timeouts alone never fire).
- ``reset``: the simulator's RTSP server resets the connection only after PLAY (while streaming), so
  ``rtsp_describe`` answers ``ok``: catching it is the frame prober's job. Its HTTP side resets every request,
  which the onvif prober classifies as ``protocol`` (the connection was accepted, then lost).
- ``auth_fail``: every login rejected → ``auth`` (describe / device_info).
- ``not_found``: 404 → ``not_found`` (describe / the first ONVIF call).
- ``no_media``: PLAY answers but no RTP flows. DESCRIBE answers, so ``rtsp_describe`` is ``ok`` (the camera is
  connected, 联网); ``no_media`` is the frame prober's verdict. ONVIF is unaffected → ``ok``.
- ``malformed`` (status line) / ``malformed:sdp``: → ``protocol``; ONVIF answers truncated XML → ``protocol``.
- ``lockout:N:S``: N wrong logins lock the client out for S s → ``auth``, then ``locked_out_backoff`` from
  ``probers/backoff.py``, which stops logging in before the camera's lockout triggers (test below).
- picture faults (``black``, ``blur``, ``frozen`` … DESIGN.md §5): the stream answers → ``ok`` for both; judging
  the picture is the frame prober's job.
- ``clock_skew:S``: the camera's clock is S s off → ONVIF ``clock_skew_s`` ≈ S; NotAuthorized with the clock off
  by more than ``clock_skew_warn_s`` (300 s) is ``clock_skew``, not ``auth``, whatever the password; the simulator
  rejects WS-Security timestamps older than 300 s, so at 3600 s even the right password gets ``clock_skew``.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from sharpeyes.config import load_probe_module
from sharpeyes.probers.backoff import AuthBackoff
from sharpeyes.probers.base import Deadline, FaultCode, Phase, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.probers.onvif import probe_onvif_with_backoff
from sharpeyes.probers.rtsp import probe_with_backoff
from sharpeyes.redact import Secret
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.settings import ProbeModule
from sharpeyes.sim.control import serve_control
from sharpeyes.sim.faults import CATALOGUE
from sharpeyes.sim.fleet import Fleet, MediaOptions, SimConfig
from sharpeyes.sim.thread import FleetThread

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
USER = "admin"
PASSWORD = "p@ss:w/rd#?%é-livesim"  # awkward characters on purpose: must never show in a result
WRONG = "wr@ng:pass/é"
SIZES = {"qcif": (176, 144), "wide": (320, 180)}
SLACK_S = 0.5


@dataclass(frozen=True)
class Cam:
    """A simulated camera of this test: its fault (``None`` = healthy) and declared size."""

    fault: str | None
    size: tuple[int, int] = SIZES["qcif"]


CAMERAS: dict[str, Cam] = {
    "healthy": Cam(None),
    "healthy-wide": Cam(None, SIZES["wide"]),
    "offline": Cam("offline"),
    "blackhole": Cam("blackhole"),
    "slow-under": Cam("slow:0.1"),
    "slow-over": Cam("slow:0.8"),
    "drip": Cam("drip:20"),
    "reset": Cam("reset:0.5"),
    "auth_fail": Cam("auth_fail"),
    "not_found": Cam("not_found"),
    "no_media": Cam("no_media"),
    "malformed": Cam("malformed"),
    "malformed-sdp": Cam("malformed:sdp"),
    "lockout": Cam("lockout:3:60"),
    "skew-small": Cam("clock_skew:120"),
    "skew-ahead": Cam("clock_skew:3600"),
    "skew-behind": Cam("clock_skew:-3600"),
    "switch": Cam(None),
    "lock-rtsp": Cam("lockout:3:60"),
    "lock-onvif": Cam("lockout:3:60"),
    "lockctl-rtsp": Cam("lockout:3:60"),
    "lockctl-onvif": Cam("lockout:3:60"),
    **{f"pic-{code.value}": Cam(code.value) for code in FaultCode},
}


@dataclass(frozen=True)
class Row:
    """One expectation: probing ``camera`` (with the right password unless ``wrong``) gives ``reason``."""

    camera: str
    reason: Reason
    phases: tuple[Phase, ...]
    wrong: bool = False
    skew: float | None = None  # expected clock_skew_s, ±2 s

    @property
    def id(self) -> str:
        return f"{self.camera}{'-wrongpw' if self.wrong else ''}->{self.reason.value}"


OK = (Phase.DONE,)
PICTURE_ROWS = [Row(f"pic-{code.value}", Reason.OK, (Phase.DONE,)) for code in FaultCode]
RTSP_ROWS = [
    Row("healthy", Reason.OK, OK),
    Row("healthy-wide", Reason.OK, OK),
    Row("healthy", Reason.AUTH, (Phase.DESCRIBE,), wrong=True),
    Row("offline", Reason.REFUSED, (Phase.CONNECT,)),
    Row("blackhole", Reason.TIMEOUT, (Phase.OPTIONS,)),
    Row("slow-under", Reason.OK, OK),
    Row("slow-over", Reason.TIMEOUT, (Phase.DESCRIBE,)),  # 3 answers x 0.8 s: each under 1 s, sum over 2 s
    Row("drip", Reason.TIMEOUT, (Phase.OPTIONS,)),
    Row("reset", Reason.OK, OK),  # reset comes after PLAY only
    Row("auth_fail", Reason.AUTH, (Phase.DESCRIBE,)),
    Row("not_found", Reason.NOT_FOUND, (Phase.DESCRIBE,)),
    Row("no_media", Reason.OK, OK),  # DESCRIBE answers: the frame prober's job
    Row("malformed", Reason.PROTOCOL, (Phase.OPTIONS,)),
    Row("malformed-sdp", Reason.PROTOCOL, (Phase.DESCRIBE,)),
    Row("lockout", Reason.OK, OK),  # the right password: the lockout only counts wrong ones
    Row("lockout", Reason.AUTH, (Phase.DESCRIBE,), wrong=True),
    Row("skew-ahead", Reason.OK, OK),  # RTSP Digest does not care about the clock
    *PICTURE_ROWS,  # a bad picture still answers DESCRIBE: the frame prober's job
]
ONVIF_ROWS = [
    Row("healthy", Reason.OK, OK, skew=0.0),
    Row("healthy-wide", Reason.OK, OK, skew=0.0),
    Row("healthy", Reason.AUTH, (Phase.DEVICE_INFO,), wrong=True, skew=0.0),
    Row("offline", Reason.REFUSED, (Phase.CLOCK,)),
    Row("blackhole", Reason.TIMEOUT, (Phase.CLOCK,)),
    Row("slow-under", Reason.OK, OK),
    Row("slow-over", Reason.TIMEOUT, (Phase.DEVICE_INFO, Phase.CAPABILITIES)),  # 0.8 s per call, 2 s in all
    Row("drip", Reason.TIMEOUT, (Phase.CLOCK,)),
    Row("reset", Reason.PROTOCOL, (Phase.CLOCK,)),
    Row("auth_fail", Reason.AUTH, (Phase.DEVICE_INFO,)),
    Row("not_found", Reason.NOT_FOUND, (Phase.CLOCK,)),
    Row("no_media", Reason.OK, OK),
    Row("malformed", Reason.PROTOCOL, (Phase.CLOCK,)),
    Row("malformed-sdp", Reason.PROTOCOL, (Phase.CLOCK,)),
    Row("lockout", Reason.OK, OK),
    Row("lockout", Reason.AUTH, (Phase.DEVICE_INFO,), wrong=True),
    Row("skew-small", Reason.OK, OK, skew=120.0),
    Row("skew-small", Reason.AUTH, (Phase.DEVICE_INFO,), wrong=True, skew=120.0),  # under the 300 s warning
    Row("skew-ahead", Reason.CLOCK_SKEW, (Phase.DEVICE_INFO,), skew=3600.0),
    Row("skew-ahead", Reason.CLOCK_SKEW, (Phase.DEVICE_INFO,), wrong=True, skew=3600.0),
    Row("skew-behind", Reason.CLOCK_SKEW, (Phase.DEVICE_INFO,), wrong=True, skew=-3600.0),
    *PICTURE_ROWS,
]


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """The running simulator and where its cameras listen."""

    thread: FleetThread
    hosts: dict[str, str]
    rtsp_port: int
    http_port: int
    control: str = ""

    def target(self, name: str, prober: str, *, wrong: bool = False, tag: str = "") -> ProbeTarget:
        """A probe target; camera ids are unique per prober and test so the process-wide backoff stays apart."""
        host = self.hosts[name]
        return ProbeTarget(
            camera_id=f"livesim-{prober}-{name}{'-wrong' if wrong else ''}{tag}",
            host=host,
            rtsp_url=f"rtsp://{host}:{self.rtsp_port}/Streaming/Channels/101",
            onvif_url=f"http://{host}:{self.http_port}/onvif/device_service",
            username=USER,
            password=Secret(WRONG if wrong else PASSWORD),
        )


def _inventory(hosts: dict[str, str], rtsp_port: int, http_port: int) -> Inventory:
    cameras = []
    for name, host in hosts.items():
        cam = CAMERAS[name]
        cameras.append(
            Camera(
                id=name,
                name=name,
                area="LIVESIM",
                host=host,
                rtsp_url=f"rtsp://{host}:{rtsp_port}/Streaming/Channels/101",
                onvif_url=f"http://{host}:{http_port}/onvif/device_service",
                username=USER,
                password_env="LIVESIM_TEST_PASSWORD",
                expected_width=cam.size[0],
                expected_height=cam.size[1],
                tags=(f"sim.fault={cam.fault}",) if cam.fault else (),
            )
        )
    return Inventory(cameras=tuple(cameras))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Every camera of :data:`CAMERAS`, served by the simulator with its control API, for this module."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LIVESIM_TEST_PASSWORD", PASSWORD)
    hosts = {name: f"127.79.0.{i + 1}" for i, name in enumerate(CAMERAS)}
    rtsp_port, http_port = _free_port(hosts["healthy"]), _free_port(hosts["healthy"])
    media = MediaOptions(fps=10, gop=10, seconds=1, registry_sizes=True, cache_dir=tmp_path_factory.mktemp("clips"))
    fleet = Fleet(_inventory(hosts, rtsp_port, http_port), media, SimConfig())
    control_port = _free_port("127.0.0.1")
    with FleetThread(fleet) as thread:
        runner = thread.call(serve_control(fleet, "127.0.0.1", control_port))
        try:
            yield Site(thread, hosts, rtsp_port, http_port, f"http://127.0.0.1:{control_port}")
        finally:
            thread.call(runner.cleanup())
    mp.undo()


def _module(name: str) -> ProbeModule:
    """The shipped probe module with short deadlines (total 2 s, per read 1 s); all other limits unchanged."""
    module, _ = load_probe_module(ROOT / "probes" / f"{name}.yml")
    return module.model_copy(update={"timeout_s": 2.0, "read_timeout_s": 1.0})


RTSP = _module("rtsp_describe")
ONVIF = _module("onvif_inventory")


async def _probe(target: ProbeTarget, module: ProbeModule) -> ProbeResult:
    """Probe through the prober table, as the daemon does; the result must arrive by the deadline + 0.5 s."""
    start = time.monotonic()
    result = await run_probe(target, module, deadline=Deadline(module.timeout_s))
    elapsed = time.monotonic() - start
    assert elapsed <= module.timeout_s + SLACK_S, f"{result.reason} after {elapsed:.2f} s"
    assert PASSWORD not in result.detail and WRONG not in result.detail
    assert PASSWORD not in repr(result) and WRONG not in repr(result)
    return result


def _check(result: ProbeResult, row: Row, module: ProbeModule) -> None:
    assert (result.reason, result.phase) in [(row.reason, p) for p in row.phases], (
        f"{row.id}: got {result.reason.value} in {result.phase.value}: {result.detail}"
    )
    assert result.ok is (row.reason is Reason.OK)
    assert result.module == module.name


@pytest.mark.parametrize("row", RTSP_ROWS, ids=lambda r: r.id)
async def test_rtsp_describe_maps_every_fault(site: Site, row: Row) -> None:
    result = await _probe(site.target(row.camera, "rtsp", wrong=row.wrong), RTSP)
    _check(result, row, RTSP)
    if row.reason is Reason.OK:
        width, height = CAMERAS[row.camera].size
        assert result.observations["codec"] == "h264"
        assert (result.observations["width"], result.observations["height"]) == (width, height)
        assert float(result.observations["describe_s"]) > 0


@pytest.mark.parametrize("row", ONVIF_ROWS, ids=lambda r: r.id)
async def test_onvif_inventory_maps_every_fault(site: Site, row: Row) -> None:
    result = await _probe(site.target(row.camera, "onvif", wrong=row.wrong), ONVIF)
    _check(result, row, ONVIF)
    if row.skew is not None:
        assert abs(float(result.observations["clock_skew_s"]) - row.skew) <= 2.0, result.observations
    if row.reason is Reason.OK:
        width, height = CAMERAS[row.camera].size
        assert (result.observations["width"], result.observations["height"]) == (width, height)
        assert result.observations["manufacturer"] == "Sharpeyes"
        assert result.observations["profiles"] == 1
        assert result.observations["stream_uri_resolved"] == 1


def test_every_catalogue_fault_is_covered() -> None:
    """Every fault of the simulator's catalogue (network, protocol, login, clock and picture faults) has a row
    in both tables; a fault added to the catalogue must get one here."""
    for rows in (RTSP_ROWS, ONVIF_ROWS):
        faults = {CAMERAS[row.camera].fault for row in rows}
        assert {f.split(":")[0] for f in faults if f} == set(CATALOGUE)


PROBERS = {
    "rtsp": (RTSP, probe_with_backoff),
    "onvif": (ONVIF, probe_onvif_with_backoff),
}


@pytest.mark.parametrize("prober", PROBERS)
async def test_lockout_is_never_triggered_by_the_backoff(site: Site, prober: str) -> None:
    """Wrong password: ``auth`` twice, then ``locked_out_backoff`` without touching the camera. The camera
    (locks out after 3 wrong logins for 60 s) saw only 2, so the right password then works at once."""
    module, probe = PROBERS[prober]
    backoff = AuthBackoff(threshold=2, base_s=60, cap_s=60)
    wrong = site.target(f"lock-{prober}", prober, wrong=True)
    reasons = []
    for _ in range(5):
        start = time.monotonic()
        result = await probe(wrong, module, deadline=Deadline(module.timeout_s), backoff=backoff)
        assert time.monotonic() - start <= module.timeout_s + SLACK_S
        reasons.append(result.reason)
    assert reasons == [Reason.AUTH, Reason.AUTH] + [Reason.LOCKED_OUT_BACKOFF] * 3
    right = dataclasses.replace(wrong, password=Secret(PASSWORD))
    result = await probe(right, module, deadline=Deadline(module.timeout_s), backoff=backoff)
    assert result.reason is Reason.OK, result.detail
    assert len(backoff) == 0


@pytest.mark.parametrize("prober", PROBERS)
async def test_without_backoff_the_simulated_lockout_triggers(site: Site, prober: str) -> None:
    """The control for the test above: with no effective backoff, 3 wrong logins lock the client out and the
    right password is then rejected too (so the test above proves the backoff, not a lenient camera)."""
    module, probe = PROBERS[prober]
    never = AuthBackoff(threshold=1000, base_s=60, cap_s=60)
    wrong = site.target(f"lockctl-{prober}", prober, wrong=True)
    for _ in range(3):
        result = await probe(wrong, module, deadline=Deadline(module.timeout_s), backoff=never)
        assert result.reason is Reason.AUTH
    right = dataclasses.replace(wrong, password=Secret(PASSWORD))
    result = await probe(right, module, deadline=Deadline(module.timeout_s), backoff=never)
    assert result.reason is Reason.AUTH, "the simulated camera should have locked this client out"


SWITCHES = [
    (None, Reason.OK),
    ("offline", Reason.REFUSED),
    ("not_found", Reason.NOT_FOUND),
    ("blackhole", Reason.TIMEOUT),
    ("malformed", Reason.PROTOCOL),
    (None, Reason.OK),
]


@pytest.mark.parametrize("prober", PROBERS)
async def test_fault_switched_at_run_time_changes_the_reason(site: Site, prober: str) -> None:
    """The simulator's control API switches the camera's fault; the next probe's reason follows."""
    module, _ = PROBERS[prober]
    target = site.target("switch", prober, tag="-switch")
    seen = []
    async with aiohttp.ClientSession() as session:
        try:
            for fault, _want in SWITCHES:
                async with session.post(f"{site.control}/cameras/switch/fault", json={"fault": fault}) as response:
                    assert response.status == 200
                    assert (await response.json())["fault"] == fault
                seen.append((await _probe(target, module)).reason)
        finally:
            async with session.post(f"{site.control}/cameras/switch/fault", json={"fault": None}) as response:
                assert response.status == 200
    assert seen == [want for _, want in SWITCHES]
