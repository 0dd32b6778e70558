"""The HTML report of a fleet simulation: a timeline of replicas, queue and latency (no math here)."""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flopbill.report.chart_base import PALETTE, Chart, figure_html, layout
from flopbill.report.html import plotly_js
from flopbill.simulate.result import SimulationResult


def _ttft_by_interval(r: SimulationResult) -> tuple[Any, Any, Any]:
    """Return (interval start s, p50, p90 TTFT s) of requests by arrival interval (the timeline's steps)."""
    t = r.timeline.t_s
    o = r.outcomes
    done = ~np.isnan(o.first_token_s)
    if t.size < 2 or not done.any():
        return np.array([]), np.array([]), np.array([])
    ttft = (o.first_token_s - o.arrival_s)[done]
    idx = np.clip(np.searchsorted(t, o.arrival_s[done], side="right") - 1, 0, t.size - 1)
    starts, p50, p90 = [], [], []
    for k in np.unique(idx):
        sel = ttft[idx == k]
        starts.append(t[k])
        p50.append(float(np.percentile(sel, 50)))
        p90.append(float(np.percentile(sel, 90)))
    return np.array(starts), np.array(p50), np.array(p90)


def timeline_chart(r: SimulationResult, pool: str | None = None, index: int = 0) -> Chart:
    """Return the timeline: replicas ready and starting, requests waiting and running, TTFT p50/p90.

    ``pool``: the chart of that pool (``index`` in the spec) of a several-pool fleet (own div and title).
    """
    tl = r.timeline
    div_id = "timeline" if pool is None else f"timeline-pool-{index}"
    title = "Timeline: replicas, queue and latency" + ("" if pool is None else f" — pool {pool}")
    if tl.t_s.size == 0:
        return Chart(div_id, title, "", omitted_reason="the run was shorter than one evaluation interval")
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    step = {"shape": "hv"}
    fig.add_trace(
        go.Scatter(x=tl.t_s, y=tl.ready, name="replicas ready", line={**step, "color": PALETTE[0]}), 1, 1
    )
    fig.add_trace(
        go.Scatter(x=tl.t_s, y=tl.starting, name="starting", line={**step, "color": PALETTE[3]}), 1, 1
    )
    fig.add_trace(go.Scatter(x=tl.t_s, y=tl.waiting, name="waiting", line={"color": PALETTE[1]}), 2, 1)
    fig.add_trace(go.Scatter(x=tl.t_s, y=tl.running, name="running", line={"color": PALETTE[2]}), 2, 1)
    starts, p50, p90 = _ttft_by_interval(r)
    fig.add_trace(go.Scatter(x=starts, y=p50, name="TTFT p50 (s)", line={"color": PALETTE[4]}), 3, 1)
    fig.add_trace(go.Scatter(x=starts, y=p90, name="TTFT p90 (s)", line={"color": PALETTE[5]}), 3, 1)
    layout(fig, "", "", height_px=720, hovermode="x unified")
    fig.update_xaxes(title_text="simulated time (s)", row=3, col=1)
    for row, axis in ((1, "replicas"), (2, "requests"), (3, "TTFT (s)")):
        fig.update_yaxes(title_text=axis, row=row, col=1, rangemode="tozero")
    caption = "Sampled at each autoscaler evaluation; TTFT of requests by the interval they arrived in."
    return Chart(div_id, title, caption, figure=fig)


def _chart_html(chart: Chart) -> str:
    body = figure_html(chart) if chart.figure is not None else f"<p>{escape(chart.omitted_reason)}</p>"
    return f"<h2>{escape(chart.title)}</h2><p>{escape(chart.caption)}</p>{body}"


def _pools_table(r: SimulationResult) -> str:
    """Return a table of the pools' headline figures (several-pool fleets; empty otherwise)."""
    if not r.pools:
        return ""
    head = (
        "pool",
        "serves",
        "arrived / finished / dropped",
        "TTFT p50 / p99 (s)",
        "GPU-h billed",
        "cost (USD)",
    )
    cells = []
    for p in r.pools:
        x, dep = p.result, p.result.resolved["deployment"]
        cells.append(
            (
                p.name,
                f"{dep['model']} on {dep['gpu']} (tp {dep['tp']})",
                f"{x.arrived:,} / {x.finished:,} / {x.dropped:,}",
                f"{x.ttft_s.p50 or 0:.3f} / {x.ttft_s.p99 or 0:.3f}",
                f"{x.gpu_hours_billed:,.3f}",
                "unpriced" if x.cost_usd is None else f"{x.cost_usd:,.2f}",
            )
        )
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in cells)
    return f"<h2>Pools</h2><table><tr>{th}</tr>{body}</table>"


def render_simulation_html(r: SimulationResult) -> str:
    """Return a self-contained HTML page with the run's headline figures and its timeline chart
    (one per pool for a several-pool fleet)."""
    charts = [timeline_chart(p.result, p.name, i) for i, p in enumerate(r.pools)] or [timeline_chart(r)]
    rows = [
        ("requests arrived / finished / dropped", f"{r.arrived:,} / {r.finished:,} / {r.dropped:,}"),
        ("TTFT p50 / p99 (s)", f"{r.ttft_s.p50 or 0:.3f} / {r.ttft_s.p99 or 0:.3f}"),
        ("TPOT p50 / p99 (s)", f"{r.tpot_s.p50 or 0:.4f} / {r.tpot_s.p99 or 0:.4f}"),
        (
            "ITL p50 / p90 / p99 (s)",
            f"{r.itl_s.p50 or 0:.4f} / {r.itl_s.p90 or 0:.4f} / {r.itl_s.p99 or 0:.4f}",
        ),
        ("GPU-hours billed / busy", f"{r.gpu_hours_billed:,.3f} / {r.gpu_hours_busy:,.3f}"),
        ("cost (USD)", "unpriced" if r.cost_usd is None else f"{r.cost_usd:,.2f}"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    if r.pools:
        title = f"Simulated fleet of {len(r.pools)} pools — flopbill simulate"
    else:
        dep = r.resolved["deployment"]
        title = f"Simulated {dep['model']} on {dep['gpu']} — flopbill simulate"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<script type='text/javascript'>{plotly_js()}</script></head><body>"
        f"<h1>{escape(title)}</h1><table>{table}</table>{_pools_table(r)}"
        f"{''.join(_chart_html(c) for c in charts)}</body></html>"
    )
