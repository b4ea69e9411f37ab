"""Safe YAML loading: lines per value, limits against hostile documents, ${ENV}, pydantic errors with lines."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from sharpeyes.errors import InputError
from sharpeyes.yamlio import MAX_BYTES, load_yaml, parse_yaml, validate_model


def problems(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as err:
        parse_yaml(text, "t.yml", **kwargs)  # type: ignore[arg-type]
    return err.value.problems


def test_every_value_knows_its_line() -> None:
    data, lines = parse_yaml("a: 1\nb:\n  - x: 2\n\n    y: 3\n  - z\n", "t.yml")
    assert data == {"a": 1, "b": [{"x": 2, "y": 3}, "z"]}
    assert lines.line(("b", 0, "y")) == 5
    assert lines.line(("b", 1)) == 6
    assert lines.line(("b", 0, "missing")) == 3  # falls back to the enclosing value
    data, lines = parse_yaml("a: 0\n2: x\nyes: y\n", "t.yml")
    assert data == {"a": 0, 2: "x", True: "y"}
    assert (lines.line((2,)), lines.line((True,))) == (2, 3)  # keys as the loader builds them


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        levels.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    assert "alias bomb" in problems("\n".join(levels))[0]


def test_too_many_aliases_recursive_aliases_and_deep_nesting_are_refused() -> None:
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert "more than 100 aliases" in problems(many)[0]
    assert "recursive alias" in problems("a: &a [*a]\n")[0]
    assert "nested deeper than 64" in problems("[" * 65 + "]" * 65)[0]
    assert problems("[" * 200_000)  # libyaml's own limit, or ours: never a crash


def test_python_tags_are_not_constructed() -> None:
    found = problems("a: !!python/object/apply:os.system ['true']\n")
    assert found[0].startswith("t.yml:1: YAML: could not determine a constructor")


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(InputError, match="larger than 10 MB"):
        load_yaml(big)


def test_syntax_errors_name_the_line() -> None:
    assert problems("a: 1\nb: [1, 2\nc: 3\n")[0].startswith("t.yml:3: YAML:")


def test_env_interpolation() -> None:
    data, _ = parse_yaml(
        "url: x://${USER_A}@h/${DB}\ncost: $$5\n", "t.yml", interpolate=True, env={"USER_A": "u", "DB": "d"}
    )
    assert data == {"url": "x://u@h/d", "cost": "$5"}
    found = problems("a:\n  b: ${NOT_SET_ANYWHERE}\n", interpolate=True, env={})
    assert found == [
        "t.yml:2: a.b: environment variable NOT_SET_ANYWHERE is not set (allowed: set it, or write $$ for a literal $)"
    ]


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int = Field(1, ge=1, le=65535)
    mode: Literal["fast", "safe"] = "safe"


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: Inner = Inner()
    items: list[Inner] = []


def test_pydantic_errors_name_file_line_field_and_what_is_allowed() -> None:
    text = "inner:\n  port: 70000\n  mode: slow\nitems:\n  - port: x\n  - colour: red\nextra: 1\n"
    data, lines = parse_yaml(text, "c.yml")
    with pytest.raises(InputError) as err:
        validate_model(Outer, data, "c.yml", lines)
    assert err.value.problems == [
        "c.yml:2: inner.port: input should be less than or equal to 65535 (got 70000) (allowed: ≤ 65535)",
        "c.yml:3: inner.mode: input should be 'fast' or 'safe' (got 'slow') (allowed: 'fast' or 'safe')",
        "c.yml:5: items[0].port: input should be a valid integer, unable to parse string as an integer (got 'x') "
        "(allowed: an integer)",
        "c.yml:6: items[1].colour: unknown key (allowed: mode, port)",
        "c.yml:7: extra: unknown key (allowed: inner, items)",
    ]


def test_secret_looking_values_are_not_echoed() -> None:
    class M(BaseModel):
        model_config = ConfigDict(extra="forbid")
        token_env: int = 0

    data, lines = parse_yaml("token_env: hunter2\n", "s.yml")
    with pytest.raises(InputError) as err:
        validate_model(M, data, "s.yml", lines)
    assert "hunter2" not in str(err.value)
