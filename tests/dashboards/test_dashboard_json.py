"""Dashboard JSON lint: up to date with the generator, stable uids, ids, layout, datasources, titles, variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards.boards import DASHBOARDS, Json, committed, generator, panels, queries, substitute, variables

UIDS = {"sharpeyes-overview", "sharpeyes-district", "sharpeyes-camera", "sharpeyes-frame-health",
        "sharpeyes-operations"}  # fmt: skip
DS = {"type": "prometheus", "uid": "${datasource}"}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def boards() -> dict[str, Json]:
    return committed()


def test_committed_json_is_what_the_generator_writes() -> None:
    built = generator().build()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARDS.glob("*.json")}
    assert on_disk == built, "run: .venv/bin/python dashboards/generate.py and commit the JSON"


def test_stable_unique_uids(boards: dict[str, Json]) -> None:
    assert {b["uid"] for b in boards.values()} == UIDS
    assert len(boards) == len(UIDS)


def test_panel_ids_unique(boards: dict[str, Json]) -> None:
    for name, board in boards.items():
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), name


def test_grid_positions_fit_and_never_overlap(boards: dict[str, Json]) -> None:
    for name, board in boards.items():
        taken: set[tuple[int, int]] = set()
        for p in board["panels"]:
            g = p["gridPos"]
            assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0, (name, p["title"])
            assert g["x"] + g["w"] <= 24, (name, p["title"])
            cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & taken, f"{name}: {p['title']} overlaps another panel"
            taken |= cells


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [(f"{path}.{k}", v) for k, v in node.items()] + [
            x for k, v in node.items() for x in _walk(v, f"{path}.{k}")
        ]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _walk(v, f"{path}[{i}]")]
    return []


def test_a_datasource_on_every_panel_and_target_and_no_hard_coded_uid(boards: dict[str, Json]) -> None:
    for name, board in boards.items():
        for p in panels(board):
            if p["type"] != "row":
                assert p["datasource"] == DS, (name, p["title"])
                assert p["targets"], (name, p["title"])
        for p, t in queries(board):
            assert t["datasource"] == DS, (name, p["title"], t["refId"])
            assert t["expr"].strip(), (name, p["title"])
        for where, value in _walk(board):
            if where.endswith(".datasource"):
                assert value == DS or value in ("${datasource}",), (name, where, value)
            if where.endswith(".uid") and ".datasource" in where:
                assert value == "${datasource}", (name, where, value)


def test_ref_ids_unique_within_a_panel(boards: dict[str, Json]) -> None:
    for name, board in boards.items():
        for p in panels(board):
            refs = [t["refId"] for t in p.get("targets", [])]
            assert len(refs) == len(set(refs)), (name, p["title"])


def test_titles_are_chinese_and_english(boards: dict[str, Json]) -> None:
    for name, board in boards.items():
        for title in [board["title"], *(p["title"] for p in panels(board))]:
            assert CJK.search(title) and LATIN.search(title), (name, title)


def test_variables_datasource_and_chained_label_values(boards: dict[str, Json]) -> None:
    for name, board in boards.items():
        v = variables(board)
        assert v["datasource"]["type"] == "datasource" and v["datasource"]["query"] == "prometheus", name
        for var in v.values():
            if var["type"] == "query":
                assert var["datasource"] == DS
                assert var["definition"].startswith("label_values("), (name, var["name"])
        if "district" in v:
            assert "$scope" in v["district"]["definition"] or name == "camera.json", name
        # every $variable a query uses is defined (or a Grafana built-in)
        for p, t in queries(board):
            for used in re.findall(r"\$\{?(\w+)", t["expr"]):
                assert used in v or used.startswith("__"), (name, p["title"], used)


def test_camera_lists_are_bounded(boards: dict[str, Json]) -> None:
    """A query returning one series per camera is always limited with topk/bottomk or one camera_id."""
    per_camera = re.compile(r"sharpeyes_camera_(up|healthy|fault|probe_failure|last_success\w*|clock_skew\w*)\b")
    for name, board in boards.items():
        for p, t in queries(board):
            expr = t["expr"]
            if per_camera.search(expr) and "count by" not in expr and "count(" not in expr:
                assert re.search(r"topk|bottomk|camera_id=\"\$camera_id\"", expr), (name, p["title"], expr)


def test_substitute_formats() -> None:
    expr = 'x{d=~".*/${district:regex}/.*",s="$scope"}[$__range] ${topn}'
    got = substitute(expr, {"district": "a.b", "scope": "all", "topn": "5"}, {"__range": "1m"})
    assert got == 'x{d=~".*/a\\.b/.*",s="all"}[1m] 5'


def test_data_links_open_existing_dashboards_with_their_variables(boards: dict[str, Json]) -> None:
    by_uid = {b["uid"]: b for b in boards.values()}
    urls = [(name, v) for name, b in boards.items() for where, v in _walk(b) if where.endswith(".url")]
    assert len(urls) >= 5
    for name, url in urls:
        m = re.match(r"/d/([\w-]+)/\?(.*)$", url)
        assert m and m[1] in by_uid, (name, url)
        wanted = variables(by_uid[m[1]])
        for param in m[2].split("&"):
            if param.startswith("${datasource:queryparam}"):
                continue
            key = param.split("=", 1)[0]
            assert key.startswith("var-") and key[4:] in wanted, (name, url, key)


def test_generator_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = generator()
    assert gen.main(["--check"]) == 0
    monkeypatch.setattr(gen, "OUT", tmp_path)
    assert gen.main(["--check"]) == 1  # nothing written there yet
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
    (tmp_path / "overview.json").write_text("{}")
    assert gen.main(["--check"]) == 1


def test_provisioning_files() -> None:
    prov = DASHBOARDS / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "sharpeyes.yml").read_text())
    assert ds["apiVersion"] == 1
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")
    assert "uid" not in source  # the dashboards find it through their datasource variable, not a uid
    boards = yaml.safe_load((prov / "dashboards" / "sharpeyes.yml").read_text())
    assert boards["apiVersion"] == 1
    [provider] = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
