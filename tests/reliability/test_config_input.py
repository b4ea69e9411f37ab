"""RELIABILITY.md C1–C4: hostile config and registry input. Existing bodies (tests/unit/test_config.py,
tests/unit/test_yamlio.py, tests/registry/test_cli_registry.py, tests/integration/test_run_command.py) are
called by import; the look-alike, credential-in-URL and side-effect cases are new here. C2's redaction is
checked end to end by tests/reliability/test_credential_sweep.py."""

from __future__ import annotations

import logging
import shutil
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, text

from sharpeyes.cli import main
from sharpeyes.errors import InputError
from sharpeyes.registry import db, store
from sharpeyes.registry.io import parse_files, read_inventory
from tests.integration import test_run_command as run_command
from tests.registry import test_cli_registry as cli_registry
from tests.unit import test_config, test_yamlio

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"


def registry_with(tmp_path: Path, cameras_csv: str) -> list[Path]:
    for name in ("districts.csv", "areas.csv"):
        shutil.copy(DEMO / name, tmp_path / name)
    (tmp_path / "cameras.csv").write_text(cameras_csv, encoding="utf-8")
    return [tmp_path / "districts.csv", tmp_path / "areas.csv", tmp_path / "cameras.csv"]


def problems_of(paths: list[Path]) -> list[str]:
    try:
        read_inventory(paths)
    except InputError as exc:
        return exc.problems
    return []


def test_c1_duplicates_by_case_and_unknown_areas_reject_the_whole_input(tmp_path: Path) -> None:
    cli_registry.test_duplicate_by_case_and_unknown_area_exit_2_and_change_nothing(
        f"sqlite:///{tmp_path / 'c1.db'}", tmp_path
    )


@pytest.mark.parametrize(
    "other", ["CAM-1", " cam-1", "ｃａｍ－１", "cam-1\u00a0"], ids=["case", "whitespace", "fullwidth", "nbsp"]
)
def test_c1_look_alike_duplicates_are_named_with_file_and_line(tmp_path: Path, other: str) -> None:
    paths = registry_with(
        tmp_path,
        f"id,name,area_id,host\ncam-1,a,P150202-01,127.0.0.1\n{other},b,P150202-01,127.0.0.2\n",
    )
    found = problems_of(paths)
    assert any(f"{paths[2]}:3: id:" in p for p in found), found


def test_c1_cyrillic_look_alike_is_a_duplicate(tmp_path: Path) -> None:
    """Finding C1-1 (fixed): 'саm-1' (Cyrillic с and а, Latin m) mixes alphabets: refused at its line, saying
    what it reads as and how to fix it; the whole input is rejected."""
    paths = registry_with(
        tmp_path, "id,name,area_id,host\ncam-1,a,P150202-01,127.0.0.1\n\u0441\u0430m-1,b,P150202-01,127.0.0.2\n"
    )
    found = problems_of(paths)
    line = next(p for p in found if p.startswith(f"{paths[2]}:3: id:"))
    assert "mixes Cyrillic and Latin" in line and "U+0441" in line and "reads as 'cam-1'" in line, line
    assert "retype it in one alphabet" in line


@pytest.mark.parametrize(
    "other",
    ["\u0441\u0430\u043c-1", "\u0421\u0410\u041c-1", "\u03bf\u03c1\u03b1-1"],
    ids=["cyrillic", "cyrillic-caps", "greek"],
)
def test_c1_single_script_look_alike_is_a_duplicate_with_file_and_line(tmp_path: Path, other: str) -> None:
    """All-Cyrillic 'сам-1' / 'САМ-1' is not mixed-script, but folds (TR39-style skeleton) to 'cam-1'; Greek
    'ορα-1' to 'opa-1': duplicates, named at their line with the first one's place."""
    latin = "opa-1" if other.startswith("\u03bf") else "cam-1"
    paths = registry_with(
        tmp_path, f"id,name,area_id,host\n{latin},a,P150202-01,127.0.0.1\n{other},b,P150202-01,127.0.0.2\n"
    )
    found = problems_of(paths)
    assert any(p.startswith(f"{paths[2]}:3: id: duplicate camera id") and f"{paths[2]}:2" in p for p in found), found


def test_c1_han_with_latin_is_not_mixed_script(tmp_path: Path) -> None:
    """Han next to Latin is how ids are written here (东门-cam1): allowed, as UTS #39's highly restrictive level."""
    paths = registry_with(tmp_path, "id,name,area_id,host\n东门-cam1,a,P150202-01,127.0.0.1\n")
    assert problems_of(paths) == []


def _insert_old_keyed(conn: Connection, camera_id: str, host: str) -> None:
    """A camera as schema 0001 stored it (a copy of cam-1's other columns), with the pre-fix key."""
    conn.execute(
        text(
            "INSERT INTO cameras (id, id_key, name, area_id, host, auth, in_service, tags) "
            "SELECT :id, :key, :id, area_id, :host, auth, in_service, tags FROM cameras WHERE id = 'cam-1'"
        ),
        {"id": camera_id, "key": unicodedata.normalize("NFKC", camera_id).casefold(), "host": host},
    )


def _camera_keys(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {str(ident): str(key) for ident, key in conn.execute(text("SELECT id, id_key FROM cameras"))}


def test_c1_existing_database_is_rekeyed_and_a_stored_look_alike_pair_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database written before the fix (schema 0001, old keys) holding 'cam-1' and all-Cyrillic 'сам-1': the
    migration re-keys what it can, warns about the pair, and every import then rejects the pair."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    paths = registry_with(tmp_path, "id,name,area_id,host\ncam-1,a,P150202-01,127.0.0.1\n")
    db.upgrade(url, "0001")
    engine = db.make_engine(url)
    try:
        store.import_inventory(engine, parse_files(paths))  # keys written by today's id_key: Latin ones are unchanged
        with engine.begin() as conn:  # two more cameras, keyed the old way (NFKC + casefold only)
            _insert_old_keyed(conn, "\u0441\u0430\u043c-1", "127.0.0.2")  # all-Cyrillic 'сам-1'
            _insert_old_keyed(conn, "\u0445\u0443\u0437-7", "127.0.0.3")  # 'хуз-7': no Latin twin
        with caplog.at_level(logging.WARNING, logger="sharpeyes.registry.migrations"):
            db.upgrade(engine)
        keys = _camera_keys(engine)
        assert keys == {
            "cam-1": "cam-1",
            "\u0441\u0430\u043c-1": "\u0441\u0430\u043c-1",
            "\u0445\u0443\u0437-7": "xy\u0437-7",
        }
        assert "'cam-1' and '\u0441\u0430\u043c-1' are look-alikes" in caplog.text
        with pytest.raises(InputError) as raised:
            store.import_inventory(engine, parse_files(paths))
        assert any(
            p.startswith(
                f"{paths[2]}:2: id: duplicate camera id 'cam-1' (already at (database) as '\u0441\u0430\u043c-1')"
            )
            for p in raised.value.problems
        ), raised.value.problems
        db.downgrade(engine, "0001")  # and back: the old keys again
        assert _camera_keys(engine)["\u0445\u0443\u0437-7"] == "\u0445\u0443\u0437-7"
    finally:
        engine.dispose()


async def test_c1_reload_with_a_broken_registry_keeps_the_old_config_running(tmp_path: Path) -> None:
    await run_command.test_reload_with_a_broken_registry_keeps_the_old_one(tmp_path)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("rtsp://[::1]:0/x", "port 0"),
        ("rtsp://[::1]:65536/x", "not a valid URL"),
        ("rtsp://admin:p%40ss%3Aw@127.0.0.1/x", "credentials in a URL are refused"),
        ("rtsp://admin:p@ss:w/o#r?d%@127.0.0.1/x", ""),
    ],
    ids=["port-0", "port-65536", "percent-encoded-password", "raw-hostile-password"],
)
def test_c2_strict_urls_ports_and_no_inline_passwords(tmp_path: Path, url: str, problem: str) -> None:
    paths = registry_with(tmp_path, f"id,name,area_id,host,rtsp_url\ncam-1,a,P150202-01,127.0.0.1,{url}\n")
    found = problems_of(paths)
    assert found and all(f"{paths[2]}:2: rtsp_url:" in p for p in found), found
    assert problem in found[0]
    for secret in ("p%40ss%3Aw", "p@ss:w/o#r?d%", "ss:w"):
        assert secret not in " ".join(found)


def test_c2_ipv6_literal_is_accepted(tmp_path: Path) -> None:
    paths = registry_with(tmp_path, "id,name,area_id,host,rtsp_url\ncam-1,a,P150202-01,::1,rtsp://[::1]:554/x\n")
    assert read_inventory(paths).cameras[0].rtsp_url == "rtsp://[::1]:554/x"


def test_c3_plaintext_passwords_are_flagged(tmp_path: Path) -> None:
    test_config.test_plaintext_passwords_are_warnings_naming_the_line(tmp_path)
    test_config.test_unknown_password_key_is_a_warning_and_an_error(tmp_path)


def test_c3_world_readable_secret_files_are_flagged(tmp_path: Path) -> None:
    test_config.test_world_readable_secret_files_are_warnings(tmp_path)


def test_c3_exports_carry_references_never_secrets_or_placeholders(tmp_path: Path) -> None:
    """The registry stores a password by reference (env or file); every export writes the reference back, never
    the value and never a redacted ``***`` that a later import would take for the password."""
    secret = tmp_path / "pw"
    secret.write_text("hunter2-secret")
    secret.chmod(0o600)
    paths = registry_with(
        tmp_path,
        "id,name,area_id,host,rtsp_url,username,password_env,password_file\n"
        "cam-1,a,P150202-01,127.0.0.1,rtsp://127.0.0.1/x,admin,CAM_PW,\n"
        f"cam-2,b,P150202-01,127.0.0.2,rtsp://127.0.0.2/x,admin,,{secret}\n",
    )
    db = f"sqlite:///{tmp_path / 'c3.db'}"
    runner = CliRunner()
    env = {"CAM_PW": "hunter2-env"}
    assert runner.invoke(main, ["registry", "import", *map(str, paths), "--db", db], env=env).exit_code == 0
    for fmt in ("yaml", "json", "file-sd"):
        out = runner.invoke(main, ["registry", "export", "--format", fmt, "--db", db], env=env)
        assert out.exit_code == 0, out.output
        assert "hunter2" not in out.output and "***" not in out.output
        if fmt != "file-sd":
            assert "CAM_PW" in out.output and str(secret) in out.output
    csv_dir = tmp_path / "csv"
    assert (
        runner.invoke(main, ["registry", "export", "--format", "csv", "--out", str(csv_dir), "--db", db]).exit_code == 0
    )
    text = "".join(p.read_text(encoding="utf-8") for p in csv_dir.iterdir())
    assert "hunter2" not in text and "***" not in text and "CAM_PW" in text


def test_c4_unsafe_tags_alias_bombs_depth_and_size_are_refused() -> None:
    test_yamlio.test_python_tags_are_not_constructed()
    test_yamlio.test_alias_bomb_is_refused_quickly()
    test_yamlio.test_too_many_aliases_recursive_aliases_and_deep_nesting_are_refused()


def test_c4_100_mb_yaml_is_refused_with_no_side_effects(tmp_path: Path) -> None:
    test_yamlio.test_size_limit(tmp_path)
    big = tmp_path / "registry.yml"
    with big.open("wb") as f:
        f.truncate(100 * 1024 * 1024 + 1)  # sparse; just over the registry limit (100 MB): refused by size
    db = tmp_path / "c4.db"
    result = CliRunner().invoke(main, ["registry", "import", str(big), "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2 and "larger than" in result.output
    assert not db.exists()
    cli_registry.test_bad_files_never_create_a_database_and_list_never_creates_one(tmp_path)
    assert not any(p.suffix == ".db" for p in tmp_path.iterdir())
