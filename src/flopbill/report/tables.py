"""HTML tables of a scenario projection. Every cell is escaped here; callers pass plain text."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from flopbill.report import fmt
from flopbill.report.fmt import esc
from flopbill.scenario.result import OptionUncertainty, ScenarioResult

Row = Sequence[str]


WIDE_HEADERS = frozenset({"note", "source", "source (and date)"})


def _cls(index: int, numeric: Collection[int], wide: Collection[int]) -> str:
    if index in numeric:
        return ' class="num"'
    return ' class="wide"' if index in wide else ""


_URL = re.compile(r"https?://[^\s,;()<>\"']+")


def linkify(text: str) -> str:
    """Return ``text`` HTML-escaped with every http(s) URL made a link (the URL itself escaped too)."""
    out, last = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".")
        out.append(esc(text[last : m.start()]))
        out.append(f'<a href="{esc(url)}" rel="noreferrer">{esc(url)}</a>')
        last = m.start() + len(url)
    out.append(esc(text[last:]))
    return "".join(out)


def table(
    headers: Row,
    rows: Sequence[Row],
    numeric: Collection[int] = (),
    table_id: str = "",
    links: Collection[int] = (),
) -> str:
    """Return an HTML table, every cell escaped.

    Columns whose index is in ``numeric`` are right-aligned (class ``num``); free-text columns (notes,
    sources) get class ``wide`` so they wrap at word boundaries instead of squeezing; in columns listed in
    ``links`` URLs become links (:func:`linkify`).
    """
    ident = f' id="{esc(table_id)}"' if table_id else ""
    wide = {i for i, h in enumerate(headers) if h in WIDE_HEADERS}
    head = "".join(f'<th{_cls(i, numeric, wide)} scope="col">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "\n".join(
        "<tr>"
        + "".join(
            f"<td{_cls(i, numeric, wide)}>{linkify(c) if i in links else esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table{ident}>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def option_labels(result: ScenarioResult) -> dict[str, str]:
    """Return each option's display label by its name."""
    return {opt.name: opt.label for opt in result.options}


def monthly_costs_table(result: ScenarioResult) -> str:
    """Return months × options: AI requests and each option's monthly cost (one-time costs included)."""
    headers = ["month", "AI requests", *(opt.label for opt in result.options)]
    rows = [
        [
            str(m),
            fmt.count(result.traffic.ai_requests[i]),
            *(fmt.usd(opt.monthly_cost_usd[i]) for opt in result.options),
        ]
        for i, m in enumerate(result.traffic.months)
    ]
    return table(headers, rows, numeric=range(1, len(headers)), table_id="table-monthly-costs")


def _bands(result: ScenarioResult) -> dict[str, OptionUncertainty]:
    return {} if result.monte_carlo is None else {u.option: u for u in result.monte_carlo.options}


def tco_table(result: ScenarioResult) -> str:
    """Return total cost of ownership per option over the horizon, with Monte Carlo spread if any."""
    bands = _bands(result)
    headers = ["option", "kind", "one-time", "recurring", "total", "per request (lifetime)"]
    if bands:
        headers += ["total P10", "total P90", "P(cheapest)"]
    rows = []
    for opt in result.options:
        row = [
            opt.label,
            opt.kind.replace("_", " "),
            fmt.usd(opt.total_one_time_usd),
            fmt.usd(opt.total_recurring_usd),
            fmt.usd(opt.total_cost_usd),
            fmt.usd(opt.lifetime_cost_per_request_usd),
        ]
        band = bands.get(opt.name)
        if bands:
            row += (
                [fmt.DASH] * 3
                if band is None
                else [
                    fmt.usd(band.total_cost_usd.p10),
                    fmt.usd(band.total_cost_usd.p90),
                    fmt.probability(band.probability_cheapest),
                ]
            )
        rows.append(row)
    return table(headers, rows, numeric=range(2, len(headers)), table_id="table-tco")


def components_table(result: ScenarioResult) -> str:
    """Return each option's bill split into its components, totals over the horizon."""
    rows = [
        [opt.label, comp.label, "one-time" if comp.one_time else "recurring", fmt.usd(comp.total_usd)]
        for opt in result.options
        for comp in opt.components
    ]
    return table(["option", "component", "paid", "total"], rows, numeric={3}, table_id="table-components")


def one_time_table(result: ScenarioResult) -> str:
    """Return the one-time costs (training, fine-tuning, engineering) with their sources; '' if none."""
    if not result.one_time_costs:
        return ""
    rows = [
        [
            c.name,
            fmt.month(c.month),
            fmt.usd(c.cost_usd),
            fmt.count(c.gpu_hours),
            c.accelerator or fmt.DASH,
            c.source,
        ]
        for c in result.one_time_costs
    ]
    headers = ["cost", "paid in", "USD", "GPU-hours", "accelerator", "source"]
    return table(headers, rows, numeric={2, 3}, table_id="table-one-time")


def break_even_table(result: ScenarioResult) -> str:
    """Return each API vs GPU-backed break-even volume; '' if the result has none."""
    if not result.break_evens:
        return ""
    labels = option_labels(result)
    rows = [
        [
            labels.get(b.api_option, b.api_option),
            labels.get(b.gpu_option, b.gpu_option),
            fmt.count(b.requests_per_day),
            fmt.usd(b.monthly_cost_usd),
            fmt.count(b.current_requests_per_day),
            labels.get(b.cheaper_below or "", b.cheaper_below or fmt.DASH),
            labels.get(b.cheaper_above or "", b.cheaper_above or fmt.DASH),
            b.note,
        ]
        for b in result.break_evens
    ]
    headers = [
        "API option",
        "GPU option",
        "break-even req/day",
        "monthly cost there",
        "month-1 req/day",
        "cheaper below",
        "cheaper above",
        "note",
    ]
    return table(headers, rows, numeric={2, 3, 4}, table_id="table-break-even")


def crossover_table(result: ScenarioResult) -> str:
    """Return the month cumulative inference spend passes one-time spend, per option; '' if none."""
    if not result.crossovers:
        return ""
    labels = option_labels(result)
    rows = [
        [
            labels.get(c.option, c.option),
            fmt.usd(c.one_time_usd),
            fmt.month(c.month),
            fmt.usd(c.cumulative_inference_usd_at_month),
            c.note,
        ]
        for c in result.crossovers
    ]
    headers = ["option", "one-time", "crossover", "cumulative inference then", "note"]
    return table(headers, rows, numeric={1, 3}, table_id="table-crossover")


def router_table(result: ScenarioResult) -> str:
    """Return what each router saves against its large model alone; '' if no router."""
    if not result.router_savings:
        return ""
    labels = option_labels(result)
    rows = [
        [
            labels.get(r.router_option, r.router_option),
            r.baseline_label,
            fmt.usd(r.baseline_total_usd),
            fmt.usd(r.router_total_usd),
            fmt.usd(r.savings_usd),
            fmt.percent(r.savings_fraction),
        ]
        for r in result.router_savings
    ]
    headers = ["router", "baseline", "baseline total", "router total", "saving", "saving %"]
    return table(headers, rows, numeric=range(2, 6), table_id="table-router")


def idle_table(result: ScenarioResult) -> str:
    """Return what fixed fleets pay for idle GPU-hours; '' if none."""
    if not result.idle_costs:
        return ""
    labels = option_labels(result)
    rows = [
        [labels.get(i.option, i.option), fmt.usd(i.idle_cost_usd), fmt.percent(i.idle_fraction)]
        for i in result.idle_costs
    ]
    return table(["option", "idle cost", "idle fraction"], rows, numeric={1, 2}, table_id="table-idle")


def assumptions_table(result: ScenarioResult) -> str:
    """Return every assumption once: name, value and its source with the note (which options use it), the
    sources' URLs as links. Given inputs come first, as the scenario lists them."""
    rows = [
        [a.name, fmt.plain(a.value), a.source + (f" — {a.note}" if a.note else "")]
        for a in result.assumptions
    ]
    for opt in result.options:
        rows += [[f"{opt.label}: {a.name}", fmt.plain(a.value), a.source] for a in opt.assumptions]
    return table(["assumption", "value", "source (and date)"], rows, table_id="table-assumptions", links={2})
