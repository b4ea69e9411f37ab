"""The onvif prober against small hostile SOAP servers on 127.0.0.1 (RELIABILITY.md S1–S4, N1, N7, T2).

Each test checks the reason and phase, that the result came within the deadline + 0.5 s, and that the probe
left no task or fd behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
import tracemalloc

import pytest
from aiohttp import web

from sharpeyes.onvif.client import PARSER_THREAD_PREFIX, OnvifClient
from sharpeyes.onvif.errors import ForeignAddressError
from sharpeyes.probers.base import Deadline, Phase, Reason, run_probe
from sharpeyes.redact import Secret
from tests.integration.onvif import soap
from tests.integration.onvif.conftest import LeakCheck, Peers, module, probe, target
from tests.integration.onvif.fake_camera import Canary, Quirks, soap_response

MiB = 1024 * 1024


def answer(text: str, status: int = 200) -> web.Response:
    return soap_response(text, status)


def fixed(text: str, status: int = 200):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        return answer(text, status)

    return handler


async def test_well_behaved_camera_gives_full_inventory(peers: Peers) -> None:
    camera = await peers.camera()
    leaks = LeakCheck()
    result = await probe(camera.device_url)
    assert result.reason is Reason.OK, result.detail
    obs = result.observations
    assert obs["manufacturer"] == "Acme"
    assert obs["model"] == "EyeCam 9"
    assert obs["firmware"] == "V5.4.1 build 200101"
    assert obs["profiles"] == 2
    assert (obs["width"], obs["height"]) == (1920, 1080)
    assert obs["stream_uri_resolved"] == 1
    assert obs["snapshot_uri_resolved"] == 1
    assert abs(float(obs["clock_skew_s"])) < 2.0
    assert [action for action, _ in camera.requests] == [
        "GetSystemDateAndTime",
        "GetDeviceInformation",
        "GetCapabilities",
        "GetProfiles",
        "GetStreamUri",
        "GetSnapshotUri",
    ]
    assert camera.requests[0] == ("GetSystemDateAndTime", False)  # the clock is asked without credentials
    assert all(authenticated for _, authenticated in camera.requests[1:])
    await leaks.assert_clean()


def _xxe_prologs(canary: Canary) -> dict[str, str]:
    return {
        "entity-http": soap.external_entity(f"http://127.0.0.1:{canary.port}/xxe"),
        "dtd-http": soap.external_dtd(f"http://127.0.0.1:{canary.port}/evil.dtd"),
        "entity-file": soap.external_entity("file:///etc/passwd"),
    }


@pytest.mark.parametrize("variant", ["entity-http", "dtd-http", "entity-file"])
async def test_xxe_is_protocol_and_nothing_is_fetched(
    peers: Peers, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = await peers.canary()
    prolog = _xxe_prologs(canary)[variant]
    body = soap.system_date_and_time(dt.datetime.now(dt.UTC), tz_text="&xxe;" if "entity" in variant else "UTC")
    camera = await peers.camera(Quirks(raw={"GetSystemDateAndTime": fixed(soap.envelope(body, prolog=prolog))}))
    leaks = LeakCheck()
    started = time.monotonic()
    result = await probe(camera.device_url, deadline_s=2.0)
    assert time.monotonic() - started < 2.5
    assert result.reason is Reason.PROTOCOL
    assert result.phase is Phase.CLOCK
    assert "DTD" in result.detail or "Entities" in result.detail
    await asyncio.sleep(0.1)  # a fetch would have had time to arrive
    assert canary.connections == 0
    everything = result.detail + repr(result.to_json()) + caplog.text
    assert "root:" not in everything
    assert "/bin/" not in everything
    await leaks.assert_clean()


async def test_billion_laughs_is_protocol_in_bounded_memory(peers: Peers) -> None:
    body = soap.system_date_and_time(dt.datetime.now(dt.UTC), tz_text="&lol9;")
    bomb = soap.envelope(body, prolog=soap.BILLION_LAUGHS)
    camera = await peers.camera(Quirks(raw={"GetSystemDateAndTime": fixed(bomb)}))
    leaks = LeakCheck()
    tracemalloc.start()
    try:
        cpu = time.process_time()
        result = await probe(camera.device_url, deadline_s=2.0)
        cpu = time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reason is Reason.PROTOCOL
    assert result.phase is Phase.CLOCK
    assert cpu < 2.0, f"{cpu:.2f} s of CPU"  # a generous bound: expansion would take minutes
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    await leaks.assert_clean()


class Flood:
    """A 50 MB SOAP body, streamed in 64 KiB chunks, optionally without a Content-Length."""

    def __init__(self, *, declare_length: bool) -> None:
        self.declare_length = declare_length
        self.sent = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/soap+xml"})
        if self.declare_length:
            response.content_length = 50 * MiB
        await response.prepare(request)
        chunk = b"<s:Envelope>" + b"A" * (64 * 1024 - 12)
        try:
            while self.sent < 50 * MiB:
                await response.write(chunk)
                self.sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
async def test_50_mb_body_is_too_large_and_stops_early(peers: Peers, declare_length: bool) -> None:
    flood = Flood(declare_length=declare_length)
    camera = await peers.camera(Quirks(raw={"GetSystemDateAndTime": flood}))
    leaks = LeakCheck()
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = await probe(camera.device_url, deadline_s=3.0)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reason is Reason.TOO_LARGE, result.detail
    assert result.phase is Phase.CLOCK
    assert elapsed < 3.5
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"
    await asyncio.sleep(0.1)
    assert flood.sent < 25 * MiB, f"server pushed {flood.sent / MiB:.0f} MiB before we hung up"
    await leaks.assert_clean()


async def _hang_after_headers(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/soap+xml"})
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b"<?xml version")
    await asyncio.sleep(3600)
    return response


@pytest.mark.parametrize("action", ["GetSystemDateAndTime", "GetProfiles"])
async def test_hang_after_headers_times_out_at_the_deadline(peers: Peers, action: str) -> None:
    camera = await peers.camera(Quirks(raw={action: _hang_after_headers}))
    leaks = LeakCheck()
    started = time.monotonic()
    result = await probe(camera.device_url, deadline_s=1.0, mod=module(timeout_s=1.0, read_timeout_s=1.0))
    elapsed = time.monotonic() - started
    assert result.reason is Reason.TIMEOUT
    assert result.phase is (Phase.CLOCK if action == "GetSystemDateAndTime" else Phase.PROFILES)
    assert 0.9 < elapsed < 1.5
    await leaks.assert_clean()


@pytest.mark.parametrize("other_host", ["127.0.0.1", "127.0.0.2"])
async def test_xaddr_elsewhere_is_repinned_and_never_contacted(
    peers: Peers, other_host: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = await peers.canary(other_host)
    xaddr = f"http://user:leak@{other_host}:{canary.port}/onvif/Media?tag=1"
    camera = await peers.camera(Quirks(media_xaddr=xaddr))
    leaks = LeakCheck()
    result = await probe(camera.device_url)
    assert result.reason is Reason.OK, result.detail
    await asyncio.sleep(0.1)
    assert canary.connections == 0
    assert ("GetProfiles", True) in camera.requests  # the media calls reached the registered camera
    repinned = [r.getMessage() for r in caplog.records if "re-pinned" in r.getMessage()]
    assert repinned
    assert f"{other_host}:{canary.port}" in repinned[0]
    assert "leak" not in caplog.text
    await leaks.assert_clean()


async def test_redirect_is_not_followed(peers: Peers) -> None:
    canary = await peers.canary()

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{canary.port}/onvif/device_service")

    camera = await peers.camera(Quirks(raw={"GetDeviceInformation": redirect}))
    result = await probe(camera.device_url)
    assert result.reason is Reason.PROTOCOL
    assert result.phase is Phase.DEVICE_INFO
    assert "redirect" in result.detail
    await asyncio.sleep(0.1)
    assert canary.connections == 0


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(dt.timedelta(days=-120), Reason.CLOCK_SKEW), (dt.timedelta(0), Reason.AUTH)],
    ids=["clock-off-by-months", "clock-right"],
)
async def test_not_authorized_is_clock_skew_only_when_the_clock_is_off(
    peers: Peers, offset: dt.timedelta, reason: Reason
) -> None:
    camera = await peers.camera(Quirks(clock_offset=offset, reject_authenticated=True))
    leaks = LeakCheck()
    result = await probe(camera.device_url)
    assert result.reason is reason, result.detail
    assert result.phase is Phase.DEVICE_INFO
    skew = float(result.observations["clock_skew_s"])
    assert abs(skew - offset.total_seconds()) < 5
    await leaks.assert_clean()


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(dt.timedelta(days=100), Reason.CLOCK_SKEW), (dt.timedelta(seconds=30), Reason.AUTH)],
    ids=["date-off-by-months", "date-nearly-right"],
)
async def test_camera_refusing_even_the_clock_is_judged_by_its_http_date(
    peers: Peers, offset: dt.timedelta, reason: Reason
) -> None:
    camera = await peers.camera(Quirks(clock_offset=offset, reject_all=True))
    result = await probe(camera.device_url)
    assert result.reason is reason, result.detail
    assert result.phase is Phase.CLOCK
    assert abs(float(result.observations["clock_skew_s"]) - offset.total_seconds()) < 3
    assert [authenticated for _, authenticated in camera.requests] == [False, True]


def _truncated() -> str:
    full = soap.envelope(soap.DEVICE_INFORMATION)
    return full[: len(full) // 2]


WRONG_NAMESPACE = soap.envelope(
    soap.DEVICE_INFORMATION.replace("<tds:", "<x:").replace("</tds:", "</x:"),
).replace("<s:Body>", '<s:Body xmlns:x="http://example.invalid/not-onvif">')

SOAP11_ENVELOPE = soap.envelope(soap.DEVICE_INFORMATION).replace(
    "http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/"
)


@pytest.mark.parametrize(
    "text",
    [
        _truncated(),
        WRONG_NAMESPACE,
        SOAP11_ENVELOPE,
        "HTTP/1.1 garbage \x00\x01",
        "<a><b></a>",
        soap.envelope(soap.NOT_AUTHORIZED.replace("ter:NotAuthorized", "ter:>NotAuthorized")),  # found by fuzzing
    ],
    ids=["truncated", "wrong-namespace", "wrong-envelope-namespace", "not-xml", "mismatched-tags", "bad-subcode"],
)
async def test_malformed_answers_are_protocol(peers: Peers, text: str) -> None:
    camera = await peers.camera(Quirks(raw={"GetDeviceInformation": fixed(text)}))
    leaks = LeakCheck()
    result = await probe(camera.device_url)
    assert result.reason is Reason.PROTOCOL, (result.reason, result.detail)
    assert result.phase is Phase.DEVICE_INFO
    await leaks.assert_clean()


@pytest.mark.parametrize(
    "uri",
    [
        "rtsp://admin:hunter2@10.9.8.7:554/live?password=hunter2",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "",
    ],
    ids=["other-host-with-credentials", "file-scheme", "metadata-address", "empty"],
)
async def test_stream_uri_elsewhere_is_protocol_with_redacted_detail(peers: Peers, uri: str) -> None:
    camera = await peers.camera(Quirks(stream_uri=uri))
    result = await probe(camera.device_url)
    assert result.reason is Reason.PROTOCOL
    assert result.phase is Phase.STREAM_URI
    assert "hunter2" not in result.detail
    assert "/live" not in result.detail
    assert "stream_uri_resolved" not in result.observations
    if "10.9.8.7" in uri:
        assert result.detail == "GetStreamUri: URI on another host (rtsp://10.9.8.7:554)"


async def test_snapshot_uri_to_another_host_is_protocol(peers: Peers) -> None:
    camera = await peers.camera(Quirks(snapshot_uri="http://192.0.2.1/snap.jpg"))
    result = await probe(camera.device_url)
    assert result.reason is Reason.PROTOCOL
    assert result.phase is Phase.SNAPSHOT_URI


async def test_camera_without_snapshots_is_still_ok(peers: Peers) -> None:
    camera = await peers.camera(
        Quirks(raw={"GetSnapshotUri": fixed(soap.envelope(soap.ACTION_NOT_SUPPORTED), status=400)})
    )
    result = await probe(camera.device_url)
    assert result.reason is Reason.OK, result.detail
    assert result.observations["snapshot_uri_resolved"] == 0


@pytest.mark.parametrize(("status", "reason"), [(401, Reason.AUTH), (404, Reason.NOT_FOUND), (500, Reason.PROTOCOL)])
async def test_http_status_without_soap(peers: Peers, status: int, reason: Reason) -> None:
    async def plain(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text="<html>nope</html>", content_type="text/html")

    camera = await peers.camera(Quirks(raw={"GetSystemDateAndTime": plain}))
    result = await probe(camera.device_url)
    assert result.reason is reason, result.detail
    assert result.phase is Phase.CLOCK


async def test_closed_port_is_refused(peers: Peers) -> None:
    canary = await peers.canary()
    port = canary.port
    await peers.loop.run(canary.stop())
    leaks = LeakCheck()
    result = await probe(f"http://127.0.0.1:{port}/onvif/device_service")
    assert result.reason is Reason.REFUSED
    assert result.phase is Phase.CLOCK
    await leaks.assert_clean()


HOSTILE_PASSWORD = "p@ss:w/o#r?d%密码"


@pytest.mark.parametrize(
    "quirks",
    [
        Quirks(reject_authenticated=True, clock_offset=dt.timedelta(days=90)),
        Quirks(reject_authenticated=True),
        Quirks(media_xaddr=f"http://admin:{HOSTILE_PASSWORD}@127.0.0.9:1/onvif/Media"),
        Quirks(stream_uri=f"rtsp://admin:{HOSTILE_PASSWORD}@10.0.0.1:554/live"),
        Quirks(stream_uri=f"rtsp://127.0.0.1:554/live?user=admin&password={HOSTILE_PASSWORD}"),
    ],
    ids=[
        "clock-skew",
        "auth",
        "repinned-xaddr-with-userinfo",
        "uri-with-userinfo",
        "uri-with-query-password",
    ],
)
async def test_hostile_password_never_appears_on_error_paths(
    peers: Peers, quirks: Quirks, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    camera = await peers.camera(quirks)
    result = await probe(camera.device_url, password=HOSTILE_PASSWORD)
    captured = capsys.readouterr()
    haystack = "\n".join([caplog.text, captured.out, captured.err, repr(result), str(result.to_json())])
    assert len(caplog.records) > 0
    for form in (HOSTILE_PASSWORD, "密码", "w/o#r", "p%40ss"):
        assert form not in haystack, f"password form {form!r} leaked"


async def _drip(request: web.Request) -> web.StreamResponse:
    """One byte every 0.4 s: each read is within the read timeout, so only the total deadline can stop it."""
    response = web.StreamResponse(headers={"Content-Type": "application/soap+xml"})
    response.content_length = 100_000
    await response.prepare(request)
    for _ in range(100_000):
        await response.write(b" ")
        await asyncio.sleep(0.4)
    return response


async def test_slow_drip_is_stopped_by_the_total_deadline(peers: Peers) -> None:
    camera = await peers.camera(Quirks(raw={"GetDeviceInformation": _drip}))
    started = time.monotonic()
    result = await probe(camera.device_url, deadline_s=1.5, mod=module(timeout_s=1.5, read_timeout_s=1.0))
    assert result.reason is Reason.TIMEOUT
    assert result.phase is Phase.DEVICE_INFO
    assert 1.4 < time.monotonic() - started < 2.0


async def test_deep_nesting_is_protocol(peers: Peers) -> None:
    deep = "<tt:x>" * 100_000 + "</tt:x>" * 100_000
    info = soap.DEVICE_INFORMATION.replace("<tds:HardwareId>HW1", f"<tds:HardwareId>{deep}")
    camera = await peers.camera(Quirks(raw={"GetDeviceInformation": fixed(soap.envelope(info))}))
    result = await probe(camera.device_url, mod=module(max_response_bytes=4 * MiB))
    assert result.reason is Reason.PROTOCOL
    assert result.phase is Phase.DEVICE_INFO


async def test_huge_fault_detail_is_still_auth(peers: Peers) -> None:
    fault = soap.NOT_AUTHORIZED.replace("</s:Fault>", f"<s:Detail><x>{'D' * 500_000}</x></s:Detail></s:Fault>")
    camera = await peers.camera(Quirks(raw={"GetDeviceInformation": fixed(soap.envelope(fault), status=400)}))
    result = await probe(camera.device_url)
    assert result.reason is Reason.AUTH
    assert result.phase is Phase.DEVICE_INFO
    assert len(result.detail) < 100


async def test_transport_refuses_a_foreign_address_before_connecting(peers: Peers) -> None:
    canary = await peers.canary()
    camera = await peers.camera()
    client = OnvifClient(
        camera.device_url,
        username="admin",
        password=Secret("pw"),
        deadline=Deadline(2.0),
        read_timeout_s=1.0,
        max_response_bytes=MiB,
    )
    async with client:
        device = await client.service("devicemgmt")
        device._binding_options["address"] = f"http://127.0.0.1:{canary.port}/onvif/device_service"
        with pytest.raises(ForeignAddressError):
            await client.call(device.GetDeviceInformation)
    await asyncio.sleep(0.1)
    assert canary.connections == 0
    assert camera.requests == []


async def test_parser_pool_stays_bounded(peers: Peers) -> None:
    """Many concurrent probes share the two parser threads; no thread per probe."""
    camera = await peers.camera()
    leaks = LeakCheck()
    mod = module()
    results = await asyncio.gather(
        *(run_probe(target(camera.device_url), mod, deadline=Deadline(5.0)) for _ in range(20))
    )
    assert all(r.reason is Reason.OK for r in results)
    await leaks.assert_clean()
    parser_threads = [t for t in threading.enumerate() if t.name.startswith(PARSER_THREAD_PREFIX)]
    assert 1 <= len(parser_threads) <= 2


async def test_capabilities_unsupported_falls_back_to_get_services(peers: Peers) -> None:
    unsupported = fixed(soap.envelope(soap.ACTION_NOT_SUPPORTED), status=400)
    camera = await peers.camera(Quirks(raw={"GetCapabilities": unsupported}))
    result = await probe(camera.device_url)
    assert result.reason is Reason.OK, result.detail
    assert ("GetServices", True) in camera.requests


@pytest.mark.parametrize(
    ("action", "body", "phase"),
    [
        ("GetCapabilities", soap.NO_MEDIA_CAPABILITIES, Phase.CAPABILITIES),
        ("GetProfiles", soap.NO_PROFILES, Phase.PROFILES),
    ],
    ids=["no-media-service", "no-profiles"],
)
async def test_missing_media_is_not_found(peers: Peers, action: str, body: str, phase: Phase) -> None:
    camera = await peers.camera(Quirks(raw={action: fixed(soap.envelope(body))}))
    result = await probe(camera.device_url)
    assert result.reason is Reason.NOT_FOUND, result.detail
    assert result.phase is phase


async def test_ipv6_loopback_camera(peers: Peers) -> None:
    camera = await peers.camera(host="::1")
    result = await probe(camera.device_url, host="::1")
    assert result.reason is Reason.OK, result.detail
    assert result.observations["stream_uri_resolved"] == 1


async def test_unusable_registered_url_is_internal() -> None:
    result = await probe("ftp://127.0.0.1/onvif/device_service")
    assert result.reason is Reason.INTERNAL
    assert "http" in result.detail
