"""``sharpeyes sim``: serve a registry's cameras (RTSP, ONVIF, snapshot) from this process, with faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sharpeyes.errors import UserError
from sharpeyes.registry.inventory import Inventory

if TYPE_CHECKING:
    from sharpeyes.sim.fleet import Fleet

log = logging.getLogger(__name__)
DEMO_FILES = ("districts.csv", "areas.csv", "cameras.csv")


def _read_registry(paths: list[Path]) -> Inventory:
    from sharpeyes.registry.io import read_inventory

    return read_inventory(paths)


def _demo_paths(directory: Path) -> list[Path]:
    paths = [directory / name for name in DEMO_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"demo registry not found: {', '.join(missing)}")
    return paths


@click.command("sim")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--registry",
    "registry",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Registry file (repeatable; more files may follow as arguments: --registry a.csv b.csv c.csv).",
)
@click.option("--demo", is_flag=True, help="Serve the demo city (config/demo) with a seeded fault mix.")
@click.option("--demo-dir", type=click.Path(path_type=Path), default=Path("config/demo"), show_default=True)
@click.option("--synthetic", type=click.IntRange(1, 60000), help="Serve N cameras at the demo addresses.")
@click.option("--synthetic-first", type=click.IntRange(0, 64000), default=0, hidden=True)
@click.option("--synthetic-rtsp-only", is_flag=True, hidden=True)
@click.option("--faults", "faults_file", type=click.Path(path_type=Path), help="Sim config YAML (faults).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo fault mix.")
@click.option("--fault-share", type=click.FloatRange(0, 1), default=0.10, show_default=True)
@click.option("--truth", type=click.Path(path_type=Path), help="Write the fault assignment (JSON) here.")
@click.option("--control-port", type=click.IntRange(0, 65535), default=8999, show_default=True, help="0: off.")
@click.option(
    "--size",
    default="auto",
    show_default=True,
    help="auto (each camera's registry resolution, else 720p), or 180p, 360p, 720p, 1080p, WxH for all.",
)
@click.option("--profile", type=click.Choice(["baseline", "main"]), default="main", show_default=True)
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Encoded clip cache.")
def sim(
    files: tuple[Path, ...],
    registry: tuple[Path, ...],
    demo: bool,
    demo_dir: Path,
    synthetic: int | None,
    synthetic_first: int,
    synthetic_rtsp_only: bool,
    faults_file: Path | None,
    seed: int,
    fault_share: float,
    truth: Path | None,
    control_port: int,
    size: str,
    profile: str,
    cache_dir: Path | None,
) -> None:
    """Serve every camera of a registry at its URLs; print ``READY <n> cameras`` when all listen."""
    from sharpeyes.sim.fleet import Fleet, MediaOptions, SimConfig, demo_faults, load_sim_config, synthetic_inventory
    from sharpeyes.sim.media import parse_size

    registry = (*registry, *files)
    if sum(bool(x) for x in (registry, demo, synthetic)) != 1:
        raise UserError("give exactly one of --registry FILE…, --demo, --synthetic N")
    try:
        width, height = parse_size("720p" if size == "auto" else size)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if synthetic:
        inventory = synthetic_inventory(synthetic, first=synthetic_first, rtsp_only=synthetic_rtsp_only)
    else:
        inventory = _read_registry(_demo_paths(demo_dir) if demo else list(registry))
    config = load_sim_config(faults_file) if faults_file else SimConfig()
    if demo or (synthetic and not faults_file):
        mix = demo_faults((c.id for c in inventory.cameras if c.in_service), seed=seed, share=fault_share)
        config = SimConfig.model_validate({"defaults": config.defaults.model_dump(), "cameras": mix})
    media = MediaOptions(
        width=width, height=height, profile=profile, cache_dir=cache_dir, registry_sizes=size == "auto"
    )
    asyncio.run(_serve(Fleet(inventory, media, config), truth, control_port))


async def _start_unless_stopped(fleet: Fleet, stop: asyncio.Event) -> bool:
    """Start the fleet; a signal during start-up (encoding can take minutes) aborts it. True when started."""
    starting = asyncio.create_task(fleet.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if starting.done():
        starting.result()  # raises what start-up raised
        return True
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    return False


async def _serve(fleet: Fleet, truth: Path | None, control_port: int) -> None:
    from sharpeyes.sim.control import serve_control
    from sharpeyes.sim.fleet import raise_nofile

    raise_nofile(len(fleet.inventory.cameras) * 2 + 1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    control = None
    try:
        if not await _start_unless_stopped(fleet, stop):
            return
        if control_port:
            try:
                control = await serve_control(fleet, "127.0.0.1", control_port)
            except OSError as exc:
                raise UserError(
                    f"control API: cannot listen on 127.0.0.1:{control_port} ({exc.strerror}); "
                    "choose another --control-port, or 0 for none"
                ) from None
            log.info("control API on http://127.0.0.1:%d/cameras", control_port)
        if truth is not None:
            text = json.dumps(fleet.assignment(), indent=1) + "\n"
            await asyncio.to_thread(truth.write_text, text, encoding="utf-8")
        click.echo(f"READY {len(fleet.cameras)} cameras")
        await stop.wait()
    finally:
        if control is not None:
            await control.cleanup()
        await fleet.stop()
