from __future__ import annotations

import asyncio
import time

import pytest

from sharpeyes.probers.base import (
    PROBERS,
    Deadline,
    Phase,
    ProbeResult,
    ProbeTarget,
    Reason,
    ResultBuilder,
    run_probe,
)
from sharpeyes.redact import Secret
from sharpeyes.settings import ProbeModule

TARGET = ProbeTarget(camera_id="cam1", host="127.0.0.1", password=Secret("s3cr3t@:#"))


def test_deadline_clips_per_read_timeout() -> None:
    d = Deadline(0.5)
    assert d.clip(10.0) <= 0.5
    assert d.clip(0.1) == pytest.approx(0.1)
    assert not d.expired()


def test_builder_records_phase_of_failure_and_redacts_detail() -> None:
    b = ResultBuilder(TARGET, "rtsp_describe")
    b.enter(Phase.DESCRIBE)
    r = b.finish(Reason.AUTH, "401 for user admin password s3cr3t@:#")
    assert not r.ok
    assert r.phase is Phase.DESCRIBE
    assert "s3cr3t" not in r.detail
    assert r.to_json()["reason"] == "auth"


async def test_run_probe_turns_a_bug_into_internal(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        raise RuntimeError("bug with s3cr3t@:#")

    monkeypatch.setitem(PROBERS, "rtsp", broken)
    r = await run_probe(TARGET, ProbeModule(name="snap", prober="rtsp"), deadline=Deadline(1))
    assert r.reason is Reason.INTERNAL
    assert "s3cr3t" not in r.detail


async def test_run_probe_enforces_total_deadline_on_a_hanging_prober(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hangs(target: ProbeTarget, module: ProbeModule, *, deadline: Deadline) -> ProbeResult:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    monkeypatch.setitem(PROBERS, "rtsp", hangs)
    t0 = time.monotonic()
    r = await run_probe(TARGET, ProbeModule(name="snap", prober="rtsp"), deadline=Deadline(0.2))
    elapsed = time.monotonic() - t0
    assert r.reason is Reason.TIMEOUT
    assert elapsed < 0.8


def test_module_rejects_read_timeout_above_total() -> None:
    with pytest.raises(ValueError, match="read_timeout_s"):
        ProbeModule(name="x", prober="rtsp", timeout_s=1, read_timeout_s=2)
