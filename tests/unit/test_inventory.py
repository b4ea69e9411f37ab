from __future__ import annotations

from sharpeyes.redact import Secret
from sharpeyes.registry.inventory import Camera, District, DistrictLevel, Inventory


def test_ancestors_walk_to_the_root_and_survive_a_cycle() -> None:
    inv = Inventory(
        districts=(
            District("150200", "包头市", DistrictLevel.CITY),
            District("150203", "昆都仑区", DistrictLevel.DISTRICT, "150200"),
            District("150203001", "某街道", DistrictLevel.STREET, "150203"),
            District("X1", "a", DistrictLevel.GRID, "X2"),
            District("X2", "b", DistrictLevel.GRID, "X1"),
        )
    )
    assert [d.code for d in inv.ancestors("150203001")] == ["150203001", "150203", "150200"]
    assert [d.code for d in inv.ancestors("X1")] == ["X1", "X2"]
    assert list(inv.ancestors("nope")) == []


def test_camera_target_carries_the_secret_not_the_reference() -> None:
    cam = Camera("c1", "东门", "a1", "127.0.0.1", rtsp_url="rtsp://127.0.0.1/x", username="admin")
    t = cam.target(Secret("pw"))
    assert t.password is not None and t.password.reveal() == "pw"
    assert t.rtsp_url == "rtsp://127.0.0.1/x"
