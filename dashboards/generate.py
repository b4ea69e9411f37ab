"""Generate the Grafana dashboards of sharpeyes (classic dashboard JSON) from plain Python dicts.

Run ``python dashboards/generate.py`` after changing this file and commit the JSON it writes next to it;
``tests/dashboards/test_dashboard_json.py`` fails when the committed JSON differs from what this produces.

Conventions (DESIGN.md §6–§7):

- every dashboard has a stable ``uid``, a ``datasource`` variable of type prometheus, and every panel and
  query names the datasource as ``${datasource}`` (never a hard-coded uid);
- ``scope`` → ``level`` → ``district`` variables are chained from ``label_values`` of the exporter's own
  aggregates; per-camera and per-area series are selected by district at any level with
  ``district_path=~".*/<district>/.*"`` (the path starts at the city-wide group ``all``) and by scope with
  ``scope_path=~".*/<scope>/.*"``;
- rates sum numerators and denominators, then divide (never an average of ratios);
- lists of cameras are bounded with ``topk``/``bottomk`` ($topn), never "All" over 10k cameras.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sharpeyes.runtime import DEFAULT_TARGETS

OUT = Path(__file__).resolve().parent
SCHEMA_VERSION = 41
DS = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["sharpeyes"]
IN_DISTRICT = 'district_path=~".*/${district:regex}/.*"'
"""Selects the cameras or areas of $district at any level (``all``: the whole city)."""
IN_SCOPE = 'scope_path=~".*/${scope:regex}/.*"'
"""Selects the cameras or areas of $scope (``all``: both)."""

Json = dict[str, Any]
SKEW_STEPS: list[Json] = [
    {"color": "red", "value": None},
    {"color": "green", "value": -300},
    {"color": "red", "value": 300},
]

RATES: tuple[tuple[str, str, str, str, str], ...] = (
    # key, 中文, English, numerator, denominator
    ("coverage", "覆盖率", "Coverage", "sharpeyes_areas_covered", "sharpeyes_areas_registered"),
    ("connection", "联网率", "Connection", "sharpeyes_cameras_connected", "sharpeyes_cameras_in_service"),
    ("online", "在线率", "Online", "sharpeyes_cameras_online", "sharpeyes_cameras_in_service"),
    ("good_order", "完好率", "Good order", "sharpeyes_cameras_healthy", "sharpeyes_cameras_in_service"),
    ("image_quality", "图像合格率", "Image quality", "sharpeyes_cameras_frame_ok", "sharpeyes_cameras_frame_checked"),
)
RATE = {r[0]: r for r in RATES}
ASSESSED = ("coverage", "connection", "good_order")
"""The rates with a national target (sharpeyes_target_ratio)."""
SCOPES = (("public", "重点公共区域", "public areas"), ("sector", "重点行业", "key industries"))


# --- queries -------------------------------------------------------------------------------------------


def rate_expr(key: str, selector: str, by: str = "") -> str:
    """A rate: the sum of its numerator over the sum of its denominator (empty groups have no value)."""
    _, _, _, num, den = RATE[key]
    agg = f"sum by ({by}) " if by else "sum "
    return f"{agg}({num}{{{selector}}}) / ({agg}({den}{{{selector}}}) > 0)"


def target_expr(scope: str, key: str) -> str:
    return f'max(sharpeyes_target_ratio{{scope="{scope}",rate="{key}"}})'


def cameras_in_district(*extra: str) -> str:
    """sharpeyes_camera_info of the cameras in $district (any level), optionally more matchers."""
    return f"sharpeyes_camera_info{{{','.join((IN_DISTRICT, *extra))}}}"


def target(expr: str, ref: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    t: Json = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        t.update(instant=True, range=False)
    if table:
        t["format"] = "table"
    return t


# --- links ---------------------------------------------------------------------------------------------

DS_PARAM = "${datasource:queryparam}"
CAMERA_LINK = {
    "title": "摄像机详情 / Camera detail",
    "url": f"/d/sharpeyes-camera/?var-district=all&var-camera_id=${{__value.raw}}&{DS_PARAM}",
}
"""A table cell holding a camera id opens that camera's detail dashboard."""


def district_link(value: str, level: str) -> Json:
    """Open the district drill-down on one district (``value``: a Grafana data-link expression)."""
    return {
        "title": "区域下钻 / District drill-down",
        "url": f"/d/sharpeyes-district/?var-scope=${{scope}}&var-level={level}&var-district={value}&{DS_PARAM}",
    }


def column_links(column: str, link: Json) -> Json:
    return {"matcher": {"id": "byName", "options": column}, "properties": [{"id": "links", "value": [link]}]}


# --- panels --------------------------------------------------------------------------------------------


def panel(kind: str, title: str, targets: Sequence[Json], w: int, h: int, **extra: Any) -> Json:
    p: Json = {"type": kind, "title": title, "datasource": DS, "targets": list(targets), "_size": (w, h)}
    p.update(extra)
    return p


def percent_field(decimals: int = 2, steps: Sequence[Json] | None = None) -> Json:
    return {
        "defaults": {
            "unit": "percentunit",
            "decimals": decimals,
            "min": 0,
            "max": 1,
            "thresholds": {"mode": "absolute", "steps": list(steps or [{"color": "blue", "value": None}])},
        },
        "overrides": [],
    }


def rate_stat(key: str, scope: str, scope_zh: str, scope_en: str) -> Json:
    """A stat of one assessed rate for one scope in $district, coloured red below its target."""
    _, zh, en, _, _ = RATE[key]
    # the default target until configFromData puts the exported one (sharpeyes_target_ratio) in its place
    steps: list[Json] = [{"color": "red", "value": None}, {"color": "green", "value": DEFAULT_TARGETS[scope][key]}]
    return panel(
        "stat",
        f"{zh}（{scope_zh}）/ {en} ({scope_en})",
        [
            target(rate_expr(key, f'scope="{scope}",district="$district"'), "A", en, instant=True, table=True),
            target(target_expr(scope, key), "TARGET", "target", instant=True, table=True),
        ],
        4,
        5,
        description=f"{en} of {scope_en} in $district against the target (sharpeyes_target_ratio): green at or "
        "above the target, red below. Sums numerators and denominators, then divides.",
        fieldConfig=percent_field(2, steps),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "background"},
        transformations=[
            {
                "id": "configFromData",
                "options": {
                    "configRefId": "TARGET",
                    "mappings": [
                        {
                            "fieldName": "Value",
                            "handlerKey": "threshold1",
                            "handlerArguments": {"threshold": {"color": "green"}},
                        }
                    ],
                },
            }
        ],
    )


def stat(title: str, expr: str, *, unit: str = "short", steps: Sequence[Json] | None = None, w: int = 4,
         description: str = "", legend: str = "") -> Json:  # fmt: skip
    return panel(
        "stat",
        title,
        [target(expr, "A", legend, instant=True)],
        w,
        5,
        description=description,
        fieldConfig={
            "defaults": {
                "unit": unit,
                "thresholds": {"mode": "absolute", "steps": list(steps or [{"color": "blue", "value": None}])},
            },
            "overrides": [],
        },
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"},
    )


def timeseries(title: str, targets: Sequence[Json], *, unit: str = "short", w: int = 12, h: int = 8,
               description: str = "", stack: bool = False) -> Json:  # fmt: skip
    custom: Json = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": False}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return panel(
        "timeseries",
        title,
        targets,
        w,
        h,
        description=description,
        fieldConfig={"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        options={"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
                 "tooltip": {"mode": "multi", "sort": "desc"}},
    )  # fmt: skip


def rate_trend(key: str) -> Json:
    """One assessed rate over time, per scope, with its targets as dashed lines."""
    _, zh, en, _, _ = RATE[key]
    targets = []
    for i, (scope, scope_zh, _) in enumerate(SCOPES):
        targets.append(target(rate_expr(key, f'scope="{scope}",district="$district"'), "AB"[i], f"{scope_zh} {scope}"))
    for i, (scope, _, _) in enumerate(SCOPES):
        targets.append(target(target_expr(scope, key), "CD"[i], f"目标 target {scope}"))
    p = timeseries(f"{zh}趋势 / {en} trend", targets, unit="percentunit", w=8,
                   description=f"{en} of $district per scope; dashed: the targets.")  # fmt: skip
    p["fieldConfig"]["overrides"] = [
        {
            "matcher": {"id": "byRegexp", "options": "目标.*"},
            "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}],
        }
    ]
    return p


def bar_gauge(title: str, expr: str, legend: str, *, w: int = 12, h: int = 8, unit: str = "short",
              description: str = "", links: Sequence[Json] = ()) -> Json:  # fmt: skip
    return panel(
        "bargauge",
        title,
        [target(expr, "A", legend, instant=True)],
        w,
        h,
        description=description,
        fieldConfig={"defaults": {"unit": unit, "min": 0, "links": list(links)}, "overrides": []},
        options={"orientation": "horizontal", "displayMode": "gradient",
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    )  # fmt: skip


def table(title: str, targets: Sequence[Json], *, w: int = 24, h: int = 9, description: str = "",
          rename: dict[str, str] | None = None, hide: Iterable[str] = ("Time",),
          units: dict[str, str] | None = None, links: dict[str, Json] | None = None) -> Json:  # fmt: skip
    """A table of instant queries merged on their labels.

    ``units`` and ``links``: display name (after renaming) → unit / data link. A ``camera_id`` column always
    links to the camera's detail dashboard.
    """
    overrides = [
        {"matcher": {"id": "byName", "options": name}, "properties": [{"id": "unit", "value": unit}]}
        for name, unit in (units or {}).items()
    ]
    if any("camera_id" in t["expr"] for t in targets):
        overrides.append(column_links("camera_id", CAMERA_LINK))
    overrides += [column_links(name, link) for name, link in (links or {}).items()]
    transformations: list[Json] = [{"id": "merge", "options": {}}] if len(targets) > 1 else []
    transformations.append(
        {
            "id": "organize",
            "options": {
                "excludeByName": {name: True for name in (*hide, "__name__", "job", "instance")},
                "renameByName": rename or {},
            },
        }
    )
    return panel(
        "table",
        title,
        targets,
        w,
        h,
        description=description,
        transformations=transformations,
        fieldConfig={"defaults": {}, "overrides": overrides},
        options={"showHeader": True},
    )


def state_timeline(title: str, targets: Sequence[Json], *, w: int = 12, h: int = 6, description: str = "") -> Json:
    return panel(
        "state-timeline",
        title,
        targets,
        w,
        h,
        description=description,
        fieldConfig={
            "defaults": {
                "mappings": [
                    {"type": "value", "options": {"0": {"text": "离线 down / 无 none", "color": "red"},
                                                  "1": {"text": "是 yes", "color": "green"}}}
                ],
                "thresholds": {"mode": "absolute", "steps": [{"color": "red", "value": None}]},
            },
            "overrides": [],
        },
        options={"showValue": "never", "mergeValues": True},
    )  # fmt: skip


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_size": (24, 1)}


def layout(panels: Sequence[Json]) -> list[Json]:
    """Pack panels left to right in 24 columns, wrapping lines; rows start a new line. Ids are 1, 2, …"""
    out, x, y, line_h = [], 0, 0, 0
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_size")
        if p["type"] == "row" or x + w > 24:
            x, y, line_h = 0, y + line_h, 0
        p["id"] = i
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x, line_h = x + w, max(line_h, h)
        if p["type"] == "row":
            x, y, line_h = 0, y + h, 0
        out.append(p)
    return out


# --- variables -----------------------------------------------------------------------------------------


def datasource_var() -> Json:
    return {
        "name": "datasource",
        "label": "数据源 / Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_var(name: str, label: str, query: str, *, default: str | None = None, hide: int = 0) -> Json:
    v: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": hide,
        "includeAll": False,
        "multi": False,
        "options": [],
        "current": {"text": default, "value": default} if default else {},
    }
    return v


def custom_var(name: str, label: str, values: Sequence[str], default: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "current": {"text": default, "value": default},
        "options": [{"text": v, "value": v, "selected": v == default} for v in values],
        "hide": 0,
        "includeAll": False,
        "multi": False,
    }


def scope_var(default: str = "all") -> Json:
    return query_var("scope", "范围 / Scope", "label_values(sharpeyes_cameras_registered, scope)", default=default)


def level_var(default: str = "district") -> Json:
    return query_var(
        "level", "层级 / Level", 'label_values(sharpeyes_cameras_registered{scope="$scope"}, level)', default=default
    )


def district_var(*, by_level: bool, default: str = "all") -> Json:
    selector = 'scope="$scope",level="$level"' if by_level else 'scope="$scope"'
    return query_var(
        "district", "区域 / District", f"label_values(sharpeyes_cameras_registered{{{selector}}}, district)",
        default=default,
    )  # fmt: skip


def topn_var() -> Json:
    return custom_var("topn", "前N / Top N", ["10", "20", "50", "100"], "20")


# --- dashboards ----------------------------------------------------------------------------------------


def dashboard(uid: str, title: str, description: str, variables: Sequence[Json], panels: Sequence[Json],
              *, time_from: str = "now-24h", links: bool = True) -> Json:  # fmt: skip
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": TAGS,
                "asDropdown": True,
                "title": "sharpeyes",
                "includeVars": False,
                "keepTime": True,
            }
        ]
        if links
        else [],
        "templating": {"list": [datasource_var(), *variables]},
        "panels": layout(panels),
    }


def overview() -> Json:
    panels: list[Json] = [row("考核指标 / Assessed rates vs targets")]
    for key in ASSESSED:
        for scope, scope_zh, scope_en in SCOPES:
            panels.append(rate_stat(key, scope, scope_zh, scope_en))
    panels += [
        stat("在线率 / Online now", rate_expr("online", 'scope="all",district="$district"'), unit="percentunit",
             w=3, description="In-service cameras up at their last liveness probe, both scopes."),
        stat("在线率（时段）/ Online over the range",
             'sum(avg_over_time(sharpeyes_cameras_online{scope="all",district="$district"}[$__range])) / '
             '(sum(avg_over_time(sharpeyes_cameras_in_service{scope="all",district="$district"}[$__range])) > 0)',
             unit="percentunit", w=3,
             description="Camera-seconds online over camera-seconds in service within the time range (counts are "
                         "averaged over time, then divided: never an average of ratios). The audit's monthly "
                         "figure comes from recorded transitions."),
        stat("图像合格率 / Image quality", rate_expr("image_quality", 'scope="all",district="$district"'),
             unit="percentunit", w=3, description="Frame-checked cameras with no picture fault, both scopes."),
        stat("离线摄像机 / Cameras offline now",
             'sum(sharpeyes_cameras{state="offline",scope="all",district="$district"})', w=3,
             steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
        stat("未覆盖区域 / Areas uncovered", 'sum(sharpeyes_areas{state="uncovered",scope="all",district="$district"})',
             w=3, steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
        stat("在役摄像机 / Cameras in service", 'sum(sharpeyes_cameras_in_service{scope="all",district="$district"})',
             w=3),
        stat("巡检新鲜度 / Last sweep age", "time() - min by (module) (sharpeyes_last_sweep_success_timestamp_seconds)",
             unit="s", legend="{{module}}", w=6,
             description="Seconds since each module's last complete sweep (the stalest instance or shard): "
                         "every value here is that old at most.",
             steps=[{"color": "green", "value": None}, {"color": "orange", "value": 900}]),
        row("趋势 / Trends"),
        *(rate_trend(key) for key in ASSESSED),
        row("离线与故障 / Offline and faults"),
        bar_gauge(
            "离线最多的区县 / Districts with most cameras offline (top 10)",
            'topk(10, sum by (district) (sharpeyes_cameras{state="offline",scope="$scope",level="district"}))',
            "{{district}}", w=8, description="Districts (level district) of scope $scope by cameras offline now.",
            links=[district_link("${__field.labels.district}", "district")],
        ),
        bar_gauge(
            "故障类型 / Picture faults by code",
            f"sort_desc(count by (code) (sharpeyes_camera_fault * on (camera_id) group_left () "
            f"{cameras_in_district(IN_SCOPE)}))",
            "{{code}}", w=8, description="Cameras in $district with each frame-health fault code now.",
        ),
        timeseries(
            "摄像机状态 / Cameras by state",
            [target('sum by (state) (sharpeyes_cameras{scope="all",district="$district"})', "A", "{{state}}")],
            w=8, stack=True, description="Registered cameras of $district: healthy, faulty, offline, out of service.",
        ),
    ]  # fmt: skip
    return dashboard(
        "sharpeyes-overview",
        "市域总览 / City overview — sharpeyes",
        "Coverage, connection and good-order rates of the city (or one district) against the national targets.",
        [scope_var("all"), district_var(by_level=False, default="all")],
        panels,
    )


def district_drilldown() -> Json:
    sel = 'scope="$scope",level="$level"'
    rate_targets = [
        target(rate_expr(key, sel, "district"), chr(ord("A") + i), instant=True, table=True)
        for i, key in enumerate(RATE)
    ]
    rate_targets += [
        target(f'sum by (district) (sharpeyes_cameras{{{sel},state="offline"}})', "F", instant=True, table=True),
        target(f'sum by (district) (sharpeyes_areas{{{sel},state="uncovered"}})', "G", instant=True, table=True),
        target(f"sum by (district) (sharpeyes_cameras_in_service{{{sel}}})", "H", instant=True, table=True),
    ]
    rename = {f"Value #{chr(ord('A') + i)}": f"{zh} {en}" for i, (_, zh, en, _, _) in enumerate(RATES)}
    rename.update({"Value #F": "离线 offline", "Value #G": "未覆盖区域 uncovered areas", "Value #H": "在役 in service",
                   "district": "区域 district"})  # fmt: skip
    here = 'scope="$scope",district="$district"'
    uncovered = f"sharpeyes_area_info{{{IN_DISTRICT},{IN_SCOPE}}} and on (area_id) (sharpeyes_area_covered == 0)"
    in_service = cameras_in_district(IN_SCOPE, 'in_service="true"')
    offline = f"{in_service} and on (camera_id) (sharpeyes_camera_up == 0)"
    panels = [
        table("各区域达标率（$level）/ Rates per district at level $level", rate_targets, h=10, rename=rename,
              units={f"{zh} {en}": "percentunit" for _, zh, en, _, _ in RATES},
              links={"区域 district": district_link("${__value.raw}", "${level}")},
              description="One row per district at the chosen level; sums of numerators over sums of denominators."),
        timeseries("$district 达标率趋势 / Rates of $district", [
            target(rate_expr(key, here), chr(ord("A") + i), f"{zh} {en}") for i, (key, zh, en, _, _) in enumerate(RATES)
        ], unit="percentunit", w=12),
        timeseries("$district 摄像机状态 / Cameras of $district by state",
                   [target(f"sum by (state) (sharpeyes_cameras{{{here}}})", "A", "{{state}}")], w=12, stack=True),
        table("$district 未覆盖区域 / Uncovered areas in $district (top $topn)", [
            target(f"topk($topn, sharpeyes_area_healthy_cameras * on (area_id) group_left (district, scope, kind, "
                   f"required_cameras) ({uncovered}))", "A", instant=True, table=True),
        ], w=12, rename={"Value": "完好 healthy", "required_cameras": "需要 required", "kind": "类型 kind"},
            description="Areas with fewer healthy cameras than they require."),
        table("$district 离线摄像机 / Offline cameras in $district (top $topn)", [
            target(f"topk($topn, sharpeyes_camera_probe_failure * on (camera_id) group_left (area_id, district) "
                   f"({offline}))", "A", instant=True, table=True),
            target(f"bottomk($topn, sharpeyes_camera_last_success_timestamp_seconds * 1000 "
                   f"* on (camera_id) group_left (area_id, district) ({offline}))", "B", instant=True, table=True),
        ], w=12, rename={"Value #B": "最后在线 last seen", "reason": "原因 reason", "module": "模块 module"},
            units={"最后在线 last seen": "dateTimeAsIso"},
            hide=("Time", "Value #A"),
            description="In-service cameras down at their last liveness probe, with the failing module and reason; "
                        "bounded to $topn."),
    ]  # fmt: skip
    return dashboard(
        "sharpeyes-district",
        "区域下钻 / District drill-down — sharpeyes",
        "Rates per district at a chosen level, and the uncovered areas and offline cameras of one district.",
        [scope_var("all"), level_var("district"), district_var(by_level=True, default=""), topn_var()],
        panels,
    )


def camera_detail() -> Json:
    cam = 'camera_id="$camera_id"'
    panels = [
        stat("在线 / Up", f"sharpeyes_camera_up{{{cam}}}",
             steps=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        stat("完好 / Healthy", f"sharpeyes_camera_healthy{{{cam}}}",
             steps=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        stat("时钟偏差 / Clock skew", f"sharpeyes_camera_clock_skew_seconds{{{cam}}}", unit="s",
             steps=SKEW_STEPS),
        stat("距最后成功 / Since last success", f"time() - sharpeyes_camera_last_success_timestamp_seconds{{{cam}}}",
             unit="s"),
        table("登记信息 / Registry", [target(f"sharpeyes_camera_info{{{cam}}}", "A", instant=True, table=True)], w=8,
              h=5, hide=("Time", "Value", "__name__")),
        state_timeline("在线历史 / Up history", [target(f"sharpeyes_camera_up{{{cam}}}", "A", "up")], w=12),
        state_timeline("故障历史 / Fault history", [
            target(f"sharpeyes_camera_fault{{{cam}}}", "A", "{{code}}"),
            target(f"sharpeyes_camera_probe_failure{{{cam}}}", "B", "{{module}}: {{reason}}"),
        ], w=12, description="Picture fault codes, and failing modules with their reason."),
        timeseries("时钟偏差 / Clock skew", [target(f"sharpeyes_camera_clock_skew_seconds{{{cam}}}", "A", "skew")],
                   unit="s", w=8),
        timeseries("各阶段耗时 / Probe latency by phase", [
            target(f"sharpeyes_probe_phase_duration_seconds{{{cam}}}", "A", "{{module}} {{phase}}"),
        ], unit="s", w=8, stack=True,
            description="From the blackbox-style /probe job (sharpeyes_probe); only for cameras in its file_sd."),
        timeseries("关键帧等待 / Time to keyframe", [
            target(f'sharpeyes_probe_phase_duration_seconds{{{cam},phase="keyframe"}}', "A", "{{module}}"),
        ], unit="s", w=8, description="Time spent waiting for the first keyframe (the keyframe phase), from /probe."),
    ]  # fmt: skip
    return dashboard(
        "sharpeyes-camera",
        "摄像机详情 / Camera detail — sharpeyes",
        "One camera: liveness, faults, clock skew and (for cameras probed through /probe) latency by phase.",
        [
            query_var("district", "区域 / District",
                      'label_values(sharpeyes_cameras_registered{scope="all"}, district)', default="all"),
            query_var("camera_id", "摄像机 / Camera", f"label_values({cameras_in_district()}, camera_id)"),
        ],
        panels,
    )  # fmt: skip


def frame_health() -> Json:
    sel = 'scope="$scope",level="$level"'
    faults = f"sharpeyes_camera_fault * on (camera_id) group_left (area_id, district) {cameras_in_district(IN_SCOPE)}"
    panels = [
        timeseries("故障类型趋势 / Faults by code over time",
                   [target(f"count by (code) ({faults})", "A", "{{code}}")], w=12, stack=True,
                   description="Cameras of $district showing each fault code."),
        timeseries("画面异常按区域 / Cameras with a picture fault by district (level $level)", [
            target(f"sum by (district) (sharpeyes_cameras_frame_checked{{{sel}}}) "
                   f"- sum by (district) (sharpeyes_cameras_frame_ok{{{sel}}})", "A", "{{district}}"),
        ], w=12),
        bar_gauge("图像合格率按区域 / Image quality by district (level $level)",
                  f"sort({rate_expr('image_quality', sel, 'district')})", "{{district}}", unit="percentunit", w=12,
                  links=[district_link("${__field.labels.district}", "${level}")]),
        timeseries("未检测摄像机 / Cameras never frame-checked",
                   [target('sum(sharpeyes_cameras_frame_unchecked{scope="$scope",district="$district"})',
                           "A", "unchecked")], w=12,
                   description="Counted healthy while up (rates.py: unchecked_is_healthy); this shows how many."),
        table("最差摄像机 / Worst cameras in $district over the range (top $topn)", [
            target("topk($topn, sum by (camera_id) (count_over_time(sharpeyes_camera_fault[$__range])) "
                   f"* on (camera_id) group_left (area_id, district) {cameras_in_district(IN_SCOPE)})",
                   "A", instant=True, table=True),
        ], w=12, rename={"Value": "故障样本 fault samples"},
            description="Cameras with the most fault samples (codes × scrapes) over the dashboard's time range."),
        table("当前故障 / Faulty cameras now in $district (top $topn)", [
            target(f"topk($topn, {faults})", "A", instant=True, table=True),
        ], w=12, hide=("Time", "Value"), rename={"code": "故障 code"}),
    ]  # fmt: skip
    return dashboard(
        "sharpeyes-frame-health",
        "视频质量诊断 / Frame health — sharpeyes",
        "Picture faults (signal loss, blur, frozen, scene changed …) over time, by district, and the worst cameras.",
        [scope_var("all"), level_var("district"), district_var(by_level=True, default=""), topn_var()],
        panels,
    )


def operations() -> Json:
    inst = 'instance="$instance"'
    panels = [
        stat("运行时长 / Uptime", f"time() - sharpeyes_start_time_seconds{{{inst}}}", unit="s"),
        stat("配置重载 / Last reload OK", f"sharpeyes_config_last_reload_successful{{{inst}}}",
             steps=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        stat("待写入 / Storage pending", f"sharpeyes_storage_pending{{{inst}}}"),
        stat("距上次写入 / Since last write", f"time() - sharpeyes_storage_last_success_timestamp_seconds{{{inst}}}",
             unit="s"),
        stat("采集 / Scrape up", 'up{job=~"sharpeyes.*"}', legend="{{job}} {{instance}}",
             steps=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        stat("/probe 成功 / probe success",
             'sum(probe_success{job="sharpeyes_probe"}) / count(probe_success{job="sharpeyes_probe"})',
             unit="percentunit"),
        timeseries("巡检耗时 / Sweep duration",
                   [target(f"sharpeyes_sweep_duration_seconds{{{inst}}}", "A", "{{module}}")],
                   unit="s", w=8),
        timeseries("巡检延迟 / Sweep lag", [target(f"sharpeyes_sweep_lag_seconds{{{inst}}}", "A", "{{module}}")],
                   unit="s", w=8, description="Largest delay of a probe behind its slot in the last sweep."),
        timeseries("巡检新鲜度 / Age of the last sweep", [
            target(f"time() - sharpeyes_last_sweep_success_timestamp_seconds{{{inst}}}", "A", "{{module}}"),
            target(f"3 * sharpeyes_module_interval_seconds{{{inst}}}", "B", "stale at {{module}}"),
        ], unit="s", w=8),
        timeseries("探测耗时 / Probe duration by module (p50, p95)", [
            target(f"histogram_quantile(0.5, sum by (module, le) "
                   f"(rate(sharpeyes_probe_duration_seconds_bucket{{{inst}}}[$__rate_interval])))",
                   "A", "p50 {{module}}"),
            target(f"histogram_quantile(0.95, sum by (module, le) "
                   f"(rate(sharpeyes_probe_duration_seconds_bucket{{{inst}}}[$__rate_interval])))",
                   "B", "p95 {{module}}"),
        ], unit="s", w=12),
        timeseries("探测结果 / Results by reason", [
            target(f"sum by (module, reason) (rate(sharpeyes_results_total{{{inst}}}[$__rate_interval]))", "A",
                   "{{module}} {{reason}}"),
        ], unit="ops", w=12, stack=True),
        timeseries("跳过与超时 / Probes skipped and sweep overruns", [
            target(f"sum by (module, reason) (increase(sharpeyes_probes_skipped_total{{{inst}}}[$__rate_interval]))",
                   "A", "skipped {{module}} {{reason}}"),
            target(f"increase(sharpeyes_sweep_overruns_total{{{inst}}}[$__rate_interval])", "B", "overrun {{module}}"),
        ], w=8),
        timeseries("存储 / Storage: dropped results, errors, writes", [
            target(f"increase(sharpeyes_results_dropped_total{{{inst}}}[$__rate_interval])", "A", "dropped"),
            target(f"increase(sharpeyes_storage_errors_total{{{inst}}}[$__rate_interval])", "B", "errors"),
            target(f"increase(sharpeyes_transitions_written_total{{{inst}}}[$__rate_interval])", "C", "written"),
        ], w=8),
        timeseries("采集健康 / Scrape health", [
            target('scrape_duration_seconds{job=~"sharpeyes.*"}', "A", "duration {{job}} {{instance}}"),
            target('scrape_samples_scraped{job="sharpeyes"}', "B", "samples {{instance}}"),
        ], w=8),
    ]  # fmt: skip
    return dashboard(
        "sharpeyes-operations",
        "运行监控 / Operations — sharpeyes",
        "The daemon itself: sweeps, probe durations, results by reason, storage, scrapes.",
        [query_var("instance", "实例 / Instance", "label_values(sharpeyes_start_time_seconds, instance)")],
        panels,
        time_from="now-6h",
    )


DASHBOARDS = {
    "overview.json": overview,
    "district.json": district_drilldown,
    "camera.json": camera_detail,
    "frame-health.json": frame_health,
    "operations.json": operations,
}


def render(board: Json) -> str:
    return json.dumps(board, ensure_ascii=False, indent=2) + "\n"


def build() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: render(make()) for name, make in DASHBOARDS.items()}


def main(argv: Sequence[str] = ()) -> int:
    """Write every dashboard; with ``--check`` write nothing and exit 1 if a committed file is out of date."""
    check = "--check" in argv
    stale = []
    for name, text in build().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    for name in stale:
        print(f"out of date: dashboards/{name} (run: python dashboards/generate.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
