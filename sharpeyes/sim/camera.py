"""The run-time state of one simulated camera, shared by its RTSP, ONVIF and snapshot servers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sharpeyes.sim.auth import AuthMode, Credentials, Lockout
from sharpeyes.sim.faults import Fault, SimFault

if TYPE_CHECKING:
    import asyncio

    from sharpeyes.sim.broadcast import Broadcaster


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one of a camera's services listens: loopback host, port, and path."""

    host: str
    port: int
    path: str

    @classmethod
    def from_url(cls, url: str, default_port: int) -> Endpoint:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        return cls(parts.hostname, parts.port or default_port, parts.path or "/")


@dataclass(slots=True)
class SimCamera:
    """One camera: who it is, where it listens, its credentials, and its current fault."""

    id: str
    credentials: Credentials
    rtsp: Endpoint | None = None
    onvif: Endpoint | None = None
    snapshot: Endpoint | None = None
    auth: AuthMode = AuthMode.DIGEST
    fault: Fault | None = None
    start_on_keyframe: bool = False
    scene: str = "rocket"
    size: tuple[int, int] | None = None  # the registry's expected frame size
    broadcaster: Broadcaster | None = None
    lockout: Lockout | None = None
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    sessions: set[asyncio.WriteTransport] = field(default_factory=set)
    streaming: set[asyncio.WriteTransport] = field(default_factory=set)
    """The connections of ``sessions`` that were answered PLAY (a viewer of the broadcaster)."""
    manufacturer: str = "Sharpeyes"
    model: str = "SIM-IPC-2"

    def has(self, kind: SimFault) -> bool:
        return self.fault is not None and self.fault.kind is kind

    def set_fault(self, fault: Fault | None) -> None:
        """Switch the fault; a lockout fault (re)arms the per-client login counter."""
        self.fault = fault
        if fault is not None and fault.kind is SimFault.LOCKOUT:
            self.lockout = Lockout(attempts=int(fault.number(0, 3)), seconds=fault.number(1, 60.0))
        else:
            self.lockout = None

    def drop_sessions(self) -> None:
        """Abort every open connection (the camera went off the network)."""
        for transport in list(self.sessions):
            transport.abort()
        self.sessions.clear()
        self.streaming.clear()

    def drop_streams(self) -> None:
        """Abort the connections that stream (the picture changed: viewers reconnect to the new one); a client in
        the middle of OPTIONS or DESCRIBE keeps its connection, as with a real camera whose picture changed."""
        for transport in list(self.streaming):
            transport.abort()
            self.sessions.discard(transport)
        self.streaming.clear()
