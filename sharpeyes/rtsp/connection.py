"""The byte transport under the RTSP client: resolve, connect, read and write, each under a deadline.

Every wait is bounded by a per-read timeout clipped to the total :class:`~sharpeyes.probers.base.Deadline`.
OS errors become the client's error classes (refused, unreachable, DNS, TLS, timeout); errors that are ours,
such as running out of file descriptors, are not translated and surface as internal errors.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from dataclasses import dataclass

from sharpeyes.probers.base import Deadline
from sharpeyes.rtsp.errors import (
    DnsError,
    ProtocolError,
    RefusedError,
    RtspTimeoutError,
    TlsError,
    UnreachableError,
)

READ_CHUNK = 64 * 1024
CLOSE_GRACE_S = 0.1
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect: host (name or literal), port, and whether to use TLS (``rtsps``)."""

    host: str
    port: int
    tls: bool = False


class Connection:
    """One TCP (or TLS) connection to a camera, read and written under deadlines."""

    def __init__(self, deadline: Deadline, read_timeout_s: float) -> None:
        self._deadline = deadline
        self._read_timeout_s = read_timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def _timeout(self, what: str) -> float:
        timeout = self._deadline.clip(self._read_timeout_s)
        if timeout <= 0:
            raise RtspTimeoutError(f"total deadline reached before {what}")
        return timeout

    async def resolve(self, endpoint: Endpoint) -> list[tuple[str, int]]:
        """Addresses for the endpoint, by the event loop's resolver (never blocking the loop).

        An IP literal needs no resolver (and no hop through the resolver's thread pool)."""
        try:
            return [(str(ipaddress.ip_address(endpoint.host)), endpoint.port)]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout("resolving")):
                infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise RtspTimeoutError("name resolution timed out") from exc
        except socket.gaierror as exc:
            raise DnsError(f"cannot resolve host ({exc.strerror})") from exc
        addresses = [(str(info[4][0]), int(info[4][1])) for info in infos]
        if not addresses:
            raise DnsError("host resolved to no address")
        return addresses

    async def connect(self, endpoint: Endpoint, addresses: list[tuple[str, int]]) -> None:
        """Connect to the first address that accepts; the last failure is raised."""
        error: Exception = UnreachableError("no address to connect to")
        for address, port in addresses[:4]:
            try:
                await self._connect_one(endpoint, address, port)
                return
            except (RefusedError, UnreachableError) as exc:
                error = exc
        raise error

    async def _connect_one(self, endpoint: Endpoint, address: str, port: int) -> None:
        context = ssl.create_default_context() if endpoint.tls else None
        try:
            async with asyncio.timeout(self._timeout("connecting")):
                self._reader, self._writer = await asyncio.open_connection(
                    address, port, ssl=context, server_hostname=endpoint.host if context else None
                )
        except TimeoutError as exc:
            raise RtspTimeoutError("connect timed out") from exc
        except ConnectionRefusedError as exc:
            raise RefusedError("connection refused") from exc
        except ssl.SSLError as exc:
            raise TlsError(f"TLS handshake failed ({exc.reason})") from exc
        except OSError as exc:
            if exc.errno in _UNREACHABLE:
                raise UnreachableError(f"unreachable ({errno.errorcode.get(exc.errno or 0, '?')})") from exc
            raise

    async def write(self, data: bytes) -> None:
        writer = self._require_writer()
        try:
            writer.write(data)
            async with asyncio.timeout(self._timeout("writing")):
                await writer.drain()
        except TimeoutError as exc:
            raise RtspTimeoutError("write timed out") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ProtocolError("connection reset by the camera") from exc

    def write_nowait(self, data: bytes) -> None:
        """Queue bytes without waiting (best-effort messages such as TEARDOWN at the very end)."""
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    async def read(self) -> bytes:
        """The next chunk of bytes; a closed or reset connection is a :class:`ProtocolError`."""
        if self._reader is None:
            raise ProtocolError("not connected")
        try:
            async with asyncio.timeout(self._timeout("reading")):
                data = await self._reader.read(READ_CHUNK)
        except TimeoutError as exc:
            what = "total deadline reached" if self._deadline.expired() else "read timed out"
            raise RtspTimeoutError(f"{what} waiting for the camera") from exc
        except ConnectionResetError as exc:
            raise ProtocolError("connection reset by the camera") from exc
        except ssl.SSLError as exc:
            raise TlsError(f"TLS error ({exc.reason})") from exc
        if not data:
            raise ProtocolError("connection closed by the camera")
        return data

    def _require_writer(self) -> asyncio.StreamWriter:
        if self._writer is None:
            raise ProtocolError("not connected")
        return self._writer

    async def close(self) -> None:
        """Close gracefully within a short grace, else abort. Safe to call twice; never raises OSError."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is None:
            return
        writer.close()
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                await writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            writer.transport.abort()

    def abort(self) -> None:
        """Drop the connection at once (used when a probe is cancelled)."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.transport.abort()
