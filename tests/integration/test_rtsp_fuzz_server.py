"""Property test: whatever a server answers, the prober classifies it; no bug of ours (``internal``) escapes."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sharpeyes.probers.rtsp  # noqa: F401  (registers the prober)
from sharpeyes.probers.base import Deadline, ProbeTarget, Reason, run_probe
from sharpeyes.redact import Secret
from sharpeyes.settings import ProbeModule
from tests.integration.fake_rtsp import FakeRtspServer, read_request

MODULE = ProbeModule(name="rtsp_describe", prober="rtsp", timeout_s=1.0, read_timeout_s=0.5)

_header = st.one_of(
    st.sampled_from(
        [
            'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth"',
            'WWW-Authenticate: Basic realm="r"',
            "WWW-Authenticate: Digest stale=TRUE",
            "Location: rtsp://127.0.0.1/other",
            "Location: rtsp://10.1.2.3/x",
            "Content-Base: rtsp://127.0.0.1/cam/",
            "Content-Length: 0",
            "Content-Type: application/sdp",
        ]
    ),
    st.builds(
        lambda k, v: f"{k}: {v}", st.sampled_from(["CSeq", "Content-Length", "Session", "X"]), st.text(max_size=20)
    ),
)
_status = st.sampled_from([200, 200, 200, 301, 302, 401, 403, 404, 454, 500, 503, 999])
_sdp = st.one_of(
    st.just("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n"),
    st.text(max_size=80),
)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=120))
    status = draw(_status)
    headers = draw(st.lists(_header, max_size=4))
    body = draw(_sdp).encode("utf-8", "replace") if draw(st.booleans()) else b""
    cseq = draw(st.sampled_from(["{cseq}", "{cseq}", "{cseq}", "7"]))
    lines = [f"RTSP/1.0 {status} X", f"CSeq: {cseq}", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace") + body


async def probe_against(answers: list[bytes]) -> Reason:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            request = await read_request(reader)
            writer.write(answer.replace(b"{cseq}", str(request.cseq).encode()))
            await writer.drain()
        writer.close()

    async with FakeRtspServer(handle) as server:
        target = ProbeTarget(
            camera_id="fuzz", host="127.0.0.1", rtsp_url=server.url, username="u", password=Secret("p")
        )
        result = await run_probe(target, MODULE, deadline=Deadline(MODULE.timeout_s))
    assert result.duration_s <= MODULE.timeout_s + 0.5
    return result.reason


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=st.lists(responses(), min_size=1, max_size=5))
def test_any_server_answer_is_classified_never_internal(answers: list[bytes]) -> None:
    reason = asyncio.run(probe_against(answers))
    assert reason is not Reason.INTERNAL
