"""The HTML report rendered by headless Chromium: charts drawn, not blank, no CJK text overflowing, A4 print."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.render.html import render_html
from sharpeyes.audit.source import read_history
from sharpeyes.registry.inventory import Inventory
from sharpeyes.registry.store import load_inventory
from tests.audit import chromium
from tests.audit.fixture import GENERATED, WINDOW, make_db

pytestmark = pytest.mark.skipif(chromium.CHROMIUM is None, reason="Debian chromium is not installed (setup.sh)")

LONG = "内蒙古自治区包头市昆都仑区少先路街道办事处第一网格综合治理服务中心"


def long_names(inv: Inventory) -> Inventory:
    """The fixture with very long Chinese names everywhere text is shown."""
    return Inventory(
        districts=tuple(replace(d, name=f"{d.name}{LONG}") for d in inv.districts),
        areas=tuple(replace(a, name=f"{a.name}{LONG}") for a in inv.areas),
        cameras=tuple(replace(c, name=f"{c.name}{LONG}") for c in inv.cameras),
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    _, engine = make_db(folder)
    inv = long_names(load_inventory(engine))
    report = build_report(inv, read_history(engine, WINDOW), WINDOW, AuditOptions(), generated_at=GENERATED)
    engine.dispose()
    out = folder / "report.html"
    out.write_text(render_html(report, "zh"), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def wide(page: Path) -> dict[str, Any]:
    """The layout probe at the screenshot's width."""
    return chromium.layout(page, 1280)


def colour_pixels(img: np.ndarray[Any, Any], rect: list[float], rgb: tuple[int, int, int], tol: int = 30) -> int:
    x, y, w, h = (round(v) for v in rect[:4])
    region = img[y : y + h, x : x + w].astype(int)
    bgr = np.array(rgb[::-1])
    return int((np.abs(region - bgr).max(axis=2) <= tol).sum())


def test_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text and "<link" not in text and text.count("<svg") == 3


def test_screenshot_shows_the_charts(page: Path, wide: dict[str, Any], tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium.screenshot(page, shot)
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (2000, 1280)
    assert (img.min(axis=2) < 235).mean() > 0.03, "the page looks blank"
    charts = wide["charts"]
    rates, avail, faults = charts["chart-rates_chart"], charts["chart-availability_chart"], charts["chart-faults_chart"]
    for rgb in ((21, 101, 192), (106, 27, 154), (46, 125, 50), (239, 108, 0)):  # the four rate bars
        assert colour_pixels(img, rates, rgb) > 300, rgb
    assert colour_pixels(img, rates, (198, 40, 40), tol=20) > 30  # target ticks
    assert colour_pixels(img, avail, (66, 66, 66), tol=20) > 100  # the "all scopes" line
    assert colour_pixels(img, faults, (198, 40, 40), tol=20) > 500  # the one fault bar


@pytest.mark.parametrize("width", [1280, 760])  # 760 px: about the printable width of A4 portrait
def test_no_text_overflows(page: Path, wide: dict[str, Any], width: int) -> None:
    probe = wide if width == 1280 else chromium.layout(page, width)
    assert probe["overflow"] == []
    assert probe["scrollWidth"] <= probe["innerWidth"], "the page is wider than the window"


def test_prints_to_pdf(page: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    chromium.print_pdf(page, pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 2
