"""Building the daemon's :class:`~sharpeyes.runtime.Config` from the daemon config file (``sharpeyes run``).

Wiring: the daemon config (``sharpeyes.config.load_config``) → probe modules from ``probes_dir`` → the
registry (the database is the source of truth; ``registry.files``, when given, are imported into it at start
and on every reload, without pruning: removing a camera takes ``sharpeyes registry import --prune``) → this
shard's areas.

Passwords are resolved when the registry is loaded (in a worker thread, never on the event loop) and held as
:class:`~sharpeyes.redact.Secret`; a camera whose reference cannot be resolved is probed without one (its
probes fail with ``auth``) and named in a warning. ``POST /-/reload`` repeats the whole load; any problem
keeps the running config and is returned.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

from sqlalchemy.engine import Engine

from sharpeyes.config import load_probe_modules
from sharpeyes.daemon import DaemonOptions, Shard
from sharpeyes.errors import UserError
from sharpeyes.probers.base import PROBERS, ProbeTarget
from sharpeyes.rates import RateOptions
from sharpeyes.redact import Secret
from sharpeyes.registry import db
from sharpeyes.registry.credentials import CredentialError, resolve_password
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.registry.io import parse_files
from sharpeyes.registry.store import import_inventory, load_inventory
from sharpeyes.runtime import Config
from sharpeyes.scheduler import Limits
from sharpeyes.settings import ApiSettings, DaemonConfig, ProbeModule

log = logging.getLogger(__name__)


class Loader:
    """Builds a :class:`Config` from the daemon config: modules, registry, shard, resolved passwords."""

    def __init__(self, settings: DaemonConfig, shard: Shard | None) -> None:
        self.settings = settings
        self.shard = shard
        self._passwords: dict[str, Secret | None] = {}

    def __call__(self) -> Config:
        modules, warnings = load_probe_modules(Path(self.settings.probes_dir))
        for w in warnings:
            log.warning("%s", w)
        _import_probers(modules)
        inventory = self._inventory()
        self._passwords = self._resolve(inventory)
        s = self.settings
        targets = {"public": s.targets.public.model_dump(), "sector": s.targets.sector.model_dump()}
        return Config(inventory, modules, RateOptions(freshness_s=s.freshness_window_s), targets)

    def _inventory(self) -> Inventory:
        engine = _engine(self.settings)
        try:
            db.upgrade(engine)
            if self.settings.registry.files:
                report = import_inventory(engine, parse_files([Path(f) for f in self.settings.registry.files]))
                log.info("registry files imported: %s", report.summary())
            inventory = load_inventory(engine)
        finally:
            engine.dispose()
        return self.shard.select(inventory) if self.shard else inventory

    @staticmethod
    def _resolve(inventory: Inventory) -> dict[str, Secret | None]:
        out: dict[str, Secret | None] = {}
        for cam in inventory.cameras:
            try:
                out[cam.id] = resolve_password(cam)
            except CredentialError as exc:
                log.warning("%s (probed without a password)", exc)
                out[cam.id] = None
        return out

    def target_for(self, camera: Camera) -> ProbeTarget:
        return camera.target(self._passwords.get(camera.id))


def _engine(settings: DaemonConfig) -> Engine:
    d = settings.database
    return db.make_engine(d.url, sqlite_synchronous=_sync(settings), busy_timeout_ms=int(d.busy_timeout_s * 1000))


def _import_probers(modules: dict[str, ProbeModule]) -> None:
    """Import ``sharpeyes.probers.<name>`` for every prober the modules use (each registers itself)."""
    for name in sorted({m.prober for m in modules.values()}):
        if name in PROBERS:
            continue
        try:
            importlib.import_module(f"sharpeyes.probers.{name}")
        except ModuleNotFoundError:
            log.error("prober %r is not in this build: its probes end as 'internal'", name)


def _token(api: ApiSettings) -> Secret | None:
    """The API bearer token from its reference (environment variable or file), if one is configured."""
    if api.token_env:
        value = os.environ.get(api.token_env)
        if not value:
            raise UserError(f"api.token_env: environment variable {api.token_env} is not set or empty")
        return Secret(value)
    if api.token_file:
        try:
            text = Path(api.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UserError(f"api.token_file: cannot read {api.token_file}: {exc.strerror}") from None
        if not text:
            raise UserError(f"api.token_file: {api.token_file} is empty")
        return Secret(text)
    return None


def daemon_options(settings: DaemonConfig) -> DaemonOptions:
    """The daemon's runtime options from its config (listen address, token, limits, database)."""
    d = settings.database
    return DaemonOptions(
        db_url=d.url,
        host=settings.listen.host,
        port=settings.listen.port,
        token=_token(settings.api),
        limits=Limits(
            concurrency=settings.concurrency.total,
            per_host=settings.concurrency.per_host,
            frame_share=settings.concurrency.frame_share,
            retry_share=settings.concurrency.retry_share,
            overload_lag_share=settings.concurrency.overload_lag_share,
        ),
        sqlite_synchronous=_sync(settings),
        busy_timeout_ms=int(d.busy_timeout_s * 1000),
    )


def _sync(settings: DaemonConfig) -> db.SqliteSync:
    return "FULL" if settings.database.sqlite_synchronous == "full" else "NORMAL"
