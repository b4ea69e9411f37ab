"""The committed demo city is what the generator writes, and follows the convention others rely on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from sharpeyes.registry.inventory import DistrictLevel, Scope
from sharpeyes.registry.io import read_inventory

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "config" / "demo"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_demo", REPO / "scripts" / "gen_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_demo"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_exactly_what_the_generator_writes() -> None:
    for name, text in generator().generate().items():
        assert (DEMO / name).read_text(encoding="utf-8") == text, f"{name}: run scripts/gen_demo.py"


def test_demo_city_shape() -> None:
    inv = read_inventory([DEMO / "districts.csv", DEMO / "areas.csv", DEMO / "cameras.csv"])
    counties = {d.code: d.name for d in inv.districts if d.level == DistrictLevel.DISTRICT}
    assert counties == {
        "150202": "东河区",
        "150203": "昆都仑区",
        "150204": "青山区",
        "150205": "石拐区",
        "150206": "白云鄂博矿区",
        "150207": "九原区",
        "150221": "土默特右旗",
        "150222": "固阳县",
        "150223": "达尔罕茂明安联合旗",
    }
    assert [d.name for d in inv.districts if d.level == DistrictLevel.CITY] == ["包头市"]
    public = [a for a in inv.areas if a.scope == Scope.PUBLIC]
    sector = [a for a in inv.areas if a.scope == Scope.SECTOR]
    assert 55 <= len(public) <= 65 and 12 <= len(sector) <= 18
    assert {"square", "station", "school", "hospital", "junction", "market", "border_post"} <= {a.kind for a in public}
    assert {"finance", "transport", "education", "healthcare", "hospitality", "energy", "logistics"} == {
        a.sector for a in sector
    }
    assert {a.required_cameras for a in inv.areas} == {1, 2, 3, 4}
    assert len(inv.cameras) == 300


def test_camera_convention_for_the_simulator() -> None:
    inv = read_inventory([DEMO / "districts.csv", DEMO / "areas.csv", DEMO / "cameras.csv"])
    for i, cam in enumerate(inv.cameras):
        host = f"127.20.{i // 250}.{i % 250 + 1}"
        assert cam.host == host
        assert cam.rtsp_url == f"rtsp://{host}:8554/Streaming/Channels/101"
        assert cam.onvif_url == f"http://{host}:8080/onvif/device_service"
        assert cam.snapshot_url == f"http://{host}:8080/snapshot.jpg"
        assert (cam.username, cam.password_env, cam.auth.value) == ("admin", "SHARPEYES_DEMO_PASSWORD", "digest")
        assert len(cam.id) == 20 and cam.id.isdigit() and cam.id[10:13] in ("131", "132")
