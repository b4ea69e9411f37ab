"""The ``rtsp`` liveness prober: OPTIONS then DESCRIBE with our own client, failures mapped to reasons.

Observations: per-phase latency (``resolve_s``, ``connect_s``, ``options_s``, ``describe_s``), ``codec``, and
``width``/``height`` read from the SPS in the SDP. Every camera fault becomes a :class:`Reason` at this edge;
the phase where it happened is the result's ``phase``. Cameras that keep failing authentication are backed
off (:mod:`sharpeyes.probers.backoff`) so that monitoring never locks an account out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from sharpeyes.probers import backoff as lockout
from sharpeyes.probers.backoff import AuthBackoff
from sharpeyes.probers.base import (
    AuthPolicy,
    Deadline,
    Phase,
    ProbeResult,
    ProbeTarget,
    Reason,
    ResultBuilder,
    register,
)
from sharpeyes.rtsp.client import ClientOptions, RtspClient
from sharpeyes.rtsp.errors import (
    AuthError,
    DnsError,
    ProtocolError,
    RefusedError,
    RtspError,
    RtspTimeoutError,
    StatusError,
    TlsError,
    TooLargeError,
    UnreachableError,
)
from sharpeyes.rtsp.message import Limits
from sharpeyes.rtsp.sdp import SessionDescription
from sharpeyes.settings import ProbeModule

T = TypeVar("T")

_REASONS: tuple[tuple[type[RtspError], Reason], ...] = (
    (DnsError, Reason.DNS),
    (TlsError, Reason.TLS),
    (RefusedError, Reason.REFUSED),
    (UnreachableError, Reason.UNREACHABLE),
    (RtspTimeoutError, Reason.TIMEOUT),
    (AuthError, Reason.AUTH),
    (TooLargeError, Reason.TOO_LARGE),
    (ProtocolError, Reason.PROTOCOL),
)


def reason_for(exc: RtspError) -> Reason:
    """The closed reason for a client error (shared with the frame grabber)."""
    if isinstance(exc, StatusError):
        if exc.status in (404, 410):
            return Reason.NOT_FOUND
        return Reason.AUTH if exc.status in (401, 403) else Reason.PROTOCOL
    return next((reason for cls, reason in _REASONS if isinstance(exc, cls)), Reason.PROTOCOL)


def client_options(module: ProbeModule, target: ProbeTarget) -> ClientOptions:
    """Client tunables from the module; Basic is allowed if the camera's or the module's policy allows it."""
    basic = AuthPolicy.BASIC_ALLOWED in (module.auth, target.auth)
    limits = Limits(
        max_header_count=module.rtsp.max_header_count,
        max_header_bytes=module.rtsp.max_header_bytes,
        max_body_bytes=module.rtsp.max_body_bytes,
    )
    return ClientOptions(
        read_timeout_s=module.read_timeout_s,
        limits=limits,
        max_redirects=module.rtsp.follow_redirects,
        policy=AuthPolicy.BASIC_ALLOWED if basic else AuthPolicy.DIGEST,
    )


async def _timed(builder: ResultBuilder, phase: Phase, step: Awaitable[T]) -> T:
    builder.enter(phase)
    start = time.monotonic()
    value = await step
    builder.observe(f"{phase.value}_s", round(time.monotonic() - start, 6))
    return value


def _observe_media(builder: ResultBuilder, sdp: SessionDescription) -> None:
    media = sdp.first_video() or (sdp.media[0] if sdp.media else None)
    builder.observe("codec", (media.codec if media else None) or "none")
    size = media.picture_size() if media else None
    if size is not None:
        builder.observe("width", size[0])
        builder.observe("height", size[1])


@register("rtsp")
async def probe_rtsp(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """OPTIONS then DESCRIBE one camera, with the process-wide lockout backoff."""
    return await probe_with_backoff(target, module, deadline=deadline, backoff=lockout.DEFAULT_BACKOFF)


async def probe_with_backoff(
    target: ProbeTarget, module: ProbeModule, *, deadline: Deadline, backoff: AuthBackoff
) -> ProbeResult:
    """OPTIONS then DESCRIBE, unless the camera is backed off after repeated authentication failures."""
    locked = backoff.locked_out_result(target, module.name)
    if locked is not None:
        return locked
    result = await _describe(target, module, deadline)
    backoff.record(target, result)
    return result


async def _describe(target: ProbeTarget, module: ProbeModule, deadline: Deadline) -> ProbeResult:
    builder = ResultBuilder(target, module.name)
    if not target.rtsp_url:
        return builder.finish(Reason.INTERNAL, "camera has no RTSP URL configured")
    try:
        client = RtspClient(
            target.rtsp_url,
            deadline=deadline,
            username=target.username,
            password=target.password,
            options=client_options(module, target),
            registered_host=target.host,
        )
        async with client:
            await _timed(builder, Phase.RESOLVE, client.resolve())
            await _timed(builder, Phase.CONNECT, client.connect())
            await _timed(builder, Phase.OPTIONS, client.options_request())
            sdp = await _timed(builder, Phase.DESCRIBE, client.describe())
    except RtspError as exc:
        return builder.finish(reason_for(exc), f"{builder.phase.value}: {exc}")
    _observe_media(builder, sdp)
    return builder.finish(Reason.OK)
