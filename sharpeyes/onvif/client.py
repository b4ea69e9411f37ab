"""One probe's ONVIF session: a pinned, bounded transport and the device/media service proxies on it."""

from __future__ import annotations

import asyncio
import logging
import ssl
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import onvif.client

from sharpeyes.onvif.pinning import Origin, describe_origin
from sharpeyes.onvif.settings import hardened_settings
from sharpeyes.onvif.shape import AnswerShapePlugin
from sharpeyes.onvif.transport import BoundedTransport
from sharpeyes.onvif.wsdl import binding_name, load_document, preload
from sharpeyes.probers.base import Deadline
from sharpeyes.redact import Secret

log = logging.getLogger(__name__)

PARSER_THREAD_PREFIX = "sharpeyes-soap-parse"
PARSER: Executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=PARSER_THREAD_PREFIX)
"""Where SOAP answers are parsed and bound: bounded, shared by all probes, never the event loop."""


def parse_reply(operation: Any, raw: Any) -> Any:
    """zeep's reply processing (XML parse with our settings, shape check, fault, binding) of a raw answer."""
    proxy = operation._proxy
    binding = proxy._binding
    return binding.process_reply(proxy._client, binding.get(operation._op_name), raw)


def _camera_tls_context() -> ssl.SSLContext:
    """Cameras serve self-signed certificates; the origin pin, not the certificate, guards credentials."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class OnvifClient:
    """An ONVIF client for one probe of one camera. Use as ``async with``: the session is always closed.

    ``device_url`` is the registered device-service URL; every request goes to its origin. Calls run under
    :meth:`call`, which bounds them by the deadline.
    """

    def __init__(
        self,
        device_url: str,
        *,
        username: str | None,
        password: Secret | None,
        deadline: Deadline,
        read_timeout_s: float,
        max_response_bytes: int,
        wsdl_dir: Path | None = None,
        camera_id: str = "",
    ) -> None:
        self.origin = Origin.of(device_url)
        self.device_url = self.origin.repin(device_url)
        self.camera_id = camera_id
        self.deadline = deadline
        self._username = username
        self._password = password
        self._read_timeout_s = read_timeout_s
        self._max_bytes = max_response_bytes
        self._wsdl_dir = wsdl_dir
        self._session: aiohttp.ClientSession | None = None
        self._transport: BoundedTransport | None = None
        self._settings = hardened_settings()
        self._settings.raw_response = True  # zeep returns the HTTP answer; :meth:`call` parses it off-loop

    async def __aenter__(self) -> OnvifClient:
        connector = aiohttp.TCPConnector(
            limit=2, force_close=False, ssl=_camera_tls_context() if self.origin.scheme == "https" else False
        )
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
        )
        self._transport = BoundedTransport(
            self._session,
            self.origin,
            deadline=self.deadline,
            read_timeout_s=self._read_timeout_s,
            max_bytes=self._max_bytes,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def requests_sent(self) -> int:
        return self._transport.requests if self._transport else 0

    @property
    def http_skew_s(self) -> float | None:
        """Camera clock minus ours from the last HTTP ``Date`` header, if the camera sent one."""
        return self._transport.http_skew_s if self._transport else None

    def repin(self, service: str, advertised: str) -> str:
        """Where a service really lives for us: its advertised path on the registered origin (logged)."""
        pinned = self.origin.repin(advertised)
        if not self.origin.owns(advertised):
            log.info(
                "camera %s: %s service address re-pinned from %s to %s",
                self.camera_id,
                service,
                describe_origin(advertised),
                describe_origin(pinned),
            )
        return pinned

    async def preload(self) -> None:
        """Parse the device and media WSDLs (off the loop) if this process has not yet."""
        await preload(("devicemgmt", "media"), self._wsdl_dir)

    async def service(self, name: str, address: str | None = None, *, auth: bool = True) -> Any:
        """A zeep service proxy for ONVIF service ``name`` at ``address`` (default: the device URL)."""
        if self._transport is None:
            raise RuntimeError("OnvifClient used outside 'async with'")
        document = await load_document(name, self._wsdl_dir)
        wsse = None
        if auth and self._username and self._password:
            wsse = onvif.client.UsernameDigestTokenDtDiff(self._username, self._password.reveal(), use_digest=True)
        client = onvif.client.ZeepAsyncClient(
            wsdl=document,
            wsse=wsse,
            transport=self._transport,
            settings=self._settings,
            plugins=[AnswerShapePlugin()],
        )
        target = address if address is not None else self.device_url
        if not self.origin.owns(target):
            target = self.repin(name, target)
        return client.create_service(binding_name(name), target)

    async def call(self, operation: Any, /, **params: Any) -> Any:
        """Run one SOAP operation, bounded by the total deadline (TimeoutError when it passes).

        The exchange runs on the event loop; parsing and binding the answer (zeep's ``process_reply``, up to a
        second of CPU for a 1 MiB answer) runs in the small :data:`PARSER` pool so the loop keeps serving.
        """
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("probe deadline reached")
        async with asyncio.timeout(remaining):
            raw = await operation(**params)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(PARSER, parse_reply, operation, raw)
