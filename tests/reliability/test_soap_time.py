"""RELIABILITY.md S1–S4 (SOAP abuse) and T1–T2 (time), against the fake ONVIF cameras and RTSP servers on
loopback. Bodies already in tests/integration run here under the L5 leak check and a deadline bound."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time

import pytest
from aiohttp import web

from sharpeyes.probers.base import Deadline, Reason, run_probe
from sharpeyes.results import ResultStore
from sharpeyes.runtime import Config, Runtime
from sharpeyes.scheduler import Scheduler
from tests.integration import test_rtsp_hostile as rtsp
from tests.integration.fake_rtsp import SDP, FakeRtspServer, reply
from tests.integration.onvif import soap
from tests.integration.onvif import test_onvif_hostile as onvif
from tests.integration.onvif.conftest import Peers, probe
from tests.integration.onvif.fake_camera import Quirks, soap_response
from tests.reliability.contract import back_to_baseline, onvif_case
from tests.unit.test_scheduler import city, module


@pytest.mark.parametrize("variant", ["entity-http", "dtd-http", "entity-file"])
async def test_s1_xxe_reads_nothing_and_fetches_nothing(
    peers: Peers, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with onvif_case(peers, 2.5):
        await onvif.test_xxe_is_protocol_and_nothing_is_fetched(peers, variant, caplog)


async def test_s2_billion_laughs(peers: Peers) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_billion_laughs_is_protocol_in_bounded_memory(peers)


async def test_s2_deep_nesting(peers: Peers) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_deep_nesting_is_protocol(peers)


async def test_s2_200_mb_text_node_is_too_large(peers: Peers) -> None:
    """A 200 MB text node is the 50 MB flood's case at 4x: the cap stops it after a few MiB either way."""
    async with onvif_case(peers, 3.5):
        await onvif.test_50_mb_body_is_too_large_and_stops_early(peers, False)


@pytest.mark.parametrize(
    "text",
    [onvif._truncated(), onvif.WRONG_NAMESPACE, onvif.SOAP11_ENVELOPE, "<a><b></a>"],
    ids=["truncated", "wrong-namespace", "wrong-envelope-namespace", "mismatched-tags"],
)
async def test_s3_malformed_answers_are_never_a_false_ok(peers: Peers, text: str) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_malformed_answers_are_protocol(peers, text)


async def test_s3_huge_not_authorized_fault_is_auth(peers: Peers) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_huge_fault_detail_is_still_auth(peers)


@pytest.mark.parametrize("other_host", ["127.0.0.1", "127.0.0.2"])
async def test_s4_xaddrs_elsewhere_are_repinned(
    peers: Peers, other_host: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_xaddr_elsewhere_is_repinned_and_never_contacted(peers, other_host, caplog)


async def test_t1_wall_clock_steps_cause_no_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wall clock jumps ±1 h every 10 ms during probes of a healthy camera: deadlines are monotonic, so no
    probe times out, and each probe's duration is sane."""
    real = time.time
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])

    async def stepper() -> None:
        while True:
            offset[0] = 3600.0 if offset[0] <= 0 else -3600.0
            await asyncio.sleep(0.01)

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await rtsp.answer_options(reader, writer)
        await asyncio.sleep(0.05)
        writer.write(reply(req.cseq, body=SDP))
        await asyncio.sleep(3600)

    async with back_to_baseline(), FakeRtspServer(ok) as server:
        task = asyncio.create_task(stepper())
        try:
            results = [
                await run_probe(rtsp.target(server.url), rtsp.MODULE, deadline=Deadline(rtsp.MODULE.timeout_s))
                for _ in range(5)
            ]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [r.reason for r in results] == [Reason.OK] * 5, [r.detail for r in results]
    assert all(0 <= r.duration_s < rtsp.MODULE.timeout_s for r in results)


async def test_t1_process_pause_is_recorded_as_skipped_slots() -> None:
    """A 10-minute pause of the process (as after SIGSTOP or a suspended VM): the sweeps it missed are counted
    as skipped ``missed`` slots, not silently dropped (L1), and no probe is charged a timeout for it."""
    mod = module(interval=60.0, timeout=1.0)
    rt = Runtime(Config(city(3), {mod.name: mod}), ResultStore({mod.name: mod.prober}))
    sched = Scheduler(rt)
    stats = rt.sweeps["live"]
    sched._last_sweep_start["live"] = time.monotonic() - 600
    sched._count_missed("live", mod, stats, 3)
    assert stats.skipped["missed"] == 27 and stats.scheduled == 27
    assert rt.store.counters.results.get(("live", "timeout"), 0) == 0


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(dt.timedelta(days=-120), Reason.CLOCK_SKEW), (dt.timedelta(0), Reason.AUTH)],
    ids=["clock-off-by-months", "clock-right"],
)
async def test_t2_not_authorized_with_large_skew_is_clock_skew(
    peers: Peers, offset: dt.timedelta, reason: Reason
) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_not_authorized_is_clock_skew_only_when_the_clock_is_off(peers, offset, reason)


_CREATED = re.compile(rb"Created[^>]*>([^<]+)<")


async def test_t2_usernametoken_created_is_utc_with_z_and_skew_is_observed(peers: Peers) -> None:
    """The camera's clock is off by months: our WS-Security ``Created`` is our own UTC time and ends in ``Z``
    (no local time, no naive stamp; we do not shift it to the camera's clock: a camera that then refuses it is
    reported as ``clock_skew``, see above), and the skew is reported as an observation."""
    offset = dt.timedelta(days=90)
    created: list[bytes] = []

    async def device_info(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        created.extend(_CREATED.findall(body))
        return soap_response(soap.envelope(soap.DEVICE_INFORMATION), 200)

    async with onvif_case(peers, 3.5):
        camera = await peers.camera(Quirks(clock_offset=offset, raw={"GetDeviceInformation": device_info}))
        result = await probe(camera.device_url)
    assert result.reason is Reason.OK, result.detail
    assert abs(float(result.observations["clock_skew_s"]) - offset.total_seconds()) < 5
    assert created, "no UsernameToken Created was sent"
    stamp = created[0].decode()
    assert stamp.endswith("Z"), stamp
    sent = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((sent - dt.datetime.now(dt.UTC)).total_seconds()) < 10
