"""Resolving a camera's password reference (``password_env`` or ``password_file``) into a :class:`Secret`.

The value is registered with :mod:`sharpeyes.logsafe` so no log line can show it, and it never appears in
an error message: errors name the camera and the reference only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sharpeyes.logsafe import register_secret
from sharpeyes.redact import Secret
from sharpeyes.registry.inventory import Camera

MAX_SECRET_FILE_BYTES = 4096


class CredentialError(Exception):
    """A camera's password reference cannot be resolved. The message never holds a secret."""


def resolve_password(
    camera: Camera, environ: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> Secret | None:
    """The camera's password, or ``None`` when it has no reference (a camera without authentication).

    ``password_file`` is read as UTF-8 with one trailing newline removed; a relative path is taken from
    ``base_dir`` (default: the working directory).
    """
    env = os.environ if environ is None else environ
    if camera.password_env:
        value = env.get(camera.password_env)
        if value is None:
            raise CredentialError(f"camera {camera.id}: environment variable {camera.password_env} is not set")
        return _registered(value)
    if camera.password_file:
        path = Path(camera.password_file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return _registered(_read_secret_file(camera.id, path))
    return None


def _read_secret_file(camera_id: str, path: Path) -> str:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise CredentialError(f"camera {camera_id}: cannot read password_file {path}: {exc.strerror}") from None
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise CredentialError(f"camera {camera_id}: password_file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(f"camera {camera_id}: password_file {path} is not UTF-8") from None
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def _registered(value: str) -> Secret:
    secret = Secret(value)
    register_secret(secret)
    return secret
