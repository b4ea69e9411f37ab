"""``sharpeyes demo``: the simulated demo city with its fault mix, watched by the daemon (see :mod:`sharpeyes.demo`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9753,
    show_default=True,
    help="Port of the daemon's /metrics and API on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--control-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the simulator's control API on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--interval",
    "interval_s",
    type=click.FloatRange(1, 3600),
    default=20.0,
    show_default=True,
    help="Seconds between liveness probes of a camera.",
)
@click.option(
    "--frame-interval",
    "frame_interval_s",
    type=click.FloatRange(5, 86400),
    default=60.0,
    show_default=True,
    help="Seconds between frame-health probes of a camera.",
)
@click.option("--no-frame", is_flag=True, help="Leave frame health (picture diagnosis) out: liveness only.")
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (for tests and CI); default: until Ctrl-C.",
)
@click.option("--keep-dir", is_flag=True, help="Keep the work directory (config, database, truth.json) at exit.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo fault mix.")
@click.option(
    "--fault-share",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    help="Share of the in-service cameras given a fault.",
)
@click.option(
    "--size",
    default="360p",
    show_default=True,
    help="Simulated picture size: 180p, 360p, 720p, 1080p, WxH, or auto (each camera's registry "
    "resolution; the first start then encodes for minutes).",
)
def demo(port: int, control_port: int, interval_s: float, frame_interval_s: float, no_frame: bool,
         duration_s: float | None, keep_dir: bool, seed: int, fault_share: float, size: str) -> None:  # fmt: skip
    """Run the demo: simulated cameras of a whole city with faults, and the daemon watching them.

    Prints the metrics URL, the API URL and the city's rates after every liveness sweep; Ctrl-C stops it.
    """
    import asyncio
    import logging

    from sharpeyes.demo import DemoOptions, ensure_password, quiet_sim_noise, run_demo

    options = DemoOptions(port=port, control_port=control_port, interval_s=interval_s,
                          frame_interval_s=frame_interval_s, frame=not no_frame, duration_s=duration_s,
                          keep_dir=keep_dir, seed=seed, fault_share=fault_share, size=size)  # fmt: skip
    ensure_password()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run would drown the summary
    quiet_sim_noise()
    work = Path(tempfile.mkdtemp(prefix="sharpeyes-demo-"))
    try:
        asyncio.run(run_demo(options, work, lambda line: click.echo(line)))
    finally:
        if keep_dir:
            click.echo(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
