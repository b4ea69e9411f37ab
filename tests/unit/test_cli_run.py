"""``sharpeyes run`` refuses bad input with one clear line and exit code 2, before starting anything."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sharpeyes.cli import main


def test_unknown_key_in_config_is_a_user_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("listen:\n  prot: 1\n")
    result = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "bad.yml:2" in result.output and "prot" in result.output


def test_bad_shard_is_a_user_error(tmp_path: Path) -> None:
    cfg = tmp_path / "ok.yml"
    cfg.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    for shard in ("5/3", "0/1", "x"):
        result = CliRunner().invoke(main, ["run", "--config", str(cfg), "--shard", shard])
        assert result.exit_code == 2 and "--shard" in result.output, result.output


def test_missing_token_variable_is_a_user_error(tmp_path: Path) -> None:
    cfg = tmp_path / "tok.yml"
    cfg.write_text("api:\n  token_env: SHARPEYES_TEST_NO_SUCH_TOKEN\n")
    result = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 2 and "SHARPEYES_TEST_NO_SUCH_TOKEN" in result.output
