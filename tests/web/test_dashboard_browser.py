"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright for Python).

Change an input: the numbers and the chart update and equal the CLI's ``--json`` for the same scenario;
a bad input shows an inline error naming the field; the URL restores the state. Screenshots go to the
test's temp dir, and to ``docs/`` when ``FLOPBILL_WRITE_SCREENSHOTS=1`` (how the README's are made).
Skipped without ``/usr/bin/chromium`` (``python3 dev.py test`` installs it where apt and root allow).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian chromium not installed")
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)


def _set(page: Any, selector: str, value: str, state: str = "ready") -> None:
    """Type a new value (an ``input`` event, as a person would) and wait for the page to settle."""
    page.evaluate("document.body.dataset.state = 'typing'")
    page.fill(selector, value)
    page.wait_for_selector(f"body[data-state={state}]", timeout=30_000)


def _cli_plan(run_cli: Any, scenario: dict[str, Any], tmp_path: Path) -> Any:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    code, out, err = run_cli(["plan", str(path), "--samples", "0", "--json"])
    assert code == 0, err
    return json.loads(out)


def _screenshot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    if os.environ.get("FLOPBILL_WRITE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / name))


def test_product_page_numbers_and_chart_equal_the_cli(
    page: Any, base_url: str, run_cli: Any, tmp_path: Path
) -> None:
    page.goto(f"{base_url}/product")
    _ready(page)
    _set(page, "#input_tokens", "3000")
    scenario = json.loads(page.inner_text("#scenario"))
    assert scenario["request"]["input_tokens"] == "3000"
    cli = _cli_plan(run_cli, scenario, tmp_path)
    for option in cli["options"]:
        row = page.locator(f"#totals tr[data-option='{option['name']}'] td")
        assert float(row.nth(2).get_attribute("data-value")) == option["total_cost_usd"]
    chart = page.evaluate("document.getElementById('chart-monthly').data.map(t => t.y)")
    assert chart == [o["monthly_cost_usd"] for o in cli["options"]]
    _screenshot(page, tmp_path, "web-product.png")


def test_product_page_bad_gpu_shows_inline_error_naming_the_field(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/product")
    _ready(page)
    _set(page, "#sh_gpu", "h100-sxn", state="error")
    message = page.inner_text("#sh_gpu-error")
    assert message.startswith("Self-hosted GPU:") and "h100-sxm" in message
    assert page.get_attribute("#sh_gpu", "aria-invalid") == "true"


def test_product_page_url_restores_the_state(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/product")
    _ready(page)
    _set(page, "#monthly_growth", "25%")
    _set(page, "#api_models", "gpt-4o-mini")
    url = page.url
    totals = page.inner_text("#totals")
    page.goto("about:blank")
    page.goto(url)
    _ready(page)
    assert page.input_value("#monthly_growth") == "25%"
    assert page.input_value("#api_models") == "gpt-4o-mini"
    assert page.inner_text("#totals") == totals


def test_engineer_page_equals_the_cli_and_names_bad_fields(
    page: Any, base_url: str, run_cli: Any, tmp_path: Path
) -> None:
    page.goto(f"{base_url}/engineer")
    _ready(page)
    _set(page, "#batch", "64")
    page.select_option("#weights", "fp8")
    page.wait_for_selector("body[data-state=ready]")
    _set(page, "#tp", "2")
    args = "serve --model llama-3.1-8b --gpu h100-sxm --weights fp8 --tp 2 --batch 64"
    code, out, err = run_cli([*args.split(), "--input-tokens", "1000", "--output-tokens", "250", "--json"])
    assert code == 0, err
    cli = json.loads(out)
    for key in ("ttft_s", "tpot_s", "output_tokens_per_s_per_gpu", "cost_usd_per_mtok_output"):
        cell = page.locator(f"#estimate tr[data-key='{key}'] td").nth(1)
        assert float(cell.get_attribute("data-value")) == cli[key], key
    assert page.locator("#sweep tr").count() > 3
    _screenshot(page, tmp_path, "web-engineer.png")
    _set(page, "#gpu", "h100-sxn", state="error")
    message = page.inner_text("#gpu-error")
    assert message.startswith("GPU:") and "h100-sxm" in message
    page.goto(page.url)
    page.wait_for_selector("body[data-state=error]")
    assert page.input_value("#gpu") == "h100-sxn" and page.input_value("#tp") == "2"


def test_engineer_search_pareto_equals_the_cli(page: Any, base_url: str, run_cli: Any) -> None:
    page.goto(f"{base_url}/engineer?rps=10")
    _ready(page)
    page.evaluate("document.body.dataset.state = 'typing'")
    page.click("#search")
    page.wait_for_selector("body[data-state=ready]", timeout=60_000)
    args = "serve --model llama-3.1-8b --search --rps 10 --slo-ttft 2 --slo-tpot 0.05 --top 10"
    code, out, err = run_cli([*args.split(), "--input-tokens", "1000", "--output-tokens", "250", "--json"])
    assert code == 0, err
    pareto = json.loads(out)["pareto"]
    cells = page.locator("#pareto tr td:nth-child(5)")
    assert cells.count() == len(pareto)
    shown = [float(cells.nth(i).get_attribute("data-value")) for i in range(cells.count())]
    assert shown == [c["cost_usd_per_request"] for c in pareto]
    assert "rps=10" in page.url
