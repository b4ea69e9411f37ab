"""``sharpeyes baseline CAMERA_ID…|--all``: take each camera's current view as its reference for ``scene_changed``.

Each camera's picture is grabbed now by the frame prober itself (its RTSP path, or the snapshot URI where the
module or the camera says so), with an empty signature store so that no earlier reference or last frame takes
part, and the signature of what it saw is written to the ``frame_signatures`` table as the camera's
``reference``. A running daemon picks the new references up within its refresh interval (60 s).

A camera fails when its picture cannot be had (any probe failure), or when the picture is no view at all
(``signal_loss``, ``black``, ``overexposed``): such a frame would make every later frame look "changed".
Other faults (a still scene, say) do not stop a baseline: the operator accepts the view as it is.

Exit status: 0 when every camera got a new reference, 1 when some failed, 2 for usage errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from sharpeyes.errors import UserError
from sharpeyes.probers.base import BackPressureError, Deadline, FaultCode, ProbeResult, ProbeTarget, Reason, run_probe
from sharpeyes.quality.store import Kind, MemorySignatureStore, get_store, set_store
from sharpeyes.redact import redact_text
from sharpeyes.registry.inventory import Camera
from sharpeyes.settings import ProbeModule

EXIT_OK, EXIT_SOME_FAILED = 0, 1
NO_VIEW = frozenset({FaultCode.SIGNAL_LOSS, FaultCode.BLACK, FaultCode.OVEREXPOSED})
"""Faults that leave nothing to compare a later frame with."""
CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Outcome:
    """One camera's baseline: the signature to store (``None`` when it failed) and a line for the operator."""

    camera_id: str
    signature: bytes | None
    line: str


class _CaptureStore(MemorySignatureStore):
    """Hands the prober no earlier signatures, and keeps the one it stores for the frame it just analysed."""

    async def get(self, camera_id: str, kind: Kind) -> bytes | None:
        return None


def _note(result: ProbeResult) -> str:
    obs = result.observations
    size = f"{int(obs['width'])}x{int(obs['height'])}" if "width" in obs and "height" in obs else "?"
    faults = f", accepted with {','.join(f.value for f in result.faults)}" if result.faults else ""
    return f"{size} in {result.duration_s:.2f}s{faults}"


async def grab_reference(target: ProbeTarget, module: ProbeModule, capture: MemorySignatureStore) -> Outcome:
    """Grab one camera's picture with the frame prober and judge whether it can serve as the reference.

    ``capture`` must be the process's installed signature store (see :func:`baseline_all`)."""
    try:
        result = await run_probe(target, module, deadline=Deadline(module.timeout_s))
    except BackPressureError as exc:
        return Outcome(target.camera_id, None, f"failed {target.camera_id}: {exc.skip_reason} (retry later)")
    signature = await MemorySignatureStore.get(capture, target.camera_id, "last")
    secrets = target.secrets()
    if result.reason not in (Reason.OK, Reason.FRAME_FAULT) or signature is None:
        detail = redact_text(result.detail, secrets) or "no picture"
        return Outcome(target.camera_id, None, f"failed {target.camera_id}: {result.reason.value}: {detail}")
    unusable = sorted(f.value for f in result.faults if f in NO_VIEW)
    if unusable:
        why = f"picture shows no view ({', '.join(unusable)})"
        return Outcome(target.camera_id, None, f"failed {target.camera_id}: {why}")
    return Outcome(target.camera_id, signature, f"ok     {target.camera_id}: {_note(result)}")


async def baseline_all(targets: Sequence[ProbeTarget], module: ProbeModule, limit: int = CONCURRENCY) -> list[Outcome]:
    """Grab every camera, ``limit`` at a time, with a capturing signature store installed for the process
    (the prober reads and writes the installed store); the decode workers are stopped afterwards."""
    from sharpeyes.probers import frame

    gate = asyncio.Semaphore(limit)
    capture = _CaptureStore()

    async def one(target: ProbeTarget) -> Outcome:
        async with gate:
            return await grab_reference(target, module, capture)

    previous = get_store()
    set_store(capture)
    try:
        return list(await asyncio.gather(*(one(t) for t in targets)))
    finally:
        set_store(previous)
        await asyncio.to_thread(frame.close_pool)


def store_references(db_url: str, outcomes: Sequence[Outcome]) -> None:
    """Write the new references in one transaction (replacing the old ones)."""
    from sharpeyes.cli_registry import database
    from sharpeyes.registry.history import save_signature

    at = dt.datetime.now(dt.UTC)
    with database(db_url) as engine, engine.begin() as conn:
        for o in outcomes:
            if o.signature is not None:
                save_signature(conn, o.camera_id, "reference", o.signature, at)


def _cameras(db_url: str, ids: Sequence[str], everyone: bool) -> list[Camera]:
    from sharpeyes.cli_registry import database
    from sharpeyes.registry.store import load_inventory

    with database(db_url) as engine:
        inventory = load_inventory(engine)
    if everyone:
        return [c for c in inventory.cameras if c.in_service]
    by_id = inventory.camera_by_id()
    unknown = [i for i in ids if i.strip() not in by_id]
    if unknown:
        raise UserError(f"camera id(s) not in the registry: {', '.join(unknown[:10])}")
    return [by_id[i.strip()] for i in dict.fromkeys(ids)]


def _targets(cameras: Sequence[Camera]) -> tuple[list[ProbeTarget], list[Outcome]]:
    """Probe targets with resolved passwords; a camera whose password cannot be resolved fails on its own."""
    from sharpeyes.registry.credentials import CredentialError, resolve_password

    targets: list[ProbeTarget] = []
    failed: list[Outcome] = []
    for camera in cameras:
        try:
            targets.append(camera.target(resolve_password(camera)))
        except CredentialError as exc:
            failed.append(Outcome(camera.id, None, f"failed {camera.id}: {exc}"))
    return targets, failed


def _frame_module(probes_dir: Path, name: str | None) -> ProbeModule:
    """The frame module to grab with: ``name``, or the only ``frame`` module in ``probes_dir``."""
    from sharpeyes.config import find_probe_module, load_probe_modules

    if name is not None:
        module = find_probe_module(probes_dir, name)
        if module.prober != "frame":
            raise UserError(f"--module {name}: prober is {module.prober!r}; baseline needs a frame module")
        return module
    modules, _ = load_probe_modules(probes_dir)
    frames = sorted(n for n, m in modules.items() if m.prober == "frame")
    if len(frames) != 1:
        found = ", ".join(frames) or "none"
        raise UserError(f"{probes_dir}: choose the frame module with --module (frame modules found: {found})")
    return modules[frames[0]]


def _site(config: Path | None, db_url: str | None, modules_dir: Path | None) -> tuple[str, Path]:
    """The database URL and the probe modules' directory, from --config, --db and --modules-dir."""
    from sharpeyes.cli_registry import DB_ENV
    from sharpeyes.registry.db import DEFAULT_URL

    if config is not None and db_url is not None:
        raise UserError("give --config or --db, not both")
    if config is None:
        import os

        return db_url or os.environ.get(DB_ENV, DEFAULT_URL), modules_dir or Path("probes")
    from sharpeyes.config import load_config

    loaded = load_config(config).config
    return loaded.database.url, modules_dir or Path(loaded.probes_dir)


@click.command("baseline")
@click.argument("camera_ids", nargs=-1, metavar="CAMERA_ID...")
@click.option("--all", "everyone", is_flag=True, help="Every in-service camera in the registry.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The daemon config: its database and probe modules.",
)
@click.option("--db", "db_url", default=None, help="Database URL (default: $SHARPEYES_DB or the default SQLite file).")
@click.option("--module", "module_name", default=None, help="The frame module to grab with (default: the only one).")
@click.option(
    "--modules-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of probe module files (default: the config's probes_dir, or ./probes).",
)
def baseline(
    camera_ids: tuple[str, ...],
    everyone: bool,
    config_path: Path | None,
    db_url: str | None,
    module_name: str | None,
    modules_dir: Path | None,
) -> None:
    """Grab CAMERA_ID's picture now (or every camera's, with --all) and store it as the reference view."""
    if bool(camera_ids) == everyone:
        raise UserError("give one or more CAMERA_IDs, or --all (not both)")
    url, probes_dir = _site(config_path, db_url, modules_dir)
    module = _frame_module(probes_dir, module_name)
    targets, failed = _targets(_cameras(url, camera_ids, everyone))
    if not targets and not failed:
        raise UserError("no in-service camera in the registry")
    outcomes = asyncio.run(baseline_all(targets, module)) + failed
    store_references(url, outcomes)
    for o in sorted(outcomes, key=lambda o: o.camera_id):
        click.echo(o.line)
    ok = sum(o.signature is not None for o in outcomes)
    click.echo(f"baseline: {ok} ok, {len(outcomes) - ok} failed, of {len(outcomes)} cameras")
    sys.exit(EXIT_OK if ok == len(outcomes) else EXIT_SOME_FAILED)
