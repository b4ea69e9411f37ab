"""Safe YAML loading that remembers where every value came from.

Only ``yaml.SafeLoader`` constructors are used (no Python tags). Files are size-limited; anchors, aliases,
nesting depth and the expanded size of the document are bounded, so an alias bomb ("billion laughs") or a
deeply nested document is rejected before anything walks it. Each value's line is kept in a :class:`LineMap`
keyed by its path (``("cameras", 3, "name")``), so validation errors can say ``file:line: field: problem``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - libyaml is in PyYAML's wheels
    _CParser = None  # type: ignore[assignment,misc]

from sharpeyes.errors import InputError

MAX_BYTES = 10 * 1024 * 1024
MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 1_000_000

PathKey = tuple[Hashable, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class LineMap:
    """1-based line of every path in a document; lookups fall back to the nearest enclosing value."""

    lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line(self, path: Sequence[Hashable]) -> int:
        key = tuple(path)
        while key:
            found = self.lines.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return self.lines.get((), 1)


class _Limits(Composer):
    """Composer hooks shared by both loaders: count aliases and bound nesting depth while composing."""

    _aliases = 0
    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        events: Any = self  # the parser half of the loader (Python or libyaml) provides the event API
        if events.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = events.peek_event().start_mark
                raise _RejectedError(mark.line + 1, f"more than {MAX_ALIASES} aliases (alias bombs are refused)")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = events.peek_event().start_mark
                raise _RejectedError(mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1


class _PyLoader(_Limits, yaml.SafeLoader):
    """Pure-Python safe loader with the limits (used when libyaml is missing)."""


if _CParser is not None:

    class _CLoader(_Limits, _CParser, SafeConstructor, Resolver):
        """libyaml parses (fast); Python composes (with the limits) and SafeConstructor builds values."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    _Loader: Any = _CLoader
else:  # pragma: no cover - libyaml is in PyYAML's wheels
    _Loader = _PyLoader


class _RejectedError(Exception):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def read_limited(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """Read at most ``max_bytes`` of a file; larger files are an input error."""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    if len(data) > max_bytes:
        raise InputError([f"{path}: larger than {max_bytes // (1024 * 1024)} MB (allowed: up to that size)"])
    return data


def load_yaml(path: Path, *, interpolate: bool = False, env: Mapping[str, str] | None = None) -> tuple[Any, LineMap]:
    """Parse one YAML file safely; returns the data and its line map. Problems raise :class:`InputError`."""
    raw = read_limited(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([f"{path}: not valid UTF-8 (byte {exc.start})"]) from None
    return parse_yaml(text, str(path), interpolate=interpolate, env=env)


def parse_yaml(
    text: str, source: str, *, interpolate: bool = False, env: Mapping[str, str] | None = None
) -> tuple[Any, LineMap]:
    """Parse YAML text (see :func:`load_yaml`); ``source`` names it in errors."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap({(): 1})
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise _RejectedError(node.start_mark.line + 1, "document expands to too many values (alias bomb?)")
        lines: dict[PathKey, int] = {}
        _record_lines(node, (), lines, set())
        data = loader.construct_document(node)
    except _RejectedError as exc:
        raise InputError([f"{source}:{exc.line}: {exc.problem}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError([f"{source}:{line}: YAML: {one_line(exc.problem or exc.context or 'syntax error')}"]) from None
    except yaml.YAMLError as exc:
        raise InputError([f"{source}:1: YAML: {one_line(str(exc))}"]) from None
    except RecursionError:
        raise InputError([f"{source}:1: YAML nested too deeply"]) from None
    finally:
        loader.dispose()
    if interpolate:
        data = interpolate_env(data, source, LineMap(lines), env)
    return data, LineMap(lines)


def one_line(text: str, limit: int = 200) -> str:
    """A message on one line (parsers' messages may span several), cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def interpolate_env(data: Any, source: str, lines: LineMap, env: Mapping[str, str] | None = None) -> Any:
    """``${NAME}`` → the environment variable in every string (``$$`` → ``$``); an unset variable is an error."""
    problems: list[str] = []
    out = _interpolate(data, (), env if env is not None else os.environ, source, lines, problems)
    if problems:
        raise InputError(problems)
    return out


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """How many nodes the document has once aliases are expanded (memoised, so bombs cost nothing).

    A node that contains itself (a recursive alias) is rejected.
    """
    known = memo.get(id(node))
    if known is not None:
        if known < 0:
            raise _RejectedError(node.start_mark.line + 1, "recursive alias (a value that contains itself)")
        return known
    memo[id(node)] = -1  # in progress
    total = 1
    if isinstance(node, MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, memo) + _expanded_size(value, memo)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            total += _expanded_size(item, memo)
    memo[id(node)] = total
    return total


def _record_lines(node: Node, path: PathKey, lines: dict[PathKey, int], seen: set[int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:  # aliased subtree: its lines are those of the anchor, recorded once
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                continue
            child = (*path, _scalar_key(key))
            lines[child] = key.start_mark.line + 1
            _record_lines(value, child, lines, seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, seen)


def _scalar_key(node: ScalarNode) -> Hashable:
    """A mapping key as the SafeLoader would build it (``1`` → int, ``yes`` → bool, else str)."""
    value: Hashable = node.value
    if node.tag == "tag:yaml.org,2002:bool":
        return SafeConstructor.bool_values.get(node.value.lower(), value)
    if node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return value
    return value


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")


def _interpolate(
    value: Any, path: PathKey, env: Mapping[str, str], source: str, lines: LineMap, problems: list[str]
) -> Any:
    """Replace ``${NAME}`` in every string with the environment variable (``$$`` is a literal ``$``)."""
    if isinstance(value, str):
        return _interpolate_str(value, path, env, source, lines, problems)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), env, source, lines, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), env, source, lines, problems) for i, v in enumerate(value)]
    return value


def _interpolate_str(
    text: str, path: PathKey, env: Mapping[str, str], source: str, lines: LineMap, problems: list[str]
) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name not in env:
            field_name = dotted(path) or "(document)"
            problems.append(
                f"{source}:{lines.line(path)}: {field_name}: environment variable {name} is not set "
                "(allowed: set it, or write $$ for a literal $)"
            )
            return ""
        return env[name]

    return _ENV.sub(repl, text)


def dotted(path: Sequence[Hashable]) -> str:
    """``("cameras", 3, "name")`` → ``cameras[3].name``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def walk(value: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """Every (path, leaf or container) in a loaded document, depth first."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, (*path, i))


# --- pydantic validation errors → ``file:line: field: problem (allowed: …)`` -------------------------------

_SECRETISH = re.compile(r"pass|secret|token|key", re.IGNORECASE)

_ALLOWED_BY_TYPE = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "finite_number": "a finite number",
}

_BOUND_WORDS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def validate_model(model: type[M], data: Any, source: str, lines: LineMap) -> M:
    """Validate loaded YAML against a model; each problem names file, line, field and what is allowed."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise InputError(validation_problems(exc, model, data, source, lines)) from None


def validation_problems(
    exc: ValidationError, model: type[BaseModel], data: Any, source: str, lines: LineMap
) -> list[str]:
    """One ``file:line: field: problem (allowed: …)`` line per pydantic error."""
    out: list[str] = []
    for err in exc.errors(include_url=False):
        path = _data_path(data, err["loc"])
        field_name = dotted(path) or "(document)"
        problem = _problem(err, path)
        allowed = _allowed(err, model, path)
        suffix = f" (allowed: {allowed})" if allowed else ""
        out.append(f"{source}:{lines.line(path)}: {field_name}: {problem}{suffix}")
    return out


def _data_path(data: Any, loc: Sequence[Hashable]) -> PathKey:
    """The part of a pydantic ``loc`` that exists in the data (drops union/validator tags)."""
    path: list[Hashable] = []
    node = data
    for part in loc:
        inside_dict = isinstance(node, dict) and part in node
        inside_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if inside_dict or inside_list:
            node = node[part]
            path.append(part)
        elif (isinstance(node, dict | list) or node is None) and isinstance(part, str) and not _is_tag(part):
            path.append(part)  # a missing or extra key: name it
            node = None
        # scalars: a tag like "function-after[...]" — skip
    return tuple(path)


def _is_tag(part: str) -> bool:
    return "[" in part or part.startswith(("function-", "tagged-union", "json-or-python"))


def _problem(err: Any, path: PathKey) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required, but missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    value = err.get("input")
    name = str(path[-1]) if path else ""
    if isinstance(value, str | int | float | bool) and not _SECRETISH.search(name):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return f"{msg[:1].lower()}{msg[1:]} (got {shown})"
    return f"{msg[:1].lower()}{msg[1:]}"


def _allowed(err: Any, model: type[BaseModel], path: PathKey) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(model, path[:-1])
        return ", ".join(sorted(parent.model_fields)) if parent is not None else ""
    if kind in ("literal_error", "enum"):
        return str(ctx.get("expected", ""))
    if kind in _ALLOWED_BY_TYPE:
        return _ALLOWED_BY_TYPE[kind]
    for bound, word in _BOUND_WORDS.items():
        if bound in ctx:
            return f"{word} {ctx[bound]}"
    if kind == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern')}"
    if kind in ("string_too_long", "too_long"):
        return f"at most {ctx.get('max_length')}"
    if kind in ("string_too_short", "too_short"):
        return f"at least {ctx.get('min_length')}"
    return ""


def _model_at(model: type[BaseModel], path: PathKey) -> type[BaseModel] | None:
    """The nested pydantic model a path points into (through Optional, list and dict), if any."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        else:
            args = [a for a in get_args(current) if a is not type(None)]
            current = args[-1] if args else None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None → X (only when one non-None member is left)."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
