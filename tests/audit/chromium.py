"""Headless Chromium for the HTML report tests: a screenshot, and a DOM dump with a layout probe."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

PROBE = """
<script>
(() => {
  const out = {overflow: [], charts: {}, scrollWidth: document.documentElement.scrollWidth,
               innerWidth: window.innerWidth};
  for (const el of document.querySelectorAll('td, th, h1, h2, p')) {
    if (el.scrollWidth > el.clientWidth + 1) out.overflow.push(el.tagName + ': ' + el.textContent.slice(0, 60));
  }
  for (const svg of document.querySelectorAll('figure svg')) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      const w = t.getBBox().width, room = parseFloat(t.dataset.w);
      if (w > room + 1) out.overflow.push('svg text ' + w.toFixed(1) + ' > ' + room + ': ' + t.textContent);
      const b = t.getBBox();
      if (b.x < -1 || b.x + b.width > svg.viewBox.baseVal.width + 1) out.overflow.push('svg edge: ' + t.textContent);
    }
    const r = svg.getBoundingClientRect();
    out.charts[svg.parentElement.id] = [r.left + scrollX, r.top + scrollY, r.width, r.height, scale];
  }
  const pre = document.createElement('pre');
  pre.id = 'layout-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def _run(args: list[str], profile: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as profile:
        _run([f"--screenshot={out}", f"--window-size={width},{height}", page.as_uri()], profile)


def layout(page: Path, width: int, height: int = 2000) -> dict[str, Any]:
    """Load a copy of the page with the probe script appended and return what it measured."""
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        done = _run(["--dump-dom", f"--window-size={width},{height}", probed.as_uri()], profile)
    m = re.search(r'<pre id="layout-probe">(.*?)</pre>', done.stdout, re.S)
    assert m, "the layout probe did not run"
    result: dict[str, Any] = json.loads(html.unescape(m.group(1)))
    return result


def print_pdf(page: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        _run(["--no-pdf-header-footer", f"--print-to-pdf={out}", page.as_uri()], profile)
