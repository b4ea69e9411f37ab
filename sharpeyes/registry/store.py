"""Registry queries and the import transaction.

:func:`load_inventory` reads the registry into a frozen :class:`Inventory`. :func:`import_inventory` merges
parsed files into the database in one transaction: it validates the merged result first, so any problem
means nothing is written. Records are upserted by id; records missing from the input are reported, and
removed only with ``prune``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharpeyes.errors import InputError
from sharpeyes.probers.base import AuthPolicy
from sharpeyes.rates import IN_SERVICE, OUT_OF_SERVICE, SERVICE_MODULE
from sharpeyes.registry.db import read_session, write_session
from sharpeyes.registry.fields import IN_DATABASE, Where, id_key
from sharpeyes.registry.history import Transition, record_transitions
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.io import KINDS, Kind, Parsed, check_references
from sharpeyes.registry.models import AreaRow, CameraRow, DistrictRow

# --- rows ↔ dataclasses ---------------------------------------------------------------------------------


def _district(row: DistrictRow) -> District:
    return District(code=row.code, name=row.name, level=DistrictLevel(row.level), parent=row.parent)


def _area(row: AreaRow) -> Area:
    return Area(
        id=row.id,
        name=row.name,
        district=row.district,
        scope=Scope(row.scope),
        kind=row.kind,
        required_cameras=row.required_cameras,
        sector=row.sector,
        lat=row.lat,
        lon=row.lon,
    )


def _camera(row: CameraRow) -> Camera:
    return Camera(
        id=row.id,
        name=row.name,
        area=row.area_id,
        host=row.host,
        rtsp_url=row.rtsp_url,
        onvif_url=row.onvif_url,
        snapshot_url=row.snapshot_url,
        username=row.username,
        password_env=row.password_env,
        password_file=row.password_file,
        auth=AuthPolicy(row.auth),
        point_class=row.point_class,
        in_service=row.in_service,
        expected_width=row.expected_width,
        expected_height=row.expected_height,
        tags=tuple(row.tags or ()),
    )


def _district_values(d: District) -> dict[str, Any]:
    return {"code": d.code, "code_key": id_key(d.code), "name": d.name, "level": d.level.value, "parent": d.parent}


def _area_values(a: Area) -> dict[str, Any]:
    return {
        "id": a.id,
        "id_key": id_key(a.id),
        "name": a.name,
        "district": a.district,
        "scope": a.scope.value,
        "sector": a.sector,
        "kind": a.kind,
        "required_cameras": a.required_cameras,
        "lat": a.lat,
        "lon": a.lon,
    }


def _camera_values(c: Camera) -> dict[str, Any]:
    return {
        "id": c.id,
        "id_key": id_key(c.id),
        "name": c.name,
        "area_id": c.area,
        "host": c.host,
        "rtsp_url": c.rtsp_url,
        "onvif_url": c.onvif_url,
        "snapshot_url": c.snapshot_url,
        "username": c.username,
        "password_env": c.password_env,
        "password_file": c.password_file,
        "auth": c.auth.value,
        "point_class": c.point_class,
        "in_service": c.in_service,
        "expected_width": c.expected_width,
        "expected_height": c.expected_height,
        "tags": list(c.tags),
    }


# --- queries --------------------------------------------------------------------------------------------


def _snapshot(session: Session) -> Inventory:
    return Inventory(
        districts=tuple(_district(r) for r in session.scalars(sa.select(DistrictRow).order_by(DistrictRow.code))),
        areas=tuple(_area(r) for r in session.scalars(sa.select(AreaRow).order_by(AreaRow.id))),
        cameras=tuple(_camera(r) for r in session.scalars(sa.select(CameraRow).order_by(CameraRow.id))),
    )


def load_inventory(engine: Engine) -> Inventory:
    """A consistent snapshot of the registry (one read transaction), ordered by code / id."""
    with read_session(engine) as session:
        return _snapshot(session)


# --- import ---------------------------------------------------------------------------------------------


@dataclass
class KindReport:
    """What an import did (or would do) to one kind of record."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)  # in the database, not in the input
    removed: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    kinds: dict[Kind, KindReport] = field(default_factory=lambda: {k: KindReport() for k in KINDS})
    inventory: Inventory = field(default_factory=Inventory)

    def summary(self) -> str:
        parts = []
        for kind, r in self.kinds.items():
            text = f"{kind}: {len(r.added)} added, {len(r.updated)} updated, {r.unchanged} unchanged"
            if r.removed:
                text += f", {len(r.removed)} removed"
            parts.append(text)
        return "; ".join(parts)


def import_inventory(
    engine: Engine, parsed: Parsed, *, prune: bool = False, now: dt.datetime | None = None
) -> ImportReport:
    """Merge parsed files into the registry in one write transaction; nothing is written on any problem.

    Records are matched by id. For each kind present in the input, records in the database but not in the
    input are reported as missing, and deleted when ``prune`` is true. Every change of a camera's service
    (:func:`service_changes`) is recorded as a transition of the ``service`` pseudo-module at ``now``
    (default: the current time), in the same transaction.
    """
    if parsed.problems:
        raise InputError(parsed.problems)
    with write_session(engine) as session:
        current = _snapshot(session)
        report = ImportReport()
        merged = _merge(current, parsed, prune, report)
        problems = check_references(*merged)
        if problems:
            raise InputError(problems)
        _write(session, current, parsed, report)
        report.inventory = Inventory(
            districts=tuple(d for d, _ in merged[0]),
            areas=tuple(a for a, _ in merged[1]),
            cameras=tuple(c for c, _ in merged[2]),
        )
        at = now or dt.datetime.now(dt.UTC)
        record_transitions(session.connection(), service_changes(current.cameras, report.inventory.cameras, at))
    return report


def service_changes(before: Sequence[Camera], after: Sequence[Camera], at: dt.datetime) -> list[Transition]:
    """The ``service`` transitions an import makes (see :data:`sharpeyes.rates.SERVICE_MODULE`).

    - a camera whose in-service flag changes: to its new state (reason ``flag_changed``);
    - a camera added in service: to ``in_service`` (reason ``added``); before its first service transition a
      camera counts as in the opposite state, so the time before it was registered is out of service. One
      added out of service needs none: it is out of service before and after;
    - a camera removed while in service: to ``out_of_service`` (reason ``removed``).
    """
    old = {c.id: c for c in before}
    new = {c.id: c for c in after}
    out: list[Transition] = []
    for cid, cam in new.items():
        was = old.get(cid)
        if was is None:
            if cam.in_service:
                out.append(Transition(cid, SERVICE_MODULE, OUT_OF_SERVICE, IN_SERVICE, "added", at))
        elif was.in_service != cam.in_service:
            out.append(Transition(cid, SERVICE_MODULE, _service(was), _service(cam), "flag_changed", at))
    for cid, was in old.items():
        if cid not in new and was.in_service:
            out.append(Transition(cid, SERVICE_MODULE, IN_SERVICE, OUT_OF_SERVICE, "removed", at))
    return out


def _service(camera: Camera) -> str:
    return IN_SERVICE if camera.in_service else OUT_OF_SERVICE


Merged = tuple[list[tuple[District, Where]], list[tuple[Area, Where]], list[tuple[Camera, Where]]]


def _merge(current: Inventory, parsed: Parsed, prune: bool, report: ImportReport) -> Merged:
    """The registry as it will be after the import, each record with where it came from."""
    return (
        _merge_kind("districts", current.districts, parsed.districts, lambda d: d.code, parsed, prune, report),
        _merge_kind("areas", current.areas, parsed.areas, lambda a: a.id, parsed, prune, report),
        _merge_kind("cameras", current.cameras, parsed.cameras, lambda c: c.id, parsed, prune, report),
    )


def _merge_kind(
    kind: Kind,
    existing: Sequence[Any],
    incoming: Sequence[tuple[Any, Where]],
    key: Any,
    parsed: Parsed,
    prune: bool,
    report: ImportReport,
) -> list[tuple[Any, Where]]:
    r = report.kinds[kind]
    in_db = {key(x): x for x in existing}
    in_input = {key(x) for x, _ in incoming}
    for record, _where in incoming:
        old = in_db.get(key(record))
        if old is None:
            r.added.append(key(record))
        elif old != record:
            r.updated.append(key(record))
        else:
            r.unchanged += 1
    kept: list[tuple[Any, Where]] = []
    for ident, record in in_db.items():
        if ident in in_input:
            continue
        if kind in parsed.kinds:
            r.missing.append(ident)
            if prune:
                r.removed.append(ident)
                continue
        kept.append((record, IN_DATABASE))
    return kept + list(incoming)


def _write(session: Session, current: Inventory, parsed: Parsed, report: ImportReport) -> None:
    """Apply the import in an order the foreign keys accept.

    Pruned cameras go first (nothing refers to a camera, and a camera renamed by case can then be inserted);
    then upserts, parents first; then pruned areas and districts, once nothing refers to them any more.
    """
    _delete(session, CameraRow, report.kinds["cameras"].removed)
    _upsert(session, DistrictRow, [_district_values(d) for d in _parents_first([d for d, _ in parsed.districts])])
    _upsert(session, AreaRow, [_area_values(a) for a, _ in parsed.areas])
    _upsert(session, CameraRow, [_camera_values(c) for c, _ in parsed.cameras])
    _delete(session, AreaRow, report.kinds["areas"].removed)
    _delete_districts(session, current, report.kinds["districts"].removed)


def _delete(session: Session, model: Any, ids: list[str], chunk: int = 500) -> None:
    key = sa.inspect(model).primary_key[0]
    for start in range(0, len(ids), chunk):
        session.execute(sa.delete(model).where(key.in_(ids[start : start + chunk])))


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert new rows and update changed ones (one SELECT for the whole table, not one per row)."""
    if not rows:
        return
    key = sa.inspect(model).primary_key[0].name
    existing = {getattr(obj, key): obj for obj in session.scalars(sa.select(model))}
    new_rows = [values for values in rows if values[key] not in existing]
    if new_rows:  # new rows first (one bulk INSERT): an updated row may now point at one of them
        session.connection().execute(sa.insert(model.__table__), new_rows)  # Core executemany: one batch
    for values in rows:
        obj = existing.get(values[key])
        if obj is None:
            continue
        for name, value in values.items():
            if getattr(obj, name) != value:
                setattr(obj, name, value)
    session.flush()


def _parents_first(districts: list[District]) -> list[District]:
    """Districts ordered so that a parent in the same input comes before its children."""
    by_code = {d.code: d for d in districts}
    ordered: list[District] = []
    placed: set[str] = set()

    def place(d: District, depth: int = 0) -> None:
        if d.code in placed or depth > len(by_code):
            return
        parent = by_code.get(d.parent) if d.parent else None
        if parent is not None:
            place(parent, depth + 1)
        placed.add(d.code)
        ordered.append(d)

    for d in districts:
        place(d)
    return ordered


def _delete_districts(session: Session, current: Inventory, codes: list[str]) -> None:
    """Delete districts children first (a removed subtree never violates the parent foreign key)."""
    doomed = set(codes)
    depth = {d.code: sum(1 for _ in current.ancestors(d.code)) for d in current.districts if d.code in doomed}
    for code in sorted(doomed, key=lambda c: depth.get(c, 0), reverse=True):
        session.execute(sa.update(DistrictRow).where(DistrictRow.parent == code).values(parent=None))
        session.execute(sa.delete(DistrictRow).where(DistrictRow.code == code))


def counts(inventory: Inventory) -> dict[str, Any]:
    """Totals of a registry for ``registry list``: districts, areas, cameras, and per scope."""
    areas = inventory.area_by_id()
    by_scope: dict[str, dict[str, int]] = {
        s.value: {"areas": 0, "cameras": 0, "in_service": 0, "required_cameras": 0} for s in Scope
    }
    for area in inventory.areas:
        by_scope[area.scope.value]["areas"] += 1
        by_scope[area.scope.value]["required_cameras"] += area.required_cameras
    for camera in inventory.cameras:
        home = areas.get(camera.area)
        if home is not None:
            by_scope[home.scope.value]["cameras"] += 1
            by_scope[home.scope.value]["in_service"] += int(camera.in_service)
    return {
        "districts": len(inventory.districts),
        "areas": len(inventory.areas),
        "cameras": len(inventory.cameras),
        "in_service": sum(1 for c in inventory.cameras if c.in_service),
        "by_scope": by_scope,
    }
