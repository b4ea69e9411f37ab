"""The immutable inventory snapshot handed out by the registry: frozen dataclasses, never live ORM objects.

Every consumer (scheduler, simulator, exporter, audit) works on an :class:`Inventory`. The database is the
source of truth; an Inventory is a consistent read of it at one moment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sharpeyes.probers.base import AuthPolicy, ProbeTarget
from sharpeyes.redact import Secret


class DistrictLevel(enum.StrEnum):
    """Levels of the district tree (GB/T 2260 codes for city and district/county)."""

    CITY = "city"
    DISTRICT = "district"  # district / county / banner (区, 县, 旗)
    STREET = "street"  # street / township (街道, 镇, 苏木)
    COMMUNITY = "community"  # community / village (社区, 村, 嘎查)
    GRID = "grid"  # grid (网格)


class Scope(enum.StrEnum):
    """``public``: key public area (重点公共区域); ``sector``: important site of a key industry (重点行业)."""

    PUBLIC = "public"
    SECTOR = "sector"


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str
    level: DistrictLevel
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    name: str
    district: str
    scope: Scope
    kind: str
    required_cameras: int
    sector: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Camera:
    """One registered camera. URLs carry no credentials; the password is a reference (env var or file)."""

    id: str
    name: str
    area: str
    host: str
    rtsp_url: str | None = None
    onvif_url: str | None = None
    snapshot_url: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    auth: AuthPolicy = AuthPolicy.DIGEST
    point_class: str | None = None  # 一类 / 二类 / 三类
    in_service: bool = True
    expected_width: int | None = None
    expected_height: int | None = None
    tags: tuple[str, ...] = ()

    def target(self, password: Secret | None) -> ProbeTarget:
        """The prober's view of this camera, with its resolved password."""
        return ProbeTarget(
            camera_id=self.id,
            host=self.host,
            rtsp_url=self.rtsp_url,
            onvif_url=self.onvif_url,
            snapshot_url=self.snapshot_url,
            username=self.username,
            password=password,
            auth=self.auth,
        )


@dataclass(frozen=True, slots=True)
class Inventory:
    """A consistent snapshot of the registry."""

    districts: tuple[District, ...] = ()
    areas: tuple[Area, ...] = ()
    cameras: tuple[Camera, ...] = ()

    def district_by_code(self) -> Mapping[str, District]:
        return MappingProxyType({d.code: d for d in self.districts})

    def area_by_id(self) -> Mapping[str, Area]:
        return MappingProxyType({a.id: a for a in self.areas})

    def camera_by_id(self) -> Mapping[str, Camera]:
        return MappingProxyType({c.id: c for c in self.cameras})

    def ancestors(self, code: str) -> Iterator[District]:
        """The district itself, then its parent, up to the root."""
        by_code = self.district_by_code()
        seen: set[str] = set()
        current = by_code.get(code)
        while current is not None and current.code not in seen:
            seen.add(current.code)
            yield current
            current = by_code.get(current.parent) if current.parent else None
