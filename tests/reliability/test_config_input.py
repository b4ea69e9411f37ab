"""RELIABILITY.md C1–C4: hostile config and registry input. Existing bodies (tests/unit/test_config.py,
tests/unit/test_yamlio.py, tests/registry/test_cli_registry.py, tests/integration/test_run_command.py) are
called by import; the look-alike, credential-in-URL and side-effect cases are new here. C2's redaction is
checked end to end by tests/reliability/test_credential_sweep.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sharpeyes.cli import main
from sharpeyes.errors import InputError
from sharpeyes.registry.io import read_inventory
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


@pytest.mark.xfail(
    strict=True,
    reason="finding C1-1: registry.fields.id_key folds case, width and NFKC but not confusables: 'cam-1' and "
    "'сam-1' (Cyrillic U+0441) are accepted as two cameras",
)
def test_c1_cyrillic_look_alike_is_a_duplicate(tmp_path: Path) -> None:
    paths = registry_with(
        tmp_path, "id,name,area_id,host\ncam-1,a,P150202-01,127.0.0.1\n\u0441am-1,b,P150202-01,127.0.0.2\n"
    )
    assert any(f"{paths[2]}:3: id:" in p for p in problems_of(paths))


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
