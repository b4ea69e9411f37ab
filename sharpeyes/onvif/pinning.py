"""The registered origin of a camera's ONVIF endpoint, and re-pinning of the addresses a camera advertises.

A camera tells us where its services live (XAddrs from GetCapabilities/GetServices). Those addresses are
attacker-controlled: a hostile or misconfigured camera could point them at another host, which would then
receive our WS-Security UsernameToken. We keep only the path and query of an advertised address and always
send to the origin we were registered with.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,15}$")


def normalize_host(host: str) -> str:
    """Lower-case, strip IPv6 brackets and a trailing dot; canonical form for IP literals."""
    host = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port of the registered ONVIF device service (no userinfo, ever)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of ``url``; raises ValueError if it is not an absolute http(s) URL."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("ONVIF URL must be an absolute http:// or https:// URL")
        port = parts.port or _DEFAULT_PORTS[scheme]
        return cls(scheme, normalize_host(parts.hostname), port)

    def owns(self, url: str) -> bool:
        """True if ``url`` points exactly at this origin (and carries no userinfo)."""
        try:
            parts = urlsplit(url)
            other = Origin.of(url)
        except ValueError:
            return False
        return other == self and "@" not in parts.netloc

    def url(self, path_and_query: str = "/onvif/device_service") -> str:
        parts = urlsplit(path_and_query)
        return urlunsplit((self.scheme, _netloc(self.host, self.port), parts.path or "/", parts.query, ""))

    def repin(self, url: str) -> str:
        """``url``'s path and query on this origin (its scheme, host, port and userinfo are dropped)."""
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            parts = urlsplit("/")
        return urlunsplit((self.scheme, _netloc(self.host, self.port), parts.path or "/", parts.query, ""))


def clean_device_url(url: str) -> str:
    """The device-service URL without userinfo or fragment (credentials travel separately)."""
    origin = Origin.of(url)
    return origin.repin(url)


def describe_origin(url: str) -> str:
    """``scheme://host:port`` of a URL for a log line or detail: no userinfo, path or query."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    scheme = scheme if _SCHEME.match(scheme) else "?"
    host = re.sub(r"[^a-z0-9.:_-]", "?", host)[:64]
    return f"{scheme}://{_netloc(host, port) if port else host}"


def media_uri_problem(uri: object, registered_host: str, schemes: frozenset[str]) -> str | None:
    """Why a stream or snapshot URI from the camera is unacceptable, or None if it is fine.

    Allowed: a scheme in ``schemes`` and the registered host (any port). The text names only scheme, host and
    port, never userinfo, path or query.
    """
    if not isinstance(uri, str) or not uri.strip():
        return "empty URI"
    try:
        parts = urlsplit(uri.strip())
        host = parts.hostname
    except ValueError:
        return "unparseable URI"
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return f"URI scheme not allowed ({describe_origin(uri).split('://', 1)[0]})"
    if host is None or normalize_host(host) != normalize_host(registered_host):
        return f"URI on another host ({describe_origin(uri)})"
    return None
