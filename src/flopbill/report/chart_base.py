"""What every report chart shares: the :class:`Chart` record, colours, layout and the HTML of a figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flopbill.scenario.result import ScenarioResult

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
CHART_HEIGHT_PX = 420
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class Chart:
    """One chart of the report: a figure for ``div_id``, or ``figure=None`` and ``omitted_reason``."""

    div_id: str
    title: str
    caption: str
    figure: Any = None
    omitted_reason: str = ""


def colors(result: ScenarioResult) -> dict[str, str]:
    """Return a fixed colour per option name, in the order the result lists the options."""
    return {opt.name: PALETTE[i % len(PALETTE)] for i, opt in enumerate(result.options)}


def rgba(hex_color: str, alpha: float) -> str:
    """Return ``"#2563eb"`` with opacity ``alpha`` as a CSS ``rgba(...)`` colour (for bands)."""
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


_SCALE_BUTTONS = {
    "type": "buttons",
    "direction": "right",
    "showactive": True,
    "x": 0,
    "xanchor": "left",
    "y": 1.02,
    "yanchor": "bottom",
    "pad": {"l": 0, "r": 4, "t": 0, "b": 0},
    "buttons": [
        {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
        {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
    ],
}


def layout(fig: Any, x_title: str, y_title: str, height_px: int = CHART_HEIGHT_PX, **extra: Any) -> Any:
    """Apply the report's common look to ``fig`` and return it."""
    fig.update_layout(
        template="plotly_white",
        height=height_px,
        margin={"l": 70, "r": 20, "t": 44, "b": 60},
        font={"family": _FONT, "size": 13},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
        xaxis_title=x_title,
        yaxis_title=y_title,
        **extra,
    )
    return fig


def months_layout(fig: Any, y_title: str, result: ScenarioResult) -> Any:
    """Apply the layout of a month-by-month USD chart (linear/log buttons, months 1..horizon)."""
    layout(fig, "month", y_title, hovermode="x unified", updatemenus=[_SCALE_BUTTONS])
    fig.update_xaxes(
        range=[0.5, result.horizon_months + 0.5], dtick=1 if result.horizon_months <= 12 else None
    )
    fig.update_yaxes(tickprefix="$", rangemode="tozero")
    return fig


def figure_html(chart: Chart) -> str:
    """Return the ``<div>`` and inline ``<script>`` drawing ``chart`` (plotly.js itself not included)."""
    return str(
        chart.figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=chart.div_id,
            config={
                "displaylogo": False,
                "responsive": True,
                "modeBarButtonsToRemove": ["lasso2d", "select2d"],
            },
            default_height=f"{chart.figure.layout.height or CHART_HEIGHT_PX}px",
        )
    )
