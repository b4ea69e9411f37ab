"""``sharpeyes baseline`` end to end: Debian's gst-rtsp-server cameras, a real SQLite and PostgreSQL registry.

After a baseline, the frame prober (reading references through the daemon's database-backed store) reports
``scene_changed`` for a camera whose stream now shows another pattern, and not for one showing the same view.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from sharpeyes.cli import main
from sharpeyes.config import find_probe_module
from sharpeyes.probers import frame
from sharpeyes.probers.base import Deadline, FaultCode, Reason, run_probe
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.quality import store as signature_store
from sharpeyes.registry import db, history
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.signatures import DatabaseSignatureStore
from sharpeyes.registry.store import import_inventory
from tests.audit.fixture import parsed
from tests.servers.gst import Mount, gst_rtsp_server, gst_unavailable

ROOT = Path(__file__).resolve().parents[2]
VIEW, OTHER = "smpte", "pinwheel"  # two still test cards: a detailed view, and one that looks nothing like it


@pytest.fixture(scope="module")
def gst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    reason = gst_unavailable()
    if reason:
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("gst") / "gst.log"
    mounts = [Mount("view", "open", VIEW), Mount("other", "open", OTHER), Mount("dark", "open", "black")]
    with gst_rtsp_server(mounts, width=320, height=240, log_path=log) as urls:
        yield urls


@pytest.fixture
def probes(tmp_path: Path) -> Path:
    folder = tmp_path / "probes"
    folder.mkdir()
    text = (ROOT / "probes" / "frame_health.yml").read_text(encoding="utf-8")
    (folder / "frame_health.yml").write_text(text.replace("timeout_s: 8", "timeout_s: 15"), encoding="utf-8")
    return folder


def city(urls: dict[str, str], closed_port: int) -> Inventory:
    districts = (District("C", "city", DistrictLevel.CITY), District("D", "d", DistrictLevel.DISTRICT, "C"))
    areas = (Area("a1", "a1", "D", Scope.PUBLIC, "square", 1),)
    cams = (
        Camera("cam-same", "same view", "a1", "127.0.0.1", rtsp_url=urls["view"]),
        Camera("cam-turned", "turned later", "a1", "127.0.0.1", rtsp_url=urls["view"]),
        Camera("cam-dark", "dark", "a1", "127.0.0.1", rtsp_url=urls["dark"]),
        Camera("cam-gone", "gone", "a1", "127.0.0.1", rtsp_url=f"rtsp://127.0.0.1:{closed_port}/s"),
    )
    return Inventory(districts, areas, cams)


def baseline(db_url: str, probes: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "sharpeyes", "baseline", *args, "--db", db_url, "--modules-dir", str(probes)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def references(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        return dict(history.load_signatures(conn, "reference"))


async def test_baseline_then_a_turned_camera_is_scene_changed(
    gst: dict[str, str], db_url: str, probes: Path, tmp_path: Path
) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        inventory = city(gst, _closed_port())
        import_inventory(engine, parsed(inventory))

        some = baseline(db_url, probes, "--all")
        assert some.returncode == 1, some.stderr
        lines = some.stdout.splitlines()
        assert [ln.split()[0] for ln in lines[:-1]] == ["failed", "failed", "ok", "ok"], some.stdout
        assert lines[2].startswith("ok     cam-same") and lines[3].startswith("ok     cam-turned")
        assert "cam-dark: picture shows no view (black)" in lines[0]
        assert lines[1].startswith("failed cam-gone: refused")
        assert lines[-1] == "baseline: 2 ok, 2 failed, of 4 cameras"
        assert sorted(references(engine)) == ["cam-same", "cam-turned"]

        config = tmp_path / "sharpeyes.yml"  # the daemon's config gives the database and the probe modules
        config.write_text(f"database:\n  url: '{db_url}'\nprobes_dir: {probes}\n", encoding="utf-8")
        argv = [sys.executable, "-m", "sharpeyes", "baseline", "cam-same", "--config", str(config)]
        only = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
        assert only.returncode == 0 and only.stdout.splitlines()[-1] == "baseline: 1 ok, 0 failed, of 1 cameras"

        # the daemon's view: references from the table; cam-turned now streams another pattern
        sigs = DatabaseSignatureStore(engine)
        assert await sigs.load()
        previous = signature_store.get_store()
        signature_store.set_store(sigs)
        pool = WorkerPool("sharpeyes.probers.frame_job.analyse", size=2)
        frame.set_pool(pool)
        module = find_probe_module(probes, "frame_health")
        cams = inventory.camera_by_id()
        try:
            same = await run_probe(cams["cam-same"].target(None), module, deadline=Deadline(module.timeout_s))
            turned_cam = replace(cams["cam-turned"], rtsp_url=gst["other"])
            turned = await run_probe(turned_cam.target(None), module, deadline=Deadline(module.timeout_s))
        finally:
            signature_store.set_store(previous)
            frame.close_pool()
        assert same.reason in (Reason.OK, Reason.FRAME_FAULT), same.detail
        assert FaultCode.SCENE_CHANGED not in same.faults, same.to_json()
        assert turned.reason is Reason.FRAME_FAULT and FaultCode.SCENE_CHANGED in turned.faults, turned.to_json()
    finally:
        engine.dispose()


def test_usage_errors_exit_2(tmp_path: Path, probes: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    db.upgrade(url)
    empty = tmp_path / "no-modules"
    empty.mkdir()

    def run(*args: str, modules: Path = probes) -> Result:
        return CliRunner().invoke(main, ["baseline", *args, "--db", url, "--modules-dir", str(modules)])

    assert run().exit_code == 2  # neither ids nor --all
    assert run("x", "--all").exit_code == 2
    unknown = run("nope")
    assert unknown.exit_code == 2 and "not in the registry" in unknown.output
    nomod = run("--all", modules=empty)
    assert nomod.exit_code == 2 and "frame modules found: none" in nomod.output
    both = CliRunner().invoke(main, ["baseline", "--all", "--db", url, "--config", str(probes / "frame_health.yml")])
    assert both.exit_code == 2 and "not both" in both.output
