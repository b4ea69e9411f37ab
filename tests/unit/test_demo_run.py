"""``sharpeyes demo``'s pieces: how simulator faults read to the liveness module, its work directory, its summary."""

from __future__ import annotations

import logging
from pathlib import Path

from sharpeyes.config import load_probe_modules
from sharpeyes.demo import (
    DEMO_DIR,
    DEMO_FILES,
    PROBES_DIR,
    TARGETS,
    SimNoiseFilter,
    expected_frame_faults,
    expected_groups,
    expected_up,
    format_summary,
    write_config,
    write_probe_modules,
)
from sharpeyes.probers.base import FaultCode
from sharpeyes.registry.io import read_inventory
from sharpeyes.settings import ProbeModule
from sharpeyes.sim.faults import CATALOGUE

LIVE = ProbeModule(name="live", prober="rtsp", interval_s=20, timeout_s=5, read_timeout_s=2)


def test_expected_liveness_of_every_catalogue_fault() -> None:
    down = {f for f in CATALOGUE if not expected_up(f, LIVE)}
    assert down == {"offline", "blackhole", "slow", "drip", "auth_fail", "not_found", "malformed"}
    assert expected_up(None, LIVE)
    assert expected_up("slow:0.1", LIVE) and not expected_up("slow:1.9", LIVE)  # 3 replies × 1.9 s > 5 s
    assert expected_up("drip:1000", LIVE) and not expected_up("drip:10", LIVE)


def test_probe_modules_copied_with_the_demo_interval(tmp_path: Path) -> None:
    written = write_probe_modules(PROBES_DIR, tmp_path / "probes", 3.0)
    loaded, warnings = load_probe_modules(tmp_path / "probes")
    assert warnings == []
    assert {m.name for m in written} == set(loaded)
    live = [m for m in loaded.values() if m.prober == "rtsp"]
    assert [m.interval_s for m in live] == [3.0]
    assert live[0].timeout_s <= 3.0 and live[0].read_timeout_s <= live[0].timeout_s
    assert "frame" not in {m.prober for m in loaded.values()}
    with_frame = write_probe_modules(PROBES_DIR, tmp_path / "probes2", 3.0, frame_interval_s=30.0)
    assert [m.interval_s for m in with_frame if m.prober == "frame"] == [30.0]
    config = write_config(tmp_path, [DEMO_DIR / n for n in DEMO_FILES], 9999)
    assert "sqlite:///" in config.read_text() and "127.0.0.1" in config.read_text()


def test_expected_frame_verdicts() -> None:
    assert expected_frame_faults(None) == ()
    assert expected_frame_faults("black") == (FaultCode.BLACK,)
    assert expected_frame_faults("blur:0.5") == (FaultCode.BLUR,)
    assert expected_frame_faults("scene_changed") == ()  # the changed scene becomes the reference
    assert expected_frame_faults("no_media") == (FaultCode.SIGNAL_LOSS,)  # no picture: recorded as signal loss
    assert expected_frame_faults("occluded") == (FaultCode.OCCLUDED,)
    assert expected_frame_faults("lockout") == ()


def test_summary_of_the_fault_mix_against_the_targets() -> None:
    inv = read_inventory([DEMO_DIR / n for n in DEMO_FILES])
    healthy = {c.id: None for c in inv.cameras if c.in_service}
    groups = expected_groups(inv, {**healthy, inv.cameras[0].id: "offline"}, LIVE)
    text = format_summary(groups, TARGETS)
    lines = text.splitlines()
    assert [line.split()[0] for line in lines] == ["public", "sector", "all"]
    g = groups[("all", "all")]
    assert g.online == g.in_service - 1
    assert f"connection {g.in_service - 1}/{g.in_service}" in lines[2]
    assert "(target 98%)" in lines[0] and "(target 95%)" in lines[1] and "target" not in lines[2]


def test_sim_noise_filter_drops_only_the_two_known_records() -> None:
    f = SimNoiseFilter()

    def rec(name: str, msg: str, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, info)

    assert not f.filter(rec("asyncio", "socket.send() raised exception."))
    assert not f.filter(rec("aiohttp.server", "Error handling request", ConnectionResetError("closing")))
    assert f.filter(rec("asyncio", "Task was destroyed but it is pending!"))
    assert f.filter(rec("aiohttp.server", "Error handling request", ValueError("x")))
    assert f.filter(rec("sharpeyes.daemon", "socket.send() raised exception."))
