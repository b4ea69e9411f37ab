"""The daemon config, probe modules and ``sharpeyes config check``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sharpeyes.cli import main
from sharpeyes.config import ConfigError, load_config, load_probe_modules
from sharpeyes.errors import InputError
from sharpeyes.settings import DaemonConfig

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "sharpeyes.example.yml"


def check(path: Path) -> Result:
    return CliRunner().invoke(main, ["config", "check", str(path)], catch_exceptions=False)


def copy_example(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """The example config in tmp_path, with its relative paths still pointing into the repository."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("probes_dir: ../probes", f"probes_dir: {tmp_path / 'probes'}")
    text = text.replace("    - demo/", f"    - {REPO / 'config' / 'demo'}/")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "probes").mkdir(exist_ok=True)
    (tmp_path / "probes" / "rtsp_test.yml").write_text("prober: rtsp\ninterval_s: 30\n", encoding="utf-8")
    path = tmp_path / "sharpeyes.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_the_design() -> None:
    cfg = DaemonConfig()
    assert cfg.database.url == "sqlite:///sharpeyes.db"
    assert cfg.listen.host == "127.0.0.1"
    assert cfg.probes_dir == "probes"
    assert (cfg.targets.public.coverage, cfg.targets.public.connection, cfg.targets.public.good_order) == (1, 1, 0.98)
    assert (cfg.targets.sector.coverage, cfg.targets.sector.connection, cfg.targets.sector.good_order) == (1, 1, 0.95)


def test_the_example_config_is_valid() -> None:
    result = check(EXAMPLE)
    assert result.exit_code == 0, result.output
    summary = [line for line in result.output.splitlines() if line.startswith("ok: ")]
    assert len(summary) == 1
    assert "registry 96 districts, 78 areas, 300 cameras" in summary[0]
    loaded = load_config(EXAMPLE)
    assert Path(loaded.config.probes_dir) == REPO / "probes"
    assert loaded.config.registry.files[0] == str(REPO / "config" / "demo" / "districts.csv")


def test_unknown_key_and_wrong_type_both_named_with_file_line_field(tmp_path: Path) -> None:
    path = copy_example(tmp_path, {"  port: 9753": "  port: nine", "  per_host: 2": "  per_host: 2\n  per_hots: 3"})
    lines = path.read_text(encoding="utf-8").splitlines()
    port_line = next(n for n, line in enumerate(lines, 1) if line.startswith("  port: nine"))
    typo_line = next(n for n, line in enumerate(lines, 1) if line.startswith("  per_hots: 3"))
    result = check(path)
    assert result.exit_code == 2
    assert f"error: {path}:{port_line}: listen.port: input should be a valid integer" in result.output
    assert "(allowed: an integer)" in result.output
    allowed = "(allowed: frame_share, overload_lag_share, per_host, retry_share, total)"
    assert f"error: {path}:{typo_line}: concurrency.per_hots: unknown key {allowed}" in result.output


def test_a_good_copy_passes_and_counts_probe_modules(tmp_path: Path) -> None:
    result = check(copy_example(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 probe modules (rtsp_test)" in result.output


def test_plaintext_passwords_are_warnings_naming_the_line(tmp_path: Path) -> None:
    path = copy_example(
        tmp_path,
        {"  url: sqlite:///sharpeyes.db": "  url: postgresql+psycopg://sharpeyes:hunter2@127.0.0.1/sharpeyes"},
    )
    line = (
        path.read_text(encoding="utf-8")
        .splitlines()
        .index("  url: postgresql+psycopg://sharpeyes:hunter2@127.0.0.1/sharpeyes")
    )
    result = check(path)
    assert result.exit_code == 0
    assert f"warning: {path}:{line + 1}: database.url: URL with a plaintext password" in result.output
    assert "hunter2" not in result.output
    referenced = copy_example(
        tmp_path, {"  url: sqlite:///sharpeyes.db": "  url: postgresql+psycopg://u:${PGPASS_T}@127.0.0.1/db"}
    )
    assert not load_config(referenced, env={"PGPASS_T": "x", "SHARPEYES_API_TOKEN": "t"}).warnings


def test_unknown_password_key_is_a_warning_and_an_error(tmp_path: Path) -> None:
    path = copy_example(tmp_path, {"  busy_timeout_s: 30": "  busy_timeout_s: 30\n  password: hunter2"})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any("database.password: plaintext secret" in w for w in err.value.warnings)
    assert any("database.password: unknown key" in p for p in err.value.problems)
    assert "hunter2" not in " ".join(err.value.problems + err.value.warnings)


def test_world_readable_secret_files_are_warnings(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    token.chmod(0o644)
    path = copy_example(tmp_path, {"  token_env: SHARPEYES_API_TOKEN": f"  token_file: {token}"})
    loaded = load_config(path)
    assert any("readable by everyone" in w and "api.token_file" in w for w in loaded.warnings)
    token.chmod(0o600)
    assert not load_config(path).warnings

    secret = tmp_path / "cam.pw"
    secret.write_text("pw")
    secret.chmod(0o604)
    cams = tmp_path / "cameras.csv"
    cams.write_text(
        f"id,name,area_id,host,password_file\nc1,东门,P150202-01,127.0.0.1,{secret}\n",
        encoding="utf-8",
    )
    for name in ("districts.csv", "areas.csv"):
        shutil.copy(REPO / "config" / "demo" / name, tmp_path / name)
    mixed = copy_example(tmp_path, {f"{REPO / 'config' / 'demo'}/cameras.csv": str(cams)})
    result = check(mixed)
    assert result.exit_code == 0, result.output
    assert f"warning: {cams}:2: password_file: secret file {secret} is readable by everyone" in result.output


def test_registry_problems_fail_the_check(tmp_path: Path) -> None:
    cams = tmp_path / "cameras.csv"
    cams.write_text("id,name,area_id,host,password\nc1,东门,P150202-01,127.0.0.1,hunter2\n", encoding="utf-8")
    path = copy_example(tmp_path, {f"{REPO / 'config' / 'demo'}/cameras.csv": str(cams)})
    result = check(path)
    assert result.exit_code == 2
    assert f"error: {cams}:2: password: a plaintext password is refused" in result.output
    assert "hunter2" not in result.output


def test_listening_beyond_loopback_without_a_token_is_a_warning(tmp_path: Path) -> None:
    path = copy_example(
        tmp_path, {"  host: 127.0.0.1": "  host: 0.0.0.0", "  token_env: SHARPEYES_API_TOKEN": "  token_env:"}
    )
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "0.0.0.0" in text)
    warnings = load_config(path).warnings
    assert warnings == [
        f"{path}:{line}: listen.host: 0.0.0.0 is reachable from other machines and no api token is set "
        "(allowed: 127.0.0.1, or set api.token_env / api.token_file)"
    ]


def test_env_interpolation_and_unset_variables(tmp_path: Path) -> None:
    path = copy_example(tmp_path, {"  port: 9753": "  port: ${SE_TEST_PORT}"})
    assert load_config(path, env={"SE_TEST_PORT": "9999"}).config.listen.port == 9999
    with pytest.raises(InputError, match=r"listen\.port: environment variable SE_TEST_PORT is not set"):
        load_config(path, env={})


def test_probe_modules_are_named_by_their_file(tmp_path: Path) -> None:
    (tmp_path / "rtsp_describe.yml").write_text("prober: rtsp\ntimeout_s: 4\nread_timeout_s: 1\n", encoding="utf-8")
    (tmp_path / "frame_health.yaml").write_text("prober: frame\nframe:\n  source: rtsp\n", encoding="utf-8")
    modules, warnings = load_probe_modules(tmp_path)
    assert sorted(modules) == ["frame_health", "rtsp_describe"] and not warnings
    assert modules["rtsp_describe"].name == "rtsp_describe" and modules["rtsp_describe"].timeout_s == 4


def test_probe_module_problems_name_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("prober: ftp\ninterval_s: 60\nrtsp:\n  max_body_byte: 10\n", encoding="utf-8")
    other = tmp_path / "other.yml"
    other.write_text("name: another\nprober: rtsp\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_probe_modules(tmp_path)
    assert err.value.problems == [
        f"{bad}:1: prober: input should be 'rtsp', 'onvif' or 'frame' (got 'ftp') "
        "(allowed: 'rtsp', 'onvif' or 'frame')",
        f"{bad}:4: rtsp.max_body_byte: unknown key (allowed: follow_redirects, max_body_bytes, max_header_bytes, "
        "max_header_count)",
        f"{other}:1: name: 'another' differs from the file name (allowed: other)",
    ]


def test_a_snapshot_prober_is_pointed_to_the_frame_modules_snapshot_source(tmp_path: Path) -> None:
    (tmp_path / "snap.yml").write_text("prober: snapshot\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_probe_modules(tmp_path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{tmp_path / 'snap.yml'}:1: prober: ") and "frame.source: snapshot" in problem


def test_missing_probes_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="probes_dir: folder does not exist"):
        load_probe_modules(tmp_path / "nope")
