"""onvif-zeep-async and aiohttp's HTTP clients against the simulator's ONVIF and snapshot services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import onvif
import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from tests.integration.sim.conftest import PASSWORD, USER, SimSite

pytestmark = pytest.mark.timeout(60)
WSDL = str(Path(onvif.__file__).parent / "wsdl")


async def _camera(site: SimSite, name: str, password: str = PASSWORD) -> ONVIFCamera:
    return ONVIFCamera(site.host(name), site.http_port, USER, password, WSDL, adjust_time=True)


@pytest.fixture
async def device(sim_site: SimSite) -> AsyncIterator[ONVIFCamera]:
    cam = await _camera(sim_site, "digest")
    try:
        await cam.update_xaddrs()
        yield cam
    finally:
        await cam.close()


async def test_device_information(device: ONVIFCamera) -> None:
    mgmt = await device.create_devicemgmt_service()
    info = await mgmt.GetDeviceInformation()
    assert info.Manufacturer == "Sharpeyes"
    assert info.Model and info.SerialNumber


async def test_profiles_stream_and_snapshot_uri(device: ONVIFCamera, sim_site: SimSite) -> None:
    media = await device.create_media_service()
    profiles = await media.GetProfiles()
    assert len(profiles) == 1
    resolution = profiles[0].VideoEncoderConfiguration.Resolution
    assert (resolution.Width, resolution.Height) == (320, 180)
    token = profiles[0].token
    setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
    stream = await media.GetStreamUri({"StreamSetup": setup, "ProfileToken": token})
    assert stream.Uri == f"rtsp://{sim_site.host('digest')}:{sim_site.rtsp_port}/Streaming/Channels/101"
    snapshot = await media.GetSnapshotUri({"ProfileToken": token})
    assert snapshot.Uri == f"{sim_site.http_base('digest')}/snapshot.jpg"


async def test_capabilities_point_at_the_registered_host(device: ONVIFCamera, sim_site: SimSite) -> None:
    mgmt = await device.create_devicemgmt_service()
    caps = await mgmt.GetCapabilities({"Category": "All"})
    assert caps.Media.XAddr.startswith(sim_site.http_base("digest"))


async def test_wrong_password_gets_not_authorized(sim_site: SimSite) -> None:
    cam = await _camera(sim_site, "digest", password="wrong")
    try:
        with pytest.raises(Fault) as caught:
            await cam.update_xaddrs()
        assert any(code.localname == "NotAuthorized" for code in caught.value.subcodes or [])
    finally:
        await cam.close()


async def test_system_date_and_time_needs_no_login(sim_site: SimSite) -> None:
    cam = await _camera(sim_site, "digest", password="wrong")
    try:
        mgmt = await cam.create_devicemgmt_service()
        reply = await mgmt.GetSystemDateAndTime()
        utc = reply.UTCDateTime
        seen = datetime(
            utc.Date.Year, utc.Date.Month, utc.Date.Day, utc.Time.Hour, utc.Time.Minute, utc.Time.Second, tzinfo=UTC
        )
        assert abs((seen - datetime.now(UTC)).total_seconds()) < 5
    finally:
        await cam.close()


async def test_clock_skew_moves_the_camera_clock(sim_site: SimSite) -> None:
    cam = await _camera(sim_site, "net-clock_skew")
    try:
        mgmt = await cam.create_devicemgmt_service()
        utc = (await mgmt.GetSystemDateAndTime()).UTCDateTime
        seen = datetime(
            utc.Date.Year, utc.Date.Month, utc.Date.Day, utc.Time.Hour, utc.Time.Minute, utc.Time.Second, tzinfo=UTC
        )
        assert 3595 < (seen - datetime.now(UTC)).total_seconds() < 3605
        await cam.update_xaddrs()  # the client adjusts its Created to the camera's clock: still accepted
    finally:
        await cam.close()


async def _snapshot(url: str, **kwargs: object) -> tuple[int, bytes]:
    async with aiohttp.ClientSession(**kwargs) as session, session.get(url) as response:  # type: ignore[arg-type]
        return response.status, await response.read()


async def test_snapshot_with_digest_auth(sim_site: SimSite) -> None:
    middleware = aiohttp.DigestAuthMiddleware(USER, PASSWORD)
    status, body = await _snapshot(f"{sim_site.http_base('digest')}/snapshot.jpg", middlewares=(middleware,))
    assert status == 200
    picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (180, 320, 3)


async def test_snapshot_with_basic_auth(sim_site: SimSite) -> None:
    status, body = await _snapshot(
        f"{sim_site.http_base('basic')}/snapshot.jpg",
        headers={"Authorization": aiohttp.encode_basic_auth(USER, PASSWORD)},
    )
    assert status == 200 and body[:2] == b"\xff\xd8"


async def test_snapshot_refuses_wrong_password_and_basic_on_a_digest_camera(sim_site: SimSite) -> None:
    url = f"{sim_site.http_base('digest')}/snapshot.jpg"
    middleware = aiohttp.DigestAuthMiddleware(USER, "wrong")
    assert (await _snapshot(url, middlewares=(middleware,)))[0] == 401
    assert (await _snapshot(url, headers={"Authorization": aiohttp.encode_basic_auth(USER, PASSWORD)}))[0] == 401


async def test_soap_with_a_dtd_is_refused(sim_site: SimSite) -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&e;</s:Body></s:Envelope>'
    )
    async with aiohttp.ClientSession() as session:
        url = f"{sim_site.http_base('digest')}/onvif/device_service"
        async with session.post(url, data=body, headers={"Content-Type": "application/soap+xml"}) as response:
            text = await response.text()
    assert response.status == 400
    assert "root:" not in text and "InvalidArgVal" in text


async def test_oversized_soap_is_refused(sim_site: SimSite) -> None:
    body = "<a>" + "x" * 100_000 + "</a>"
    async with aiohttp.ClientSession() as session:
        url = f"{sim_site.http_base('digest')}/onvif/device_service"
        async with session.post(url, data=body, headers={"Content-Type": "application/soap+xml"}) as response:
            assert response.status == 413


async def test_auth_fail_and_malformed_and_not_found_on_onvif(sim_site: SimSite) -> None:
    cam = await _camera(sim_site, "net-auth_fail")
    try:
        with pytest.raises(Fault) as caught:
            await cam.update_xaddrs()
        assert any(code.localname == "NotAuthorized" for code in caught.value.subcodes or [])
    finally:
        await cam.close()
    body = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        '<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
    )
    headers = {"Content-Type": "application/soap+xml"}
    async with aiohttp.ClientSession() as session:
        url = f"{sim_site.http_base('net-malformed')}/onvif/device_service"
        async with session.post(url, data=body, headers=headers) as response:
            text = await response.text()
        assert response.status == 200 and not text.rstrip().endswith("</s:Envelope>")
        url = f"{sim_site.http_base('net-not_found')}/onvif/device_service"
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 404
        url = f"{sim_site.http_base('digest')}/onvif/device_service"
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 200 and "UTCDateTime" in await response.text()
