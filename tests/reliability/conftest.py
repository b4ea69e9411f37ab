"""Fixtures for the reliability suite: the ONVIF fake-camera peers and the exporter app, reused by import.

Tests marked ``slow`` are skipped unless ``SHARPEYES_SLOW=1`` (scripts/reliability_slow.sh sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.onvif.conftest import _wsdls_loaded, peers, servers
from tests.integration.test_exporter_app import served

__all__ = ["_wsdls_loaded", "peers", "served", "servers"]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("SHARPEYES_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run by scripts/reliability_slow.sh (SHARPEYES_SLOW=1)")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.path)).parents:
            item.add_marker(skip)
