"""Network and protocol faults behave as named, seen from raw sockets, ffprobe and HTTP clients."""

from __future__ import annotations

import itertools
import socket
import time

import aiohttp
import pytest

from tests.integration.sim.clients import RawRtsp, ffprobe
from tests.integration.sim.conftest import PASSWORD, USER, SimSite

pytestmark = pytest.mark.timeout(60)
CREDS = (USER, PASSWORD)


def _url(site: SimSite, name: str) -> str:
    return site.rtsp_url(name, auth=False)


def _raw(site: SimSite, name: str, timeout: float = 3.0) -> RawRtsp:
    return RawRtsp(site.host(name), site.rtsp_port, timeout=timeout)


def test_healthy_raw_session_gets_rtp_with_marker_bits(sim_site: SimSite) -> None:
    client = _raw(sim_site, "basic")
    try:
        status, headers, body = client.request("DESCRIBE", _url(sim_site, "basic"), auth=CREDS)
        assert status == "RTSP/1.0 200 OK" and headers["cseq"] == "1"
        assert b"sprop-parameter-sets=" in body and b"profile-level-id=" in body and b"a=control:trackID=1" in body
        assert client.play(_url(sim_site, "basic"), CREDS) == "RTSP/1.0 200 OK"
        packets = [client.interleaved()[1] for _ in range(60)]
        assert all(p[0] == 0x80 and p[1] & 0x7F == 96 for p in packets)
        assert any(p[1] & 0x80 for p in packets)  # marker on the last packet of a picture
        seqs = [int.from_bytes(p[2:4], "big") for p in packets]
        assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))
        status, headers, _ = client.request("GET_PARAMETER", _url(sim_site, "basic"), auth=CREDS)  # keep-alive
        assert status == "RTSP/1.0 200 OK" and headers["cseq"] == str(client.cseq)
        assert client.request("TEARDOWN", _url(sim_site, "basic"), auth=CREDS)[0] == "RTSP/1.0 200 OK"
    finally:
        client.close()


def test_offline_refuses_connections(sim_site: SimSite) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((sim_site.host("net-offline"), sim_site.rtsp_port), timeout=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((sim_site.host("net-offline"), sim_site.http_port), timeout=2)


def test_blackhole_accepts_and_never_answers(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-blackhole", timeout=1.0)
    try:
        with pytest.raises(TimeoutError):
            client.request("OPTIONS", _url(sim_site, "net-blackhole"))
    finally:
        client.close()


def test_slow_delays_every_response(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-slow")
    try:
        started = time.monotonic()
        status, _, _ = client.request("OPTIONS", _url(sim_site, "net-slow"))
        assert status == "RTSP/1.0 200 OK"
        assert time.monotonic() - started >= 0.9
    finally:
        client.close()


def test_drip_sends_a_few_bytes_per_second(sim_site: SimSite) -> None:
    with socket.create_connection((sim_site.host("net-drip"), sim_site.rtsp_port), timeout=3) as sock:
        sock.sendall(f"OPTIONS {_url(sim_site, 'net-drip')} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        received = b""
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                received += sock.recv(100)
            except TimeoutError:
                break
        assert 1 <= len(received) <= 6  # 2 bytes/s
        assert received == b"RTSP/1.0 200 OK"[: len(received)]


def test_reset_drops_the_stream_with_an_rst(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-reset")
    try:
        assert client.play(_url(sim_site, "net-reset"), CREDS) == "RTSP/1.0 200 OK"
        got = 0
        with pytest.raises(ConnectionResetError):
            while True:
                client.interleaved()
                got += 1
        assert got > 0  # media flowed before the reset
    finally:
        client.close()


def test_auth_fail_refuses_the_right_password(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-auth_fail")
    try:
        status, headers, _ = client.request("DESCRIBE", _url(sim_site, "net-auth_fail"), auth=CREDS)
        assert status.startswith("RTSP/1.0 401") and "www-authenticate" in headers
    finally:
        client.close()


async def test_not_found_on_rtsp_and_http(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-not_found")
    try:
        status, _, _ = client.request("DESCRIBE", _url(sim_site, "net-not_found"), auth=CREDS)
        assert status.startswith("RTSP/1.0 404")
    finally:
        client.close()
    url = f"{sim_site.http_base('net-not_found')}/snapshot.jpg"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 404


def test_unknown_path_is_404(sim_site: SimSite) -> None:
    client = _raw(sim_site, "basic")
    try:
        url = f"rtsp://{sim_site.host('basic')}:{sim_site.rtsp_port}/nope"
        assert client.request("DESCRIBE", url, auth=CREDS)[0].startswith("RTSP/1.0 404")
    finally:
        client.close()


def test_no_media_plays_but_sends_nothing(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-no_media", timeout=1.5)
    try:
        assert client.play(_url(sim_site, "net-no_media"), CREDS) == "RTSP/1.0 200 OK"
        with pytest.raises(TimeoutError):
            client.interleaved()
    finally:
        client.close()


def test_malformed_status_line(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-malformed")
    try:
        status, _, _ = client.request("OPTIONS", _url(sim_site, "net-malformed"))
        assert not status.startswith("RTSP/1.0 200")
    finally:
        client.close()
    assert ffprobe(sim_site.rtsp_url("net-malformed"), timeout=6)[0] != 0  # fails or hangs


def test_malformed_sdp(sim_site: SimSite) -> None:
    client = _raw(sim_site, "net-malformed_sdp")
    try:
        status, _, body = client.request("DESCRIBE", _url(sim_site, "net-malformed_sdp"), auth=CREDS)
        assert status == "RTSP/1.0 200 OK"
        assert b"m=video 0 RTP/AVP 96" not in body
    finally:
        client.close()
    assert ffprobe(sim_site.rtsp_url("net-malformed_sdp"), timeout=4)[0] != 0


def test_lockout_refuses_even_the_right_password_for_a_while(sim_site: SimSite) -> None:
    url = _url(sim_site, "net-lockout")
    client = _raw(sim_site, "net-lockout")
    try:
        assert client.request("DESCRIBE", url, auth=CREDS)[0] == "RTSP/1.0 200 OK"
        for _ in range(2):
            assert client.request("DESCRIBE", url, auth=(USER, "bad"))[0].startswith("RTSP/1.0 401")
        assert client.request("DESCRIBE", url, auth=CREDS)[0].startswith("RTSP/1.0 401")  # locked (2 s)
        time.sleep(2.1)
        assert client.request("DESCRIBE", url, auth=CREDS)[0] == "RTSP/1.0 200 OK"
    finally:
        client.close()


async def test_http_side_of_network_faults(sim_site: SimSite) -> None:
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(TimeoutError):
            async with session.get(f"{sim_site.http_base('net-blackhole')}/snapshot.jpg"):
                pass
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"{sim_site.http_base('net-reset')}/snapshot.jpg"):
                pass
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(f"{sim_site.http_base('net-slow')}/snapshot.jpg") as response:
            assert response.status == 401
        assert time.monotonic() - started >= 0.9


def test_unsupported_transport_gets_461(sim_site: SimSite) -> None:
    client = _raw(sim_site, "basic")
    try:
        url = _url(sim_site, "basic") + "/trackID=1"
        status, _, _ = client.request("SETUP", url, auth=CREDS, headers={"Transport": "RTP/AVP;multicast"})
        assert status.startswith("RTSP/1.0 461")
        assert client.request("PLAY", _url(sim_site, "basic"), auth=CREDS)[0].startswith("RTSP/1.0 455")
    finally:
        client.close()
