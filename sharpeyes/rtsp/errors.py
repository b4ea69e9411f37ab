"""Errors raised by the RTSP client. The prober maps each class to one
:class:`~sharpeyes.probers.base.Reason`.

Messages never hold credentials: URLs here carry no userinfo and secrets are never formatted into text.
"""

from __future__ import annotations


class RtspError(Exception):
    """Base class of every error the RTSP client raises for a camera's fault."""


class ProtocolError(RtspError):
    """The peer broke the protocol: malformed message, wrong CSeq, hostile redirect or SDP."""


class TooLargeError(ProtocolError):
    """A body or media unit exceeded its configured bound."""


class ConnectError(RtspError):
    """The TCP (or TLS) connection could not be made."""


class RefusedError(ConnectError):
    """The peer actively refused the connection (RST on SYN), or reset it."""


class UnreachableError(ConnectError):
    """No route to the host or network."""


class DnsError(ConnectError):
    """The host name did not resolve."""


class TlsError(ConnectError):
    """The TLS handshake failed (``rtsps``)."""


class RtspTimeoutError(RtspError):
    """A read, the connect or the total deadline expired."""


class AuthError(RtspError):
    """Authentication failed, credentials are missing, or the only offered scheme is not allowed."""


class StatusError(RtspError):
    """The server answered with a non-success status that is not authentication or a redirect."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"status {status} {reason[:60]}")
        self.status = status
