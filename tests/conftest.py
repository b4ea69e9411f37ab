"""Shared test isolation."""

from __future__ import annotations

import pytest

from sharpeyes.probers import backoff


@pytest.fixture(autouse=True)
def fresh_auth_backoff(monkeypatch: pytest.MonkeyPatch) -> backoff.AuthBackoff:
    """Each test gets its own process-wide lockout backoff, so one test's wrong passwords never back off
    another test's camera (the rtsp and onvif probers both consult ``backoff.DEFAULT_BACKOFF``)."""
    fresh = backoff.AuthBackoff()
    monkeypatch.setattr(backoff, "DEFAULT_BACKOFF", fresh)
    return fresh
