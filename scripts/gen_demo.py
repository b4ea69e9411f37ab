#!/usr/bin/env python3
"""Generate the demo city's registry (Baotou, 包头市) into config/demo/: districts.csv, areas.csv, cameras.csv.

Deterministic: the same seed writes byte-identical files (they are committed; a test regenerates and compares).
The nine county-level divisions and their GB/T 2260 codes are real; street, community and grid codes extend
their parent's code (GB/T 10114 style); area and camera names are plausible, not a survey of the real city.

Camera number ``i`` (0-based, in file order) lives at host ``127.20.{i // 250}.{i % 250 + 1}`` with
``rtsp://HOST:8554/Streaming/Channels/101``, ``http://HOST:8080/onvif/device_service`` and
``http://HOST:8080/snapshot.jpg``, user ``admin``, password from ``$SHARPEYES_DEMO_PASSWORD``, Digest auth.
The simulator and the daemon rely on this convention.

Usage: scripts/gen_demo.py [--out config/demo] [--seed 150200] [--cameras 300]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

from sharpeyes.registry.io import COLUMNS

CITY = ("150200", "包头市")
# code, name, centre (lat, lon), streets/townships: (3-digit suffix, name)
COUNTIES: list[tuple[str, str, tuple[float, float], list[tuple[str, str]]]] = [
    (
        "150202",
        "东河区",
        (40.576, 110.044),
        [("001", "和平路街道"), ("002", "西脑包街道"), ("003", "南门外街道"), ("004", "河东街道"), ("100", "沙尔沁镇")],
    ),
    (
        "150203",
        "昆都仑区",
        (40.640, 109.838),
        [
            ("001", "林荫路街道"),
            ("002", "昆北街道"),
            ("003", "阿尔丁街道"),
            ("004", "友谊大街街道"),
            ("100", "卜尔汉图镇"),
        ],
    ),
    (
        "150204",
        "青山区",
        (40.643, 109.902),
        [("001", "万青路街道"), ("002", "青山路街道"), ("003", "幸福路街道"), ("004", "富强路街道"), ("100", "兴胜镇")],
    ),
    ("150205", "石拐区", (40.676, 110.272), [("001", "石拐街道"), ("100", "五当召镇")]),
    ("150206", "白云鄂博矿区", (41.770, 109.973), [("001", "通阳道街道"), ("002", "矿山路街道")]),
    ("150207", "九原区", (40.606, 109.968), [("001", "沙河街道"), ("002", "赛汗街道"), ("100", "麻池镇")]),
    ("150221", "土默特右旗", (40.567, 110.524), [("100", "萨拉齐镇"), ("101", "美岱召镇")]),
    ("150222", "固阳县", (41.034, 110.060), [("100", "金山镇"), ("101", "兴顺西镇")]),
    ("150223", "达尔罕茂明安联合旗", (41.703, 110.433), [("100", "百灵庙镇"), ("101", "满都拉镇")]),
]
COMMUNITY_NAMES = ["团结", "友谊", "和平", "光明", "幸福", "建设", "新华", "胜利", "民主", "文化", "阳光", "富民"]
VILLAGE_NAMES = ["前营子", "后营子", "东园", "西园", "新光", "红旗", "哈达", "巴音"]

# key public areas per county: (kind, name)
PUBLIC: dict[str, list[tuple[str, str]]] = {
    "150202": [
        ("square", "银河广场"),
        ("square", "东河区文化广场"),
        ("station", "包头东站"),
        ("station", "包头东河机场航站楼"),
        ("school", "东河区第二中学"),
        ("hospital", "包头市中心医院"),
        ("hospital", "包头医学院第二附属医院"),
        ("junction", "巴彦塔拉大街与环城路交叉口"),
        ("junction", "南门外十字路口"),
        ("market", "南门外农贸市场"),
    ],
    "150203": [
        ("square", "阿尔丁广场"),
        ("square", "昆区少年宫广场"),
        ("station", "包头站"),
        ("station", "昆区公交枢纽站"),
        ("school", "包头市第九中学"),
        ("school", "昆区第一小学"),
        ("hospital", "包钢医院"),
        ("hospital", "包头医学院第一附属医院"),
        ("junction", "钢铁大街与阿尔丁大街交叉口"),
        ("junction", "友谊大街与民族西路交叉口"),
        ("market", "友谊农贸市场"),
    ],
    "150204": [
        ("square", "青山区文化广场"),
        ("station", "青山区客运站"),
        ("school", "青山区第一中学"),
        ("school", "包头市第三十三中学"),
        ("hospital", "青山区人民医院"),
        ("hospital", "包头市第四医院"),
        ("junction", "钢铁大街与民主路交叉口"),
        ("junction", "青年路与幸福路交叉口"),
        ("market", "青山区青年农贸市场"),
    ],
    "150205": [
        ("square", "石拐区中心广场"),
        ("station", "石拐客运站"),
        ("school", "石拐区第一中学"),
        ("hospital", "石拐区医院"),
        ("junction", "石拐大街与前进路交叉口"),
    ],
    "150206": [
        ("square", "白云鄂博文化广场"),
        ("station", "白云鄂博火车站"),
        ("school", "白云鄂博矿区第一中学"),
        ("hospital", "白云鄂博矿区医院"),
        ("junction", "通阳道与矿山路交叉口"),
    ],
    "150207": [
        ("square", "九原区政府广场"),
        ("station", "九原区客运站"),
        ("school", "九原区第一中学"),
        ("hospital", "九原区人民医院"),
        ("junction", "建设路与110国道交叉口"),
        ("market", "九原区农贸市场"),
    ],
    "150221": [
        ("square", "萨拉齐镇中心广场"),
        ("station", "萨拉齐站"),
        ("school", "土右旗第一中学"),
        ("hospital", "土右旗医院"),
        ("market", "萨拉齐农贸市场"),
        ("checkpoint", "美岱召公安检查站"),
    ],
    "150222": [
        ("square", "金山镇中心广场"),
        ("station", "固阳县客运站"),
        ("school", "固阳县第一中学"),
        ("hospital", "固阳县医院"),
        ("checkpoint", "固阳公安检查站"),
    ],
    "150223": [
        ("square", "百灵庙镇中心广场"),
        ("school", "达茂旗第一中学"),
        ("hospital", "达茂旗医院"),
        ("border_post", "满都拉口岸"),
        ("border_post", "满都拉边境检查站"),
    ],
}

# important sites of key industries: (county, sector, kind, name)
SECTOR: list[tuple[str, str, str, str]] = [
    ("150203", "finance", "bank", "中国工商银行包头分行营业部"),
    ("150202", "finance", "bank", "中国银行包头东河支行"),
    ("150204", "finance", "bank", "包头农村商业银行营业部"),
    ("150203", "transport", "depot", "包头公交集团调度中心"),
    ("150207", "transport", "depot", "包头铁路货运站"),
    ("150203", "education", "university", "内蒙古科技大学"),
    ("150202", "education", "university", "包头师范学院"),
    ("150204", "education", "college", "包头轻工职业技术学院"),
    ("150202", "healthcare", "blood_center", "包头市中心血站"),
    ("150203", "healthcare", "emergency_center", "包头市急救中心"),
    ("150203", "hospitality", "hotel", "包头香格里拉大酒店"),
    ("150202", "hospitality", "hotel", "包头饭店"),
    ("150203", "energy", "steelworks", "包钢集团炼铁厂"),
    ("150207", "energy", "power_plant", "包头第二热电厂"),
    ("150207", "logistics", "logistics_park", "包头国际陆港物流园"),
    ("150204", "logistics", "sorting_center", "包头快递分拨中心"),
]

# GB/T 28181 industry codes (2016 Annex D) by area kind / sector
INDUSTRY = {
    "junction": "04",
    "station": "06",
    "checkpoint": "03",
    "school": "11",
    "hospital": "09",
    "finance": "51",
    "transport": "06",
    "education": "11",
    "healthcare": "09",
    "hospitality": "50",
    "energy": "44",
    "logistics": "47",
}
POSITIONS = {
    "square": ["全景", "东入口", "西入口", "南入口", "北入口", "舞台区", "停车场"],
    "station": ["进站口", "出站口", "候车厅", "售票厅", "站前广场", "停车场", "安检口"],
    "school": ["校门", "操场", "教学楼走廊", "周界东侧", "周界西侧", "接送区"],
    "hospital": ["门诊大厅", "急诊入口", "住院部", "停车场", "挂号处", "主入口"],
    "junction": ["东向", "西向", "南向", "北向", "全景"],
    "market": ["主入口", "东通道", "西通道", "停车场", "卸货区"],
    "checkpoint": ["查验通道", "进城方向", "出城方向", "全景"],
    "border_post": ["查验通道", "货运通道", "出入境大厅", "周界", "停车场"],
}
SECTOR_POSITIONS = ["主入口", "大厅", "周界", "停车场", "重点部位", "出口", "通道"]
TAGS = ["高点", "人脸", "车辆卡口", "夜视", "球机", "枪机", "全景"]
RESOLUTIONS = ["1920x1080"] * 14 + ["2560x1440"] * 3 + ["1280x720"] * 2 + [""]

CAMERA_COLUMNS = list(COLUMNS["cameras"])


@dataclass(frozen=True)
class AreaPlan:
    id: str
    name: str
    county: str
    district: str
    scope: str
    sector: str
    kind: str
    required: int
    lat: float
    lon: float


def camera_host(i: int) -> str:
    """The demo's loopback address of camera number ``i`` (the simulator serves it there)."""
    return f"127.20.{i // 250}.{i % 250 + 1}"


def districts(rng: random.Random) -> list[list[str]]:
    rows = [[CITY[0], CITY[1], "city", ""]]
    for code, name, _centre, _streets in COUNTIES:
        rows.append([code, name, "district", CITY[0]])
    for code, _name, _centre, streets in COUNTIES:
        for suffix, street in streets:
            street_code = code + suffix
            rows.append([street_code, street, "street", code])
            town = street.endswith(("镇", "苏木"))
            names = rng.sample(VILLAGE_NAMES if town else COMMUNITY_NAMES, 2)
            for n, base in enumerate(names, start=1):
                number = (200 if town else 0) + n
                suffix_name = "村" if town else "社区"
                rows.append([f"{street_code}{number:03d}", f"{base}{suffix_name}", "community", street_code])
    # a few grids (网格) under the first community of 昆都仑区 阿尔丁街道
    parent = next(r[0] for r in rows if r[3] == "150203003")
    for n in (1, 2):
        rows.append([f"{parent}{n:02d}", f"第{n}网格", "grid", parent])
    return rows


def _place(rng: random.Random, county: str, district_rows: list[list[str]]) -> str:
    """Where an area sits: its county, one of its streets, or a community/grid below."""
    below = [r[0] for r in district_rows if r[0].startswith(county) and r[0] != county]
    return rng.choice([county, *below]) if below else county


def areas(rng: random.Random, district_rows: list[list[str]]) -> list[AreaPlan]:
    centres = {code: centre for code, _n, centre, _s in COUNTIES}
    plans: list[AreaPlan] = []
    for county, places in PUBLIC.items():
        for n, (kind, name) in enumerate(places, start=1):
            plans.append(_plan(rng, f"P{county}-{n:02d}", name, county, "public", "", kind, centres, district_rows))
    per_county: dict[str, int] = {}
    for county, sector, kind, name in SECTOR:
        per_county[county] = per_county.get(county, 0) + 1
        plan_id = f"S{county}-{per_county[county]:02d}"
        plans.append(_plan(rng, plan_id, name, county, "sector", sector, kind, centres, district_rows))
    return plans


def _plan(
    rng: random.Random,
    plan_id: str,
    name: str,
    county: str,
    scope: str,
    sector: str,
    kind: str,
    centres: dict[str, tuple[float, float]],
    district_rows: list[list[str]],
) -> AreaPlan:
    lat, lon = centres[county]
    required = rng.choice([1, 1, 1, 1, 1, 1, 2, 2, 3, 4])
    return AreaPlan(
        id=plan_id,
        name=name,
        county=county,
        district=_place(rng, county, district_rows),
        scope=scope,
        sector=sector,
        kind=kind,
        required=required,
        lat=round(lat + rng.uniform(-0.02, 0.02), 5),
        lon=round(lon + rng.uniform(-0.02, 0.02), 5),
    )


def camera_counts(rng: random.Random, plans: list[AreaPlan], total: int) -> list[int]:
    """Cameras per area: at least its required count, then extras until ``total``."""
    counts = [p.required + rng.choice([0, 1, 1, 2, 3]) for p in plans]
    while sum(counts) > total:
        i = rng.randrange(len(counts))
        if counts[i] > plans[i].required:
            counts[i] -= 1
    while sum(counts) < total:
        counts[rng.randrange(len(counts))] += 1
    return counts


def cameras(rng: random.Random, plans: list[AreaPlan], total: int) -> list[list[str]]:
    rows: list[list[str]] = []
    serial: dict[str, int] = {}
    for plan, count in zip(plans, camera_counts(rng, plans, total), strict=True):
        positions = POSITIONS.get(plan.kind, SECTOR_POSITIONS)
        for k in range(count):
            i = len(rows)
            serial[plan.county] = serial.get(plan.county, 0) + 1
            industry = INDUSTRY.get(plan.sector or plan.kind, "00")
            type_code = "131" if rng.random() < 0.1 else "132"
            network = "8" if plan.scope == "sector" else "0"
            camera_id = f"{plan.county}00{industry}{type_code}{network}{serial[plan.county]:06d}"
            position = positions[k % len(positions)] + ("" if k < len(positions) else f"{k // len(positions) + 1}")
            host = camera_host(i)
            point_class = rng.choice(["一类", "一类", "二类", "二类", "二类", "三类", ""])
            in_service = "false" if rng.random() < 0.03 else "true"
            tags = ";".join(sorted(rng.sample(TAGS, rng.choice([0, 1, 1, 2]))))
            rows.append(
                [
                    camera_id,
                    f"{plan.name}{position}",
                    plan.id,
                    host,
                    f"rtsp://{host}:8554/Streaming/Channels/101",
                    f"http://{host}:8080/onvif/device_service",
                    f"http://{host}:8080/snapshot.jpg",
                    "admin",
                    "SHARPEYES_DEMO_PASSWORD",
                    "",
                    "digest",
                    point_class,
                    in_service,
                    rng.choice(RESOLUTIONS),
                    tags,
                ]
            )
    return rows


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def generate(seed: int = 150200, total: int = 300) -> dict[str, str]:
    """File name → CSV text of the demo city."""
    rng = random.Random(seed)
    district_rows = districts(rng)
    plans = areas(rng, district_rows)
    area_rows = [
        [p.id, p.name, p.district, p.scope, p.sector, p.kind, str(p.required), f"{p.lat}", f"{p.lon}"] for p in plans
    ]
    return {
        "districts.csv": to_csv(["code", "name", "level", "parent"], district_rows),
        "areas.csv": to_csv(
            ["id", "name", "district", "scope", "sector", "kind", "required_cameras", "lat", "lon"], area_rows
        ),
        "cameras.csv": to_csv(CAMERA_COLUMNS, cameras(rng, plans, total)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "config" / "demo")
    parser.add_argument("--seed", type=int, default=150200)
    parser.add_argument("--cameras", type=int, default=300)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in generate(args.seed, args.cameras).items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name} ({text.count(chr(10)) - 1} rows)")


if __name__ == "__main__":
    main()
