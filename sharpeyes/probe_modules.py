"""Loading probe modules (``probes/NAME.yml``) into :class:`~sharpeyes.settings.ProbeModule`.

A module's name is its file stem. Files are read with ``yaml.safe_load`` after a size check; validation errors
name the file and the field. Kept in its own module so a fuller config loader can replace it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from sharpeyes.errors import InputError, UserError
from sharpeyes.settings import ProbeModule

MAX_MODULE_BYTES = 256 * 1024
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def load_module_file(path: Path) -> ProbeModule:
    """Read and validate one module file; raises :class:`UserError` naming the file and the problem."""
    try:
        if path.stat().st_size > MAX_MODULE_BYTES:
            raise UserError(f"{path}: probe module larger than {MAX_MODULE_BYTES} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read probe module ({exc.strerror})") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid YAML ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: a probe module must be a mapping")
    if data.setdefault("name", path.stem) != path.stem:
        raise UserError(f"{path}: name {data['name']!r} differs from the file name {path.stem!r}")
    try:
        return ProbeModule.model_validate(data)
    except ValidationError as exc:
        problems = [f"{path}: {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise InputError(problems) from None


def find_module(modules_dir: Path, name: str) -> ProbeModule:
    """The module called ``name`` in ``modules_dir`` (``NAME.yml`` or ``NAME.yaml``)."""
    if not _NAME.fullmatch(name):
        raise UserError(f"module name {name!r} is invalid: use lower-case letters, digits and _")
    for suffix in (".yml", ".yaml"):
        path = modules_dir / f"{name}{suffix}"
        if path.is_file():
            return load_module_file(path)
    raise UserError(f"no probe module {name!r} in {modules_dir} (looked for {name}.yml)")
