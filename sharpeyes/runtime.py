"""The daemon's live state, shared by the scheduler (writes), the exporter and the API (read).

One :class:`Runtime` per daemon. Everything the collector renders is here, in memory, so a scrape never
touches the network or the database. A reload builds a new :class:`Config` and swaps it in one assignment
on the event loop, so readers see either the old configuration or the new one, never a mix.
"""

from __future__ import annotations

import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sharpeyes.rates import RateOptions
from sharpeyes.registry.inventory import Inventory
from sharpeyes.registry.signatures import DatabaseSignatureStore
from sharpeyes.results import ResultStore, StoreWriter
from sharpeyes.settings import ProbeModule

DEFAULT_TARGETS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "public": MappingProxyType({"coverage": 1.0, "connection": 1.0, "good_order": 0.98}),
        "sector": MappingProxyType({"coverage": 1.0, "connection": 1.0, "good_order": 0.95}),
    }
)
"""National targets (DESIGN.md §1, §6): configurable per scope."""


@dataclass(slots=True)
class SweepStats:
    """What the scheduler measured of one module's sweeps.

    ``scheduled`` always equals ``sum(outcomes.values()) + sum(skipped.values())`` once in-flight slots end.
    """

    def accounted(self) -> int:
        return sum(self.outcomes.values()) + sum(self.skipped.values())

    sweeps: int = 0
    scheduled: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_lags: array[float] = field(default_factory=lambda: array("d"))  # the last completed sweep's slot lags
    overrun_sweeps_pending: int = 0
    retries: int = 0
    last_duration_s: float | None = None
    last_lag_s: float | None = None
    max_lag_s: float = 0.0
    overruns: int = 0
    last_complete: float | None = None
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True, slots=True)
class Config:
    """The reloadable part: the inventory snapshot, the probe modules, rate options and targets."""

    inventory: Inventory
    modules: Mapping[str, ProbeModule]
    rate_options: RateOptions = field(default_factory=RateOptions)
    targets: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_TARGETS)


@dataclass(slots=True)
class Runtime:
    """The daemon's state: the current config, the result store, sweep statistics and reload bookkeeping."""

    config: Config
    store: ResultStore
    sweeps: dict[str, SweepStats] = field(default_factory=lambda: defaultdict(SweepStats))
    started: float = field(default_factory=time.time)
    last_reload_ok: bool = True
    last_reload_at: float = field(default_factory=time.time)
    last_reload_error: str = ""
    ready: bool = False
    writer: StoreWriter | None = None
    signatures: DatabaseSignatureStore | None = None
    concurrency_limit: int | None = None  # the scheduler's global probe limit after the fd-budget cap
    loop_lag_s: Callable[[], float] | None = None  # the scheduler's event-loop lag so far (seconds, summed)

    @property
    def storage_ok(self) -> bool:
        """False while the database refuses writes (no writer: nothing to write, so fine)."""
        return self.writer is None or self.writer.healthy

    def swap(self, config: Config) -> None:
        """Install a new config atomically and drop the state of cameras that are no longer registered."""
        self.config = config
        self.store.configure(config.modules)
        self.store.forget_cameras({c.id for c in config.inventory.cameras})
