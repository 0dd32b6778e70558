"""The HTML report of a scenario projection: one self-contained page, readable offline.

plotly.js is inlined once in ``<head>``; each chart is a ``<div>`` with a fixed id and a small inline
script, so the same result gives the same bytes. A Content-Security-Policy forbids every network load.
All text that comes from the scenario (names, labels, notes, sources) is HTML-escaped.
"""

from __future__ import annotations

import json
from importlib.resources import files
from string import Template
from typing import Any

import yaml

from flopbill.report import fmt, tables
from flopbill.report.chart_base import Chart, figure_html
from flopbill.report.charts import charts
from flopbill.report.fmt import esc
from flopbill.scenario.result import OptionProjection, ScenarioResult

_TEMPLATES = files("flopbill.report").joinpath("templates")


def _template(name: str) -> str:
    return _TEMPLATES.joinpath(name).read_text(encoding="utf-8")


def plotly_js() -> str:
    """Return plotly.js, inlined once per page: the official minified *basic* bundle (scatter, bar and the
    layout components the charts use), npm ``plotly.js-basic-dist-min`` 4.1.1 — the version plotly.py 7.1.0
    ships — MIT licence (``templates/plotly-basic.LICENSE``): 1.2 MB instead of the full bundle's 4.8 MB."""
    return _template("plotly-basic.min.js")


def _card(label: str, value: str, detail: str = "") -> str:
    extra = f'<div class="detail">{esc(detail)}</div>' if detail else ""
    return (
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div>{extra}</div>'
    )


def _first_last(series: tuple[float, ...] | None, show: Any) -> str:
    """Return ``"month 1: a → month N: b"`` for a series, '' when absent or empty."""
    if not series:
        return ""
    if len(series) == 1:
        return f"month 1: {show(series[0])}"
    return f"month 1: {show(series[0])} → month {len(series)}: {show(series[-1])}"


def _answer(result: ScenarioResult, best: OptionProjection) -> str:
    """Return the one-sentence answer: cheapest option, its total and the runner-up."""
    ranked = sorted(result.options, key=lambda opt: opt.total_cost_usd)
    runner = next((opt for opt in ranked if opt.name != best.name), None)
    text = (
        f"Cheapest over {result.horizon_months} months: <strong>{esc(best.label)}</strong> "
        f"({esc(best.kind.replace('_', ' '))}), {esc(fmt.usd(best.total_cost_usd))} in total"
    )
    if runner is not None:
        text += f"; next is {esc(runner.label)} at {esc(fmt.usd(runner.total_cost_usd))}"
    return f'<p class="answer">{text}.</p>'


def _uncertainty_cards(result: ScenarioResult, best: OptionProjection) -> list[str]:
    if result.monte_carlo is None:
        return []
    band = next((u for u in result.monte_carlo.options if u.option == best.name), None)
    if band is None:
        return []
    spread = f"{fmt.usd(band.total_cost_usd.p10)} – {fmt.usd(band.total_cost_usd.p90)}"
    return [
        _card("Total, P10 – P90", spread, f"P50 {fmt.usd(band.total_cost_usd.p50)}"),
        _card(
            "Chance it is cheapest",
            fmt.probability(band.probability_cheapest),
            f"{result.monte_carlo.samples:,} samples",
        ),
    ]


def _warnings(result: ScenarioResult) -> str:
    """Return the headline warnings: options that leave demand unserved, and the payback months."""
    lines = [
        f"{esc(o.label)} leaves {esc(f'{100 * o.unserved_share:.3g}%')} of AI requests unserved "
        "(dropped or beyond the latency target)"
        for o in result.options
        if o.unserved_share > 0
    ]
    out = "".join(f'<p class="warning"><strong>Unserved demand:</strong> {line}.</p>' for line in lines)
    paybacks = [
        f"{esc(result.option(p.option).label)} vs {esc(p.api_option)}: "
        + (esc(f"month {p.month}") if p.month is not None else "never within the horizon")
        for p in result.paybacks
    ]
    if paybacks:
        text = "; ".join(paybacks)
        out += f'<p class="payback"><strong>Payback</strong> (cumulative cost ≤ the API\'s): {text}.</p>'
    return out


def headline(result: ScenarioResult) -> str:
    """Return the headline: the answer sentence and cards for cost per request, per user and margin."""
    best = result.option(result.cheapest_option)
    cards = [
        _card(
            "Total cost",
            fmt.usd(best.total_cost_usd),
            f"at expected inputs; one-time {fmt.usd(best.total_one_time_usd)}",
        ),
        _card(
            "Cost per request, lifetime",
            fmt.usd(best.lifetime_cost_per_request_usd),
            _first_last(best.cost_per_request_usd, fmt.usd),
        ),
    ]
    last = f"month {result.horizon_months}"
    if best.cost_per_user_usd_per_month:
        per_user = best.cost_per_user_usd_per_month
        cards.append(
            _card(f"Cost per user per month, {last}", fmt.usd(per_user[-1]), _first_last(per_user, fmt.usd))
        )
    if best.gross_margin:
        margin = best.gross_margin
        cards.append(
            _card(f"Gross margin, {last}", fmt.percent(margin[-1]), _first_last(margin, fmt.percent))
        )
    else:
        cards.append(_card("Gross margin", fmt.DASH, "the scenario gives no revenue"))
    cards += _uncertainty_cards(result, best)
    return (
        f'<section id="headline" class="headline">{_answer(result, best)}{_warnings(result)}'
        f'<div class="cards">{"".join(cards)}</div></section>'
    )


def chart_section(chart: Chart) -> str:
    """Return one chart's section: heading, caption and the chart, or the sentence saying why it is absent."""
    parts = [f'<section id="sec-{esc(chart.div_id)}">', f"<h2>{esc(chart.title)}</h2>"]
    if chart.figure is None:
        parts.append(f'<p class="omitted">Not drawn: {esc(chart.omitted_reason)}</p>')
    else:
        parts.append(f'<p class="caption">{esc(chart.caption)}</p>')
        parts.append(f'<div class="chart">{figure_html(chart)}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def _tables_section(result: ScenarioResult) -> str:
    blocks = [
        ("Total cost of ownership", tables.tco_table(result)),
        ("Cost components", tables.components_table(result)),
        ("One-time costs", tables.one_time_table(result)),
        ("Break-even volumes", tables.break_even_table(result)),
        ("Crossover: inference vs one-time", tables.crossover_table(result)),
        ("Router savings", tables.router_table(result)),
        ("Idle GPU cost of fixed fleets", tables.idle_table(result)),
        ("Monthly costs", tables.monthly_costs_table(result)),
    ]
    body = "\n".join(f"<h3>{esc(title)}</h3>\n{html}" for title, html in blocks if html)
    return f'<section id="tables"><h2>Tables</h2>\n{body}\n</section>'


def _notes_section(result: ScenarioResult) -> str:
    notes = [esc(note) for note in result.notes]
    notes += [f"{esc(opt.label)}: {esc(note)}" for opt in result.options for note in opt.notes]
    if not notes:
        return ""
    items = "".join(f"<li>{note}</li>" for note in notes)
    return f'<section id="notes"><h2>Notes</h2><ul class="notes">{items}</ul></section>'


def scenario_text(resolved: dict[str, Any]) -> str:
    """Return the resolved scenario as YAML (keys in their given order); JSON if YAML cannot say it."""
    try:
        return yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, default_flow_style=False)
    except yaml.YAMLError:
        return json.dumps(resolved, indent=2, ensure_ascii=False, default=str)


def _scenario_section(result: ScenarioResult) -> str:
    if not result.resolved_scenario:
        body = '<p class="omitted">The result carries no resolved scenario.</p>'
    else:
        text = scenario_text(result.resolved_scenario)
        body = (
            '<p class="caption">Every default filled in; save it as a file to reproduce this report.</p>\n'
            f"<pre><code>{esc(text)}</code></pre>"
        )
    return f'<section id="scenario"><h2>Resolved scenario</h2>\n{body}\n</section>'


def _nav(chart_list: tuple[Chart, ...]) -> str:
    links = [("headline", "Answer")]
    for chart in chart_list:
        if chart.div_id.startswith("chart-tornado-"):  # one link for all tornados
            if chart.div_id == "chart-tornado-1":
                links.append((f"sec-{chart.div_id}", "Sensitivity (tornado)"))
        else:
            links.append((f"sec-{chart.div_id}", chart.title))
    links += [("tables", "Tables"), ("assumptions", "Assumptions"), ("scenario", "Resolved scenario")]
    items = "".join(f'<li><a href="#{esc(anchor)}">{esc(text)}</a></li>' for anchor, text in links)
    return f"<nav><ul>{items}</ul></nav>"


def _header(result: ScenarioResult, chart_list: tuple[Chart, ...]) -> str:
    sub = f"{result.horizon_months}-month projection, {len(result.options)} options"
    description = f"<p>{esc(result.description)}</p>" if result.description else ""
    return (
        f'<header><h1>{esc(result.name)}</h1><p class="subtitle">{esc(sub)}</p>'
        f"{description}{_nav(chart_list)}</header>"
    )


def render_body(result: ScenarioResult, chart_list: tuple[Chart, ...]) -> str:
    """Return the page body (everything inside ``<main>``)."""
    assumptions = (
        '<section id="assumptions"><h2>Assumptions</h2>'
        '<p class="caption">Every input the projection used, with where it came from '
        "and when it was checked.</p>"
        f"{tables.assumptions_table(result)}</section>"
    )
    parts = [
        _header(result, chart_list),
        headline(result),
        *(chart_section(c) for c in chart_list),
        _tables_section(result),
        _notes_section(result),
        assumptions,
        _scenario_section(result),
        "<footer>Made with flopbill. Figures are estimates; see the assumptions and their sources.</footer>",
    ]
    return "\n".join(part for part in parts if part)


def render_html(result: ScenarioResult) -> str:
    """Return the report of ``result`` as one self-contained HTML page (no network needed to open it)."""
    chart_list = charts(result)
    drawn = any(c.figure is not None for c in chart_list)
    plotlyjs = f'<script type="text/javascript">{plotly_js()}</script>' if drawn else ""
    page = Template(_template("page.html"))
    return page.substitute(
        title=esc(f"{result.name} — flopbill plan"),
        css=_template("report.css"),
        plotlyjs=plotlyjs,
        body=render_body(result, chart_list),
    )
