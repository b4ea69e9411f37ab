"""Reading and writing registry files: CSV (one file per kind) and YAML (any kinds in one file).

:func:`read_inventory` parses and validates files without touching a database. Every problem in every file
is collected and raised together as one :class:`InputError` of ``file:line: column: problem`` lines.

CSV: UTF-8 with or without a BOM; the kind is told by the header (``level`` → districts, ``scope`` → areas,
``area_id`` → cameras) or else by the file name (``districts*``, ``areas*``, ``cameras*``). Camera tags are
``;``-separated. YAML: a mapping with any of ``districts``, ``areas``, ``cameras``, each a list of records
with the same keys as the CSV columns (``tags`` may be a list).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from sharpeyes.errors import InputError
from sharpeyes.probers.base import AuthPolicy
from sharpeyes.registry.fields import (
    CODE_RE,
    ENV_RE,
    HTTP_SCHEMES,
    POINT_CLASSES,
    RTSP_SCHEMES,
    SLUG_RE,
    RowReader,
    Where,
    admin_prefixes,
    gb_id_problem,
    id_key,
    is_gb_id,
    printable,
)
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.yamlio import MAX_BYTES, LineMap, one_line, parse_yaml, read_limited

Kind = Literal["districts", "areas", "cameras"]
KINDS: tuple[Kind, ...] = ("districts", "areas", "cameras")

COLUMNS: Mapping[Kind, tuple[str, ...]] = {
    "districts": ("code", "name", "level", "parent"),
    "areas": ("id", "name", "district", "scope", "sector", "kind", "required_cameras", "lat", "lon"),
    "cameras": (
        "id",
        "name",
        "area_id",
        "host",
        "rtsp_url",
        "onvif_url",
        "snapshot_url",
        "username",
        "password_env",
        "password_file",
        "auth",
        "point_class",
        "in_service",
        "expected_resolution",
        "tags",
    ),
}
REQUIRED: Mapping[Kind, tuple[str, ...]] = {
    "districts": ("code", "name", "level"),
    "areas": ("id", "name", "district", "scope", "kind"),
    "cameras": ("id", "name", "area_id", "host"),
}
TELLING_COLUMN: Mapping[str, Kind] = {"level": "districts", "scope": "areas", "area_id": "cameras"}
PLAINTEXT = frozenset({"password", "passwd", "pwd", "secret", "密码"})
PLAINTEXT_PROBLEM = "a plaintext password is refused (allowed: password_env or password_file)"

T = TypeVar("T")


@dataclass
class Parsed:
    """Records read from files, each with where it came from, plus every problem found."""

    districts: list[tuple[District, Where]] = field(default_factory=list)
    areas: list[tuple[Area, Where]] = field(default_factory=list)
    cameras: list[tuple[Camera, Where]] = field(default_factory=list)
    kinds: set[Kind] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def inventory(self) -> Inventory:
        return Inventory(
            districts=tuple(d for d, _ in self.districts),
            areas=tuple(a for a, _ in self.areas),
            cameras=tuple(c for c, _ in self.cameras),
        )


# --- public entry points --------------------------------------------------------------------------------


def read_inventory(paths: Sequence[Path]) -> Inventory:
    """Parse and validate registry files (CSV or YAML) without a database.

    Raises :class:`InputError` listing every problem as ``file:line: column: problem``.
    """
    return validated(parse_files(paths))


def validated(parsed: Parsed) -> Inventory:
    """The inventory of parsed records once their references are checked; raises :class:`InputError` listing
    every problem (the parsing ones first)."""
    parsed.problems.extend(check_references(parsed.districts, parsed.areas, parsed.cameras))
    if parsed.problems:
        raise InputError(parsed.problems)
    return parsed.inventory()


def parse_files(paths: Sequence[Path]) -> Parsed:
    """Read every file into records; problems are collected in ``Parsed.problems`` (references unchecked)."""
    parsed = Parsed()
    if not paths:
        parsed.problems.append("(arguments): FILE: no registry file given (allowed: .csv, .yml, .yaml files)")
    for path in paths:
        try:
            _parse_file(Path(path), parsed)
        except InputError as exc:
            parsed.problems.extend(exc.problems)
    return parsed


def parse_content(path: Path, raw: bytes) -> Parsed:
    """One file's content already in memory, parsed as :func:`parse_files` parses the file at ``path`` (its name
    tells the format and the kind). For callers that hold the bytes (fuzzing, uploads); nothing is read."""
    parsed = Parsed()
    try:
        _parse_file(path, parsed, raw)
    except InputError as exc:
        parsed.problems.extend(exc.problems)
    return parsed


def _parse_file(path: Path, parsed: Parsed, raw: bytes | None = None) -> None:
    """Parse ``raw``, or else the file read from ``path`` (up to the size limit), into ``parsed``."""
    suffix = path.suffix.lower()
    is_yaml = suffix in (".yml", ".yaml", ".json")  # JSON is read as YAML (a superset), keeping line numbers
    if not is_yaml and suffix not in (".csv", ".txt", ""):
        parsed.problems.append(f"{path}: file type {suffix!r} is not supported (allowed: .csv, .yml, .yaml, .json)")
        return
    text = _decode(path, read_limited(path, MAX_BYTES * 10) if raw is None else raw)
    if is_yaml:
        _parse_yaml(path, text, parsed)
    else:
        _parse_csv(path, text, parsed)


# --- CSV ------------------------------------------------------------------------------------------------


def _decode(path: Path, raw: bytes) -> str:
    if len(raw) > MAX_BYTES * 10:
        raise InputError([f"{path}: larger than {MAX_BYTES * 10 // (1024 * 1024)} MB (allowed: up to that size)"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            [
                f"{path}:{line}: (file): not valid UTF-8 (allowed: UTF-8, with or without BOM; "
                "from Excel: Save As → CSV UTF-8)"
            ]
        ) from None


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(start line, cells) per CSV record; blank lines skipped; parse errors become InputError."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError([f"{path}:{reader.line_num or start}: (file): CSV: {one_line(str(exc))}"]) from None
        if cells and any(c.strip() for c in cells):
            yield start, cells


def _kind_of(path: Path, header: Sequence[str]) -> Kind | None:
    for column, kind in TELLING_COLUMN.items():
        if column in header:
            return kind
    name = path.name.lower()
    return next((k for k in KINDS if name.startswith(k)), None)


def _parse_csv(path: Path, text: str, parsed: Parsed) -> None:
    records = _csv_records(path, text)
    first = next(records, None)
    if first is None:
        parsed.problems.append(f"{path}:1: (header): empty file (allowed: a header line, then one row per record)")
        return
    header_line, cells = first
    header = [c.strip().lower() for c in cells]
    kind = _kind_of(path, header)
    if kind is None:
        parsed.problems.append(
            f"{path}:{header_line}: (header): cannot tell what this file holds "
            "(allowed: a header with level, scope or area_id, or a file name starting with districts, areas, cameras)"
        )
        return
    if not _header_ok(path, header_line, header, kind, parsed.problems):
        return
    parsed.kinds.add(kind)
    plaintext = [c for c in header if c in PLAINTEXT]
    plaintext_rows = 0
    for line, row in records:
        if len(row) > len(header):
            parsed.problems.append(f"{path}:{line}: (row): {len(row)} cells, the header has {len(header)}")
            continue
        values = dict(zip(header, row, strict=False))
        where = Where(str(path), line)
        for column in plaintext:
            if str(values.get(column, "")).strip():
                parsed.problems.append(where.at(column, PLAINTEXT_PROBLEM))
                plaintext_rows += 1
        _add_record(kind, values, where, parsed, usable=not plaintext)
    if plaintext and not plaintext_rows:
        parsed.problems.append(f"{path}:{header_line}: {plaintext[0]}: {PLAINTEXT_PROBLEM}")


def _header_ok(path: Path, line: int, header: list[str], kind: Kind, problems: list[str]) -> bool:
    ok = True
    seen: set[str] = set()
    for column in header:
        if column in seen:
            problems.append(f"{path}:{line}: {printable(column) or '(empty)'}: column given twice")
            ok = False
        seen.add(column)
        if column in PLAINTEXT:
            continue  # reported per row with a value, or once at the header when empty everywhere
        if column not in COLUMNS[kind]:
            problems.append(
                f"{path}:{line}: {printable(column) or '(empty)'}: unknown {kind} column "
                f"(allowed: {', '.join(COLUMNS[kind])})"
            )
            ok = False
    for column in REQUIRED[kind]:
        if column not in seen:
            problems.append(f"{path}:{line}: {column}: required {kind} column is missing")
            ok = False
    return ok


# --- YAML -----------------------------------------------------------------------------------------------


def _parse_yaml(path: Path, text: str, parsed: Parsed) -> None:
    data, lines = parse_yaml(text, str(path))
    if data is None:
        return
    if not isinstance(data, dict):
        parsed.problems.append(f"{path}:1: (document): expected a mapping (allowed keys: {', '.join(KINDS)})")
        return
    for key, items in data.items():
        if key not in KINDS:
            parsed.problems.append(
                f"{path}:{lines.line((key,))}: {printable(str(key))}: unknown key (allowed: {', '.join(KINDS)})"
            )
            continue
        kind: Kind = key
        parsed.kinds.add(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            parsed.problems.append(f"{path}:{lines.line((key,))}: {key}: expected a list of records")
            continue
        for index, item in enumerate(items):
            _yaml_record(path, kind, index, item, lines, parsed)


def _yaml_record(path: Path, kind: Kind, index: int, item: object, lines: LineMap, parsed: Parsed) -> None:
    line = lines.line((kind, index))
    if not isinstance(item, dict):
        parsed.problems.append(
            f"{path}:{line}: {kind}[{index}]: expected a mapping (allowed: {', '.join(COLUMNS[kind])})"
        )
        return
    values = {str(k).strip().lower(): v for k, v in item.items()}
    field_lines = {str(k).strip().lower(): lines.line((kind, index, k)) for k in item}
    where = Where(str(path), line, field_lines)
    bad = False
    for column in values:
        if column in PLAINTEXT:
            if values[column] not in (None, ""):
                parsed.problems.append(where.at(column, PLAINTEXT_PROBLEM))
                bad = True
        elif column not in COLUMNS[kind]:
            parsed.problems.append(where.at(column, f"unknown key (allowed: {', '.join(COLUMNS[kind])})"))
            bad = True
    _add_record(kind, values, where, parsed, usable=not bad)


# --- one record -----------------------------------------------------------------------------------------


def _add_record(kind: Kind, values: Mapping[str, object], where: Where, parsed: Parsed, *, usable: bool) -> None:
    """Check one record's values; keep it only when it is usable and every value passed."""
    reader = RowReader(values, where, parsed.problems)
    if kind == "districts":
        district = _district(reader)
        if district is not None and usable and not reader.failed:
            parsed.districts.append((district, where))
    elif kind == "areas":
        area = _area(reader)
        if area is not None and usable and not reader.failed:
            parsed.areas.append((area, where))
    else:
        camera = _camera(reader)
        if camera is not None and usable and not reader.failed:
            parsed.cameras.append((camera, where))


def _district(r: RowReader) -> District | None:
    code = r.matching("code", CODE_RE, "digits (GB/T 2260) or letters, digits, _ . -", required=True)
    name = r.text("name", required=True)
    level = r.choice("level", [lv.value for lv in DistrictLevel])
    parent = r.matching("parent", CODE_RE, "the code of another district", required=False)
    if code is None or name is None or level is None:
        return None
    if level in (DistrictLevel.CITY, DistrictLevel.DISTRICT) and not (len(code) == 6 and code.isdigit()):
        r.problem("code", f"{code!r} is not a GB/T 2260 code (allowed: 6 digits for a {level})")
    if parent is not None and parent == code:
        r.problem("parent", "a district cannot be its own parent")
    return District(code=code, name=name, level=DistrictLevel(level), parent=parent)


def _area(r: RowReader) -> Area | None:
    area_id = r.ident("id")
    name = r.text("name", required=True)
    district = r.matching("district", CODE_RE, "the code of a district", required=True)
    scope = r.choice("scope", [s.value for s in Scope])
    sector = r.matching("sector", SLUG_RE, "lower-case words with _, e.g. finance, transport", required=False)
    kind = r.matching("kind", SLUG_RE, "lower-case words with _, e.g. square, station, border_post", required=True)
    required = r.integer("required_cameras", default=1, minimum=1, maximum=10_000)
    lat = r.number("lat", minimum=-90.0, maximum=90.0)
    lon = r.number("lon", minimum=-180.0, maximum=180.0)
    if scope == Scope.SECTOR and sector is None and not r.raw("sector"):
        r.problem("sector", "required when scope is sector (allowed: finance, transport, education, healthcare, …)")
    if (lat is None) != (lon is None) and not r.failed:
        r.problem("lat" if lat is None else "lon", "give both lat and lon, or neither")
    if area_id is None or name is None or district is None or scope is None or kind is None or required is None:
        return None
    return Area(area_id, name, district, Scope(scope), kind, required, sector, lat, lon)


def _camera(r: RowReader) -> Camera | None:
    camera_id = r.ident("id")
    name = r.text("name", required=True)
    area = r.ident("area_id")
    host = r.host("host")
    rtsp = r.url("rtsp_url", RTSP_SCHEMES, host)
    onvif = r.url("onvif_url", HTTP_SCHEMES, host)
    snapshot = r.url("snapshot_url", HTTP_SCHEMES, host)
    username = r.text("username", max_len=128)
    password_env = r.matching("password_env", ENV_RE, "an environment variable name", required=False)
    password_file = r.text("password_file", max_len=1024)
    auth = r.choice("auth", [a.value for a in AuthPolicy], default=AuthPolicy.DIGEST.value)
    point_class = r.choice("point_class", POINT_CLASSES, default="") or None
    in_service = r.boolean("in_service", default=True)
    width, height = r.resolution("expected_resolution")
    tags = r.tags("tags")
    if password_env and password_file:
        r.problem("password_file", "give password_env or password_file, not both")
    if camera_id is None or name is None or area is None or host is None or auth is None:
        return None
    return Camera(
        id=camera_id,
        name=name,
        area=area,
        host=host,
        rtsp_url=rtsp,
        onvif_url=onvif,
        snapshot_url=snapshot,
        username=username,
        password_env=password_env,
        password_file=password_file,
        auth=AuthPolicy(auth),
        point_class=point_class,
        in_service=in_service,
        expected_width=width,
        expected_height=height,
        tags=tags,
    )


# --- cross-record checks --------------------------------------------------------------------------------


def check_references(
    districts: Sequence[tuple[District, Where]],
    areas: Sequence[tuple[Area, Where]],
    cameras: Sequence[tuple[Camera, Where]],
) -> list[str]:
    """Duplicates (ignoring case and surrounding space), unknown parents/districts/areas, cycles, GB/T 28181 ids."""
    problems: list[str] = []
    problems += _duplicates(districts, lambda d: d.code, "code", "district")
    problems += _duplicates(areas, lambda a: a.id, "id", "area")
    problems += _duplicates(cameras, lambda c: c.id, "id", "camera")
    inventory = Inventory(
        districts=tuple(d for d, _ in districts),
        areas=tuple(a for a, _ in areas),
        cameras=tuple(c for c, _ in cameras),
    )
    by_code = inventory.district_by_code()
    for district, where in districts:
        if district.parent is not None and district.parent not in by_code:
            problems.append(where.at("parent", f"unknown district {district.parent!r}"))
        elif district.parent is not None and _in_cycle(inventory, district.code):
            problems.append(where.at("parent", f"district {district.code!r} is its own ancestor (a cycle)"))
    for area, where in areas:
        if area.district not in by_code:
            problems.append(where.at("district", f"unknown district {area.district!r}"))
    by_area = inventory.area_by_id()
    prefixes: dict[str, set[str]] = {}  # district code → admin codes of it and its ancestors
    for camera, where in cameras:
        found = by_area.get(camera.area)
        if found is None:
            problems.append(where.at("area_id", f"unknown area {camera.area!r}"))
        elif is_gb_id(camera.id) and found.district in by_code:
            if found.district not in prefixes:
                prefixes[found.district] = admin_prefixes(d.code for d in inventory.ancestors(found.district))
            problem = gb_id_problem(camera.id, prefixes[found.district])
            if problem:
                problems.append(where.at("id", problem))
    return problems


def _duplicates(records: Iterable[tuple[T, Where]], key_of: Any, column: str, noun: str) -> list[str]:
    first: dict[str, tuple[str, Where]] = {}
    problems: list[str] = []
    for record, where in records:
        value: str = key_of(record)
        key = id_key(value)
        if key in first:
            other, other_where = first[key]
            same = "" if other == value else f" as {other!r}"
            problems.append(where.at(column, f"duplicate {noun} id {value!r} (already at {other_where}{same})"))
        else:
            first[key] = (value, where)
    return problems


def _in_cycle(inventory: Inventory, code: str) -> bool:
    by_code = inventory.district_by_code()
    seen = {code}
    current = by_code.get(code)
    while current is not None and current.parent is not None:
        if current.parent in seen:
            return current.parent == code
        seen.add(current.parent)
        current = by_code.get(current.parent)
    return False


# --- export ---------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def record_values(kind: Kind, record: District | Area | Camera) -> dict[str, object]:
    """A record as column → value (``None`` for empty), in the column order of :data:`COLUMNS`."""
    if isinstance(record, District):
        return {
            "code": record.code,
            "name": record.name,
            "level": record.level.value,
            "parent": record.parent,
        }
    if isinstance(record, Area):
        return {
            "id": record.id,
            "name": record.name,
            "district": record.district,
            "scope": record.scope.value,
            "sector": record.sector,
            "kind": record.kind,
            "required_cameras": record.required_cameras,
            "lat": record.lat,
            "lon": record.lon,
        }
    resolution = (
        f"{record.expected_width}x{record.expected_height}"
        if record.expected_width is not None and record.expected_height is not None
        else None
    )
    return {
        "id": record.id,
        "name": record.name,
        "area_id": record.area,
        "host": record.host,
        "rtsp_url": record.rtsp_url,
        "onvif_url": record.onvif_url,
        "snapshot_url": record.snapshot_url,
        "username": record.username,
        "password_env": record.password_env,
        "password_file": record.password_file,
        "auth": record.auth.value,
        "point_class": record.point_class,
        "in_service": record.in_service,
        "expected_resolution": resolution,
        "tags": list(record.tags),
    }


def _records(inventory: Inventory, kind: Kind) -> tuple[District | Area | Camera, ...]:
    if kind == "districts":
        return inventory.districts
    if kind == "areas":
        return inventory.areas
    return inventory.cameras


def to_csv(inventory: Inventory, kind: Kind) -> str:
    """One kind as CSV text (UTF-8 without BOM when written; ``tags`` joined with ``;``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[kind])
    for record in _records(inventory, kind):
        values = record_values(kind, record)
        writer.writerow([";".join(str(t) for t in v) if isinstance(v, list) else _cell(v) for v in values.values()])
    return out.getvalue()


def to_document(inventory: Inventory) -> dict[str, list[dict[str, object]]]:
    """The inventory as plain data for YAML or JSON (empty values left out)."""
    return {
        kind: [
            {k: v for k, v in record_values(kind, r).items() if v is not None and v != []}
            for r in _records(inventory, kind)
        ]
        for kind in KINDS
    }


def to_yaml(inventory: Inventory) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when present: same output, faster
    return yaml.dump(to_document(inventory), Dumper=dumper, allow_unicode=True, sort_keys=False, width=120)


def to_json(inventory: Inventory) -> str:
    return json.dumps(to_document(inventory), ensure_ascii=False, indent=2) + "\n"


def write_csv_dir(inventory: Inventory, folder: Path, *, bom: bool = False) -> list[Path]:
    """Write districts.csv, areas.csv and cameras.csv into a folder; returns the paths written.

    ``bom``: start each file with a UTF-8 byte-order mark, so Excel shows Chinese text correctly.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / f"{kind}.csv"
        path.write_text(to_csv(inventory, kind), encoding="utf-8-sig" if bom else "utf-8")
        written.append(path)
    return written
