"""The SOAP transport: aiohttp underneath zeep, with a body cap, a deadline, and an origin pin.

It replaces onvif-zeep-async's request path (which reads whole bodies, follows redirects, logs envelopes and
has 90-second timeouts) with one that:

- sends only to the registered origin (:class:`~sharpeyes.onvif.pinning.Origin`); anything else raises
  :class:`ForeignAddressError` before a byte leaves;
- never follows redirects (a 307 would re-send the UsernameToken to wherever the camera says);
- asks for and accepts only uncompressed bodies, so the cap counts the bytes we will parse;
- streams the body and stops at ``max_bytes`` (declared ``Content-Length`` checked first);
- bounds each request by the probe's total deadline and each read by the module's read timeout;
- never logs envelopes or bodies.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from onvif.zeep_aiohttp import AIOHTTPTransport

from sharpeyes.onvif.errors import (
    ForeignAddressError,
    HttpStatusError,
    ResponseRefusedError,
    ResponseTooLargeError,
)
from sharpeyes.onvif.pinning import Origin
from sharpeyes.probers.base import Deadline

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_DECIDED_BY_STATUS = frozenset({401, 403, 404, 405, 407})


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """Read a body while it streams, raising as soon as it passes ``max_bytes``."""
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise ResponseTooLargeError(max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLargeError(max_bytes)
    return bytes(body)


def http_date(value: str | None) -> dt.datetime | None:
    """An HTTP ``Date`` header as aware UTC, or None if absent or unparseable."""
    if not value or len(value) > 64:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def check_headers(response: aiohttp.ClientResponse) -> None:
    """Refuse responses whose status or encoding decides the outcome before any parsing."""
    status = response.status
    if 300 <= status < 400 or status in _DECIDED_BY_STATUS:
        raise HttpStatusError(status)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ResponseRefusedError("compressed body")
    media_type = response.headers.get("Content-Type", "text/xml").split(";", 1)[0].strip().lower()
    if media_type.startswith("multipart/"):
        raise ResponseRefusedError("multipart body")


class BoundedTransport(AIOHTTPTransport):  # type: ignore[misc]
    """zeep transport for one probe: pinned origin, capped bodies, deadline-bound requests."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        origin: Origin,
        *,
        deadline: Deadline,
        read_timeout_s: float,
        max_bytes: int,
    ) -> None:
        super().__init__(session=session, verify_ssl=False, cache=None)
        self.origin = origin
        self.deadline = deadline
        self.read_timeout_s = read_timeout_s
        self.max_bytes = max_bytes
        self.requests = 0
        self.http_skew_s: float | None = None

    def _timeout(self) -> aiohttp.ClientTimeout:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("probe deadline reached")
        per_read = self.deadline.clip(self.read_timeout_s)
        return aiohttp.ClientTimeout(total=remaining, sock_connect=per_read, sock_read=per_read)

    async def _post_internal(
        self, address: str, message: str | bytes, headers: dict[str, str]
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        if not self.origin.owns(address):
            raise ForeignAddressError()
        headers = dict(headers or {})
        headers.setdefault("Content-Type", 'text/xml; charset="utf-8"')
        headers["Accept-Encoding"] = "identity"
        headers["User-Agent"] = "sharpeyes"
        data = message.encode("utf-8") if isinstance(message, str) else message
        self.requests += 1
        async with self.session.post(
            address, data=data, headers=headers, allow_redirects=False, timeout=self._timeout()
        ) as response:
            self._note_date(response)
            check_headers(response)
            content = await read_capped(response, self.max_bytes)
        log.debug("SOAP response: status %d, %d bytes", response.status, len(content))
        return response, content

    def _note_date(self, response: aiohttp.ClientResponse) -> None:
        """Keep the camera's clock as its HTTP ``Date`` header tells it (1 s resolution), for when
        GetSystemDateAndTime itself is refused."""
        camera = http_date(response.headers.get("Date"))
        if camera is not None:
            self.http_skew_s = camera.timestamp() + 0.5 - time.time()

    async def get(self, address: str, params: Any = None, headers: Any = None) -> Any:
        """zeep only GETs to fetch remote WSDLs, which we never do."""
        raise ForeignAddressError()

    def load(self, url: str) -> bytes:
        raise ForeignAddressError()
