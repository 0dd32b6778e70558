"""What every report chart shares: the :class:`Chart` record, colours, layout and the HTML of a figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flopbill.scenario.result import ScenarioResult

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
#: Line dashes per option, so overlapping options stay distinguishable without colour.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
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


def dashes(result: ScenarioResult) -> dict[str, str]:
    """Return a fixed line dash per option name (cycling), in the order the result lists the options."""
    return {opt.name: DASHES[i % len(DASHES)] for i, opt in enumerate(result.options)}


def spike_marks(fig: Any, result: ScenarioResult) -> None:
    """Shade and label every spike month of ``fig`` (a month-axis chart)."""
    for m in result.spike_months():
        i = m - 1
        fig.add_vrect(
            x0=m - 0.5,
            x1=m + 0.5,
            fillcolor="rgba(217,119,6,0.12)",
            line_width=0,
            annotation_text=f"spike ×{result.traffic.spike_multiplier[i]:.3g}",
            annotation_position="top left",
        )


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


def months_layout(fig: Any, y_title: str, result: ScenarioResult, log: bool = False) -> Any:
    """Apply the layout of a month-by-month USD chart (linear/log buttons, months 1..horizon, spikes
    shaded); ``log`` starts on the log scale so cheap options are not flattened by the dearest one."""
    buttons = {**_SCALE_BUTTONS, "active": 1 if log else 0}
    layout(fig, "month", y_title, hovermode="x unified", updatemenus=[buttons])
    spike_marks(fig, result)
    if log:
        fig.update_yaxes(type="log")
    fig.update_xaxes(
        range=[0.5, result.horizon_months + 0.5], dtick=1 if result.horizon_months <= 12 else None
    )
    fig.update_yaxes(tickprefix="$", rangemode="tozero" if not log else "normal")
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
