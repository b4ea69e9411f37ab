"""N4 over a real link: the simulator in a network namespace behind a veth pair, the real probers on this side, and
the kernel dropping, losing or slowing packets on that link (tests/reliability/netns.py; netem itself is not in
this machine's kernel, see there).

- blackhole after the connection is up, mid-request and mid-stream → ``timeout`` at the read deadline, not TCP's
  minutes (the peer vanished: no FIN, no RST, no ICMP);
- blackhole before connecting → ``timeout`` in ``connect`` at the connect timeout (the read timeout);
- a slow link (tbf) → still ``ok`` within the deadline, the latency printed;
- 20 % random packet loss each way → ``ok`` or ``timeout``, never a hang, every probe within its deadline.

Skipped with the reason when the machine cannot create namespaces (no CAP_NET_ADMIN, iproute2/nftables absent);
under CI=true that is a failure instead.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator

import pytest

import sharpeyes.probers.onvif  # registers the onvif prober
import sharpeyes.probers.rtsp  # noqa: F401 (registers the rtsp prober)
from sharpeyes.probers.base import Deadline, Phase, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.redact import Secret
from sharpeyes.rtsp.client import ClientOptions, RtspClient
from sharpeyes.rtsp.errors import RtspTimeoutError
from sharpeyes.rtsp.stream import access_units, first_keyframe, start_video
from sharpeyes.settings import ProbeModule
from tests.integration.onvif.conftest import module as onvif_module
from tests.reliability.contract import back_to_baseline, within
from tests.reliability.netns import SIM_HOST, Link, private_link, sim_in

pytestmark = pytest.mark.timeout(240)

MODULE = ProbeModule(name="rtsp_describe", prober="rtsp", timeout_s=2.0, read_timeout_s=1.0)
PATH = "/Streaming/Channels/101"


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Link, str]]:
    """The namespace with the simulator serving one healthy camera; (link, password)."""
    password = f"n4-{os.urandom(6).hex()}"
    with private_link() as made, sim_in(made, tmp_path_factory.mktemp("netns"), password):
        yield made, password


@pytest.fixture
def clean(link: tuple[Link, str]) -> Iterator[tuple[Link, str]]:
    """The link with no fault at the start and none left after the test (even when it fails)."""
    link[0].clear()
    try:
        yield link
    finally:
        link[0].clear()


def target(link: Link, password: str, *, onvif: bool = False) -> ProbeTarget:
    """The camera inside the namespace, by RTSP or by ONVIF; a fresh camera id each time, so that one probe's
    backoff never decides the next."""
    url = f"http://{link.ns_ip}:8080/onvif/device_service" if onvif else f"rtsp://{link.ns_ip}:8554{PATH}"
    return ProbeTarget(
        camera_id=f"n4-{os.urandom(4).hex()}",
        host=link.ns_ip,
        rtsp_url=None if onvif else url,
        onvif_url=url if onvif else None,
        username="admin",
        password=Secret(password),
    )


async def timed_probe(link: Link, password: str, module: ProbeModule = MODULE) -> tuple[ProbeResult, float]:
    start = time.monotonic()
    result = await run_probe(target(link, password), module, deadline=Deadline(module.timeout_s))
    return result, time.monotonic() - start


def client(link: Link, password: str, deadline_s: float) -> RtspClient:
    return RtspClient(
        f"rtsp://{link.ns_ip}:8554{PATH}",
        deadline=Deadline(deadline_s),
        username="admin",
        password=Secret(password),
        options=ClientOptions(read_timeout_s=MODULE.read_timeout_s),
    )


async def test_n4_link_works_before_any_fault(clean: tuple[Link, str]) -> None:
    """The control case: through the veth and the DNAT, the real prober reaches the simulator and says ok."""
    link, password = clean
    async with back_to_baseline():
        result, elapsed = await timed_probe(link, password)
    assert result.reason is Reason.OK, result.detail
    assert elapsed < MODULE.timeout_s


async def test_n4_peer_vanishes_mid_request_timeout_at_the_read_deadline(clean: tuple[Link, str]) -> None:
    link, password = clean
    total_s = 30.0  # far above the read timeout: only the read timeout may end this
    async with back_to_baseline(), client(link, password, total_s) as rtsp:
        await rtsp.connect()
        link.blackhole()
        start = time.monotonic()
        with pytest.raises(RtspTimeoutError):
            await rtsp.describe()
        elapsed = time.monotonic() - start
    print(f"N4 mid-request: timeout after {elapsed:.2f} s (read timeout {MODULE.read_timeout_s} s)")
    assert MODULE.read_timeout_s - 0.05 <= elapsed <= MODULE.read_timeout_s + 0.5
    assert link.dropped_packets() > 0  # our DESCRIBE (and its retransmissions) died on the link


async def test_n4_peer_vanishes_mid_stream_timeout_at_the_read_deadline(clean: tuple[Link, str]) -> None:
    """Video is flowing (a keyframe came through); then the camera's side of the link goes silent."""
    link, password = clean
    total_s = 30.0
    async with back_to_baseline(), client(link, password, total_s) as rtsp:
        await rtsp.connect()
        stream = await start_video(rtsp)
        keyframe = await first_keyframe(rtsp, stream)
        assert keyframe.is_idr and keyframe.size > 0
        link.blackhole()
        start = time.monotonic()
        units_after = 0
        with pytest.raises(RtspTimeoutError):
            async for _ in access_units(rtsp, stream):
                units_after += 1  # what was already in flight or in our socket buffer
        elapsed = time.monotonic() - start
    print(f"N4 mid-stream: {units_after} units drained, then timeout after {elapsed:.2f} s")
    assert MODULE.read_timeout_s - 0.05 <= elapsed <= MODULE.read_timeout_s + 0.5
    assert link.dropped_packets() > 0  # RTP kept coming and was dropped


async def test_n4_blackholed_camera_is_a_connect_timeout_at_the_deadline(clean: tuple[Link, str]) -> None:
    """The camera vanished before the probe: the SYN is dropped; the connect step's timeout (the read timeout,
    within the total deadline) ends it."""
    link, password = clean
    link.blackhole()
    async with back_to_baseline(), within(MODULE.timeout_s + 0.5):
        result, elapsed = await timed_probe(link, password)
    assert (result.reason, result.phase) == (Reason.TIMEOUT, Phase.CONNECT), result.detail
    assert elapsed >= MODULE.read_timeout_s - 0.05
    assert link.dropped_packets() > 0


async def test_n4_slow_link_is_still_ok_within_the_deadline(clean: tuple[Link, str]) -> None:
    """A 16 kbit/s link with a 576-byte MTU each way: every exchange queues, the probe still ends ok."""
    link, password = clean
    module = ProbeModule(name="rtsp_slow_link", prober="rtsp", timeout_s=5.0, read_timeout_s=2.5)
    fast = [await timed_probe(link, password, module) for _ in range(3)]
    link.shape(rate_kbit=16, burst_bytes=600, mtu=576)
    async with back_to_baseline():
        slow = [await timed_probe(link, password, module) for _ in range(3)]
    for result, elapsed in fast + slow:
        assert result.reason is Reason.OK, result.detail
        assert elapsed <= module.timeout_s + 0.5
    fast_s = statistics.median(e for _, e in fast)
    slow_s = statistics.median(e for _, e in slow)
    print(f"N4 slow link: median probe {fast_s * 1000:.0f} ms → {slow_s * 1000:.0f} ms (16 kbit/s, MTU 576)")
    assert slow_s > fast_s + 0.1  # the link really was slow: the exchange queued


async def test_n4_lossy_link_is_ok_or_timeout_never_a_hang(clean: tuple[Link, str]) -> None:
    """20 % of the packets lost each way: each probe is ok or a timeout, and ends by its deadline."""
    link, password = clean
    link.lose(20)
    outcomes: list[tuple[ProbeResult, float]] = []
    async with back_to_baseline():
        for _ in range(8):
            outcomes.append(await timed_probe(link, password))
    for result, elapsed in outcomes:
        assert result.reason in (Reason.OK, Reason.TIMEOUT), (result.reason, result.detail)
        assert elapsed <= MODULE.timeout_s + 0.5
    ok = sum(r.reason is Reason.OK for r, _ in outcomes)
    print(f"N4 20 % loss: {ok}/8 ok, {8 - ok} timeout, slowest {max(e for _, e in outcomes):.2f} s")
    assert link.dropped_packets() > 0


async def test_n4_lossy_link_stream_ends_by_its_deadline(clean: tuple[Link, str]) -> None:
    """The frame prober's path (DESCRIBE, SETUP, PLAY, first keyframe) under 20 % loss: a keyframe or a timeout,
    within the total deadline."""
    link, password = clean
    link.lose(20)
    deadline_s = 4.0
    async with back_to_baseline(), within(deadline_s + 0.5), client(link, password, deadline_s) as rtsp:
        try:
            await rtsp.connect()
            stream = await start_video(rtsp)
            keyframe = await first_keyframe(rtsp, stream)
            outcome = f"keyframe of {keyframe.size} bytes"
        except RtspTimeoutError as exc:
            outcome = f"timeout ({exc})"
    print(f"N4 20 % loss, stream: {outcome}")


async def test_n4_onvif_over_the_link_then_blackholed(clean: tuple[Link, str]) -> None:
    """ONVIF through the link: the prober logs in and reads the profiles; GetStreamUri names the simulator's own
    loopback address (it sits behind the namespace's DNAT), which host pinning refuses (P6), as it must. Then the
    camera vanishes: ``timeout`` by the deadline."""
    link, password = clean
    module = onvif_module(timeout_s=3.0, read_timeout_s=1.0)
    async with back_to_baseline():
        reached = await run_probe(target(link, password, onvif=True), module, deadline=Deadline(module.timeout_s))
    assert {"clock", "device_info", "profiles"} <= set(reached.phase_timings), reached
    assert (reached.reason, reached.phase) == (Reason.PROTOCOL, Phase.STREAM_URI), reached.detail
    assert SIM_HOST in reached.detail
    link.blackhole()
    async with back_to_baseline(), within(module.timeout_s + 0.5):
        start = time.monotonic()
        vanished = await run_probe(target(link, password, onvif=True), module, deadline=Deadline(module.timeout_s))
        elapsed = time.monotonic() - start
    print(f"N4 ONVIF blackholed: {vanished.reason.value}/{vanished.phase.value} after {elapsed:.2f} s")
    assert vanished.reason is Reason.TIMEOUT, vanished.detail
    assert elapsed >= module.read_timeout_s - 0.05
    assert link.dropped_packets() > 0
