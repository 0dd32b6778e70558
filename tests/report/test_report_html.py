"""The HTML report: every chart's div, tables, escaping, no network, same bytes for the same result."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sample_result import make_result

from flopbill.report import fmt, render_html
from flopbill.scenario.result import ScenarioResult

CHART_IDS = ("chart-monthly-cost", "chart-crossover", "chart-break-even", "chart-tornado-1", "chart-bands")
MALICIOUS = "<script>alert(1)</script>"


class _Collector(HTMLParser):
    """Collect element ids and every ``<script>`` tag's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.ids.append(str(named["id"]))
        if tag == "script":
            self.scripts.append(named)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(make_result())


def _section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}"')
    return page[start : page.index("</section>", start)]


def test_every_chart_has_its_plotly_div(page: str) -> None:
    for div_id in CHART_IDS:
        assert f'<div id="{div_id}" class="plotly-graph-div"' in page
        assert f'Plotly.newPlot(                        "{div_id}"' in page


def test_ids_are_unique(page: str) -> None:
    ids = _parse(page).ids
    assert len(ids) == len(set(ids))


def test_self_contained_no_network(page: str) -> None:
    """plotly.js is inlined once; no script, stylesheet or image is loaded from anywhere."""
    scripts = _parse(page).scripts
    assert scripts, "the page has no script at all"
    assert all("src" not in attrs for attrs in scripts)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<(link|img|iframe)\b[^>]*\b(href|src)\s*=\s*[\"']?https?://", page, re.IGNORECASE)
    assert page.count("plotly.js (basic - minified) v") == 1  # the bundle's banner: inlined once, not fetched
    assert "default-src 'none'" in page  # the Content-Security-Policy that forbids network loads


def test_deterministic() -> None:
    assert render_html(make_result()) == render_html(make_result())


def test_malicious_scenario_name_is_escaped() -> None:
    page = render_html(make_result(name=MALICIOUS))
    assert MALICIOUS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # title, heading and resolved scenario
    assert "<b>fast</b>" not in page  # the description is text, not markup
    assert "&lt;b&gt;fast&lt;/b&gt;" in page


def test_malicious_option_label_is_escaped_in_tables_and_charts() -> None:
    result = make_result()
    evil = result.options[0].__class__(**{**result.options[0].__dict__, "label": MALICIOUS})
    page = render_html(ScenarioResult(**{**result.__dict__, "options": (evil, result.options[1])}))
    assert MALICIOUS not in page
    assert "\\u003cscript\\u003ealert(1)" in page  # inside the plotly JSON


def test_headline_names_cheapest_and_unit_costs(page: str) -> None:
    """Hand calculation from the fixture.

    Requests 0.5+1+2+4+8+16 = 31.5M. Self-hosted: 6 × $4,000 + $20,000 = $44,000 → $0.0013968/request
    → "$0.0014"; API: 31.5M × $0.002 = $63,000. Margin in month 6: 1 − 4,000 / (0.01 × 16M) = 97.5%.
    Cost per user in month 6: $4,000 / 10,000 users = $0.40.
    """
    head = _section(page, "headline")
    assert "<strong>Self-hosted on H100</strong> (self hosted), $44k in total" in head
    assert "next is API mini at $63k" in head
    assert "$0.0014" in head
    assert "97.5%" in head
    assert "$0.4" in head
    assert "$35.2k – $57.2k" in head  # P10–P90 of the total: 0.8 × 44k, 1.3 × 44k


def test_assumptions_table_has_values_sources_and_dates(page: str) -> None:
    table = _section(page, "assumptions")
    assert 'id="table-assumptions"' in table
    for text in ("H100 price", "2.49", "example cloud price page, checked 2025-06-01", "on-demand"):
        assert text in table
    assert "api-mini price" in table and "fixture, checked 2025-01-01" in table  # per-option assumptions


def test_tables_present(page: str) -> None:
    for table_id in (
        "table-tco",
        "table-components",
        "table-one-time",
        "table-break-even",
        "table-crossover",
        "table-monthly-costs",
    ):
        assert f'id="{table_id}"' in page
    crossover = page[page.index('id="table-crossover"') :]
    assert "month 6" in crossover[: crossover.index("</table>")]


def test_resolved_scenario_is_shown_as_yaml(page: str) -> None:
    scenario = _section(page, "scenario")
    assert "<pre><code>name: Support bot\nhorizon_months: 6\noptions:\n- name: api-mini" in scenario


def test_break_even_chart_without_curves_points_to_the_table() -> None:
    result = make_result()
    page = render_html(ScenarioResult(**{**result.__dict__, "cost_curves": ()}))
    assert '<div id="chart-break-even' not in page
    assert "has break-even volumes (see the table) but no cost-versus-volume curves" in page
    assert 'id="table-break-even"' in page


def test_charts_without_data_are_omitted_with_a_reason() -> None:
    page = render_html(make_result(monte_carlo=False, extras=False))
    for div_id in ("chart-crossover", "chart-break-even", "chart-tornado", "chart-bands"):
        assert f'<div id="{div_id}' not in page
    assert '<div id="chart-monthly-cost" class="plotly-graph-div"' in page
    # the sample may also lack revenue and GPU-backed options: those charts say so too
    omitted = 4 + ("The scenario gives no revenue." in page) + ("No option runs on GPUs." in page)
    assert page.count('<p class="omitted">Not drawn: ') == omitted
    assert "no one-time (training or fine-tuning) cost" in page
    assert "no pair of an API option and a GPU-backed option" in page
    assert "costs are point estimates" in page
    assert 'id="table-break-even"' not in page


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (float("inf"), "∞"),
        (63_000.0, "$63k"),
        (12.5, "$12.50"),
        (0.0014, "$0.0014"),
    ],
)
def test_snapshot_usd_format(value: float | None, expected: str) -> None:
    assert fmt.usd(value) == expected


def test_snapshot_small_formats() -> None:
    assert fmt.percent(0.975) == "97.5%"
    assert fmt.month(None) == "not within the horizon"
    assert fmt.plain(2.49) == "2.49"
    assert fmt.plain(1.5e13) == "1.5e+13"
    assert fmt.plain(20_000.0) == "20,000"
    assert fmt.plain(0.35) == "0.35"
    assert fmt.plain(1234.5) == "1,234.5"
    assert fmt.esc('"<&>') == "&quot;&lt;&amp;&gt;"


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_scenarios_render_through_the_engine(path: Path) -> None:
    """Every shipped example, projected by the scenario engine, renders with the charts its data allows."""
    projection = pytest.importorskip("flopbill.scenario.projection")
    loader = pytest.importorskip("flopbill.scenario.loader")
    result = projection.project(loader.load_scenario(path), samples=200, seed=1, today=dt.date(2025, 6, 1))
    page = render_html(result)
    assert page == render_html(result)
    assert '<div id="chart-monthly-cost" class="plotly-graph-div"' in page
    assert fmt.esc(result.name) in page
    assert ('<div id="chart-bands" class="plotly-graph-div"' in page) == (result.monte_carlo is not None)
    drawn = page.count('class="plotly-graph-div"')
    omitted = page.count('<p class="omitted">Not drawn: ')
    assert drawn + omitted == 7 + max(1, len([t for t in result.tornado if t.rows]))
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)


def test_example_report_is_small_and_inlines_plotly_once() -> None:
    """The chatbot report (7 charts, tornado, Monte Carlo bands) stays under 1.5 MB: plotly.js is inlined
    once, as the official minified basic bundle (1.19 MB), and no chart ships its own copy."""
    projection = pytest.importorskip("flopbill.scenario.projection")
    loader = pytest.importorskip("flopbill.scenario.loader")
    result = projection.project(loader.load_scenario(EXAMPLES[0]), samples=200, seed=1)
    page = render_html(result)
    assert len(page.encode("utf-8")) < 1_500_000
    assert page.count("plotly.js (basic - minified) v") == 1


def test_decision_view_log_scale_payback_and_spike() -> None:
    """The monthly chart opens on a log y axis (cheap options not flattened by the dearest); the cumulative
    chart marks each payback month; spike months are shaded and labelled; lines differ in dash."""
    projection = pytest.importorskip("flopbill.scenario.projection")
    loader = pytest.importorskip("flopbill.scenario.loader")
    chatbot = next(p for p in EXAMPLES if p.stem == "chatbot")
    result = projection.project(loader.load_scenario(chatbot), samples=0)
    page = render_html(result)
    monthly = _section(page, "sec-chart-monthly-cost")
    assert '"type":"log"' in monthly
    cumulative = _section(page, "sec-chart-cumulative")
    for pb in result.paybacks:
        if pb.month is not None:
            assert f"payback vs {pb.api_option}: month {pb.month}" in cumulative
    assert "spike \\u00d710" in monthly  # "spike ×10", JSON-escaped inside the figure
    assert '"dash":"dash"' in monthly
    assert '<div id="chart-gpus" class="plotly-graph-div"' in page
    assert '<div id="chart-revenue" class="plotly-graph-div"' in page


def test_unserved_demand_is_warned_in_the_headline() -> None:
    """A fixed fleet of 1 replica (1 request/s) under 2 requests/s flat drops half the demand: the headline
    says "Unserved demand" with 50 %."""
    from flopbill.scenario.loader import scenario_from_dict
    from flopbill.scenario.projection import project

    gpu = {
        "name": "gpu",
        "kind": "self_hosted",
        "model": "llama-3.1-8b",
        "gpu": "l4",
        "replicas": 1,
        "price_usd_per_gpu_hour": 1,
        "throughput_requests_per_s_per_replica": 1,
        "target_utilization": 1,
    }
    data = {
        "name": "t",
        "horizon_months": 2,
        "traffic": {"requests_per_day": 172_800},
        "request": {"input_tokens": 100, "output_tokens": 100},
        "options": [gpu],
        "monte_carlo": {"samples": 0},
    }
    page = render_html(project(scenario_from_dict(data)))
    headline = _section(page, "headline")
    assert "Unserved demand" in headline and "50%" in headline


@pytest.mark.parametrize(
    ("name", "low", "high", "text"),
    [
        ("traffic.monthly_growth", 0.1, 0.3, "monthly growth 10–30 %"),
        ("options.llama.price_usd_per_gpu_hour", 2.0, 3.0, "llama: GPU price, $/GPU-hour $2.00–$3.00"),
        ("traffic.spikes[0].multiplier", 5.0, 15.0, "traffic: spike size 5–15×"),
    ],
)
def test_tornado_inputs_have_human_labels(name: str, low: float, high: float, text: str) -> None:
    """Tornado rows read as a PM would say them, with the range in the input's own unit."""
    from flopbill.report.charts import input_label

    assert input_label(name, low, high) == text


def test_assumption_sources_link_their_urls_and_stay_escaped() -> None:
    """A source "see https://a.example/x?q=1&r=2. <b>" links the URL (without the full stop) and escapes the
    rest, the URL's ampersand included."""
    from flopbill.report.tables import linkify

    html_text = linkify("see https://a.example/x?q=1&r=2. <b>")
    assert html_text == (
        'see <a href="https://a.example/x?q=1&amp;r=2" rel="noreferrer">https://a.example/x?q=1&amp;r=2</a>'
        ". &lt;b&gt;"
    )
