"""Prometheus rules: promtool checks them, promtool's unit tests pass, and every alert is unit-tested."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "dashboards" / "rules"
PROMTOOL = "/usr/bin/promtool"

pytestmark = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="Debian package prometheus not installed")


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))


def unit_test_files() -> list[Path]:
    return sorted((RULES / "tests").glob("*.test.yml"))


def rules(kind: str) -> list[dict[str, Any]]:
    out = []
    for f in rule_files():
        for group in yaml.safe_load(f.read_text())["groups"]:
            out += [r for r in group["rules"] if kind in r]
    return out


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=RULES)


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", *map(str, rule_files()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(rules("alert")) >= 10 and len(rules("record")) >= 10


def test_promtool_unit_tests_pass() -> None:
    assert unit_test_files()
    done = promtool("test", "rules", *map(str, unit_test_files()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_and_stays_quiet_in_some_test() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for f in unit_test_files():
        for case in yaml.safe_load(f.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in rules("alert")}
    assert names - fires == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet (before firing or after resolving)"
    assert fires | quiet <= names, "tests name an alert that does not exist"


def test_every_alert_has_summary_description_naming_its_subject_and_runbook() -> None:
    for rule in rules("alert"):
        ann = rule["annotations"]
        assert {"summary", "description", "runbook"} <= ann.keys(), rule["alert"]
        assert re.search(r"\$labels\.(camera_id|area_id|district|instance|module)", ann["description"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_recording_rules_are_named_level_metric_operations_and_divide_sums() -> None:
    for rule in rules("record"):
        assert re.fullmatch(r"[a-z_]+:sharpeyes_[a-z_]+:[a-z_]+", rule["record"]), rule["record"]
        assert "avg" not in rule["expr"], rule["record"]  # never average ratios
        if rule["record"].endswith(":ratio"):
            assert rule["expr"].count("sum by") == 2, rule["record"]


def test_every_rate_has_a_district_and_a_city_wide_rule() -> None:
    names = {r["record"] for r in rules("record")}
    for rate in ("coverage", "connection", "online", "good_order", "image_quality"):
        assert {f"scope_district:sharpeyes_{rate}:ratio", f"scope:sharpeyes_{rate}:ratio"} <= names


def _series_by_alert() -> dict[str, list[str]]:
    """Alert name → the values strings of the input series of every test group that checks it."""
    out: dict[str, list[str]] = {}
    for f in unit_test_files():
        for case in yaml.safe_load(f.read_text())["tests"]:
            values = [s["values"] for s in case["input_series"]]
            for check in case.get("alert_rule_test", []):
                out.setdefault(check["alertname"], []).extend(values)
    return out


def test_every_alert_is_tested_with_a_missed_scrape_and_with_flapping() -> None:
    alternating = re.compile(r"(?:^| )(\S+) (?!\1 )(\S+) (?:\1 \2 ){3,}")  # two values, again and again
    series = _series_by_alert()
    for name in {r["alert"] for r in rules("alert")}:
        assert any(re.search(r"(^| )_( |$)", v) for v in series[name]), f"{name}: no missed scrape (_)"
        if name != "SharpeyesSweepStale":  # a completion timestamp only grows: its flapping is an irregular pace
            assert any(alternating.search(v + " ") for v in series[name]), f"{name}: no flapping series"
