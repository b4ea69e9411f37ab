"""Loading the daemon config and the probe modules, with ``file:line: field: problem (allowed: …)`` errors.

Relative paths in the config (``probes_dir``, ``registry.files``, ``api.token_file``) are relative to the
config file's folder, like Prometheus does; the loaded config holds them resolved. ``${NAME}`` in any string
is replaced by the environment variable. Plaintext secrets are found before interpolation (a
``${PGPASSWORD}`` reference is fine, a literal password is not) and reported as warnings with their line.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharpeyes.errors import InputError, UserError
from sharpeyes.settings import DaemonConfig, ProbeModule
from sharpeyes.yamlio import LineMap, dotted, interpolate_env, load_yaml, validate_model, walk

SECRET_KEYS = re.compile(r"^(password|passwd|pwd|secret|token|api_key|apikey|bearer|密码)$", re.IGNORECASE)
REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
URL_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#\s@:]*:(?P<password>[^/?#\s@]*)@")


class ConfigError(InputError):
    """Config problems, carrying the warnings found before validation failed."""

    def __init__(self, problems: list[str], warnings: list[str]) -> None:
        super().__init__(problems)
        self.warnings = warnings


@dataclass(frozen=True)
class Loaded:
    """A validated config, where it was read from, and the warnings found on the way."""

    config: DaemonConfig
    path: Path
    warnings: list[str] = field(default_factory=list)


def plaintext_warnings(data: Any, source: str, lines: LineMap) -> list[str]:
    """Lines holding a literal secret: a password-like key with a value, or a URL with a password in it."""
    warnings: list[str] = []
    for path, value in walk(data):
        if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
            continue
        name = str(path[-1]) if path else ""
        text = str(value)
        if SECRET_KEYS.match(name) and not REFERENCE.match(text):
            warnings.append(
                f"{source}:{lines.line(path)}: {dotted(path)}: plaintext secret "
                "(allowed: a reference: password_env / password_file, token_env / token_file, or ${ENV})"
            )
            continue
        match = URL_PASSWORD.search(text)
        if match and match.group("password") and not REFERENCE.match(match.group("password")):
            warnings.append(
                f"{source}:{lines.line(path)}: {dotted(path)}: URL with a plaintext password "
                "(allowed: ${ENV} in its place, e.g. postgresql+psycopg://user:${PGPASSWORD}@host/db)"
            )
    return warnings


def readable_by_others(path: Path, source: str, where: str) -> list[str]:
    """A warning when a secret file is missing or readable by everyone."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return [f"{source}: {where}: secret file {path} does not exist or cannot be read here"]
    if mode & stat.S_IROTH:
        return [f"{source}: {where}: secret file {path} is readable by everyone (allowed: chmod 600 or 640)"]
    return []


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Loaded:
    """Read, interpolate and validate the daemon config; raises :class:`InputError` listing every problem."""
    source = str(path)
    raw, lines = load_yaml(path)
    warnings = plaintext_warnings(raw, source, lines)
    data = interpolate_env(raw, source, lines, env)
    try:
        config = validate_model(DaemonConfig, data, source, lines)
    except InputError as exc:
        raise ConfigError(exc.problems, warnings) from None
    base = path.resolve().parent
    resolved = config.model_copy(
        update={
            "probes_dir": _resolve(base, config.probes_dir),
            "registry": config.registry.model_copy(
                update={"files": [_resolve(base, f) for f in config.registry.files]}
            ),
            "api": config.api.model_copy(
                update={"token_file": _resolve(base, config.api.token_file) if config.api.token_file else None}
            ),
        }
    )
    warnings += _exposure_warning(resolved, source, lines)
    if resolved.api.token_file:
        line = lines.line(("api", "token_file"))
        warnings += readable_by_others(Path(resolved.api.token_file), f"{source}:{line}", "api.token_file")
    return Loaded(resolved, path, warnings)


def _exposure_warning(config: DaemonConfig, source: str, lines: LineMap) -> list[str]:
    """Listening beyond loopback without an API token exposes the admin endpoints."""
    host = config.listen.host
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if loopback or config.api.token_env or config.api.token_file:
        return []
    return [
        f"{source}:{lines.line(('listen', 'host'))}: listen.host: {host} is reachable from other machines and "
        "no api token is set (allowed: 127.0.0.1, or set api.token_env / api.token_file)"
    ]


def load_probe_module(path: Path) -> tuple[ProbeModule, list[str]]:
    """One probe module file; its name is the file stem. Returns the module and plaintext warnings."""
    source = str(path)
    raw, lines = load_yaml(path)
    warnings = plaintext_warnings(raw, source, lines)
    data = interpolate_env(raw, source, lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([f"{source}:1: (document): expected a mapping of module settings (e.g. prober: rtsp)"])
    stem = path.stem
    given = data.get("name")
    if given is not None and given != stem:
        key: tuple[Hashable, ...] = ("name",)
        raise InputError([f"{source}:{lines.line(key)}: name: {given!r} differs from the file name (allowed: {stem})"])
    return validate_model(ProbeModule, {**data, "name": stem}, source, lines), warnings


def load_probe_modules(folder: Path) -> tuple[dict[str, ProbeModule], list[str]]:
    """Every ``*.yml``/``*.yaml`` in a folder as name → module; all files' problems are raised together."""
    if not folder.is_dir():
        raise InputError([f"{folder}: probes_dir: folder does not exist (allowed: a folder of probe module files)"])
    modules: dict[str, ProbeModule] = {}
    problems: list[str] = []
    warnings: list[str] = []
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    for file in files:
        try:
            module, found = load_probe_module(file)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        warnings.extend(found)
        if module.name in modules:
            problems.append(f"{file}:1: name: module {module.name!r} defined twice (.yml and .yaml)")
        modules[module.name] = module
    if problems:
        raise InputError(problems)
    if not files:
        warnings.append(f"{folder}: no probe modules (*.yml) in this folder: the daemon would probe nothing")
    return modules, warnings


_MODULE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def find_probe_module(folder: Path, name: str) -> ProbeModule:
    """The module called ``name`` in ``folder`` (``NAME.yml`` or ``NAME.yaml``)."""
    if not _MODULE_NAME.fullmatch(name):
        raise UserError(f"module name {name!r} is invalid: use lower-case letters, digits and _")
    for suffix in (".yml", ".yaml"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return load_probe_module(path)[0]
    raise UserError(f"no probe module {name!r} in {folder} (looked for {name}.yml)")
