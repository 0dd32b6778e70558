"""The HTML page of a bill report: spend by phase and month, amortised capital vs operating, tables.

Same approach as the plan report (:mod:`flopbill.report.html`): plotly.js inlined once, no network
loads, every text from the bill HTML-escaped.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from flopbill.bills.report import BillReport
from flopbill.bills.schema import Phase
from flopbill.report.fmt import esc

_COLORS = {
    "training": "#4C78A8",
    "fine_tuning": "#72B7B2",
    "inference": "#F58518",
    "other": "#BAB0AC",
    "unclassified": "#E45756",
}


def _phase_chart(rep: BillReport) -> str:
    fig = go.Figure()
    for phase in Phase:
        ys = [
            float(sum(m.billed_cost for m in rep.by_month if m.month == mo and m.phase == phase.value))
            for mo in rep.months
        ]
        fig.add_bar(name=phase.value, x=list(rep.months), y=ys, marker_color=_COLORS[phase.value])
    fig.update_layout(
        barmode="relative",
        title="BilledCost by phase and month",
        yaxis_title=rep.currency or "",
        xaxis_type="category",
    )
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id="bill-phases"))


def _capital_chart(rep: BillReport) -> str:
    fig = go.Figure()
    fig.add_bar(
        name="amortised capital", x=list(rep.months), y=[float(v) for v in rep.amortized_capital_by_month]
    )
    fig.add_bar(name="operating", x=list(rep.months), y=[float(v) for v in rep.operating_by_month])
    fig.update_layout(
        barmode="stack",
        title="Training as capital vs operating cost",
        yaxis_title=rep.currency or "",
        xaxis_type="category",
    )
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id="bill-capital"))


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{esc(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bill_report_html(rep: BillReport) -> str:
    """Return one self-contained HTML page for a bill report."""
    units = [
        [
            u.phase,
            u.service,
            u.unit,
            f"{u.quantity:.2f}",
            f"{u.billed_cost:.2f}",
            "—" if u.cost_per_unit is None else f"{u.cost_per_unit:.4f}",
        ]
        for u in rep.unit_costs
    ]
    top = [[t.key, t.phase, t.rule_id, str(t.lines), f"{t.billed_cost:.2f}"] for t in rep.top_resources]
    review = [[t.key, t.rule_id, str(t.lines), f"{t.billed_cost:.2f}"] for t in rep.unclassified]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; script-src 'unsafe-inline' "
        "'unsafe-eval'; style-src 'unsafe-inline'; img-src data:\">"
        "<title>flopbill — bill report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>Bill report ({esc(rep.currency or 'unknown currency')})</h1>"
        f"<p>Policy: {esc(rep.policy)}.</p>"
        f"{_phase_chart(rep)}{_capital_chart(rep)}"
        + _table("Unit costs", ["phase", "service", "unit", "quantity", "cost", "cost per unit"], units)
        + _table("Top resources", ["resource", "phase", "rule", "lines", "cost"], top)
        + _table("Unclassified spend to review", ["resource", "rule", "lines", "cost"], review)
        + "</body></html>"
    )
