"""The frame prober against scripted RTSP cameras on loopback: a stream that never sends an IDR, and one whose
keyframe is corrupt. Both end in their reason within the deadline, with TEARDOWN, and the decode pool stays healthy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
import time
from collections.abc import Callable, Coroutine, Iterator
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest

from sharpeyes.probers import frame
from sharpeyes.probers.base import Deadline, Phase, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.settings import ProbeModule
from tests.integration.fake_rtsp import FakeRtspServer, read_request, reply

W, H = 320, 240


def _encode() -> list[list[bytes]]:
    """A real libx264 stream: a list of access units, each a list of NAL units (no start codes)."""
    enc = av.CodecContext.create("libx264", "w")
    assert isinstance(enc, av.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt, enc.time_base = W, H, "yuv420p", Fraction(1, 25)
    enc.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "250"}
    rng = np.random.default_rng(1)
    units: list[list[bytes]] = []
    for i in range(30):
        img = np.full((H, W, 3), 90, np.uint8)
        img[100:140, (i * 8) % W : (i * 8) % W + 30] = rng.integers(0, 255, 3)
        vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        for packet in enc.encode(vf):
            units.append([n for n in bytes(packet).split(b"\x00\x00\x00\x01") if n])
    return units


@pytest.fixture(scope="module")
def stream() -> list[list[bytes]]:
    return _encode()


def _split_start_codes(units: list[list[bytes]]) -> list[list[bytes]]:
    out = []
    for nals in units:
        flat: list[bytes] = []
        for nal in nals:
            flat.extend(n for n in nal.split(b"\x00\x00\x01") if n)
        out.append(flat)
    return out


def _rtp(nal: bytes, seq: int, ts: int, marker: bool) -> list[bytes]:
    """RTP packets (single NAL, or FU-A above 1200 bytes) framed for TCP interleaving on channel 0."""

    def frame(payload: bytes, last: bool, n: int) -> bytes:
        header = struct.pack("!BBHII", 0x80, (0x80 if last and marker else 0) | 96, (seq + n) & 0xFFFF, ts, 1234)
        packet = header + payload
        return b"$\x00" + struct.pack("!H", len(packet)) + packet

    if len(nal) <= 1200:
        return [frame(nal, True, 0)]
    chunks = [nal[1 + i : 1 + i + 1200] for i in range(0, len(nal) - 1, 1200)]
    out = []
    for n, chunk in enumerate(chunks):
        fu = (nal[0] & 0x1F) | (0x80 if n == 0 else 0) | (0x40 if n == len(chunks) - 1 else 0)
        out.append(frame(bytes([(nal[0] & 0xE0) | 28, fu]) + chunk, n == len(chunks) - 1, n))
    return out


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


def camera(units: list[list[bytes]], methods: list[str], params: list[list[bytes]]) -> Handler:
    """A scripted camera: answers OPTIONS..PLAY, then streams ``units`` at 25 fps in a loop."""
    sps = next(n for au in params for n in au if n[0] & 0x1F == 7)
    pps = next(n for au in params for n in au if n[0] & 0x1F == 8)
    sprop = f"{base64.b64encode(sps).decode()},{base64.b64encode(pps).decode()}"
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\n"
        f"a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets={sprop}\r\n"
        "a=control:track1\r\n"
    ).encode()

    async def send_media(writer: asyncio.StreamWriter) -> None:
        seq, i = 0, 0
        while not units:  # a camera that answers PLAY and then sends nothing
            await asyncio.sleep(1)
        while True:
            nals = units[i % len(units)]
            for k, nal in enumerate(nals):
                packets = _rtp(nal, seq, i * 3600, k == len(nals) - 1)
                seq += len(packets)
                writer.write(b"".join(packets))
            await writer.drain()
            i += 1
            await asyncio.sleep(0.04)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        media: asyncio.Task[None] | None = None
        try:
            while True:
                req = await read_request(reader)
                methods.append(req.method)
                if req.method == "DESCRIBE":
                    writer.write(reply(req.cseq, 200, [("Content-Type", "application/sdp")], sdp))
                elif req.method == "SETUP":
                    headers = [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"), ("Session", "42")]
                    writer.write(reply(req.cseq, 200, headers))
                elif req.method == "PLAY":
                    writer.write(reply(req.cseq, 200, [("Session", "42")]))
                    media = asyncio.create_task(send_media(writer))
                elif req.method == "TEARDOWN":
                    return
                else:
                    writer.write(reply(req.cseq, 200, [("Public", "DESCRIBE, SETUP, PLAY, TEARDOWN")]))
                await writer.drain()
        finally:
            if media is not None:
                media.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await media

    return handler


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool("sharpeyes.probers.frame_job.analyse", size=2)
    workers.start()
    frame.set_pool(workers)
    yield workers
    frame.close_pool()


MODULE = ProbeModule(name="frame_health", prober="frame", timeout_s=3.0, read_timeout_s=1.0)


async def _probe(
    units: list[list[bytes]], methods: list[str], params: list[list[bytes]], module: ProbeModule = MODULE
) -> tuple[float, ProbeResult]:
    """One frame probe of a scripted camera that streams ``units`` (SDP parameter sets from ``params``): the
    time it took and its result."""
    async with FakeRtspServer(camera(units, methods, params)) as srv:
        target = ProbeTarget(camera_id=f"fake-{time.monotonic_ns()}", host="127.0.0.1", rtsp_url=srv.url)
        started = time.monotonic()
        result = await run_probe(target, module, deadline=Deadline(module.timeout_s))
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.1)  # let the camera read the TEARDOWN
    return elapsed, result


async def test_stream_without_idr_is_no_media_within_the_deadline(stream: list[list[bytes]], pool: WorkerPool) -> None:
    units = _split_start_codes(stream)
    no_idr = [[n for n in au if n[0] & 0x1F not in (5, 7, 8)] for au in units]
    no_idr = [au for au in no_idr if au]
    methods: list[str] = []
    elapsed, result = await _probe(no_idr, methods, units)
    assert result.reason is Reason.NO_MEDIA, result
    assert result.phase is Phase.KEYFRAME
    assert "ttfb_s" in result.observations
    assert elapsed < MODULE.timeout_s + 0.5
    assert methods[-1] == "TEARDOWN"
    _, healthy = await _probe(units, [], units)  # the pool was never blocked: a good stream decodes next
    assert healthy.reason in (Reason.OK, Reason.FRAME_FAULT), healthy
    assert pool.alive == pool.size


async def test_camera_silent_after_play_is_no_media_at_first_byte(stream: list[list[bytes]], pool: WorkerPool) -> None:
    methods: list[str] = []
    elapsed, result = await _probe([], methods, _split_start_codes(stream))
    assert result.reason is Reason.NO_MEDIA, result
    assert result.phase is Phase.FIRST_BYTE
    assert "ttfb_s" not in result.observations
    assert elapsed < MODULE.timeout_s + 0.5
    assert methods[-1] == "TEARDOWN"


async def test_corrupt_keyframe_is_decode_error_and_the_pool_stays_healthy(
    stream: list[list[bytes]], pool: WorkerPool
) -> None:
    units = _split_start_codes(stream)
    rng = np.random.default_rng(7)
    corrupt = [[n if n[0] & 0x1F != 5 else bytes([0x65]) + rng.bytes(len(n) - 1) for n in au] for au in units[:1]]
    methods: list[str] = []
    elapsed, result = await _probe(corrupt, methods, units)
    assert result.reason is Reason.DECODE_ERROR, result
    assert result.phase is Phase.DECODE
    assert elapsed < MODULE.timeout_s + 0.5
    assert methods[-1] == "TEARDOWN"
    assert pool.alive == pool.size
    _, healthy = await _probe(units, [], units)  # the pool still decodes a good stream afterwards
    assert healthy.reason in (Reason.OK, Reason.FRAME_FAULT), healthy
    assert healthy.observations["width"] == W
