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
from flopbill.report.chart_base import (
    CHART_HEIGHT_PX,
    PALETTE,
    Chart,
    colors,
    dashes,
    layout,
    months_layout,
    rgba,
    spike_marks,
)
from flopbill.scenario.result import (
    Crossover,
    OptionProjection,
    OptionUncertainty,
    ScenarioResult,
    Tornado,
)


def _positive(values: tuple[float, ...]) -> bool:
    return all(v > 0 for v in values)


def monthly_cost_chart(result: ScenarioResult) -> Chart:
    """Return recurring cost (USD per month) per option over the horizon, on a log scale when it can be."""
    palette, dash = colors(result), dashes(result)
    fig = go.Figure()
    for opt in result.options:
        fig.add_trace(
            go.Scatter(
                x=list(result.traffic.months),
                y=list(opt.recurring_cost_usd),
                name=opt.label,
                mode="lines+markers",
                line={"color": palette[opt.name], "width": 2, "dash": dash[opt.name]},
                hovertemplate="$%{y:,.2f}",
            )
        )
    log = all(_positive(o.recurring_cost_usd) for o in result.options)
    caption = "Recurring bill of each option per month (one-time costs are in the cumulative chart)" + (
        "; log scale, so cheap options stay visible next to dear ones (switch to linear above)."
        if log
        else "."
    )
    fig = months_layout(fig, "USD per month", result, log=log)
    return Chart("chart-monthly-cost", "Monthly cost by option", caption, fig)


def cumulative_chart(result: ScenarioResult) -> Chart:
    """Return each option's cumulative cost (one-time included) with every payback month marked."""
    palette, dash = colors(result), dashes(result)
    fig = go.Figure()
    months = list(result.traffic.months)
    for opt in result.options:
        fig.add_trace(
            go.Scatter(
                x=months,
                y=list(opt.cumulative_cost_usd),
                name=opt.label,
                mode="lines",
                line={"color": palette[opt.name], "width": 2, "dash": dash[opt.name]},
                hovertemplate="$%{y:,.0f}",
            )
        )
    for i, pb in enumerate(p for p in result.paybacks if p.month is not None):
        assert pb.month is not None and pb.cumulative_option_usd is not None
        _crossover_marker(
            fig, pb.month, pb.cumulative_option_usd, palette[pb.option], i, f"payback vs {pb.api_option}"
        )
    log = all(_positive(o.cumulative_cost_usd) for o in result.options)
    caption = (
        "Running total of each option's cost, one-time costs included; a star marks the month an option's "
        "cumulative cost falls to or below an API option's (payback)."
    )
    return Chart(
        "chart-cumulative",
        "Cumulative cost and payback",
        caption,
        months_layout(fig, "USD (cumulative)", result, log),
    )


def gpus_chart(result: ScenarioResult) -> Chart:
    """Return GPUs per month of every GPU-backed option (peak instances × GPUs per instance)."""
    title = "GPUs per month"
    gpu_opts = [o for o in result.options if o.gpus is not None]
    if not gpu_opts:
        return Chart("chart-gpus", title, "", None, "No option runs on GPUs.")
    palette, dash = colors(result), dashes(result)
    fig = go.Figure()
    for opt in gpu_opts:
        assert opt.gpus is not None
        fig.add_trace(
            go.Scatter(
                x=list(result.traffic.months),
                y=list(opt.gpus),
                name=opt.label,
                mode="lines+markers",
                line={"color": palette[opt.name], "width": 2, "dash": dash[opt.name], "shape": "hv"},
                hovertemplate="%{y:,.0f} GPUs",
            )
        )
    layout(fig, "month", "GPUs (busiest hour, whole instances)", hovermode="x unified")
    spike_marks(fig, result)
    caption = "GPUs each option holds in its busiest hour of the month (owned: bought and kept)."
    return Chart("chart-gpus", title, caption, fig)


def revenue_chart(result: ScenarioResult) -> Chart:
    """Return revenue and each option's gross margin (revenue − recurring cost) per month."""
    title = "Revenue and margin"
    if result.revenue_usd is None:
        return Chart("chart-revenue", title, "", None, "The scenario gives no revenue.")
    palette, dash = colors(result), dashes(result)
    months = list(result.traffic.months)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=months,
            y=list(result.revenue_usd),
            name="revenue",
            mode="lines",
            line={"color": "#111827", "width": 3},
            hovertemplate="$%{y:,.0f}",
        )
    )
    for opt in result.options:
        if opt.gross_profit_usd is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=months,
                y=list(opt.gross_profit_usd),
                name=f"{opt.label}: gross profit",
                mode="lines",
                line={"color": palette[opt.name], "width": 2, "dash": dash[opt.name]},
                customdata=[100 * m if m == m else None for m in (opt.gross_margin or ())],
                hovertemplate="$%{y:,.0f} (margin %{customdata:.0f}%)",
            )
        )
    caption = "Revenue per month and what is left after each option's recurring cost (hover: margin)."
    return Chart("chart-revenue", title, caption, months_layout(fig, "USD per month", result))


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
            name=f"{opt.label}: one-time ({', '.join(c.name for c in result.one_time_costs) or 'one-time'})",
            mode="lines",
            line={"color": color, "width": 2, "dash": "dash"},
            hovertemplate="$%{y:,.0f}",
        )
    )
    if cross.month is not None and cross.cumulative_inference_usd_at_month is not None:
        _crossover_marker(fig, cross.month, cross.cumulative_inference_usd_at_month, color, index)


def _crossover_marker(
    fig: Any, month: int, value_usd: float, color: str, index: int, what: str = "crossover"
) -> None:
    """Mark one crossover with a star and a label; labels of later options sit higher and alternate sides."""
    fig.add_trace(
        go.Scatter(
            x=[month],
            y=[value_usd],
            mode="markers",
            marker={"color": color, "size": 14, "symbol": "star", "line": {"width": 1}},
            showlegend=False,
            hovertemplate=f"{what}, month {month}: $%{{y:,.0f}}<extra></extra>",
        )
    )
    fig.add_annotation(
        x=month,
        y=value_usd,
        ax=-70 if index % 2 == 0 else 70,
        ay=-36 - 26 * index,
        text=f"{what}: month {month}",
        showarrow=True,
        arrowcolor=color,
        font={"color": color},
        bgcolor="rgba(255,255,255,0.85)",
    )


def crossover_chart(result: ScenarioResult) -> Chart:
    """Return cumulative inference spend against one-time spend per option, crossover months marked."""
    title = "Cumulative inference vs one-time costs"
    caption = (
        "Running total of recurring (inference) cost against the one-time cost (dashed: training, "
        "fine-tuning, engineering as the scenario names them); the star marks the first month inference "
        "has cost more than the one-time spend."
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


_LABELS = {
    "traffic.monthly_growth": ("monthly growth", "%"),
    "traffic.peak_factor": ("busiest hour ÷ mean", "×"),
    "traffic.ai_share": ("share of requests needing AI", "%"),
    "traffic.requests_per_user_per_day": ("requests per user per day", ""),
    "traffic.daily_active_users": ("daily active users", ""),
    "traffic.requests_per_day": ("requests per day", ""),
    "request.input_tokens": ("input tokens per request", ""),
    "request.output_tokens": ("output tokens per request", ""),
    "request.cache_hit_rate": ("prompt cache hit rate", "%"),
    "request.samples_per_request": ("model calls per request", ""),
    "revenue.paying_share": ("paying share of users", "%"),
}
_FIELD_LABELS = {
    "throughput_scale": ("throughput vs estimate", "×"),
    "target_utilization": ("planned GPU utilization", "%"),
    "price_usd_per_gpu_hour": ("GPU price, $/GPU-hour", "$"),
    "cost_usd": ("cost", "$"),
    "multiplier": ("spike size", "×"),
    "duration_days": ("spike length, days", ""),
    "small_share": ("share sent to the small model", "%"),
    "tokens": ("training tokens", ""),
    "mfu": ("MFU", "%"),
}


def _fmt_value(x: float, unit: str) -> str:
    if unit == "%":
        return f"{100 * x:.3g}"
    if unit == "$":
        return fmt.usd(x)
    return fmt.count(x) if abs(x) >= 1000 else f"{x:.3g}"


def input_label(name: str, low: float, high: float) -> str:
    """Return a human label for a ranged input: ``"monthly growth 10–30 %"``, ``"llama: GPU price $2–$3"``."""
    label, unit = _LABELS.get(name, ("", ""))
    if not label:
        parts = name.split(".")
        field = parts[-1]
        label, unit = _FIELD_LABELS.get(field, (field.replace("_", " "), ""))
        owner = parts[1] if len(parts) > 2 and parts[0] in ("options", "one_time") else ""
        if name.startswith("traffic.spikes"):
            owner = "traffic"
        label = f"{owner}: {label}" if owner else label
    span = f"{_fmt_value(low, unit)}–{_fmt_value(high, unit)}"
    suffix = " %" if unit == "%" else ("×" if unit == "×" else "")
    return f"{label} {span}{suffix}"


def tornado_chart(result: ScenarioResult, tornado: Tornado, index: int) -> Chart:
    """Return one tornado: the output with each ranged input at its low and at its high value."""
    label = {opt.name: opt.label for opt in result.options}.get(tornado.option, tornado.option)
    title, is_usd = metric_title(tornado.metric)
    names = [input_label(row.input_name, row.low, row.high) for row in tornado.rows]
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
        cumulative_chart(result),
        revenue_chart(result),
        gpus_chart(result),
        crossover_chart(result),
        break_even_chart(result),
        *tornado_charts(result),
        bands_chart(result),
    )
