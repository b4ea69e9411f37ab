"""Load the committed dashboards and their generator (dashboards/generate.py, not a package)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"

Json = dict[str, Any]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sharpeyes_dashboards_generate", DASHBOARDS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed() -> dict[str, Json]:
    """File name → the committed dashboard JSON."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: Json) -> Iterator[Json]:
    """Every panel, rows' collapsed children included."""
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])


def queries(board: Json) -> Iterator[tuple[Json, Json]]:
    """(panel, target) for every query of every panel."""
    for p in panels(board):
        for t in p.get("targets", []):
            yield p, t


def variables(board: Json) -> dict[str, Json]:
    return {v["name"]: v for v in board["templating"]["list"]}


_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}])")


def substitute(expr: str, values: dict[str, str], builtins: dict[str, str]) -> str:
    """Grafana's variable interpolation for the forms the dashboards use: $x, ${x}, ${x:regex}, $__builtin."""

    def one(m: re.Match[str]) -> str:
        name, fmt = m.group(1) or m.group(3), m.group(2)
        if name in builtins:
            return builtins[name]
        value = values[name]
        return _REGEX_SPECIAL.sub(r"\\\1", value) if fmt == "regex" else value

    return re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)", one, expr)
