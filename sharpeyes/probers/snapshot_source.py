"""The frame prober's fallback source: one JPEG from the camera's snapshot URI (ONVIF GetSnapshotUri) over HTTP.

aiohttp with a total deadline, no redirects, a bounded body, and only to the registered host over ``http`` or
``https``. Authentication reuses the RTSP client's :class:`~sharpeyes.rtsp.auth.Authenticator` (the same RFC 2617
Digest; Basic only where the camera's or module's policy allows it), so a wrong password costs one failed login.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from sharpeyes.probers.base import AuthPolicy, Deadline, ProbeTarget, Reason
from sharpeyes.rtsp.auth import Authenticator
from sharpeyes.rtsp.errors import AuthError
from sharpeyes.settings import ProbeModule

MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024


class SnapshotError(Exception):
    """The snapshot could not be fetched; ``reason`` is the closed reason for the result."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _checked_url(target: ProbeTarget) -> str:
    url = target.snapshot_url or ""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        raise SnapshotError(Reason.PROTOCOL, "snapshot URI must be http(s) without credentials")
    if (parts.hostname or "").lower() != target.host.lower():
        raise SnapshotError(Reason.PROTOCOL, "snapshot URI points at another host than the camera's")
    return url


async def fetch_snapshot(target: ProbeTarget, module: ProbeModule, deadline: Deadline) -> bytes:
    """The snapshot's bytes; raises :class:`SnapshotError` with the reason on any failure of the camera."""
    url = _checked_url(target)
    basic = AuthPolicy.BASIC_ALLOWED in (module.auth, target.auth)
    auth = Authenticator(target.username, target.password, AuthPolicy.BASIC_ALLOWED if basic else AuthPolicy.DIGEST)
    path = urlsplit(url).path or "/"
    query = urlsplit(url).query
    uri = f"{path}?{query}" if query else path
    timeout = aiohttp.ClientTimeout(total=deadline.remaining(), sock_read=module.read_timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(2):
                headers = {"User-Agent": "sharpeyes"}
                authorization = auth.authorization("GET", uri)
                if authorization:
                    headers["Authorization"] = authorization
                async with session.get(url, headers=headers, allow_redirects=False) as response:
                    if response.status == 401 and attempt == 0:
                        auth.accept_challenge(response.headers.getall("WWW-Authenticate", []))
                        continue
                    return await _body(response)
    except AuthError as exc:
        raise SnapshotError(Reason.AUTH, str(exc)) from None
    except TimeoutError:
        raise SnapshotError(Reason.TIMEOUT, "snapshot: deadline reached") from None
    except aiohttp.ClientConnectorError as exc:
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        raise SnapshotError(Reason.REFUSED if refused else Reason.UNREACHABLE, "snapshot: cannot connect") from None
    except aiohttp.ClientError as exc:
        raise SnapshotError(Reason.PROTOCOL, f"snapshot: {type(exc).__name__}") from None
    raise SnapshotError(Reason.AUTH, "snapshot: credentials rejected by the camera")


async def _body(response: aiohttp.ClientResponse) -> bytes:
    if response.status in (401, 403):
        raise SnapshotError(Reason.AUTH, f"snapshot: status {response.status}")
    if response.status == 404:
        raise SnapshotError(Reason.NOT_FOUND, "snapshot: status 404")
    if response.status != 200:
        raise SnapshotError(Reason.PROTOCOL, f"snapshot: status {response.status}")
    if (response.content_length or 0) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(Reason.TOO_LARGE, "snapshot larger than the limit")
    data = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(Reason.TOO_LARGE, "snapshot larger than the limit")
    if not data:
        raise SnapshotError(Reason.NO_MEDIA, "snapshot: empty body")
    return bytes(data)
