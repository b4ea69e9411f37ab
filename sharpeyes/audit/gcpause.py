"""Python's cycle collector paused while one audit runs.

An audit allocates a few hundred thousand short-lived objects (rows, registry records, report lines) on top
of a large heap of long-lived ones (SQLAlchemy, numpy); with the collector on, each of its full passes walks
that whole heap, and at 20,000 cameras they cost a third of the audit's CPU. The audit makes no reference
cycles that need collecting before it ends (reference counting frees its temporaries), so the collector is
paused for its duration and restored afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Disable the cycle collector inside the block; re-enable it after if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
