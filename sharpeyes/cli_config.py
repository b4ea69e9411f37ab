"""``sharpeyes config check FILE``: validate the daemon config, its probe modules and its registry files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from sharpeyes.config import ConfigError, Loaded, load_config, load_probe_modules, readable_by_others
from sharpeyes.errors import InputError
from sharpeyes.registry.db import redacted
from sharpeyes.registry.io import check_references, parse_files
from sharpeyes.registry.store import counts
from sharpeyes.settings import ProbeModule


@dataclass
class CheckResult:
    """Everything `config check` found: problems (exit 2), warnings (printed), and what was loaded."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    loaded: Loaded | None = None
    modules: dict[str, ProbeModule] = field(default_factory=dict)
    registry: str = "no registry files"


def check(path: Path) -> CheckResult:
    """Validate a config file and everything it names; collects all problems rather than stopping at one."""
    result = CheckResult()
    try:
        result.loaded = load_config(path)
    except ConfigError as exc:
        result.warnings += exc.warnings
        result.problems += exc.problems
        return result
    except InputError as exc:
        result.problems += exc.problems
        return result
    result.warnings += result.loaded.warnings
    _check_probes(result, result.loaded)
    _check_registry(result, result.loaded)
    return result


def _check_probes(result: CheckResult, loaded: Loaded) -> None:
    try:
        result.modules, found = load_probe_modules(Path(loaded.config.probes_dir))
        result.warnings += found
    except InputError as exc:
        result.problems += exc.problems


def _check_registry(result: CheckResult, loaded: Loaded) -> None:
    files = [Path(f) for f in loaded.config.registry.files]
    if not files:
        return
    missing = [f for f in files if not f.is_file()]
    for f in missing:
        result.problems.append(f"{loaded.path}: registry.files: {f} does not exist (allowed: CSV or YAML files)")
    if missing:
        return
    parsed = parse_files(files)
    problems = parsed.problems + check_references(parsed.districts, parsed.areas, parsed.cameras)
    result.problems += problems
    for camera, where in parsed.cameras:
        if camera.password_file:
            result.warnings += readable_by_others(Path(camera.password_file), str(where), "password_file")
    if not problems:
        c = counts(parsed.inventory())
        result.registry = f"registry {c['districts']} districts, {c['areas']} areas, {c['cameras']} cameras"


@click.group()
def config() -> None:
    """The daemon config file."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check_command(file: Path) -> None:
    """Validate FILE, every probe module in its probes_dir, and the registry files it names.

    Each problem names file, line and field, says what is wrong and what is allowed (exit 2). Plaintext
    passwords and world-readable secret files are warnings. A valid config prints one summary line.
    """
    result = check(file)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.problems:
        raise InputError(result.problems)
    assert result.loaded is not None
    cfg = result.loaded.config
    names = ", ".join(sorted(result.modules)) or "none"
    summary = (
        f"ok: {file}: {len(result.modules)} probe modules ({names}); {result.registry}; "
        f"database {redacted(cfg.database.url)}; listen {cfg.listen.host}:{cfg.listen.port}"
    )
    if result.warnings:
        count = len(result.warnings)
        summary += f"; {count} warning{'s' if count != 1 else ''}"
    click.echo(summary)
