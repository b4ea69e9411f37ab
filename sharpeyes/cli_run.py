"""``sharpeyes run --config FILE [--shard K/N]``: the long-running daemon (see :mod:`sharpeyes.daemon`).

Heavy imports happen inside the command, so other commands start fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

log = logging.getLogger(__name__)


@click.command("run")
@click.option(
    "--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The daemon config (see config/sharpeyes.example.yml).",
)  # fmt: skip
@click.option("--shard", "shard_text", default=None, metavar="K/N", help="Probe only shard K of N (by area).")
def run(config_path: Path, shard_text: str | None) -> None:
    """Run the monitoring daemon: probe on schedule, record transitions, serve /metrics and the API."""
    import asyncio

    from sharpeyes.config import load_config
    from sharpeyes.daemon import Daemon, Shard
    from sharpeyes.loader import Loader, daemon_options
    from sharpeyes.malloc_arenas import cap_malloc_arenas

    cap_malloc_arenas()  # before any thread starts: RSS stays flat over weeks (RELIABILITY R2)
    loaded = load_config(config_path)
    for w in loaded.warnings:
        log.warning("%s", w)
    shard = Shard.parse(shard_text) if shard_text else None
    if shard:
        log.info("shard %d/%d", shard.index, shard.count)
    loader = Loader(loaded.config, shard)
    options = daemon_options(loaded.config)
    asyncio.run(Daemon(loader, options, target_for=loader.target_for).run_until_signalled())
