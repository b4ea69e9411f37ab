"""The simulator's fault catalogue and its parsing: ``NAME[:PARAM[:PARAM]]`` from a config file, a tag, or the API.

Network: offline, blackhole, slow[:seconds], drip[:bytes_per_second], reset[:seconds_of_media].
Protocol: auth_fail, not_found, no_media, malformed[:status|sdp]. Login: lockout[:attempts[:seconds]].
Clock: clock_skew[:seconds]. Picture (DESIGN.md §5): any FaultCode, optionally ``:strength`` in (0, 1].
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sharpeyes.probers.base import FaultCode


class SimFault(enum.StrEnum):
    """Faults that are not about the picture."""

    OFFLINE = "offline"
    BLACKHOLE = "blackhole"
    SLOW = "slow"
    DRIP = "drip"
    RESET = "reset"
    AUTH_FAIL = "auth_fail"
    NOT_FOUND = "not_found"
    NO_MEDIA = "no_media"
    MALFORMED = "malformed"
    LOCKOUT = "lockout"
    CLOCK_SKEW = "clock_skew"


NETWORK = frozenset({SimFault.OFFLINE, SimFault.BLACKHOLE, SimFault.SLOW, SimFault.DRIP, SimFault.RESET})
PROTOCOL = frozenset({SimFault.AUTH_FAIL, SimFault.NOT_FOUND, SimFault.NO_MEDIA, SimFault.MALFORMED})
CATALOGUE: tuple[str, ...] = tuple(f.value for f in SimFault) + tuple(f.value for f in FaultCode)


@dataclass(frozen=True, slots=True)
class Fault:
    """One active fault: a :class:`SimFault` or a picture :class:`FaultCode`, with its parameters."""

    kind: SimFault | FaultCode
    params: tuple[str, ...] = ()

    def __str__(self) -> str:
        return ":".join((self.kind.value, *self.params))

    @property
    def picture(self) -> FaultCode | None:
        return self.kind if isinstance(self.kind, FaultCode) else None

    def number(self, index: int, default: float) -> float:
        """Parameter ``index`` as a number, or ``default``."""
        return float(self.params[index]) if len(self.params) > index else default

    def word(self, index: int, default: str) -> str:
        return self.params[index] if len(self.params) > index else default


_NUMERIC = {
    SimFault.SLOW: 1,
    SimFault.DRIP: 1,
    SimFault.RESET: 1,
    SimFault.LOCKOUT: 2,
    SimFault.CLOCK_SKEW: 1,
}


def parse_fault(text: str | None) -> Fault | None:
    """``"slow:2.5"`` → Fault(SLOW, ("2.5",)); ``None``, ``""``, ``"none"``, ``"healthy"`` → None."""
    if text is None or text.strip().lower() in ("", "none", "healthy", "ok"):
        return None
    name, *params = (p.strip() for p in text.strip().split(":"))
    kind: SimFault | FaultCode
    try:
        kind = SimFault(name.lower())
    except ValueError:
        try:
            kind = FaultCode(name.lower())
        except ValueError:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(CATALOGUE)}") from None
    fault = Fault(kind, tuple(params))
    _validate(fault)
    return fault


def _validate(fault: Fault) -> None:
    limit = 1 if isinstance(fault.kind, FaultCode) else _NUMERIC.get(fault.kind, 0)
    if fault.kind is SimFault.MALFORMED:
        if fault.word(0, "status") not in ("status", "sdp") or len(fault.params) > 1:
            raise ValueError("malformed takes one parameter: status or sdp")
        return
    if len(fault.params) > limit:
        raise ValueError(f"fault {fault.kind.value} takes at most {limit} parameter(s)")
    try:
        values = [float(p) for p in fault.params]
    except ValueError:
        raise ValueError(f"fault {fault}: parameters must be numbers") from None
    if isinstance(fault.kind, FaultCode) and values and not 0 < values[0] <= 1:
        raise ValueError(f"fault {fault}: strength must be in (0, 1]")
    if fault.kind is not SimFault.CLOCK_SKEW and any(v < 0 for v in values):
        raise ValueError(f"fault {fault}: parameters must not be negative")


def fault_from_tags(tags: tuple[str, ...]) -> Fault | None:
    """The fault named by a registry tag ``sim.fault=NAME[:PARAM]``, if any."""
    for tag in tags:
        key, sep, value = tag.partition("=")
        if sep and key.strip() == "sim.fault":
            return parse_fault(value)
    return None
