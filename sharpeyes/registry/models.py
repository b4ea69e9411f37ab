"""The database schema: registry (districts, areas, cameras) and the daemon's history tables.

Typed SQLAlchemy 2.0 models. Nothing outside :mod:`sharpeyes.registry` should hold these objects: queries
hand out the frozen dataclasses of :mod:`sharpeyes.registry.inventory`. The daemon writes the history tables
through :mod:`sharpeyes.registry.history` (Core statements on ``transitions`` and their per-day summary
``transition_days``, ``daily_rollups``, ``frame_signatures``).

Every change to this file needs an Alembic migration in ``migrations/versions/`` (a test compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LEN = 128


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC; values going in must be timezone-aware, values coming out are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DistrictRow(Base):
    """A node of the district tree (GB/T 2260 code for city and county level)."""

    __tablename__ = "districts"
    __table_args__ = (CheckConstraint("level IN ('city', 'district', 'street', 'community', 'grid')", name="level"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    code_key: Mapped[str] = mapped_column(String(32), unique=True)  # casefolded: catches case variants
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(ForeignKey("districts.code"), index=True)


class AreaRow(Base):
    """A key public area (scope ``public``) or an important site of a key industry (scope ``sector``)."""

    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint("required_cameras >= 1", name="required_cameras"),
        CheckConstraint("scope IN ('public', 'sector')", name="scope"),
        CheckConstraint("scope <> 'sector' OR sector IS NOT NULL", name="sector_required"),
    )

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    id_key: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    sector: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    required_cameras: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class CameraRow(Base):
    """A registered camera. URLs carry no credentials; the password is a reference (env var or file)."""

    __tablename__ = "cameras"
    __table_args__ = (CheckConstraint("auth IN ('digest', 'basic_allowed')", name="auth"),)

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    id_key: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    area_id: Mapped[str] = mapped_column(ForeignKey("areas.id"), index=True)
    host: Mapped[str] = mapped_column(String(255))
    rtsp_url: Mapped[str | None] = mapped_column(String(2048))
    onvif_url: Mapped[str | None] = mapped_column(String(2048))
    snapshot_url: Mapped[str | None] = mapped_column(String(2048))
    username: Mapped[str | None] = mapped_column(String(128))
    password_env: Mapped[str | None] = mapped_column(String(128))
    password_file: Mapped[str | None] = mapped_column(String(1024))
    auth: Mapped[str] = mapped_column(String(16))
    point_class: Mapped[str | None] = mapped_column(String(8))
    in_service: Mapped[bool] = mapped_column()
    expected_width: Mapped[int | None] = mapped_column(Integer)
    expected_height: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON)


class TransitionRow(Base):
    """A change of a camera's state for one probe module. Re-inserting the same (camera, module, at) is a no-op.

    No foreign key to ``cameras``: the history of a camera outlives its removal from the registry.
    """

    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("camera_id", "module", "at", name="uq_transitions_camera_module_at"),
        # The audit reads per camera and module in time order, from this index alone (it holds every column).
        Index("ix_transitions_audit", "camera_id", "module", "at", "to_state", "from_state", "reason"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(ID_LEN))
    module: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class TransitionDayRow(Base):
    """The transitions of one camera, module and UTC day, packed into one row (:mod:`.daysummary`).

    Written by :func:`~sharpeyes.registry.history.record_transitions` in the same transaction as the
    transitions themselves, so the audit can read ~5 times fewer rows. ``day`` is the UTC day number since
    1970-01-01; ``states`` one state code per transition, ``times`` its time as 8-byte little-endian integer
    microseconds since the epoch, both in the order written (at most ``PACKED_CAP`` by appends: fewer than
    ``n`` means the audit reads the transitions); ``online`` how many went to an online state; ``last_*`` the
    day's latest transition.
    """

    __tablename__ = "transition_days"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy's declarative attribute)

    camera_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    module: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    states: Mapped[bytes] = mapped_column(LargeBinary)
    times: Mapped[bytes] = mapped_column(LargeBinary)
    online: Mapped[int] = mapped_column(Integer)
    last_from: Mapped[str] = mapped_column(String(16))
    last_to: Mapped[str] = mapped_column(String(16))
    last_reason: Mapped[str] = mapped_column(String(32))
    last_at: Mapped[int] = mapped_column(BigInteger)


class DailyRollupRow(Base):
    """Per camera, module and UTC day: time up and time known (seconds), probes run and failures."""

    __tablename__ = "daily_rollups"

    camera_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    module: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    seconds_up: Mapped[float] = mapped_column(Float, default=0.0)
    seconds_known: Mapped[float] = mapped_column(Float, default=0.0)
    probes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class FrameSignatureRow(Base):
    """A small picture signature per camera: the ``last`` frame seen, or the operator's ``reference`` view."""

    __tablename__ = "frame_signatures"
    __table_args__ = (CheckConstraint("kind IN ('last', 'reference')", name="kind"),)

    camera_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


districts: Table = _table(DistrictRow)
areas: Table = _table(AreaRow)
cameras: Table = _table(CameraRow)
transitions: Table = _table(TransitionRow)
transition_days: Table = _table(TransitionDayRow)
daily_rollups: Table = _table(DailyRollupRow)
frame_signatures: Table = _table(FrameSignatureRow)
