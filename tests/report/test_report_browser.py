"""The report drawn by a real browser: headless Chromium, offline, every chart rendered, a screenshot.

Needs ``chromium`` (Debian package ``chromium``; ``python3 dev.py test`` installs it where apt and root
allow). Without it these tests are skipped. To look at the screenshot, run with ``--basetemp=DIR`` and open
``DIR/report0/report.png``.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from sample_result import make_result

from flopbill.report import render_html

CHART_IDS = ("chart-monthly-cost", "chart-crossover", "chart-break-even", "chart-tornado-1", "chart-bands")
WINDOW_PX = (1200, 5200)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (apt-get install -y chromium; dev.py test does it as root)",
)


def _run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with networking features off and a throwaway profile."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(make_result()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def dumped(report_file: Path, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    profile = tmp_path_factory.mktemp("profile-dom")
    return _run_chromium(profile, "--dump-dom", report_file.as_uri())


def test_every_chart_drew(dumped: subprocess.CompletedProcess[str]) -> None:
    """plotly.js marks a drawn chart's div ``js-plotly-plot`` and fills it with ``svg.main-svg``."""
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    for div_id in CHART_IDS:
        start = dom.index(f'id="{div_id}"')
        end = dom.find("<section", start)
        chart = dom[start : end if end != -1 else len(dom)]
        assert chart.startswith(f'id="{div_id}" class="plotly-graph-div js-plotly-plot"'), chart[:200]
        assert 'class="main-svg"' in chart, f"{div_id} has no svg: plotly did not draw it"
        assert 'class="plot-container plotly"' in chart


def test_no_script_errors_or_blocked_loads(dumped: subprocess.CompletedProcess[str]) -> None:
    """The console shows no uncaught error and no load refused by the page's Content-Security-Policy."""
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Refused" in line], console


def _png_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_screenshot(report_file: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A full-page screenshot is written next to the report; a blank page would compress to a few KB."""
    shot = report_file.with_name("report.png")
    profile = tmp_path_factory.mktemp("profile-shot")
    window = f"--window-size={WINDOW_PX[0]},{WINDOW_PX[1]}"
    done = _run_chromium(profile, window, "--hide-scrollbars", f"--screenshot={shot}", report_file.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert _png_size(data) == WINDOW_PX
    assert len(data) > 100_000, "screenshot looks blank"
