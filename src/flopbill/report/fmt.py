"""Text for the report: numbers to short human strings and every string HTML-escaped.

The functions here only format; they never compute a quantity. ``None`` means "does not apply" and
prints as an em dash; ``nan`` (no traffic that month) prints the same way.
"""

from __future__ import annotations

import html
import math

from flopbill.units import format_count, format_usd

DASH = "—"


def esc(value: object) -> str:
    """Return ``str(value)`` escaped for HTML text and attribute values (quotes included)."""
    return html.escape(str(value), quote=True)


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def usd(value: float | None) -> str:
    """Return dollars (``"$1.23M"``, ``"$12.50"``, ``"$0.00123"``); ``—`` for None or nan."""
    if value is None or _missing(value):
        return DASH
    if math.isinf(value):
        return "∞"
    return format_usd(value)


def count(value: float | None) -> str:
    """Return a count (``"1.5M"``, ``"12k"``, ``"42"``); ``—`` for None or nan."""
    if value is None or _missing(value):
        return DASH
    if math.isinf(value):
        return "∞"
    return format_count(value)


def percent(fraction: float | None) -> str:
    """Return a fraction as a percentage with one decimal (0.623 → ``"62.3%"``); ``—`` for None or nan."""
    if fraction is None or _missing(fraction):
        return DASH
    return f"{fraction * 100:.1f}%"


def month(value: int | None) -> str:
    """Return ``"month 7"``; ``"not within the horizon"`` for None."""
    return "not within the horizon" if value is None else f"month {value}"


def plain(value: float | str) -> str:
    """Return an assumption value: strings as they are, numbers readably (20000 → ``"20,000"``, 1.5e+13)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or math.isinf(value):
        return str(value)
    if math.isnan(value):
        return DASH
    if abs(value) >= 1e12 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.4g}"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.6g}"


def probability(p: float | None) -> str:
    """Return a probability as a percentage never rounded to 0 % or 100 % unless exact (``"<1%"``)."""
    if p is None or _missing(p):
        return DASH
    if p == 0.0 or p == 1.0:
        return f"{100 * p:.0f}%"
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{100 * p:.0f}%"
