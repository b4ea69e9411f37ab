from __future__ import annotations

import asyncio
import errno

import pytest

from sharpeyes.probers.base import Deadline, FdExhaustedError, Phase, ProbeTarget, Reason, run_probe
from sharpeyes.probers.rtsp import reason_for
from sharpeyes.rtsp import errors
from sharpeyes.settings import ProbeModule


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (errors.DnsError("x"), Reason.DNS),
        (errors.TlsError("x"), Reason.TLS),
        (errors.RefusedError("x"), Reason.REFUSED),
        (errors.UnreachableError("x"), Reason.UNREACHABLE),
        (errors.RtspTimeoutError("x"), Reason.TIMEOUT),
        (errors.AuthError("x"), Reason.AUTH),
        (errors.TooLargeError("x"), Reason.TOO_LARGE),
        (errors.ProtocolError("x"), Reason.PROTOCOL),
        (errors.StatusError(404, "Not Found"), Reason.NOT_FOUND),
        (errors.StatusError(410, "Gone"), Reason.NOT_FOUND),
        (errors.StatusError(403, "Forbidden"), Reason.AUTH),
        (errors.StatusError(503, "Unavailable"), Reason.PROTOCOL),
    ],
)
def test_reason_for(exc: errors.RtspError, reason: Reason) -> None:
    assert reason_for(exc) is reason


@pytest.mark.parametrize(
    ("code", "reason"), [(errno.EHOSTUNREACH, Reason.UNREACHABLE), (errno.ENETUNREACH, Reason.UNREACHABLE)]
)
async def test_connect_errors_map_at_the_edge(monkeypatch: pytest.MonkeyPatch, code: int, reason: Reason) -> None:
    async def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, "simulated")

    monkeypatch.setattr(asyncio, "open_connection", fail)
    module = ProbeModule(name="rtsp_describe", prober="rtsp")
    target = ProbeTarget(camera_id="c", host="192.0.2.1", rtsp_url="rtsp://192.0.2.1/x")
    result = await run_probe(target, module, deadline=Deadline(1))
    assert (result.reason, result.phase) == (reason, Phase.CONNECT)


async def test_running_out_of_fds_is_back_pressure_not_a_camera_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own fd shortage is no result at all (RELIABILITY R3-1): the scheduler skips the slot as ``fd_budget``."""

    async def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(asyncio, "open_connection", fail)
    module = ProbeModule(name="rtsp_describe", prober="rtsp")
    target = ProbeTarget(camera_id="c", host="192.0.2.1", rtsp_url="rtsp://192.0.2.1/x")
    with pytest.raises(FdExhaustedError) as raised:
        await run_probe(target, module, deadline=Deadline(1))
    assert raised.value.skip_reason == "fd_budget"


async def test_a_url_with_userinfo_is_refused_without_echoing_it() -> None:
    module = ProbeModule(name="rtsp_describe", prober="rtsp")
    url = "rtsp://admin:s3cr3t%40x@127.0.0.1:9/x"
    target = ProbeTarget(camera_id="c", host="127.0.0.1", rtsp_url=url)
    result = await run_probe(target, module, deadline=Deadline(1))
    assert result.reason is Reason.PROTOCOL
    assert "userinfo" in result.detail
    assert "s3cr3t" not in result.detail
