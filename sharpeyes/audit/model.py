"""The audit report: one plain, frozen model that every renderer reads (no I/O, no formatting here)."""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA = "sharpeyes.audit/1"
"""The JSON/CSV schema id; bump the number on any incompatible change (docs/audit.md)."""

RATE_NAMES: tuple[str, ...] = ("coverage", "connection", "online_now", "online_time", "good_order", "image_quality")


@dataclass(frozen=True, slots=True)
class Window:
    """The audited period ``[start, end)`` in UTC epoch seconds; the "now" figures are as of ``end``."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Rate:
    """One rate of one group against its target (``None`` target: no target set for it)."""

    name: str
    numerator: float
    denominator: float
    target: float | None = None

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def met(self) -> bool | None:
        """``None`` when there is no target or nothing to count."""
        if self.target is None or self.value is None:
            return None
        return self.value >= self.target - 1e-12


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One district (at any level, with its children) in one scope, or city-wide (district ``all``)."""

    scope: str
    district: str
    district_name: str
    level: str
    depth: int
    areas: int
    areas_covered: int
    cameras: int
    in_service: int
    connected: int
    online: int
    healthy: int
    frame_checked: int
    frame_unchecked: int
    seconds_up: float
    seconds_known: float
    seconds_in_service: float
    rates: tuple[Rate, ...]

    def rate(self, name: str) -> Rate:
        return next(r for r in self.rates if r.name == name)


@dataclass(frozen=True, slots=True)
class CameraNeed:
    """A camera of an uncovered area that does not count toward its coverage, and why."""

    camera_id: str
    name: str
    why: str
    """``out_of_service`` | ``never_probed`` | ``offline`` | ``fault:<code>``."""


@dataclass(frozen=True, slots=True)
class UncoveredArea:
    """An area with fewer healthy cameras than it requires."""

    area_id: str
    name: str
    district: str
    scope: str
    required: int
    registered: int
    healthy: int
    more_needed: int
    """Healthy cameras still missing (``required - healthy``)."""
    to_register: int
    """Of those, how many do not even exist in the registry (``max(0, required - registered in service)``)."""
    cameras: tuple[CameraNeed, ...]


@dataclass(frozen=True, slots=True)
class CameraLine:
    """One camera in a list: where it is and what is known of it."""

    camera_id: str
    name: str
    area_id: str
    district: str
    scope: str
    state: str
    """State at the end of the window: ``up``, ``fault``, ``down`` or ``unknown``."""
    since: float | None
    seconds_down: float = 0.0
    seconds_known: float = 0.0
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class FaultCount:
    """Cameras showing one fault code at the end of the window."""

    code: str
    cameras: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegistryGap:
    """An area with fewer registered in-service cameras than required, or a camera with no (known) area."""

    kind: str
    """``area_short`` or ``camera_without_area``."""
    id: str
    name: str
    required: int = 0
    registered: int = 0


@dataclass(frozen=True, slots=True)
class DayPoint:
    """Time-weighted online over one UTC day of the window, for one scope of the report's root district."""

    scope: str
    day: str
    seconds_up: float
    seconds_known: float

    @property
    def value(self) -> float | None:
        return self.seconds_up / self.seconds_known if self.seconds_known else None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the renderers show."""

    window: Window
    generated_at: float
    root: str
    root_name: str
    scopes: tuple[str, ...]
    groups: tuple[GroupRow, ...]
    uncovered: tuple[UncoveredArea, ...]
    never_reached: tuple[CameraLine, ...]
    offline_longest: tuple[CameraLine, ...]
    faults: tuple[FaultCount, ...]
    fault_cameras: tuple[CameraLine, ...]
    registry_gaps: tuple[RegistryGap, ...]
    availability: tuple[DayPoint, ...]
    thresholds: tuple[tuple[str, float], ...] = field(default=())
    """``--fail-under`` RATE=fraction pairs; when given they replace the targets for the verdict."""

    def failures(self) -> list[tuple[GroupRow, Rate, float]]:
        """Every (group, rate, threshold) below its threshold: the ``--fail-under`` ones, else the targets."""
        out: list[tuple[GroupRow, Rate, float]] = []
        wanted = dict(self.thresholds)
        for g in self.groups:
            for r in g.rates:
                limit = wanted.get(r.name) if wanted else r.target
                if limit is None or r.value is None:
                    continue
                if r.value < limit - 1e-12:
                    out.append((g, r, limit))
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()
