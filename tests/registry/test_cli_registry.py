"""``sharpeyes registry …`` end to end on SQLite and PostgreSQL (the issue's "Done when" items)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sharpeyes.cli import main
from sharpeyes.registry.db import head_revision, make_engine
from sharpeyes.registry.io import read_inventory
from sharpeyes.registry.store import load_inventory

from .conftest import DEMO_FILES, REPO


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def demo_args() -> list[str]:
    return [str(p) for p in DEMO_FILES]


def snapshot(db_url: str) -> object:
    engine = make_engine(db_url)
    try:
        return load_inventory(engine)
    finally:
        engine.dispose()


def test_demo_import_then_list_gives_the_demo_counts(db_url: str) -> None:
    imported = run("registry", "import", *demo_args(), "--db", db_url)
    assert imported.exit_code == 0, imported.output
    assert "cameras: 300 added" in imported.output
    listed = run("registry", "list", "--db", db_url, "--format", "json")
    assert listed.exit_code == 0, listed.output
    counts = json.loads(listed.output)
    assert (counts["districts"], counts["areas"], counts["cameras"]) == (96, 78, 300)
    assert counts["by_scope"]["public"]["areas"] == 62
    assert counts["by_scope"]["sector"]["areas"] == 16
    assert counts["by_scope"]["public"]["cameras"] + counts["by_scope"]["sector"]["cameras"] == 300
    table = run("registry", "list", "--db", db_url)
    assert table.exit_code == 0
    assert "150203 昆都仑区" in table.output and "96 districts, 78 areas, 300 cameras" in table.output


def test_reimport_changes_nothing(db_url: str) -> None:
    assert run("registry", "import", *demo_args(), "--db", db_url).exit_code == 0
    before = snapshot(db_url)
    again = run("registry", "import", *demo_args(), "--db", db_url)
    assert again.exit_code == 0
    assert "cameras: 0 added, 0 updated, 300 unchanged" in again.output
    assert snapshot(db_url) == before


def test_duplicate_by_case_and_unknown_area_exit_2_and_change_nothing(db_url: str, tmp_path: Path) -> None:
    assert run("registry", "import", *demo_args(), "--db", db_url).exit_code == 0
    before = snapshot(db_url)
    bad = tmp_path / "cameras.csv"
    bad.write_text(
        "id,name,area_id,host\n"
        "cam-Gate-1,东门,P150202-01,127.0.0.1\n"
        "CAM-gate-1 ,西门,P150202-01,127.0.0.2\n"
        "cam-2,南门,NO-SUCH-AREA,127.0.0.3\n",
        encoding="utf-8",
    )
    result = run("registry", "import", str(bad), "--db", db_url)
    assert result.exit_code == 2
    assert f"{bad}:3: id: duplicate camera id 'CAM-gate-1'" in result.output
    assert f"{bad}:4: area_id: unknown area 'NO-SUCH-AREA'" in result.output
    assert snapshot(db_url) == before


def test_prune_removes_only_when_asked(db_url: str, tmp_path: Path) -> None:
    assert run("registry", "import", *demo_args(), "--db", db_url).exit_code == 0
    lines = DEMO_FILES[2].read_text(encoding="utf-8").splitlines(keepends=True)
    subset = tmp_path / "cameras-north.csv"
    subset.write_text("".join(lines[:6]), encoding="utf-8")
    kept = run("registry", "import", str(subset), "--db", db_url)
    assert kept.exit_code == 0
    assert "295 cameras in the database are missing from the files (kept; --prune removes them)" in kept.output
    assert len(snapshot(db_url).cameras) == 300  # type: ignore[attr-defined]
    pruned = run("registry", "import", str(subset), "--db", db_url, "--prune")
    assert pruned.exit_code == 0 and "removed 295 cameras" in pruned.output
    assert len(snapshot(db_url).cameras) == 5  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["csv", "yaml", "json"])
def test_export_imports_back_to_the_same_registry(db_url: str, tmp_path: Path, fmt: str) -> None:
    assert run("registry", "import", *demo_args(), "--db", db_url).exit_code == 0
    out = tmp_path / ("export" if fmt == "csv" else f"registry.{'yml' if fmt == 'yaml' else 'json'}")
    exported = run("registry", "export", "--db", db_url, "--format", fmt, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    files = sorted(out.glob("*.csv")) if fmt == "csv" else [out]
    again = read_inventory(files)
    assert again == snapshot(db_url)


def test_csv_export_with_bom_for_excel_imports_back(db_url: str, tmp_path: Path) -> None:
    assert run("registry", "import", *demo_args(), "--db", db_url).exit_code == 0
    out = tmp_path / "excel"
    assert run("registry", "export", "--db", db_url, "--format", "csv", "--out", str(out), "--bom").exit_code == 0
    assert (out / "cameras.csv").read_bytes().startswith(b"\xef\xbb\xbfid,name,area_id")
    assert read_inventory(sorted(out.glob("*.csv"))) == snapshot(db_url)


def test_export_one_kind_to_stdout(db_url: str) -> None:
    assert run("registry", "import", *demo_args(), "--db", db_url).exit_code == 0
    result = run("registry", "export", "--db", db_url, "--format", "csv", "--kind", "districts")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "code,name,level,parent"
    assert len(result.output.splitlines()) == 97


def test_list_on_a_database_without_registry_says_what_to_do(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:  # an empty database: the file exists (SQLite), no schema
        conn.exec_driver_sql("SELECT 1")
    engine.dispose()
    result = run("registry", "list", "--db", db_url)
    assert result.exit_code == 2
    assert "schema revision none" in result.output and "registry migrate" in result.output


def test_validate_writes_nothing_and_reports_every_problem(tmp_path: Path) -> None:
    ok = run("registry", "validate", *demo_args())
    assert ok.exit_code == 0 and ok.output.startswith("ok: 96 districts, 78 areas, 300 cameras")
    bad = tmp_path / "areas.csv"
    bad.write_text(
        "id,name,district,scope,sector,kind,required_cameras\na1,甲,150200,sector,,bank,0\n", encoding="utf-8"
    )
    result = run("registry", "validate", str(DEMO_FILES[0]), str(bad))
    assert result.exit_code == 2
    assert f"{bad}:2: required_cameras: 0 is out of range (allowed: 1–10000)" in result.output
    assert f"{bad}:2: sector: required when scope is sector" in result.output
    assert not list(tmp_path.glob("*.db"))


def test_bad_files_never_create_a_database_and_list_never_creates_one(tmp_path: Path) -> None:
    bad = tmp_path / "areas.csv"
    bad.write_text("id,name\n", encoding="utf-8")
    db = tmp_path / "new.db"
    assert run("registry", "import", str(bad), "--db", f"sqlite:///{db}").exit_code == 2
    listed = run("registry", "list", "--db", f"sqlite:///{db}")
    assert listed.exit_code == 2 and "does not exist" in listed.output
    assert not db.exists()


def test_a_database_from_a_newer_version_is_refused_in_one_line(db_url: str) -> None:
    assert run("registry", "import", str(DEMO_FILES[0]), "--db", db_url).exit_code == 0
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    imported = run("registry", "import", str(DEMO_FILES[0]), "--db", db_url)
    assert imported.exit_code == 2 and imported.output.startswith("error: database ")
    assert "9999" in imported.output and len(imported.output.splitlines()) == 1
    listed = run("registry", "list", "--db", db_url)
    assert listed.exit_code == 2 and f"schema revision 9999, this version needs {head_revision()}" in listed.output


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    result = run("registry", "list", "--db", "postgresql+psycopg://u:pa%40ss@127.0.0.1:1/db?connect_timeout=1")
    assert result.exit_code == 2
    assert "pa@ss" not in result.output and "pa%40ss" not in result.output
    assert result.output.startswith("error: database postgresql+psycopg://u:***@127.0.0.1:1/db")


def test_readme_command_runs_through_the_console_entry_point(tmp_path: Path) -> None:
    """The README's run command, as a real process: import the demo city, then list it."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = Path(sys.executable).with_name("sharpeyes")  # the console script installed by pip
    assert script.exists(), "sharpeyes console script missing: run scripts/setup.sh"
    imported = subprocess.run(
        [str(script), "registry", "import", *demo_args(), "--db", url],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "sharpeyes", "registry", "list", "--db", url],  # and `python -m sharpeyes`
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert listed.returncode == 0 and "300 cameras" in listed.stdout
