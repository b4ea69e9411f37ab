"""``sharpeyes registry …``: import, export, list and validate the camera registry."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from sharpeyes.errors import InputError, UserError
from sharpeyes.logsafe import scrub
from sharpeyes.registry.db import DEFAULT_URL, ensure_current, make_engine, redacted, upgrade
from sharpeyes.registry.inventory import Inventory
from sharpeyes.registry.io import KINDS, parse_files, read_inventory, to_csv, to_json, to_yaml, write_csv_dir
from sharpeyes.registry.store import ImportReport, counts, import_inventory, load_inventory

DB_ENV = "SHARPEYES_DB"
MAX_LISTED = 20

db_option = click.option(
    "--db",
    "db_url",
    default=lambda: os.environ.get(DB_ENV, DEFAULT_URL),
    show_default=f"${DB_ENV} or {DEFAULT_URL}",
    help="Database URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB.",
)
files_argument = click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@contextmanager
def database(url: str, *, migrate: bool = False) -> Iterator[Engine]:
    """An engine for the URL; database failures become one-line user errors with the password hidden.

    ``migrate``: create or upgrade the schema first. Otherwise the schema must be current, and an SQLite file
    must already exist (a mistyped path is not silently created).
    """
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        else:
            _must_exist(engine)
            ensure_current(engine)
        yield engine
    except Exception as exc:
        from alembic.util import CommandError  # imported late: alembic is slow to import

        if not isinstance(exc, SQLAlchemyError | CommandError):
            raise
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UserError(f"database {redacted(engine.url)}: {scrub(reason)}") from None
    finally:
        engine.dispose()


def _must_exist(engine: Engine) -> None:
    name = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and name and name != ":memory:" and not Path(name).exists():
        raise UserError(
            f"database {redacted(engine.url)}: file {name} does not exist (allowed: an imported registry; "
            "run `sharpeyes registry import FILE… --db URL` first)"
        )


@click.group()
def registry() -> None:
    """The camera registry: districts, areas and cameras."""


@registry.command("import")
@files_argument
@db_option
@click.option("--prune", is_flag=True, help="Delete records of the imported kinds that are missing from the files.")
def import_command(files: tuple[Path, ...], db_url: str, prune: bool) -> None:
    """Import registry files (CSV or YAML) in one transaction: any problem, nothing written.

    Records are upserted by id, so importing the same files again changes nothing. Records in the database
    but missing from the files are listed, and deleted only with --prune.
    """
    parsed = parse_files(files)
    if parsed.problems:  # before touching the database: a bad file never creates or migrates anything
        raise InputError(parsed.problems)
    with database(db_url, migrate=True) as engine:
        report = import_inventory(engine, parsed, prune=prune)
    click.echo(f"imported into {redacted(engine.url)}: {report.summary()}")
    _echo_missing(report, prune)


def _echo_missing(report: ImportReport, prune: bool) -> None:
    for kind, r in report.kinds.items():
        if not r.missing:
            continue
        shown = ", ".join(r.missing[:MAX_LISTED]) + (" …" if len(r.missing) > MAX_LISTED else "")
        if prune:
            click.echo(f"removed {len(r.removed)} {kind} missing from the files: {shown}")
        else:
            click.echo(
                f"{len(r.missing)} {kind} in the database are missing from the files "
                f"(kept; --prune removes them): {shown}"
            )


@registry.command("validate")
@files_argument
def validate_command(files: tuple[Path, ...]) -> None:
    """Check registry files without writing anything; every problem is listed with file and line."""
    inventory = read_inventory(files)
    click.echo(f"ok: {_totals(inventory)}")


@registry.command("list")
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_command(db_url: str, fmt: str) -> None:
    """Summarise the registry: counts per scope, and per county-level district."""
    with database(db_url) as engine:
        inventory = load_inventory(engine)
    if fmt == "json":
        click.echo(json.dumps(counts(inventory), ensure_ascii=False, indent=2))
        return
    click.echo(_table(inventory))


@registry.command("export")
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "yaml", "json", "file-sd"]), default="yaml", show_default=True
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="For csv: a folder (districts.csv, areas.csv, cameras.csv). For yaml/json: a file. Default: stdout.",
)
@click.option("--kind", type=click.Choice(KINDS), help="csv only: write just this kind to --out or stdout.")
@click.option("--bom", is_flag=True, help="csv files only: start with a UTF-8 BOM (for Excel).")
@click.option("--module", "modules", multiple=True, help="file-sd only: label the targets with this probe module.")
def export_command(
    db_url: str, fmt: str, out: Path | None, kind: str | None, bom: bool, modules: tuple[str, ...]
) -> None:
    """Write the registry as CSV, YAML or JSON (the same formats import reads), or as Prometheus file_sd
    targets for /probe (file-sd)."""
    with database(db_url) as engine:
        inventory = load_inventory(engine)
    if fmt == "csv" and kind is None:
        if out is None:
            raise UserError("export --format csv: give --out FOLDER (three files), or --kind KIND for one")
        for path in write_csv_dir(inventory, out, bom=bom):
            click.echo(f"wrote {path}")
        return
    if kind is not None and fmt != "csv":
        raise UserError(f"export --kind: only with --format csv (got --format {fmt})")
    if modules and fmt != "file-sd":
        raise UserError(f"export --module: only with --format file-sd (got --format {fmt})")
    text = _render(inventory, fmt, kind, modules)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8-sig" if bom and fmt == "csv" else "utf-8")
        click.echo(f"wrote {out}")


def _render(inventory: Inventory, fmt: str, kind: str | None, modules: tuple[str, ...] = ()) -> str:
    if fmt == "file-sd":  # Prometheus file_sd targets for /probe (sharpeyes.exporter.file_sd)
        from sharpeyes.exporter.file_sd import to_file_sd

        return to_file_sd(inventory, modules)
    for known in KINDS:
        if kind == known:
            return to_csv(inventory, known)
    return to_yaml(inventory) if fmt == "yaml" else to_json(inventory)


@registry.command("migrate")
@db_option
def migrate_command(db_url: str) -> None:
    """Create or upgrade the database schema to this version (import does this itself)."""
    with database(db_url, migrate=True) as engine:
        pass
    click.echo(f"database {redacted(engine.url)} is at the current schema")


def _totals(inventory: Inventory) -> str:
    c = counts(inventory)
    scopes = ", ".join(f"{s}: {v['areas']} areas / {v['cameras']} cameras" for s, v in c["by_scope"].items())
    return (
        f"{c['districts']} districts, {c['areas']} areas, {c['cameras']} cameras "
        f"({c['in_service']} in service; {scopes})"
    )


def _table(inventory: Inventory) -> str:
    """Per county-level district: areas and cameras by scope; then the totals."""
    from rich.console import Console
    from rich.table import Table

    areas = inventory.area_by_id()
    county_of: dict[str, str] = {}
    for district in inventory.districts:
        chain = list(inventory.ancestors(district.code))
        top = next((d for d in chain if d.level.value == "district"), chain[-1] if chain else district)
        county_of[district.code] = top.code
    names = {d.code: d.name for d in inventory.districts}
    rows: dict[str, list[int]] = {}
    for area in inventory.areas:
        row = rows.setdefault(county_of.get(area.district, area.district), [0, 0, 0, 0, 0])
        row[0 if area.scope.value == "public" else 1] += 1
        row[4] += area.required_cameras
    for camera in inventory.cameras:
        home = areas.get(camera.area)
        if home is not None:
            row = rows.setdefault(county_of.get(home.district, home.district), [0, 0, 0, 0, 0])
            row[2] += 1
            row[3] += int(camera.in_service)
    table = Table(title="sharpeyes registry", show_footer=False)
    for header in ("district", "public areas", "sector sites", "cameras", "in service", "required"):
        table.add_column(header, justify="left" if header == "district" else "right")
    for code in sorted(rows):
        table.add_row(f"{code} {names.get(code, '')}", *(str(v) for v in rows[code]))
    buffer = io.StringIO()
    Console(width=100, file=buffer, color_system=None).print(table)
    return buffer.getvalue() + _totals(inventory) + "\n"
