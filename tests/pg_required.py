"""PostgreSQL tests skip where no PostgreSQL answers, except under CI=true, where they must run (fail, not skip)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def postgres_missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires PostgreSQL: {reason}")
    pytest.skip(reason)
