"""The rtsp prober against hostile fake servers on loopback: right reason by deadline + 0.5 s, no leaks."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sharpeyes.probers.base import Deadline, Phase, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.redact import Secret
from sharpeyes.rtsp.client import RtspClient
from sharpeyes.rtsp.errors import ProtocolError
from sharpeyes.settings import ProbeModule
from tests.integration.fake_rtsp import SDP, FakeRtspServer, Handler, Request, digest_ok, read_request, reply

MODULE = ProbeModule(name="rtsp_describe", prober="rtsp", timeout_s=2.0, read_timeout_s=1.0)
PASSWORD = "p@ss:w/o#r?d%密码"
TEN_MB_SDP = b"v=0\r\n" + b"a=x\r\n" * (10 * 1024 * 1024 // 5)
import sharpeyes.probers.rtsp  # noqa: E402, F401  (registers the prober)


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fails the test if it leaves a file descriptor, a task or a thread behind."""
    await asyncio.sleep(0)
    before, threads = open_fds(), threading.active_count()
    yield
    await asyncio.sleep(0.02)
    assert open_fds() == before
    assert threading.active_count() == threads
    assert asyncio.all_tasks() == {asyncio.current_task()}


def target(url: str, password: str | None = PASSWORD) -> ProbeTarget:
    return ProbeTarget(
        camera_id=f"hostile-{os.urandom(4).hex()}",
        host=url.split("/")[2].split(":")[0],
        rtsp_url=url,
        username="admin",
        password=Secret(password) if password else None,
    )


async def probe(handler: Handler, module: ProbeModule = MODULE) -> tuple[ProbeResult, float, FakeRtspServer]:
    async with FakeRtspServer(handler) as server:
        start = time.monotonic()
        result = await run_probe(target(server.url), module, deadline=Deadline(module.timeout_s))
        elapsed = time.monotonic() - start
    assert elapsed <= module.timeout_s + 0.5
    return result, elapsed, server


async def answer_options(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request:
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Public", "OPTIONS, DESCRIBE")]))
    return await read_request(reader)


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def test_hang_after_connect_is_timeout_in_options(no_leaks: None) -> None:
    result, elapsed, _ = await probe(hang)
    assert (result.reason, result.phase) == (Reason.TIMEOUT, Phase.OPTIONS)
    assert "read timed out" in result.detail  # the per-read timeout (1 s) fired before the total (2 s)
    assert elapsed < MODULE.timeout_s


async def test_one_byte_per_second_drip_is_stopped_by_the_total_deadline(no_leaks: None) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        for byte in reply(req.cseq, headers=[("X-Pad", "y" * 100)]):
            writer.write(bytes([byte]))
            await asyncio.sleep(1.0)

    module = MODULE.model_copy(update={"timeout_s": 2.5, "read_timeout_s": 1.5})  # reads never time out
    result, elapsed, _ = await probe(drip, module)
    assert (result.reason, result.phase) == (Reason.TIMEOUT, Phase.OPTIONS)
    assert elapsed >= 2.4  # the per-read timeout never fired: only the total deadline ended it


@pytest.mark.parametrize(
    "garbage", [b"\x00\xff\xfe GARBAGE\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", b"RTSP/1.0 OK 200\r\n\r\n"]
)
async def test_garbage_status_line_is_protocol(no_leaks: None, garbage: bytes) -> None:
    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(garbage)
        await asyncio.sleep(3600)

    result, _, _ = await probe(send)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.OPTIONS)


async def test_100000_headers_is_protocol(no_leaks: None) -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {req.cseq}\r\n".encode() + b"X-H: v\r\n" * 100_000 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(3600)

    result, _, _ = await probe(flood)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.OPTIONS)


async def test_10_mb_sdp_is_too_large(no_leaks: None) -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(reply(req.cseq, headers=[("Content-Type", "application/sdp")], body=TEN_MB_SDP))
        await writer.drain()
        await asyncio.sleep(3600)

    result, _, _ = await probe(huge)
    assert (result.reason, result.phase) == (Reason.TOO_LARGE, Phase.DESCRIBE)


async def test_wrong_cseq_is_protocol(no_leaks: None) -> None:
    async def wrong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        writer.write(reply(req.cseq + 5))
        await asyncio.sleep(3600)

    result, _, _ = await probe(wrong)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.OPTIONS)
    assert "CSeq" in result.detail


async def test_server_requests_and_rtp_interleaved_are_never_taken_for_responses(no_leaks: None) -> None:
    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        # a request from the server carrying our CSeq and a 401-looking body must be skipped
        writer.write(f"GET_PARAMETER rtsp://127.0.0.1/cam RTSP/1.0\r\nCSeq: {req.cseq}\r\n".encode())
        writer.write(b"Content-Length: 16\r\n\r\nRTSP/1.0 401 X\r\n")
        writer.write(b"$\x00\x00\x04abcd")
        writer.write(reply(req.cseq))
        req = await read_request(reader)
        writer.write(reply(req.cseq, headers=[("Content-Type", "application/sdp")], body=SDP))
        await asyncio.sleep(3600)

    result, _, _ = await probe(chatty)
    assert result.reason is Reason.OK, result.detail
    assert (result.observations["width"], result.observations["height"]) == (720, 576)


async def test_rst_mid_describe_is_protocol(no_leaks: None) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {req.cseq}\r\nContent-Len".encode())
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    result, _, _ = await probe(reset)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.DESCRIBE)


async def test_fin_mid_body_is_protocol(no_leaks: None) -> None:
    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(reply(req.cseq, body=SDP)[:-20])
        await writer.drain()
        writer.close()

    result, _, _ = await probe(truncated)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.DESCRIBE)


async def test_closed_port_is_refused(no_leaks: None) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = await run_probe(target(f"rtsp://127.0.0.1:{port}/x"), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert (result.reason, result.phase) == (Reason.REFUSED, Phase.CONNECT)


async def test_not_found(no_leaks: None) -> None:
    async def missing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(reply(req.cseq, 404))
        await asyncio.sleep(3600)

    result, _, _ = await probe(missing)
    assert (result.reason, result.phase) == (Reason.NOT_FOUND, Phase.DESCRIBE)


@pytest.mark.parametrize(
    "location",
    [
        "rtsp://127.0.0.2:554/cam",
        "http://127.0.0.1/cam",
        "rtsp://admin:x@127.0.0.1/cam",
        "file:///etc/passwd",
    ],
)
async def test_redirect_off_the_registered_host_is_refused(no_leaks: None, location: str) -> None:
    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(reply(req.cseq, 302, headers=[("Location", location)]))
        await asyncio.sleep(3600)

    result, _, server = await probe(redirect)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.DESCRIBE)
    assert server.connections == 1


async def test_redirect_to_the_same_host_is_followed(no_leaks: None) -> None:
    async def real(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        writer.write(reply(req.cseq, body=SDP))
        await asyncio.sleep(3600)

    async with FakeRtspServer(real) as other:

        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            req = await answer_options(reader, writer)
            writer.write(reply(req.cseq, 301, headers=[("Location", other.url)]))
            await asyncio.sleep(3600)

        result, _, _ = await probe(redirect)
    assert result.reason is Reason.OK, result.detail
    assert other.connections == 1


async def test_content_base_to_another_host_is_refused(no_leaks: None) -> None:
    async def base(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(reply(req.cseq, headers=[("Content-Base", "rtsp://10.0.0.1/cam/")], body=SDP))
        await asyncio.sleep(3600)

    result, _, _ = await probe(base)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.DESCRIBE)


async def test_401_loop_with_rotating_nonces_gets_one_rechallenge_then_auth(no_leaks: None) -> None:
    seen: list[Request] = []

    async def rotating(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            req = await read_request(reader)
            seen.append(req)
            nonce = os.urandom(8).hex()
            writer.write(reply(req.cseq, 401, headers=[("WWW-Authenticate", f'Digest realm="r", nonce="{nonce}"')]))

    result, _, _ = await probe(rotating)
    assert (result.reason, result.phase) == (Reason.AUTH, Phase.OPTIONS)
    assert len(seen) == 2
    assert "authorization" not in seen[0].headers
    assert seen[1].headers["authorization"].startswith("Digest ")


async def test_stale_nonce_reauthenticates_with_a_valid_digest(no_leaks: None) -> None:
    seen: list[tuple[str, bool]] = []

    async def stale(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonces = iter(["n1", "n2"])
        nonce = next(nonces)
        challenge = ("WWW-Authenticate", f'Digest realm="cam", nonce="{nonce}", qop="auth"')
        while True:
            req = await read_request(reader)
            valid = digest_ok(req, "admin", PASSWORD, "cam", nonce)
            seen.append((req.method, valid))
            if req.method == "DESCRIBE" and valid and nonce == "n1":
                nonce = next(nonces)
                challenge = (
                    "WWW-Authenticate",
                    f'Digest realm="cam", nonce="{nonce}", qop="auth", stale=TRUE',
                )
                writer.write(reply(req.cseq, 401, headers=[challenge]))
            elif not valid:
                writer.write(reply(req.cseq, 401, headers=[challenge]))
            else:
                writer.write(reply(req.cseq, body=SDP if req.method == "DESCRIBE" else b""))

    result, _, _ = await probe(stale)
    assert result.reason is Reason.OK, result.detail
    assert seen == [("OPTIONS", False), ("OPTIONS", True), ("DESCRIBE", True), ("DESCRIBE", True)]


async def test_basic_only_challenge_sends_no_credentials_under_digest_policy(no_leaks: None) -> None:
    seen: list[Request] = []

    async def basic(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            req = await read_request(reader)
            seen.append(req)
            writer.write(reply(req.cseq, 401, headers=[("WWW-Authenticate", 'Basic realm="cam"')]))

    result, _, _ = await probe(basic)
    assert result.reason is Reason.AUTH
    assert "Basic" in result.detail
    assert all("authorization" not in r.headers for r in seen)


async def test_setup_never_leaves_the_camera_host(no_leaks: None) -> None:
    sent: list[str] = []

    async def evil(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        writer.write(reply(req.cseq, body=SDP.replace(b"a=control:track1", b"a=control:rtsp://10.9.9.9/x")))
        while True:
            sent.append((await read_request(reader)).method)

    async with (
        FakeRtspServer(evil) as server,
        RtspClient(server.url, deadline=Deadline(MODULE.timeout_s)) as client,
    ):
        await client.connect()
        sdp = await client.describe()
        video = sdp.first_video()
        assert video is not None
        with pytest.raises(ProtocolError):
            await client.setup(video.control)
    assert sent == []


async def test_dns_failure_and_slow_resolver(no_leaks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def nxdomain(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(loop, "getaddrinfo", nxdomain)
    result = await run_probe(target("rtsp://camera.invalid/x"), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert (result.reason, result.phase) == (Reason.DNS, Phase.RESOLVE)

    async def slow(*args: object, **kwargs: object) -> list[object]:
        await asyncio.sleep(30)
        return []

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    monkeypatch.setattr(loop, "getaddrinfo", slow)
    tick_task = asyncio.create_task(ticker())
    start = time.monotonic()
    result = await run_probe(target("rtsp://slow.invalid/x"), MODULE, deadline=Deadline(MODULE.timeout_s))
    tick_task.cancel()
    await asyncio.gather(tick_task, return_exceptions=True)
    assert (result.reason, result.phase) == (Reason.TIMEOUT, Phase.RESOLVE)
    assert time.monotonic() - start <= MODULE.timeout_s + 0.5
    assert ticks >= 10  # the event loop kept running while the name resolved


async def test_repeated_challenge_after_credentials_spends_no_second_login(no_leaks: None) -> None:
    seen: list[tuple[str, bool]] = []

    async def refuses_describe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        challenge = ("WWW-Authenticate", 'Digest realm="cam", nonce="same", qop="auth"')
        while True:
            req = await read_request(reader)
            seen.append((req.method, "authorization" in req.headers))
            if req.method == "OPTIONS" and "authorization" in req.headers:
                writer.write(reply(req.cseq))
            else:
                writer.write(reply(req.cseq, 401, headers=[challenge]))

    result, _, _ = await probe(refuses_describe)
    assert (result.reason, result.phase) == (Reason.AUTH, Phase.DESCRIBE)
    assert seen == [("OPTIONS", False), ("OPTIONS", True), ("DESCRIBE", True)]


async def test_rtsps_to_a_plain_server_is_tls(no_leaks: None) -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n")
        await asyncio.sleep(3600)

    async with FakeRtspServer(plain) as server:
        url = server.url.replace("rtsp://", "rtsps://")
        result = await run_probe(target(url), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert (result.reason, result.phase) == (Reason.TLS, Phase.CONNECT)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
async def test_ipv6_literal_url(no_leaks: None) -> None:
    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await answer_options(reader, writer)
        writer.write(reply(req.cseq, body=SDP))
        await asyncio.sleep(3600)

    server = FakeRtspServer(ok, host="::1")
    async with server:
        url = f"rtsp://[::1]:{server.port}/cam"
        t = ProbeTarget(camera_id="v6", host="::1", rtsp_url=url)
        result = await run_probe(t, MODULE, deadline=Deadline(MODULE.timeout_s))
    assert result.reason is Reason.OK, result.detail


async def test_redirect_loop_stops_at_the_module_limit(no_leaks: None) -> None:
    async def loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        if req.method == "OPTIONS":
            writer.write(reply(req.cseq))
            req = await read_request(reader)
        writer.write(reply(req.cseq, 302, headers=[("Location", req.uri)]))
        await asyncio.sleep(3600)

    result, _, server = await probe(loop)
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.DESCRIBE)
    assert "redirects" in result.detail
    assert server.connections == 1 + MODULE.rtsp.follow_redirects
