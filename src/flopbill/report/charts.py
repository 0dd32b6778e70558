"""Plotly figures of a scenario projection: reshaping only, every number comes from the result.

Each builder returns a :class:`Chart`: a figure with a fixed ``div_id`` (so the page is the same bytes
for the same result), or no figure and a sentence saying why the chart is absent. The same figures can
be served by a dashboard: ``chart.figure.to_json()``.

The break-even chart reads :attr:`ScenarioResult.cost_curves` (one :class:`VolumeCostCurve` per option,
on a shared grid of daily volumes); a result without curves gets the sentence instead of the chart.
"""

# For the projection: ``ScenarioResult.cost_curves`` and ``VolumeCostCurve`` were added to
# scenario/result.py (additively, default empty) for the break-even chart. To fill them: one curve per
# API option and per self-hosted/owned option, all on one log-spaced ``requests_per_day`` grid that spans
# the month-1 volume and every break-even volume (say 0.1x the smallest to 10x the largest, 60 points);
# API cost = a x calls/month, GPU cost = c x max(floor, ceil(calls/month / K)), as in break_even().

from __future__ import annotations

from itertools import accumulate
from typing import Any

import plotly.graph_objects as go

from flopbill.report import fmt
from flopbill.report.chart_base import CHART_HEIGHT_PX, PALETTE, Chart, colors, layout, months_layout, rgba
from flopbill.scenario.result import (
    Crossover,
    OptionProjection,
    OptionUncertainty,
    ScenarioResult,
    Tornado,
)


def monthly_cost_chart(result: ScenarioResult) -> Chart:
    """Return monthly cost (USD, one-time costs in the month they fall in) per option over the horizon."""
    palette = colors(result)
    fig = go.Figure()
    for opt in result.options:
        fig.add_trace(
            go.Scatter(
                x=list(result.traffic.months),
                y=list(opt.monthly_cost_usd),
                name=opt.label,
                mode="lines+markers",
                line={"color": palette[opt.name], "width": 2},
                hovertemplate="$%{y:,.2f}",
            )
        )
    caption = "Total bill of each option per month, one-time costs included in the month they are paid."
    return Chart(
        "chart-monthly-cost", "Monthly cost by option", caption, months_layout(fig, "USD per month", result)
    )


def _crossover_traces(fig: Any, result: ScenarioResult, cross: Crossover, color: str, index: int) -> None:
    opt = result.option(cross.option)
    months = list(result.traffic.months)
    inference = list(accumulate(opt.recurring_cost_usd))
    fig.add_trace(
        go.Scatter(
            x=months,
            y=inference,
            name=f"{opt.label}: cumulative inference",
            mode="lines",
            line={"color": color, "width": 2},
            hovertemplate="$%{y:,.0f}",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=[cross.one_time_usd] * len(months),
            name=f"{opt.label}: one-time (training)",
            mode="lines",
            line={"color": color, "width": 2, "dash": "dash"},
            hovertemplate="$%{y:,.0f}",
        )
    )
    if cross.month is not None and cross.cumulative_inference_usd_at_month is not None:
        _crossover_marker(fig, cross.month, cross.cumulative_inference_usd_at_month, color, index)


def _crossover_marker(fig: Any, month: int, value_usd: float, color: str, index: int) -> None:
    """Mark one crossover with a star and a label; labels of later options sit higher and alternate sides."""
    fig.add_trace(
        go.Scatter(
            x=[month],
            y=[value_usd],
            mode="markers",
            marker={"color": color, "size": 14, "symbol": "star", "line": {"width": 1}},
            showlegend=False,
            hovertemplate=f"crossover, month {month}: $%{{y:,.0f}}<extra></extra>",
        )
    )
    fig.add_annotation(
        x=month,
        y=value_usd,
        ax=-70 if index % 2 == 0 else 70,
        ay=-36 - 26 * index,
        text=f"crossover: month {month}",
        showarrow=True,
        arrowcolor=color,
        font={"color": color},
        bgcolor="rgba(255,255,255,0.85)",
    )


def crossover_chart(result: ScenarioResult) -> Chart:
    """Return cumulative inference spend against one-time spend per option, crossover months marked."""
    title = "Cumulative inference vs one-time training"
    caption = (
        "Running total of recurring (inference) cost against the one-time cost (dashed); the star marks "
        "the first month inference has cost more than training."
    )
    known = {opt.name for opt in result.options}
    crossings = [c for c in result.crossovers if c.option in known and c.one_time_usd > 0]
    if not crossings:
        reason = (
            "The scenario has no one-time (training or fine-tuning) cost, so there is no crossover to draw."
        )
        return Chart("chart-crossover", title, caption, None, reason)
    palette = colors(result)
    fig = go.Figure()
    for index, cross in enumerate(crossings):
        _crossover_traces(fig, result, cross, palette[cross.option], index)
    return Chart("chart-crossover", title, caption, months_layout(fig, "USD (cumulative)", result))


def _all_positive(values: list[float]) -> bool:
    return bool(values) and min(values) > 0


STEPPED_KINDS = frozenset({"self_hosted", "owned"})
"""Option kinds whose cost grows in whole replicas: their cost curve is drawn as steps."""


def break_even_chart(result: ScenarioResult) -> Chart:
    """Return monthly cost vs daily request volume per option, with break-even volumes marked."""
    title = "Break-even: monthly cost vs request volume"
    caption = (
        "Steady-state recurring monthly cost of each option as daily volume grows; diamonds mark the "
        "volumes where an API and a GPU-backed option cost the same, the dotted line today's volume."
    )
    if not result.cost_curves:
        reason = (
            "The result has break-even volumes (see the table) but no cost-versus-volume curves to draw."
            if result.break_evens
            else "The scenario has no pair of an API option and a GPU-backed option to compare."
        )
        return Chart("chart-break-even", title, caption, None, reason)
    palette = colors(result)
    labels = {opt.name: opt.label for opt in result.options}
    kinds = {opt.name: opt.kind for opt in result.options}
    fig = go.Figure()
    all_x: list[float] = []
    all_y: list[float] = []
    for curve in result.cost_curves:
        all_x.extend(curve.requests_per_day)
        all_y.extend(curve.monthly_cost_usd)
        fig.add_trace(
            go.Scatter(
                x=list(curve.requests_per_day),
                y=list(curve.monthly_cost_usd),
                name=labels.get(curve.option, curve.option),
                mode="lines",
                line={
                    "color": palette.get(curve.option, PALETTE[-1]),
                    "width": 2,
                    "shape": "hv" if kinds.get(curve.option) in STEPPED_KINDS else "linear",
                },
                hovertemplate="%{x:,.0f} req/day: $%{y:,.0f}/month",
            )
        )
    _break_even_markers(fig, result)
    _today_line(fig, result, all_y)
    log_axes = _all_positive(all_x) and _all_positive(all_y)
    layout(fig, "requests per day", "USD per month", hovermode="closest")
    axis: dict[str, Any] = {"type": "log", "dtick": 1, "tickformat": "~s"} if log_axes else {}
    fig.update_xaxes(**axis)
    fig.update_yaxes(tickprefix="$", **axis)
    return Chart("chart-break-even", title, caption, fig)


def _break_even_markers(fig: Any, result: ScenarioResult) -> None:
    points = [
        b for b in result.break_evens if b.requests_per_day is not None and b.monthly_cost_usd is not None
    ]
    if not points:
        return
    fig.add_trace(
        go.Scatter(
            x=[b.requests_per_day for b in points],
            y=[b.monthly_cost_usd for b in points],
            name="break-even",
            mode="markers",
            marker={"color": "#111827", "size": 12, "symbol": "diamond"},
            text=[f"{b.api_option} = {b.gpu_option}" for b in points],
            hovertemplate="%{text}<br>%{x:,.0f} req/day, $%{y:,.0f}/month<extra></extra>",
        )
    )


def _today_line(fig: Any, result: ScenarioResult, all_y: list[float]) -> None:
    if not result.break_evens or not all_y:
        return
    today = result.break_evens[0].current_requests_per_day
    positive = [y for y in all_y if y > 0] or all_y
    fig.add_trace(
        go.Scatter(
            x=[today, today],
            y=[min(positive), max(all_y)],
            name="month-1 volume",
            mode="lines",
            line={"color": "#6b7280", "dash": "dot"},
            hovertemplate="%{x:,.0f} req/day<extra></extra>",
        )
    )


def metric_title(metric: str) -> tuple[str, bool]:
    """Return a readable axis title for a result field name, and whether it is in US dollars."""
    is_usd = metric.endswith("_usd")
    words = (metric.removesuffix("_usd") if is_usd else metric).replace("_", " ")
    return (f"{words} (USD)" if is_usd else words), is_usd


def tornado_chart(result: ScenarioResult, tornado: Tornado, index: int) -> Chart:
    """Return one tornado: the output with each ranged input at its low and at its high value."""
    label = {opt.name: opt.label for opt in result.options}.get(tornado.option, tornado.option)
    title, is_usd = metric_title(tornado.metric)
    names = [f"{row.input_name} ({fmt.plain(row.low)} … {fmt.plain(row.high)})" for row in tornado.rows]
    base = [tornado.expected_output] * len(tornado.rows)
    fig = go.Figure()
    for end, color, attr in (("low", "#2563eb", "output_low"), ("high", "#dc2626", "output_high")):
        outputs = [getattr(row, attr) for row in tornado.rows]
        fig.add_trace(
            go.Bar(
                y=names,
                x=[out - mid for out, mid in zip(outputs, base, strict=True)],
                base=base,
                orientation="h",
                name=f"input at its {end} value",
                marker_color=color,
                customdata=outputs,
                hovertemplate=("$%{customdata:,.0f}" if is_usd else "%{customdata:,.4g}") + "<extra></extra>",
            )
        )
    fig.add_vline(x=tornado.expected_output, line_color="#111827", line_width=1)
    height_px = max(CHART_HEIGHT_PX // 2, 180 + 44 * len(tornado.rows))
    layout(fig, title, "", height_px, barmode="overlay", hovermode="closest")
    fig.update_layout(legend={"y": 1.0, "yanchor": "bottom"}, margin={"t": 50, "b": 50})
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickprefix="$" if is_usd else "")
    expected = fmt.usd(tornado.expected_output) if is_usd else fmt.plain(tornado.expected_output)
    caption = (
        f"{label}: how far the {title} moves (expected {expected}) when one "
        "ranged input goes to its low or high value and every other input stays expected."
    )
    return Chart(f"chart-tornado-{index}", f"Sensitivity (tornado): {label}", caption, fig)


def tornado_charts(result: ScenarioResult) -> tuple[Chart, ...]:
    """Return one tornado chart per tornado in the result, or one absent chart saying why."""
    tornados = [t for t in result.tornado if t.rows]
    if not tornados:
        reason = "No input is given as a range, so there is nothing to swing."
        return (Chart("chart-tornado", "Sensitivity (tornado)", "", None, reason),)
    return tuple(tornado_chart(result, t, i) for i, t in enumerate(tornados, start=1))


def _band_traces(
    fig: Any, months: list[int], band: OptionUncertainty, opt: OptionProjection, color: str
) -> None:
    group = f"band-{opt.name}"
    fig.add_trace(
        go.Scatter(
            x=months,
            y=list(band.monthly_cost_p90_usd),
            mode="lines",
            line={"width": 0, "color": color},
            legendgroup=group,
            showlegend=False,
            name=f"{opt.label} P90",
            hovertemplate="P90 $%{y:,.0f}",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=list(band.monthly_cost_p10_usd),
            mode="lines",
            line={"width": 0, "color": color},
            fill="tonexty",
            fillcolor=rgba(color, 0.18),
            legendgroup=group,
            name=f"{opt.label} P10–P90",
            hovertemplate="P10 $%{y:,.0f}",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=list(band.monthly_cost_p50_usd),
            mode="lines",
            line={"width": 2, "color": color},
            legendgroup=group,
            name=f"{opt.label} P50",
            hovertemplate="P50 $%{y:,.0f}",
        )
    )


def bands_chart(result: ScenarioResult) -> Chart:
    """Return the Monte Carlo P50 monthly cost per option with its P10–P90 band."""
    title = "Uncertainty: P10–P90 monthly cost"
    mc = result.monte_carlo
    if mc is None or not mc.options:
        reason = "No input is given as a range, so costs are point estimates and there is no spread to show."
        return Chart("chart-bands", title, "", None, reason)
    caption = (
        f"P50 monthly cost and the P10–P90 band over {mc.samples:,} Monte Carlo samples "
        f"({mc.distribution}, seed {mc.seed}) of: {', '.join(mc.ranged_inputs)}."
    )
    palette = colors(result)
    known = {opt.name: opt for opt in result.options}
    months = list(result.traffic.months)
    fig = go.Figure()
    for band in mc.options:
        if band.option in known:
            _band_traces(fig, months, band, known[band.option], palette[band.option])
    return Chart("chart-bands", title, caption, months_layout(fig, "USD per month", result))


def charts(result: ScenarioResult) -> tuple[Chart, ...]:
    """Return every chart of the report in page order (absent ones carry their reason)."""
    return (
        monthly_cost_chart(result),
        crossover_chart(result),
        break_even_chart(result),
        *tornado_charts(result),
        bands_chart(result),
    )
