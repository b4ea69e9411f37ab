"""Every query of every dashboard panel, run by a real Prometheus scraping the exporter (and /probe) of a city.

Runs once per city of tests/dashboards/city.py (the hand-made one and the demo city's registry).

Prometheus (Debian package) uses dashboards/prometheus/prometheus.example.yml (1 s intervals, this test's
ports) with our recording and alert rules. Variables are resolved like Grafana does: each ``label_values``
query goes to Prometheus with the variables before it substituted, and the value the test selects must be
among the options. Then each panel query must parse and return data, the overview's rates must equal
:mod:`sharpeyes.rates` for the same state, and the alerts this city deserves must be pending.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from sharpeyes.rates import compute_groups
from sharpeyes.runtime import Runtime
from tests.dashboards.boards import Json, committed, generator, queries, substitute, variables
from tests.dashboards.city import City, demo_city, fixture_city, watched_city
from tests.dashboards.expected_alerts import expected_alerts, subject
from tests.prometheus_server import PROMETHEUS, query

pytestmark = [
    pytest.mark.skipif(not Path(PROMETHEUS).exists(), reason="Debian package prometheus not installed"),
    pytest.mark.asyncio(loop_scope="module"),
]

BUILTINS = {"__range": "1m", "__rate_interval": "10s", "__interval": "1s"}
RATIO = {"online": "online_now"}
"""The rates.GroupCounts property of a rate key, where the names differ."""
LABEL_VALUES = re.compile(r"label_values\((?:(?P<sel>.+),\s*)?(?P<label>\w+)\)$")


async def _until(base: str, expr: str, ok: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = await query(base, expr)
        if ok(result):
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"{expr}: not ready after {timeout} s, last {result}")


@dataclass(frozen=True)
class Watched:
    base: str
    runtime: Runtime
    city: City


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=[fixture_city, demo_city], ids=["fixture", "demo"])
async def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Watched]:
    built: City = request.param()
    async with watched_city(tmp_path_factory.mktemp(built.name), built) as (base, rt):
        n = len(built.inventory.cameras)
        await _until(base, "count(sharpeyes_camera_info)", lambda r: r and float(r[0]["value"][1]) == n)
        await _until(base, 'count(probe_success{job="sharpeyes_probe"})',
                     lambda r: r and float(r[0]["value"][1]) == len(built.probed))  # fmt: skip
        await _until(base, "sum(rate(sharpeyes_results_total[10s])) > 0", bool)
        await _until(base, "scope_district:sharpeyes_good_order:ratio", bool)
        yield Watched(base, rt, built)


async def label_values(base: str, label: str, selector: str | None) -> list[str]:
    params = {"match[]": selector} if selector else {}
    async with aiohttp.ClientSession() as s, s.get(f"{base}/api/v1/label/{label}/values", params=params) as r:
        data = await r.json()
    assert data["status"] == "success", data
    return list(data["data"])


async def resolve(base: str, board: Json, choices: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Grafana's variable resolution, in order, each query seeing the values chosen before it."""
    choose = choices[board["uid"]]
    values: dict[str, str] = {}
    for name, var in variables(board).items():
        if var["type"] == "datasource":
            continue
        if var["type"] == "custom":
            options = [o["value"] for o in var["options"]]
        else:
            m = LABEL_VALUES.match(var["definition"])
            assert m, var["definition"]
            selector = substitute(m["sel"], values, BUILTINS) if m["sel"] else None
            options = await label_values(base, m["label"], selector)
        assert options, f"{board['uid']}: variable {name} offers nothing"
        wanted = choose.get(name) or var["current"].get("value") or options[0]
        assert wanted in options, f"{board['uid']}: {name}={wanted!r} not among {options}"
        values[name] = wanted
    return values


async def test_every_panel_query_returns_data(city: Watched) -> None:
    base = city.base
    failures = []
    count = 0
    for name, board in committed().items():
        values = await resolve(base, board, city.city.choices)
        for panel, target in queries(board):
            expr = substitute(target["expr"], values, BUILTINS)
            async with aiohttp.ClientSession() as s, s.get(f"{base}/api/v1/query", params={"query": expr}) as r:
                data = await r.json()
            count += 1
            if data.get("status") != "success":
                failures.append(f"{name} / {panel['title']} / {target['refId']}: {data.get('error')}\n  {expr}")
            elif not data["data"]["result"]:
                failures.append(f"{name} / {panel['title']} / {target['refId']}: empty\n  {expr}")
    assert not failures, "\n".join(failures)
    assert count >= 80


def _rate_of(expr: str) -> tuple[str, str] | None:
    """(rate key, scope) of an overview query of the form sum(numerator)/sum(denominator)."""
    for key, _, _, num, den in generator().RATES:
        if expr.startswith(f"sum ({num}{{") and f"sum ({den}{{" in expr:
            scope = re.search(r'scope="(\w+)"', expr)
            assert scope
            return key, scope[1]
    return None


async def test_overview_rates_equal_sharpeyes_rates(city: Watched) -> None:
    base, rt = city.base, city.runtime
    board = next(b for b in committed().values() if b["uid"] == "sharpeyes-overview")
    values = await resolve(base, board, city.city.choices)
    assert values["district"] == "all"
    groups = compute_groups(rt.config.inventory, rt.store.statuses(c.id for c in rt.config.inventory.cameras),
                            time.time(), rt.config.rate_options)  # fmt: skip
    checked = set()
    for panel, target in queries(board):
        rate = _rate_of(target["expr"])
        if "Online over the range" in panel["title"]:
            rate = ("online", "all")  # the state does not change: over the range it is the rate now
        if rate is None or panel["type"] != "stat":
            continue
        key, scope = rate
        expected = getattr(groups[(scope, "all")], RATIO.get(key, key)).value
        got = await query(base, substitute(target["expr"], values, BUILTINS))
        assert len(got) == 1, (panel["title"], got)
        assert float(got[0]["value"][1]) == pytest.approx(expected, abs=1e-12), panel["title"]
        checked.add(rate)
    assert {("coverage", "public"), ("connection", "sector"), ("good_order", "public"), ("good_order", "sector"),
            ("online", "all"), ("image_quality", "all")} <= checked  # fmt: skip


async def test_recording_rules_equal_sharpeyes_rates_in_every_group(city: Watched) -> None:
    base, rt = city.base, city.runtime
    groups = compute_groups(rt.config.inventory, rt.store.statuses(c.id for c in rt.config.inventory.cameras),
                            time.time(), rt.config.rate_options)  # fmt: skip
    for key in ("coverage", "connection", "online", "good_order", "image_quality"):
        got = {(r["metric"]["scope"], r["metric"]["district"]): float(r["value"][1])
               for r in await query(base, f"scope_district:sharpeyes_{key}:ratio")}  # fmt: skip
        ratios = {k: getattr(g, RATIO.get(key, key)).value for k, g in groups.items()}
        expected = {k: v for k, v in ratios.items() if v is not None}
        assert got.keys() == expected.keys(), key
        for k, v in expected.items():
            assert got[k] == pytest.approx(v, abs=1e-12), (key, k)
        city_wide = {
            r["metric"]["scope"]: float(r["value"][1]) for r in await query(base, f"scope:sharpeyes_{key}:ratio")
        }
        assert city_wide == pytest.approx({s: v for (s, d), v in expected.items() if d == "all"}), key


async def test_exactly_the_alerts_this_city_deserves_are_pending(city: Watched) -> None:
    """Every alert the state calls for (computed from it) and no other, each once: e.g. one per mass outage."""
    base, rt = city.base, city.runtime
    expected = expected_alerts(rt)
    assert {name for name, _ in expected} >= {
        "SharpeyesCameraDown", "SharpeyesCameraAuthFailing", "SharpeyesCameraClockSkew", "SharpeyesAreaLostCoverage",
        "SharpeyesDistrictMassOutage", "SharpeyesFrameFaultsRising", "SharpeyesGoodOrderBelowTarget",
        "SharpeyesConnectionBelowTarget",
    }  # fmt: skip
    result = await _until(base, "ALERTS", lambda r: {subject(a["metric"]) for a in r} >= expected)
    await asyncio.sleep(2)  # a few more evaluations: nothing else turns up
    got = [subject(a["metric"]) for a in await query(base, "ALERTS")]
    assert len(got) == len(set(got)), "an alert reported twice"
    assert set(got) == expected
    assert result
