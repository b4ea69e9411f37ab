"""``sharpeyes registry export --format file-sd``: target groups per area, ids only."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sharpeyes.cli import main
from sharpeyes.exporter.file_sd import to_file_sd
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.io import read_inventory

DEMO = sorted((Path(__file__).resolve().parents[2] / "config" / "demo").glob("*.csv"))


def test_groups_per_area_with_id_labels_only() -> None:
    inv = Inventory(
        (District("C", "市", DistrictLevel.CITY),),
        (Area("a", "广场", "C", Scope.PUBLIC, "square", 1), Area("b", "银行", "C", Scope.SECTOR, "bank", 1, "finance"),
         Area("empty", "x", "C", Scope.PUBLIC, "square", 1)),
        (Camera("c2", "东门", "a", "127.0.0.1"), Camera("c1", "西门", "a", "127.0.0.2"),
         Camera("c3", "金库", "b", "127.0.0.3"), Camera("c4", "old", "b", "127.0.0.4", in_service=False)),
    )  # fmt: skip
    groups = json.loads(to_file_sd(inv))
    assert groups == [
        {"targets": ["c1", "c2"], "labels": {"area_id": "a", "district": "C", "scope": "public"}},
        {"targets": ["c3"], "labels": {"area_id": "b", "district": "C", "scope": "sector", "sector": "finance"}},
    ]
    assert "东门" not in to_file_sd(inv)
    by_module = json.loads(to_file_sd(inv, ["rtsp_describe", "frame"]))
    assert [(g["labels"]["area_id"], g["labels"]["module"]) for g in by_module] == [
        ("a", "rtsp_describe"),
        ("a", "frame"),
        ("b", "rtsp_describe"),
        ("b", "frame"),
    ]


def test_cli_export_file_sd_of_the_demo_city(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    runner = CliRunner()
    imported = runner.invoke(main, ["registry", "import", *map(str, DEMO), "--db", url])
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "sd.json"
    args = ["registry", "export", "--format", "file-sd", "--db", url, "--out", str(out), "--module", "rtsp_describe"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    wrong = runner.invoke(main, ["registry", "export", "--format", "json", "--db", url, "--module", "x"])
    assert wrong.exit_code == 2 and "--module" in wrong.output
    groups = json.loads(out.read_text(encoding="utf-8"))
    inv = read_inventory(DEMO)
    assert sorted(t for g in groups for t in g["targets"]) == sorted(c.id for c in inv.cameras if c.in_service)
    assert {g["labels"]["module"] for g in groups} == {"rtsp_describe"}
