"""``sharpeyes audit``: the coverage and connection audit for inspections (DESIGN.md §6).

Exit codes: 0 every target (or every ``--fail-under`` threshold) met; 1 not met; 2 error.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.gcpause import cycle_collector_paused
from sharpeyes.audit.i18n import LANGS
from sharpeyes.audit.model import RATE_NAMES, Report, Window
from sharpeyes.audit.render import FORMATS, renderer
from sharpeyes.audit.render.table import print_report
from sharpeyes.audit.source import read_all
from sharpeyes.audit.window import parse_window
from sharpeyes.cli_registry import DB_ENV, database
from sharpeyes.config import load_config, load_probe_modules
from sharpeyes.errors import UserError
from sharpeyes.rates import ALL, RateOptions
from sharpeyes.redact import redact_text
from sharpeyes.registry.db import DEFAULT_URL
from sharpeyes.settings import Targets

log = logging.getLogger(__name__)

STEPS = 6


@dataclass(frozen=True)
class Site:
    """What the config contributes: the database, targets, freshness and module → prober names."""

    db_url: str
    targets: Targets = field(default_factory=Targets)
    freshness_s: float = 900.0
    module_probers: dict[str, str] = field(default_factory=dict)


def load_site(config: Path | None, db_url: str | None, env_url: str) -> Site:
    """The config file's settings, or the defaults with ``--db`` (or $SHARPEYES_DB)."""
    if config is None:
        return Site(db_url or env_url)
    loaded = load_config(config).config
    probers: dict[str, str] = {}
    try:
        modules, _ = load_probe_modules(Path(loaded.probes_dir))
        probers = {name: m.prober for name, m in modules.items()}
    except UserError as exc:
        log.warning("probe modules not read (module names are taken as prober names): %s", exc)
    return Site(db_url or loaded.database.url, loaded.targets, loaded.freshness_window_s, probers)


def parse_thresholds(items: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """``good_order=98`` → ``("good_order", 0.98)``; every problem is a user error naming what is allowed."""
    out: list[tuple[str, float]] = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in RATE_NAMES:
            raise UserError(f"--fail-under {item!r}: expected RATE=PCT (allowed rates: {', '.join(RATE_NAMES)})")
        try:
            pct = float(value.strip().rstrip("%"))
        except ValueError:
            raise UserError(f"--fail-under {item!r}: {value!r} is not a percentage (allowed: 0-100)") from None
        if not 0 <= pct <= 100:
            raise UserError(f"--fail-under {item!r}: {pct:g} is out of range (allowed: 0-100)")
        out.append((name, pct / 100))
    return tuple(out)


@contextmanager
def progress_steps(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr (only on a terminal) advanced once per step of the audit."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    ) as bar:
        task = bar.add_task("audit", total=STEPS)

        def step(what: str) -> None:
            bar.update(task, advance=1, description=what)

        yield step


def run_audit(site: Site, options: AuditOptions, window: Window, now: float, step: Callable[[str], None]) -> Report:
    """Read the registry and the transitions in short read transactions, then build the report."""
    with database(site.db_url) as engine:
        inventory, history = read_all(engine, window, step)
        step("registry")
        if options.district and options.district not in inventory.district_by_code():
            raise UserError(
                f"--district {options.district!r}: no such district "
                "(allowed: a district code of the registry, see `sharpeyes registry export`)"
            )
    return build_report(inventory, history, window, options, generated_at=now, progress=step)


@click.command("audit")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Daemon config: database, targets, freshness window, probe modules.",
)
@click.option("--db", "db_url", help=f"Database URL (default: the config's, else ${DB_ENV} or {DEFAULT_URL}).")
@click.option("--since", help="Window: this long before now, e.g. 30d, 12h, 2w (default 30d).")
@click.option("--from", "start", help="Window start: YYYY-MM-DD (00:00 UTC) or an ISO time.")
@click.option("--to", "end", help="Window end: YYYY-MM-DD (end of that day, UTC) or an ISO time.")
@click.option("--district", help="Audit one district (any level) with its children.")
@click.option("--scope", type=click.Choice(["public", "sector"]), help="Only key public areas or key industries.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@click.option(
    "--fail-under",
    "fail_under",
    multiple=True,
    metavar="RATE=PCT",
    help=f"Exit 1 if a rate of any row is below PCT (replaces the targets). RATE: {', '.join(RATE_NAMES)}.",
)
@click.option(
    "--top",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="Length of the 'offline longest' list.",
)
def audit(
    config_path: Path | None,
    db_url: str | None,
    since: str | None,
    start: str | None,
    end: str | None,
    district: str | None,
    scope: str | None,
    fmt: str,
    output: Path | None,
    lang: str,
    fail_under: tuple[str, ...],
    top: int,
) -> None:
    """Coverage and connection audit: rates per district against targets, and the lists behind them."""
    try:
        with cycle_collector_paused():
            report = _audit(config_path, db_url, (since, start, end), district, scope, fail_under, top)
            _emit(report, fmt, lang, output)
    except UserError:
        raise
    except Exception as exc:  # anything unexpected is an error (2), never "not met" (1)
        log.debug("audit failed", exc_info=True)
        reason = redact_text(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"audit failed: {reason}") from None
    sys.exit(0 if report.passed else 1)


def _audit(
    config_path: Path | None,
    db_url: str | None,
    window_args: tuple[str | None, str | None, str | None],
    district: str | None,
    scope: str | None,
    fail_under: tuple[str, ...],
    top: int,
) -> Report:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    now = time.time()
    window = parse_window(*window_args, now=now)
    site = load_site(config_path, db_url, os.environ.get(DB_ENV, DEFAULT_URL))
    options = AuditOptions(
        district=district,
        scopes=(scope,) if scope else ("public", "sector", ALL),
        rates=RateOptions(freshness_s=site.freshness_s),
        targets=site.targets,
        module_probers=site.module_probers,
        thresholds=parse_thresholds(fail_under),
        top=top,
    )
    with progress_steps(enabled=True) as step:
        return run_audit(site, options, window, now, step)


def _emit(report: Report, fmt: str, lang: str, output: Path | None) -> None:
    if output is None and fmt == "table" and sys.stdout.isatty():
        print_report(report, lang, Console())
        return
    text = renderer(fmt)(report, lang)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {output}: cannot write ({exc.strerror})") from None
