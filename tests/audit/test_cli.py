"""``sharpeyes audit`` end to end on the fixture database: exit codes, formats, the golden JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sharpeyes.audit.render.csv_out import header
from sharpeyes.cli import main
from tests.audit.fixture import make_db

GOLDEN = Path(__file__).with_name("golden") / "fixture.json"
WINDOW_ARGS = ["--from", "2026-10-01", "--to", "2026-10-04"]


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url, engine = make_db(tmp_path_factory.mktemp("cli"))
    engine.dispose()
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_json_matches_the_golden_file(db_url: str) -> None:
    code, out, _ = run("--db", db_url, *WINDOW_ARGS, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["generated_at"].endswith("Z")
    doc["generated_at"] = "(generated)"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert doc == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert doc["schema"] == "sharpeyes.audit/1"
    assert doc["window"] == {"start": "2026-10-01T00:00:00Z", "end": "2026-10-05T00:00:00Z", "seconds": 345600.0}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), 1),  # public coverage 0 of 3 areas
        (("--scope", "sector"), 0),  # the bank is covered, connected, in good order
        (("--fail-under", "online_time=50"), 0),  # lowest row: district D1 with 7 of 13.75 days (50.9%)
        (("--fail-under", "online_time=51"), 1),
        (("--fail-under", "online_time=50", "--fail-under", "good_order=50"), 1),  # city public 1 of 4
        (("--district", "D2", "--scope", "sector", "--fail-under", "coverage=100%"), 0),
    ],
)
def test_exit_codes(db_url: str, args: tuple[str, ...], expected: int) -> None:
    code, _, _ = run("--db", db_url, *WINDOW_ARGS, "--format", "csv", *args)
    assert code == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fail-under", "uptime=90"), "allowed rates"),
        (("--fail-under", "coverage=140"), "out of range"),
        (("--since", "soon"), "not a duration"),
        (("--since", "3d", "--from", "2026-10-01"), "cannot be combined"),
        (("--from", "2026-10-01"), "go together"),
        (("--district", "NOPE"), "no such district"),
    ],
)
def test_errors_exit_2_with_one_line(db_url: str, args: tuple[str, ...], message: str) -> None:
    code, out, err = run("--db", db_url, *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_database_errors_exit_2_without_the_password(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    code, _, err = run("--db", f"sqlite:///{tmp_path / 'junk.db'}")
    assert code == 2 and "error:" in err
    code, _, err = run("--db", "postgresql+psycopg://u:s3cr%40t@127.0.0.1:1/x")
    assert code == 2 and "s3cr" not in err


def test_csv_has_one_row_per_group_and_the_documented_header(db_url: str) -> None:
    _, out, _ = run("--db", db_url, *WINDOW_ARGS, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == header()
    by_key = {(r[1], r[2]): dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    s1 = by_key[("public", "S1")]
    assert (s1["coverage_numerator"], s1["coverage_denominator"], s1["coverage_met"]) == ("0", "1", "false")
    assert (s1["online_time_value"], s1["good_order_value"], s1["good_order_target"]) == ("0.7", "0.5", "0.98")
    # D1 and its street have no sector area and no sector camera: no sector rows for them
    assert [k for k in by_key if k[0] == "sector"] == [("sector", "all"), ("sector", "C"), ("sector", "D2")]
    assert len(rows) == 1 + 3 + 3 + 2 + 2 + 3


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_markdown_and_table_in_both_languages(db_url: str, lang: str, tmp_path: Path) -> None:
    out_file = tmp_path / "r.md"
    code, out, _ = run("--db", db_url, *WINDOW_ARGS, "--format", "md", "--lang", lang, "--output", str(out_file))
    md = out_file.read_text(encoding="utf-8")
    assert code == 1 and out == ""
    assert ("## 未覆盖区域" if lang == "zh" else "## Uncovered areas") in md
    assert "| A1 | 人民广场 |" in md
    _, table, _ = run("--db", db_url, *WINDOW_ARGS, "--lang", lang)
    assert ("覆盖率" if lang == "zh" else "Coverage") in table and "c4" in table


def test_real_process_exit_code(db_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sharpeyes",
            "audit",
            "--db",
            db_url,
            *WINDOW_ARGS,
            "--scope",
            "public",
            "-o",
            os.devnull,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr


def test_config_gives_the_targets(db_url: str, tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "live.yml").write_text("prober: rtsp\n", encoding="utf-8")
    cfg = tmp_path / "sharpeyes.yml"
    cfg.write_text(
        f"database:\n  url: {db_url}\nprobes_dir: probes\n"
        "targets:\n  public: {coverage: 0.0, connection: 0.0, good_order: 0.0}\n",
        encoding="utf-8",
    )
    code, out, _ = run("--config", str(cfg), *WINDOW_ARGS, "--format", "json")
    doc = json.loads(out)
    assert code == 0, doc["failures"]  # no public target left; the sector rows meet theirs
    g = next(g for g in doc["groups"] if g["scope"] == "public" and g["district"] == "all")
    assert g["rates"]["good_order"]["target"] == 0.0


def test_module_names_starting_with_a_prober_name() -> None:
    from sharpeyes.audit.history import prober_of

    assert [prober_of(m, {"live": "rtsp"}) for m in ("live", "rtsp_describe", "frame_health", "ping", "service")] == [
        "rtsp",
        "rtsp",
        "frame",
        "",
        "",
    ]


def test_a_module_named_after_the_snapshot_source_is_no_prober_of_its_own() -> None:
    """There is no ``snapshot`` prober (snapshots are a source of the frame prober), so a module named
    ``snapshot_…`` with no module map behind it is not taken for a liveness prober."""
    from sharpeyes.audit.history import prober_of

    assert prober_of("snapshot_frames", {}) == ""
    assert prober_of("snapshot_frames", {"snapshot_frames": "frame"}) == "frame"


def test_terminal_tables_line_up_with_chinese_text(db_url: str) -> None:
    from rich.cells import cell_len

    _, table, _ = run("--db", db_url, *WINDOW_ARGS, "--lang", "zh")
    rows = [line for line in table.splitlines() if line.startswith(("┃", "│"))]
    assert any("和平路街道" in r for r in rows) and any("人民广场" in r for r in rows)
    blocks: list[list[str]] = [[]]
    for line in table.splitlines():
        if line.startswith(("┏", "┌")):
            blocks.append([])
        if line.startswith(("┃", "│", "┡", "└", "┏", "┌")):
            blocks[-1].append(line)
    for block in filter(None, blocks):
        assert len({cell_len(line) for line in block}) == 1, block  # every row of a table has the same width
