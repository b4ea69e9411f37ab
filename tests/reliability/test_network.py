"""RELIABILITY.md N1–N7: network faults from small hostile servers on loopback.

Where tests/integration already drives a fault, the test here calls that test's body (imported, not copied)
inside :func:`back_to_baseline` (no task, fd, thread or child process left) and :func:`within` (deadline bound).
"""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc

import pytest

from sharpeyes.probers.base import Deadline, Phase, Reason, run_probe
from sharpeyes.rtsp.client import RtspClient
from sharpeyes.rtsp.errors import ProtocolError, RtspTimeoutError
from sharpeyes.rtsp.stream import first_keyframe, start_video
from tests.integration import test_rtsp_hostile as rtsp
from tests.integration.fake_rtsp import SDP, FakeRtspServer, read_request, reply
from tests.integration.onvif import test_onvif_hostile as onvif
from tests.integration.onvif.conftest import Peers
from tests.reliability.contract import back_to_baseline, onvif_case, within

MODULE = rtsp.MODULE  # timeout 2 s, read timeout 1 s


async def healthy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A well-behaved camera: OPTIONS, DESCRIBE with an H.264 SDP."""
    req = await rtsp.answer_options(reader, writer)
    writer.write(reply(req.cseq, body=SDP))
    await asyncio.sleep(3600)


async def test_n1_silent_rtsp_peer_times_out_and_others_are_unaffected() -> None:
    async with (
        back_to_baseline(),
        FakeRtspServer(rtsp.hang) as silent,
        FakeRtspServer(healthy) as good,
        within(MODULE.timeout_s + 0.5),
    ):
        started = time.monotonic()

        async def timed_good() -> float:
            result = await run_probe(rtsp.target(good.url), MODULE, deadline=Deadline(MODULE.timeout_s))
            assert result.reason is Reason.OK, result.detail
            return time.monotonic() - started

        hung, good_elapsed = await asyncio.gather(
            run_probe(rtsp.target(silent.url), MODULE, deadline=Deadline(MODULE.timeout_s)), timed_good()
        )
    assert (hung.reason, hung.phase) == (Reason.TIMEOUT, Phase.OPTIONS)
    assert good_elapsed < MODULE.read_timeout_s  # finished before the silent peer's first read timed out


@pytest.mark.parametrize("action", ["GetSystemDateAndTime", "GetProfiles"])
async def test_n1_silent_onvif_peer_times_out_at_the_deadline(peers: Peers, action: str) -> None:
    async with onvif_case(peers, 1.5):
        await onvif.test_hang_after_headers_times_out_at_the_deadline(peers, action)


async def _play_then_silence(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    req = await read_request(reader)  # DESCRIBE (the client sends no OPTIONS)
    writer.write(reply(req.cseq, body=SDP))
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Session", "1"), ("Transport", "RTP/AVP/TCP;interleaved=0-1")]))
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Session", "1")]))
    await asyncio.sleep(3600)  # PLAY answered; no RTP ever


async def test_n2_play_then_no_rtp_ends_at_the_frame_deadline() -> None:
    """The RTSP path the frame prober uses: waiting for the first keyframe after PLAY ends by the deadline and
    frees the connection. Through the frame prober itself (``no_media``, decoder free): test_frame_prober.py."""
    deadline_s = 1.5
    async with (
        back_to_baseline(),
        FakeRtspServer(_play_then_silence) as server,
        within(deadline_s + 0.5),
        RtspClient(server.url, deadline=Deadline(deadline_s)) as client,
    ):
        await client.connect()
        stream = await start_video(client)
        with pytest.raises(RtspTimeoutError):
            await first_keyframe(client, stream)


async def test_n3_slow_drip_is_stopped_by_the_total_deadline() -> None:
    async with back_to_baseline(), within(2.5 + 0.5):
        await rtsp.test_one_byte_per_second_drip_is_stopped_by_the_total_deadline(None)


async def test_n3_onvif_slow_drip(peers: Peers) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_slow_drip_is_stopped_by_the_total_deadline(peers)


async def test_n4_half_open_peer_is_detected_within_the_read_deadline() -> None:
    """A peer that vanished without FIN/RST looks, to us, exactly like an accepted socket that never answers
    (no bytes, no close). Dropping packets for real needs a netns with iptables/tc, which this suite does not
    set up; the honest substitute: the server stops reading and writing after the request, with its socket
    kept open, and the first read must time out at ``read_timeout_s``, not TCP's minutes."""
    async with back_to_baseline(), FakeRtspServer(rtsp.hang) as server:
        start = time.monotonic()
        result = await run_probe(rtsp.target(server.url), MODULE, deadline=Deadline(MODULE.timeout_s))
        elapsed = time.monotonic() - start
    assert result.reason is Reason.TIMEOUT
    assert MODULE.read_timeout_s - 0.1 <= elapsed <= MODULE.read_timeout_s + 0.5


@pytest.mark.parametrize("case", ["rst_mid_describe", "fin_mid_body", "closed_port"])
async def test_n5_resets_truncation_and_closed_ports_are_classified(case: str) -> None:
    body = {
        "rst_mid_describe": rtsp.test_rst_mid_describe_is_protocol,
        "fin_mid_body": rtsp.test_fin_mid_body_is_protocol,
        "closed_port": rtsp.test_closed_port_is_refused,
    }[case]
    async with back_to_baseline(), within(MODULE.timeout_s + 0.5):
        await body(None)


async def test_n5_rst_mid_rtp_is_protocol_not_a_traceback() -> None:
    async def rst_in_rtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _answer_through_play(reader, writer)
        writer.write(b"$\x00\x04\x00" + b"\x80\x60" + b"\x00" * 10)  # a frame header promising 1024 bytes
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    async with (
        back_to_baseline(),
        FakeRtspServer(rst_in_rtp) as server,
        RtspClient(server.url, deadline=Deadline(2.0)) as client,
    ):
        await client.connect()
        stream = await start_video(client)
        with pytest.raises(Exception) as caught:
            await first_keyframe(client, stream)
    assert isinstance(caught.value, ProtocolError), repr(caught.value)


async def _answer_through_play(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    req = await read_request(reader)  # DESCRIBE (the client sends no OPTIONS)
    writer.write(reply(req.cseq, body=SDP))
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Session", "1"), ("Transport", "RTP/AVP/TCP;interleaved=0-1")]))
    req = await read_request(reader)
    writer.write(reply(req.cseq, headers=[("Session", "1")]))
    await writer.drain()


async def test_n6_nxdomain_and_slow_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    async with back_to_baseline(), within(2 * (MODULE.timeout_s + 0.5)):
        await rtsp.test_dns_failure_and_slow_resolver(None, monkeypatch)


async def test_n7_huge_sdp_is_too_large() -> None:
    async with back_to_baseline(), within(MODULE.timeout_s + 0.5):
        await rtsp.test_10_mb_sdp_is_too_large(None)


async def test_n7_endless_header_line_is_protocol_in_bounded_memory() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {req.cseq}\r\nX-Endless: ".encode())
        chunk = b"a" * 65536
        for _ in range(16 * 50):  # up to 50 MB, never a line end
            writer.write(chunk)
            await writer.drain()

    tracemalloc.start()
    try:
        async with back_to_baseline(), FakeRtspServer(endless) as server, within(MODULE.timeout_s + 0.5):
            result = await run_probe(rtsp.target(server.url), MODULE, deadline=Deadline(MODULE.timeout_s))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reason in (Reason.PROTOCOL, Reason.TOO_LARGE), result.detail
    assert result.phase is Phase.OPTIONS
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
async def test_n7_huge_soap_is_too_large(peers: Peers, declare_length: bool) -> None:
    async with onvif_case(peers, 3.5):
        await onvif.test_50_mb_body_is_too_large_and_stops_early(peers, declare_length)
