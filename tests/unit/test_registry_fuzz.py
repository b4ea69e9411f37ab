"""Property: the registry reader never fails with anything but InputError, whatever the file holds."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharpeyes.errors import InputError
from sharpeyes.registry.io import COLUMNS, parse_content, parse_files, read_inventory

NAMES = ["districts.csv", "areas.csv", "cameras.csv", "x.csv", "registry.yml"]
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "150200",
            "15020300001320000001",
            "A1",
            "public",
            "sector",
            "city",
            "district",
            "rtsp://h/x",
            "http://127.0.0.1/onvif",
            "127.0.0.1",
            "true",
            "1920x1080",
            "一类",
            "${X}",
            "-1",
            "1e309",
        ]
    ),
)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


headers = st.one_of(
    st.sampled_from(list(COLUMNS.values())).map(list),
    st.lists(st.sampled_from([c for cols in COLUMNS.values() for c in cols] + ["password", "x", ""]), max_size=10),
)
structured = st.builds(_csv, headers, st.lists(st.lists(CELL, max_size=16), max_size=8))
files = st.lists(
    st.tuples(st.sampled_from(NAMES), st.one_of(structured, st.binary(max_size=300))), min_size=1, max_size=4
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files)
def test_reader_only_ever_raises_input_error(contents: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, (name, data) in enumerate(contents):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            path = folder / name
            path.write_bytes(data)
            paths.append(path)
        try:
            inventory = read_inventory(paths)
        except InputError as exc:
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
            assert all("\n" not in p for p in exc.problems)
        else:
            assert len(inventory.cameras) <= sum(max(d.count(b"\n"), 1) for _, d in contents)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), CELL)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
records = st.dictionaries(
    st.sampled_from([c for cols in COLUMNS.values() for c in cols] + ["password", "x"]), values, max_size=8
)
documents = st.one_of(
    values,
    st.dictionaries(
        st.sampled_from(["districts", "areas", "cameras", "other"]),
        st.one_of(values, st.lists(records, max_size=4)),
        max_size=3,
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_yaml_reader_only_ever_raises_input_error(document: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.yml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        try:
            read_inventory([path])
        except InputError as exc:
            assert exc.problems and all("\n" not in p for p in exc.problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([*NAMES, "notes.txt", "registry.json", "cams.xlsx"]), st.one_of(structured, st.binary(max_size=300))
)
def test_parsing_bytes_in_memory_equals_parsing_the_file(name: str, data: bytes) -> None:
    """``parse_content`` (used by the fuzzer, no file) reads the same records and problems as ``parse_files``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        from_file = parse_files([path])
        in_memory = parse_content(path, data)
    assert in_memory == from_file
