"""``sharpeyes probe TARGET --module NAME``: run one probe now and print its result.

TARGET is an ``rtsp://``/``rtsps://`` URL (or ``http(s)://`` for ONVIF modules) without credentials; the user
comes from ``--user`` and the password from the environment variable named by ``--password-env``. A registry
camera id is looked up in the database (``--db``) and its password reference resolved. Exit status: 0 when
the probe is ok, 1 when the camera failed, 2 for usage or internal errors.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
import types
from pathlib import Path
from urllib.parse import urlsplit

import click

from sharpeyes.cli_registry import db_option
from sharpeyes.config import find_probe_module as find_module
from sharpeyes.errors import UserError
from sharpeyes.logsafe import register_secret
from sharpeyes.probers.base import BackPressureError, Deadline, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.redact import Secret, redact_text
from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)

EXIT_OK, EXIT_CAMERA, EXIT_INTERNAL = 0, 1, 2


def target_from_registry(camera_id: str, db_url: str) -> ProbeTarget:
    """The target of registered camera ``camera_id``, with its password resolved from its reference."""
    from sharpeyes.cli_registry import database
    from sharpeyes.registry.credentials import CredentialError, resolve_password
    from sharpeyes.registry.store import load_inventory

    with database(db_url) as engine:
        inventory = load_inventory(engine)
    camera = inventory.camera_by_id().get(camera_id.strip())
    if camera is None:
        raise UserError(f"camera id {camera_id!r} is not in the registry; give a registered id or a URL")
    try:
        return camera.target(resolve_password(camera))
    except CredentialError as exc:
        raise UserError(str(exc)) from None


def target_from_url(
    url: str, user: str | None, password: Secret | None, prober: types.ModuleType | None = None
) -> ProbeTarget:
    """A target for a credential-free URL. A prober file may define ``target_from_url(url, *, username,
    password)`` (raising ValueError for URLs it cannot probe); otherwise ``rtsp(s)`` sets the stream URL and
    ``http(s)`` the ONVIF URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (validates the port)
    except ValueError:
        raise UserError("TARGET is not a valid URL") from None
    if "@" in parts.netloc:
        raise UserError("TARGET must not carry credentials: use --user and --password-env")
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in ("rtsp", "rtsps", "http", "https"):
        raise UserError("TARGET must be an rtsp://, rtsps://, http:// or https:// URL, or a camera id")
    factory = getattr(prober, "target_from_url", None)
    if callable(factory):
        try:
            target: ProbeTarget = factory(url, username=user, password=password)
        except ValueError as exc:
            raise UserError(f"TARGET: {exc}") from None
        return target
    stream = url if scheme.startswith("rtsp") else None
    onvif = url if scheme.startswith("http") else None
    return ProbeTarget(
        camera_id=url, host=parts.hostname, rtsp_url=stream, onvif_url=onvif, username=user, password=password
    )


def _password(var: str | None) -> Secret | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if value is None:
        raise UserError(f"--password-env {var}: environment variable is not set")
    register_secret(value)
    return Secret(value)


def _load_prober(module: ProbeModule) -> types.ModuleType:
    """Import the prober's file so it registers itself (``sharpeyes.probers.<prober>``)."""
    try:
        return importlib.import_module(f"sharpeyes.probers.{module.prober}")
    except ModuleNotFoundError:
        raise UserError(f"prober {module.prober!r} of module {module.name!r} is not in this build") from None


async def _run(target: ProbeTarget, module: ProbeModule, save_frame: Path | None) -> ProbeResult:
    """One probe; for frame modules, the decode workers are stopped afterwards and ``save_frame`` is honoured."""
    try:
        return await _run_one(target, module, save_frame)
    except BackPressureError as exc:
        raise UserError(f"{exc} ({exc.skip_reason}): no result for the camera; retry later") from None


async def _run_one(target: ProbeTarget, module: ProbeModule, save_frame: Path | None) -> ProbeResult:
    if module.prober != "frame":
        return await run_probe(target, module, deadline=Deadline(module.timeout_s))
    from sharpeyes.probers import frame

    token = frame.SAVE_FRAME.set(save_frame)
    try:
        return await run_probe(target, module, deadline=Deadline(module.timeout_s))
    finally:
        frame.SAVE_FRAME.reset(token)
        frame.close_pool()


def render_text(result: ProbeResult) -> str:
    """A short human-readable rendering of a result."""
    status = "ok" if result.ok else "FAIL"
    lines = [
        f"{status} {result.camera_id} module={result.module} reason={result.reason.value} "
        f"phase={result.phase.value} duration={result.duration_s * 1000:.1f}ms"
    ]
    if result.observations:
        lines.append("  " + " ".join(f"{k}={v}" for k, v in result.observations.items()))
    if result.faults or result.scores:
        faults = ",".join(f.value for f in result.faults) or "none"
        lines.append(f"  faults={faults} " + " ".join(f"{k}={v:.3g}" for k, v in result.scores.items()))
    if result.detail:
        lines.append(f"  detail: {result.detail}")
    return "\n".join(lines)


def exit_code(result: ProbeResult) -> int:
    if result.ok:
        return EXIT_OK
    return EXIT_INTERNAL if result.reason is Reason.INTERNAL else EXIT_CAMERA


@click.command("probe")
@click.argument("target")
@click.option("--module", "module_name", required=True, help="Probe module name (a file in --modules-dir).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--user", default=None, help="User name for the camera.")
@click.option("--password-env", metavar="VAR", default=None, help="Environment variable with the password.")
@click.option(
    "--modules-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("probes"),
    show_default=True,
    help="Directory of probe module files.",
)
@db_option
@click.option(
    "--save-frame",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Frame modules: write the grabbed keyframe to this JPEG file.",
)
def probe(
    target: str,
    module_name: str,
    fmt: str,
    user: str | None,
    password_env: str | None,
    modules_dir: Path,
    db_url: str,
    save_frame: Path | None,
) -> None:
    """Probe TARGET (a URL without credentials, or a camera id) once with module NAME."""
    module = find_module(modules_dir, module_name)
    prober = _load_prober(module)
    if save_frame is not None and module.prober != "frame":
        raise UserError("--save-frame needs a frame module (prober: frame)")
    password = _password(password_env)
    is_url = "://" in target
    probe_target = target_from_url(target, user, password, prober) if is_url else target_from_registry(target, db_url)
    result = asyncio.run(_run(probe_target, module, save_frame))
    payload = json.dumps(result.to_json(), ensure_ascii=False)
    log.debug("probe result: %s", payload)
    text = payload if fmt == "json" else render_text(result)
    click.echo(redact_text(text, probe_target.secrets()))
    sys.exit(exit_code(result))
