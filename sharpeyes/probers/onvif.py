"""The ``onvif`` prober: clock, device information, profiles, stream and snapshot URIs over ONVIF.

Sequence (each step is a :class:`Phase`): GetSystemDateAndTime (unauthenticated first, as ONVIF allows, then
with a UsernameToken if the camera insists) → clock skew; GetDeviceInformation → manufacturer, model,
firmware; GetCapabilities (GetServices as fallback) → the media service address, re-pinned to the
registered origin; GetProfiles → profile count and the main profile's resolution; GetStreamUri and
GetSnapshotUri for the main profile → checked against the scheme allowlist and the registered host, never
exposed.

A NotAuthorized answer while the camera's clock is off by more than ``onvif.clock_skew_warn_s`` is reported as
``clock_skew``: the camera is rejecting our WS-Security timestamp, not our password.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from zeep.exceptions import Fault

from sharpeyes.onvif.classify import classify, fault_reason
from sharpeyes.onvif.client import OnvifClient
from sharpeyes.onvif.clock import ClockError, camera_utc, skew_seconds
from sharpeyes.onvif.pinning import Origin, clean_device_url, media_uri_problem
from sharpeyes.probers.base import Deadline, Phase, ProbeResult, ProbeTarget, Reason, ResultBuilder, register
from sharpeyes.redact import Secret, redact_text
from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)

MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
SNAPSHOT_SCHEMES = frozenset({"http", "https"})
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ProbeFailureError(Exception):
    """A camera answer that is well-formed but unacceptable (no profiles, a URI to another host…)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


def default_device_url(target: ProbeTarget) -> str:
    """The registered device-service URL, or the ONVIF default path on the camera's host."""
    if target.onvif_url:
        return clean_device_url(target.onvif_url)
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"http://{host}/onvif/device_service"


def target_from_url(
    url: str, *, username: str | None = None, password: Secret | None = None, camera_id: str | None = None
) -> ProbeTarget:
    """The target for ``sharpeyes probe http://host:port/onvif/device_service --module onvif_inventory``.

    Credentials in the URL's userinfo are used only when none are given, and are stripped from ``onvif_url``.
    The camera id defaults to ``host:port``. Raises ValueError if the URL is not an http(s) URL.
    """
    origin = Origin.of(url)
    parts = urlsplit(url)
    if username is None and parts.username:
        username = unquote(parts.username)
    if password is None and parts.password:
        password = Secret(unquote(parts.password))
    return ProbeTarget(
        camera_id=camera_id or f"{origin.host}:{origin.port}",
        host=origin.host,
        onvif_url=clean_device_url(url),
        username=username,
        password=password,
    )


class Inventory:
    """One run of the ONVIF inventory sequence against one camera."""

    def __init__(self, client: OnvifClient, builder: ResultBuilder, module: ProbeModule) -> None:
        self.client = client
        self.b = builder
        self.module = module
        self.skew_s: float | None = None

    def text(self, value: Any) -> str:
        """A camera-supplied string made safe for observations: bounded, no control characters, redacted."""
        cleaned = _CONTROL.sub(" ", "" if value is None else str(value)).strip()[:64]
        return redact_text(cleaned, self.b.target.secrets())

    async def run(self) -> None:
        await self.client.preload()  # WSDLs (cached after the first probe) before any phase is timed
        device = await self.client.service("devicemgmt")
        await self.clock(device)
        await self.device_info(device)
        media = await self.media_service(device)
        token = await self.profiles(media)
        await self.stream_uri(media, token)
        await self.snapshot_uri(media, token)

    async def clock(self, device: Any) -> None:
        """Clock skew from GetSystemDateAndTime; from the HTTP ``Date`` header if the camera refuses it."""
        self.b.enter(Phase.CLOCK)
        try:
            answer, sent, received = await self.ask_clock(device)
        except Exception:
            self.set_skew(self.client.http_skew_s)
            raise
        try:
            self.set_skew(skew_seconds(camera_utc(answer), sent, received))
        except ClockError as exc:
            log.debug("camera %s: no clock skew: %s", self.b.target.camera_id, exc)

    async def ask_clock(self, device: Any) -> tuple[Any, float, float]:
        """GetSystemDateAndTime without credentials (ONVIF allows it), then with them if refused."""
        sent = time.time()
        try:
            anonymous = await self.client.service("devicemgmt", auth=False)
            answer = await self.client.call(anonymous.GetSystemDateAndTime)
        except Exception as exc:
            found = classify(exc)
            if found is None or found[0] is not Reason.AUTH or not self.b.target.password:
                raise
            log.debug("camera %s: GetSystemDateAndTime needs auth", self.b.target.camera_id)
            sent = time.time()
            answer = await self.client.call(device.GetSystemDateAndTime)
        return answer, sent, time.time()

    def set_skew(self, skew_s: float | None) -> None:
        if skew_s is not None:
            self.skew_s = skew_s
            self.b.observe("clock_skew_s", round(skew_s, 3))

    async def device_info(self, device: Any) -> None:
        self.b.enter(Phase.DEVICE_INFO)
        info = await self.client.call(device.GetDeviceInformation)
        self.b.observe("manufacturer", self.text(getattr(info, "Manufacturer", None)))
        self.b.observe("model", self.text(getattr(info, "Model", None)))
        self.b.observe("firmware", self.text(getattr(info, "FirmwareVersion", None)))

    async def media_service(self, device: Any) -> Any:
        self.b.enter(Phase.CAPABILITIES)
        xaddr = await self.media_xaddr(device)
        if not xaddr:
            raise ProbeFailureError(Reason.NOT_FOUND, "camera advertises no media service")
        return await self.client.service("media", str(xaddr))

    async def media_xaddr(self, device: Any) -> Any:
        try:
            capabilities = await self.client.call(device.GetCapabilities, Category="Media")
        except Exception as exc:
            found = classify(exc)
            if found is None or found[0] is not Reason.NOT_FOUND:
                raise
            services = await self.client.call(device.GetServices, IncludeCapability=False)
            return next((s.XAddr for s in services or [] if getattr(s, "Namespace", None) == MEDIA_NS), None)
        return getattr(getattr(capabilities, "Media", None), "XAddr", None)

    async def profiles(self, media: Any) -> str:
        self.b.enter(Phase.PROFILES)
        profiles = list(await self.client.call(media.GetProfiles) or [])
        self.b.observe("profiles", len(profiles))
        if not profiles or not getattr(profiles[0], "token", None):
            raise ProbeFailureError(Reason.NOT_FOUND, "camera has no media profile")
        main = profiles[0]
        resolution = getattr(getattr(main, "VideoEncoderConfiguration", None), "Resolution", None)
        if resolution is not None and resolution.Width and resolution.Height:
            self.b.observe("width", int(resolution.Width))
            self.b.observe("height", int(resolution.Height))
        return str(main.token)

    async def stream_uri(self, media: Any, token: str) -> None:
        self.b.enter(Phase.STREAM_URI)
        answer = await self.client.call(media.GetStreamUri, StreamSetup=STREAM_SETUP, ProfileToken=token)
        self.check_uri("GetStreamUri", getattr(answer, "Uri", None), STREAM_SCHEMES)
        self.b.observe("stream_uri_resolved", 1)

    async def snapshot_uri(self, media: Any, token: str) -> None:
        self.b.enter(Phase.SNAPSHOT_URI)
        try:
            answer = await self.client.call(media.GetSnapshotUri, ProfileToken=token)
        except Fault as fault:
            if fault_reason(fault)[0] is Reason.AUTH:
                raise
            self.b.observe("snapshot_uri_resolved", 0)  # a camera without snapshots is still a camera
            return
        self.check_uri("GetSnapshotUri", getattr(answer, "Uri", None), SNAPSHOT_SCHEMES)
        self.b.observe("snapshot_uri_resolved", 1)

    def check_uri(self, operation: str, uri: Any, schemes: frozenset[str]) -> None:
        problem = media_uri_problem(uri, self.b.target.host, schemes)
        if problem is not None:
            raise ProbeFailureError(Reason.PROTOCOL, f"{operation}: {problem}")


def refine_auth(reason: Reason, detail: str, skew_s: float | None, module: ProbeModule) -> tuple[Reason, str]:
    """NotAuthorized while the camera's clock is far off is ``clock_skew``, not ``auth``."""
    if reason is Reason.AUTH and skew_s is not None and abs(skew_s) > module.onvif.clock_skew_warn_s:
        return Reason.CLOCK_SKEW, f"{detail}; camera clock off by {skew_s:+.0f} s"
    return reason, detail


@register("onvif")
async def probe_onvif(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
    """ONVIF inventory of one camera: a result for every camera fault; raises only for bugs of ours."""
    builder = ResultBuilder(target, module.name)
    try:
        url = default_device_url(target)
    except ValueError:
        return builder.finish(Reason.INTERNAL, "registered ONVIF URL is not an http(s) URL")
    client = OnvifClient(
        url,
        username=target.username,
        password=target.password,
        deadline=deadline,
        read_timeout_s=module.read_timeout_s,
        max_response_bytes=module.onvif.max_response_bytes,
        wsdl_dir=Path(module.onvif.wsdl_dir) if module.onvif.wsdl_dir else None,
        camera_id=target.camera_id,
    )
    inventory = Inventory(client, builder, module)
    try:
        async with client:
            await inventory.run()
    except ProbeFailureError as failure:
        return builder.finish(failure.reason, failure.detail)
    except Exception as exc:
        found = classify(exc)
        if found is None:
            raise
        reason, detail = refine_auth(*found, inventory.skew_s, module)
        log.debug("camera %s: onvif %s in %s: %s", target.camera_id, reason, builder.phase, detail)
        return builder.finish(reason, detail)
    return builder.finish(Reason.OK)
