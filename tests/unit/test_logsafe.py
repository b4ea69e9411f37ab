"""No credential reaches a log line: URL userinfo and registered secrets are redacted in every record."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sharpeyes.cli import main
from sharpeyes.logsafe import RedactingFilter, forget_secret, install, register_secret
from sharpeyes.redact import Secret
from sharpeyes.registry.credentials import CredentialError, resolve_password
from sharpeyes.registry.inventory import Camera

HOSTILE = ["p@ss:w/o#r?d%", "密码@:#/?%", "%40already%3Aencoded"]


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"sharpeyes.test.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    install(logger)
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize("password", HOSTILE)
def test_registered_secrets_and_url_passwords_never_reach_the_log(
    captured: tuple[logging.Logger, io.StringIO], password: str
) -> None:
    logger, stream = captured
    register_secret(Secret(password))
    try:
        logger.info("connecting to %s with %s", "rtsp://admin:xyz@127.0.0.1/live", password)
        logger.warning("plain %s and url-encoded", password)
        try:
            raise RuntimeError(f"camera said no to {password}")
        except RuntimeError:
            logger.exception("probe failed")
    finally:
        forget_secret(password)
    out = stream.getvalue()
    assert password not in out and "xyz" not in out
    assert "rtsp://admin:***@127.0.0.1/live" in out
    assert "RuntimeError: camera said no to ***" in out  # the traceback is redacted too


def test_filter_is_installed_once_and_survives_bad_format_args(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    install(logger)
    handler = logger.handlers[0]
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    logger.info("%d cameras", "not a number")
    assert "unformattable" in stream.getvalue()


def test_the_cli_installs_redaction_on_the_root_logger() -> None:
    CliRunner().invoke(main, ["version"])
    root = logging.getLogger()
    assert root.handlers and all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in root.handlers)


def test_resolver_reads_env_and_files_and_never_shows_the_secret(tmp_path: Path) -> None:
    cam = Camera("c1", "东门", "a1", "127.0.0.1", password_env="CAM_PW")
    secret = resolve_password(cam, {"CAM_PW": HOSTILE[0]})
    assert secret is not None and secret.reveal() == HOSTILE[0] and HOSTILE[0] not in repr(secret)
    with pytest.raises(CredentialError, match="environment variable CAM_PW is not set"):
        resolve_password(cam, {})
    pw = tmp_path / "pw"
    pw.write_text(HOSTILE[1] + "\n", encoding="utf-8")
    from_file = resolve_password(Camera("c2", "西门", "a1", "127.0.0.1", password_file="pw"), base_dir=tmp_path)
    assert from_file is not None and from_file.reveal() == HOSTILE[1]
    assert resolve_password(Camera("c3", "南门", "a1", "127.0.0.1")) is None
    with pytest.raises(CredentialError, match="cannot read password_file") as err:
        resolve_password(Camera("c4", "北门", "a1", "127.0.0.1", password_file=str(tmp_path / "nope")))
    assert HOSTILE[1] not in str(err.value)


def test_a_one_letter_password_does_not_wreck_log_lines() -> None:
    from sharpeyes import logsafe

    logsafe.register_secret("y")
    try:
        assert "y" not in logsafe.registered()
        assert logsafe.scrub("sharpeyes ready") == "sharpeyes ready"
    finally:
        logsafe.forget_secret("y")
