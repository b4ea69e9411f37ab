"""RELIABILITY.md P1–P6: protocol abuse from hostile RTSP/ONVIF peers on loopback (fuzzing: tests/unit/rtsp,
scripts/fuzz.py). Existing bodies from tests/integration are imported and run under the L5 leak check."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time

import pytest

from sharpeyes.probers.backoff import AuthBackoff
from sharpeyes.probers.base import Deadline, Phase, Reason, run_probe
from sharpeyes.probers.rtsp import probe_with_backoff
from sharpeyes.rtsp.client import RtspClient
from sharpeyes.rtsp.errors import ProtocolError, RtspTimeoutError
from sharpeyes.rtsp.stream import first_keyframe, start_video
from tests.integration import test_rtsp_hostile as rtsp
from tests.integration.fake_rtsp import SDP, FakeRtspServer, Request, read_request, reply
from tests.integration.onvif import test_onvif_hostile as onvif
from tests.integration.onvif.conftest import Peers
from tests.reliability.contract import back_to_baseline, onvif_case, within

MODULE = rtsp.MODULE
BOUND = MODULE.timeout_s + 0.5


@pytest.mark.parametrize("garbage", [b"\x00\xff\xfe GARBAGE\r\n\r\n", b"RTSP/1.0 OK 200\r\n\r\n"])
async def test_p1_malformed_status_line_is_protocol(garbage: bytes) -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_garbage_status_line_is_protocol(None, garbage)


async def test_p1_100k_headers_is_protocol() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_100000_headers_is_protocol(None)


async def test_p1_no_crlf_at_all_is_protocol_or_timeout_within_the_deadline() -> None:
    async def no_crlf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"RTSP/1.0 200 OK CSeq: 1 " + b"\x00" * 100_000)
        await asyncio.sleep(3600)

    async with back_to_baseline(), FakeRtspServer(no_crlf) as server, within(BOUND):
        result = await run_probe(rtsp.target(server.url), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert (result.reason, result.phase) == (Reason.PROTOCOL, Phase.OPTIONS)


async def test_p2_wrong_cseq_is_protocol() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_wrong_cseq_is_protocol(None)


async def test_p2_server_requests_interleaved_are_never_mis_attributed() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_server_requests_and_rtp_interleaved_are_never_taken_for_responses(None)


async def test_p2_missing_cseq_is_protocol() -> None:
    async def no_cseq(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"RTSP/1.0 200 OK\r\nPublic: OPTIONS\r\n\r\n")
        await asyncio.sleep(3600)

    async with back_to_baseline(), FakeRtspServer(no_cseq) as server, within(BOUND):
        result = await run_probe(rtsp.target(server.url), MODULE, deadline=Deadline(MODULE.timeout_s))
    assert result.reason in (Reason.PROTOCOL, Reason.TIMEOUT), result.detail
    assert result.phase is Phase.OPTIONS


def _sdp_with(extra: bytes) -> bytes:
    return SDP + extra


async def _describe_answers(body: bytes) -> tuple[Reason, Phase | None, dict[str, object]]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await rtsp.answer_options(reader, writer)
        writer.write(reply(req.cseq, headers=[("Content-Type", "application/sdp")], body=body))
        await asyncio.sleep(3600)

    async with back_to_baseline(), FakeRtspServer(handler) as server, within(BOUND):
        result = await run_probe(rtsp.target(server.url), MODULE, deadline=Deadline(MODULE.timeout_s))
    return result.reason, result.phase, dict(result.observations)


async def test_p3_ten_thousand_media_lines_are_rejected_or_bounded() -> None:
    body = b"v=0\r\ns=x\r\nt=0 0\r\n" + b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" * 10_000
    reason, phase, _ = await _describe_answers(body[:60_000])  # within the body cap: the media cap decides
    assert (reason, phase) in {(Reason.PROTOCOL, Phase.DESCRIBE), (Reason.TOO_LARGE, Phase.DESCRIBE)}


async def test_p3_bad_base64_parameter_sets_give_no_size_not_a_crash() -> None:
    body = SDP.replace(b"Z0IAHpWoLQSZ,aM48gA==", b"!!!not*base64$$,\xff\xfe")
    reason, _, obs = await _describe_answers(body)
    assert reason is Reason.OK
    assert "width" not in obs


async def test_p3_setup_never_leaves_the_camera_host() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_setup_never_leaves_the_camera_host(None)


def _rtp(seq: int, payload: bytes, marker: bool = False, ts: int = 1000) -> bytes:
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq, ts, 1)
    packet = header + payload
    return b"$\x00" + struct.pack("!H", len(packet)) + packet


async def _hostile_media(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Through PLAY, then garbage FU-A, a truncated IDR, an SPS claiming an absurd size, random bytes."""
    req = await read_request(reader)  # DESCRIBE (the client sends no OPTIONS)
    writer.write(reply(req.cseq, body=SDP))
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Session", "1"), ("Transport", "RTP/AVP/TCP;interleaved=0-1")]))
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Session", "1")]))
    absurd_sps = bytes([0x67, 66, 0, 30]) + (0b1 << 43 | 1 << 20).to_bytes(6, "big") + b"\xff" * 8
    seq = 0
    for i in range(2000):
        seq = (seq + 1) & 0xFFFF
        kind = i % 4
        if kind == 0:
            payload = bytes([0x7C, os.urandom(1)[0]]) + os.urandom(100)  # FU-A with random start/end bits
        elif kind == 1:
            payload = b"\x65" + os.urandom(20)  # a truncated IDR slice
        elif kind == 2:
            payload = absurd_sps
        else:
            payload = os.urandom(60)
        writer.write(_rtp(seq, payload, marker=i % 7 == 0, ts=1000 + i // 7))
        if i % 50 == 0:
            await writer.drain()
    await asyncio.sleep(3600)


async def test_p4_hostile_media_is_contained_and_bounded() -> None:
    """Truncated H.264, absurd SPS sizes and garbage FU-A through the depacketizer: only ProtocolError or a
    (possibly broken) keyframe the decoder worker then judges, never another exception; within the deadline.
    Decoding in the frame prober's kill-able worker, with ``decode_error``: test_frame_prober.py."""
    deadline_s = 1.5
    async with (
        back_to_baseline(),
        FakeRtspServer(_hostile_media) as server,
        within(deadline_s + 0.5),
        RtspClient(server.url, deadline=Deadline(deadline_s)) as client,
    ):
        await client.connect()
        stream = await start_video(client)
        try:
            unit = await first_keyframe(client, stream)
        except (ProtocolError, RtspTimeoutError):
            unit = None
    if unit is not None:
        assert unit.size <= 8 * 1024 * 1024
        assert len(unit.nal_units) <= 1024 + 2


async def test_p5_basic_only_sends_nothing_under_digest_policy() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_basic_only_challenge_sends_no_credentials_under_digest_policy(None)


async def test_p5_rotating_nonces_get_one_rechallenge_then_auth() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_401_loop_with_rotating_nonces_gets_one_rechallenge_then_auth(None)


async def test_p5_stale_nonce_reauthenticates() -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_stale_nonce_reauthenticates_with_a_valid_digest(None)


async def test_p5_wrong_password_is_auth_then_backoff_without_contacting_the_camera() -> None:
    seen: list[Request] = []

    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            req = await read_request(reader)
            seen.append(req)
            writer.write(reply(req.cseq, 401, headers=[("WWW-Authenticate", 'Digest realm="c", nonce="n"')]))

    backoff = AuthBackoff(threshold=1, base_s=600, cap_s=600)
    async with back_to_baseline(), FakeRtspServer(refuses) as server:
        tgt = rtsp.target(server.url)
        first = await probe_with_backoff(tgt, MODULE, deadline=Deadline(2), backoff=backoff)
        contacted = len(seen)
        started = time.monotonic()
        second = await probe_with_backoff(tgt, MODULE, deadline=Deadline(2), backoff=backoff)
    assert first.reason is Reason.AUTH
    assert second.reason is Reason.LOCKED_OUT_BACKOFF
    assert len(seen) == contacted == 2  # one unauthenticated try, one re-challenge; none while backed off
    assert time.monotonic() - started < 0.5
    assert base64.b64encode(rtsp.PASSWORD.encode()).decode() not in repr(seen)


@pytest.mark.parametrize(
    "location",
    ["rtsp://127.0.0.2:554/cam", "http://127.0.0.1/cam", "rtsp://admin:x@127.0.0.1/cam", "file:///etc/passwd"],
)
async def test_p6_rtsp_redirect_elsewhere_is_refused(location: str) -> None:
    async with back_to_baseline(), within(BOUND):
        await rtsp.test_redirect_off_the_registered_host_is_refused(None, location)


@pytest.mark.parametrize(
    "uri",
    ["rtsp://admin:hunter2@10.9.8.7:554/live?password=hunter2", "file:///etc/passwd",
     "http://169.254.169.254/latest/meta-data/"],
)  # fmt: skip
async def test_p6_get_stream_uri_elsewhere_is_protocol(peers: Peers, uri: str) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_stream_uri_elsewhere_is_protocol_with_redacted_detail(peers, uri)
