"""Product economics: unit costs, monthly volume, fleet costs, break-even, crossover, TCO, routers, growth.

All functions are pure and numpy-broadcastable over their numeric arguments (scalars or arrays; the
result has the broadcast shape). Money is US dollars (``*_usd``), volumes are request counts over the
period named in the argument (``*_per_day``, ``*_per_month``), time is hours or days as named.

Calendar convention (a definition, not a measurement): a month is ``days_per_month`` days, by default
:data:`DAYS_PER_MONTH` = 365.25 / 12 = 30.4375 days (the average Gregorian-calendar month over four years
including one leap day), and a year is 12 such months = 365.25 days. Every function that converts days to
months takes ``days_per_month`` so a caller can use 30 (e.g. "$50,000/day is $1.5M/month") or 31.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flopbill.errors import InputError

ArrayLike = float | npt.NDArray[np.float64]

#: Average days per calendar month, 365.25 / 12 (Julian year of 365.25 days over 12 months).
DAYS_PER_MONTH = 365.25 / 12.0
#: Hours per day.
HOURS_PER_DAY = 24.0
#: Seconds per day.
SECONDS_PER_DAY = 86_400.0
#: Months per year.
MONTHS_PER_YEAR = 12.0


def _arr(x: Any) -> npt.NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def _out(x: npt.NDArray[np.float64]) -> ArrayLike:
    """Return a 0-d result as a Python float, anything else as an array."""
    return float(x) if np.ndim(x) == 0 else x


# ---------------------------------------------------------------------------------------------- volume


def requests_per_month_from_users(
    daily_active_users: ArrayLike,
    requests_per_user_per_day: ArrayLike,
    ai_share: ArrayLike = 1.0,
    days_per_month: ArrayLike = DAYS_PER_MONTH,
) -> ArrayLike:
    """Return AI requests per month (count) from daily active users.

    ``R = DAU × requests/user/day × ai_share × days_per_month``. ``ai_share`` ∈ [0, 1] is the share of
    traffic that needs an AI output (e.g. 0.2 if only 20 % of e-mails get a generated summary).
    """
    return _out(_arr(daily_active_users) * _arr(requests_per_user_per_day) * _arr(ai_share) * days_per_month)


def requests_per_month_from_daily(
    requests_per_day: ArrayLike, ai_share: ArrayLike = 1.0, days_per_month: ArrayLike = DAYS_PER_MONTH
) -> ArrayLike:
    """Return AI requests per month (count): ``R = requests/day × ai_share × days_per_month``."""
    return _out(_arr(requests_per_day) * _arr(ai_share) * days_per_month)


def mean_requests_per_s(
    requests_per_month: ArrayLike, days_per_month: ArrayLike = DAYS_PER_MONTH
) -> ArrayLike:
    """Return the mean request rate (requests/s): ``R / (days_per_month × 86 400 s)``."""
    return _out(_arr(requests_per_month) / (_arr(days_per_month) * SECONDS_PER_DAY))


# ------------------------------------------------------------------------------------- unit economics


@dataclass(frozen=True)
class PeriodCosts:
    """One cost stream in USD per request, per day, per month and per year (same shape each).

    ``per_month = per_day × days_per_month``; ``per_year = 12 × per_month`` (365.25 days by default).
    """

    usd_per_request: ArrayLike
    usd_per_day: ArrayLike
    usd_per_month: ArrayLike
    usd_per_year: ArrayLike
    days_per_month: float


def period_costs(
    usd_per_request: ArrayLike, requests_per_day: ArrayLike, days_per_month: float = DAYS_PER_MONTH
) -> PeriodCosts:
    """Return cost per request, day, month (``days_per_month`` days) and year (12 months), in USD.

    Example: $0.005/request × 5M requests/day = $25,000/day; × 30.4375 = $760,938/month; × 12 = $9.13M/yr.
    """
    per_day = _arr(usd_per_request) * _arr(requests_per_day)
    per_month = per_day * days_per_month
    return PeriodCosts(
        usd_per_request=_out(_arr(usd_per_request) + np.zeros_like(per_day)),
        usd_per_day=_out(per_day),
        usd_per_month=_out(per_month),
        usd_per_year=_out(per_month * MONTHS_PER_YEAR),
        days_per_month=float(days_per_month),
    )


def monthly_cost_usd(usd_per_request: ArrayLike, requests_per_month: ArrayLike) -> ArrayLike:
    """Return the monthly bill (USD): ``cost/request × requests/month``."""
    return _out(_arr(usd_per_request) * _arr(requests_per_month))


def cost_per_request_usd(total_cost_usd: ArrayLike, requests: ArrayLike) -> ArrayLike:
    """Return USD per request: ``total cost / requests`` over the same period (inf where requests = 0)."""
    cost, n = np.broadcast_arrays(_arr(total_cost_usd), _arr(requests))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 0, cost / np.where(n > 0, n, 1.0), np.inf)
    return _out(out)


def cost_per_user_per_month_usd(
    usd_per_request: ArrayLike,
    requests_per_user_per_day: ArrayLike,
    ai_share: ArrayLike = 1.0,
    days_per_month: ArrayLike = DAYS_PER_MONTH,
) -> ArrayLike:
    """Return USD per active user per month: ``cost/request × requests/user/day × ai_share × days/month``."""
    return _out(_arr(usd_per_request) * _arr(requests_per_user_per_day) * _arr(ai_share) * days_per_month)


def gross_margin(revenue_usd: ArrayLike, cost_usd: ArrayLike) -> ArrayLike:
    """Return gross margin, a fraction: ``(revenue − cost) / revenue`` (NaN where revenue = 0).

    Revenue and cost over the same period and scope (per user-month, per month, ...). Negative when the
    cost exceeds the revenue.
    """
    revenue, cost = np.broadcast_arrays(_arr(revenue_usd), _arr(cost_usd))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(revenue != 0, (revenue - cost) / np.where(revenue != 0, revenue, 1.0), np.nan)
    return _out(out)


def _check_nonnegative(field: str, value: Any) -> npt.NDArray[np.float64]:
    arr = _arr(value)
    if np.any(~(arr >= 0)):
        raise InputError(field, value, "a number ≥ 0 (no NaN)")
    return arr


def _check_fraction(field: str, value: Any) -> npt.NDArray[np.float64]:
    arr = _arr(value)
    if np.any(~((arr >= 0) & (arr <= 1))):
        raise InputError(field, value, "a fraction between 0 and 1")
    return arr


# ------------------------------------------------------------------------------------------- routers


@dataclass(frozen=True)
class RouterCost:
    """Cost per request (USD) of routing a share of traffic to a small model, and the saving it buys."""

    usd_per_request: ArrayLike
    savings_usd_per_request: ArrayLike
    savings_fraction: ArrayLike


def router_cost(
    big_usd_per_request: ArrayLike,
    small_usd_per_request: ArrayLike,
    small_share: ArrayLike,
    escalation_fraction: ArrayLike = 0.0,
    router_usd_per_request: ArrayLike = 0.0,
) -> RouterCost:
    """Return the blended cost per request (USD) when a share ``s`` of traffic goes to a small model.

    ``cost = (1 − s)·big + s·small + s·e·big + router``, where ``e`` is the share of the small model's
    answers that fail a quality check and are re-sent to the big model (they pay both). The saving per
    request is ``big − cost = s·(big − small) − s·e·big − router``; with ``e = 0`` and no router cost it
    is ``s·(big − small)``. ``savings_fraction = saving / big`` (NaN where big = 0).
    """
    big = _check_nonnegative("big_usd_per_request", big_usd_per_request)
    small = _check_nonnegative("small_usd_per_request", small_usd_per_request)
    s = _check_fraction("small_share", small_share)
    e = _check_fraction("escalation_fraction", escalation_fraction)
    cost = (1.0 - s) * big + s * small + s * e * big + _arr(router_usd_per_request)
    savings = big - cost
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(big > 0, savings / np.where(big > 0, big, 1.0), np.nan)
    return RouterCost(_out(cost), _out(savings), _out(fraction))


# ---------------------------------------------------------------------------------------------- edge


@dataclass(frozen=True)
class EdgeCost:
    """On-device inference: a one-time cost per device, zero marginal cost per request to the vendor."""

    one_time_usd: ArrayLike
    marginal_usd_per_request: ArrayLike
    usd_per_request: ArrayLike


def edge_inference_cost(
    devices: ArrayLike, one_time_usd_per_device: ArrayLike, lifetime_requests: ArrayLike
) -> EdgeCost:
    """Return the cost of running the model on users' devices (USD).

    ``one_time = devices × one_time_usd_per_device`` (porting, licences, a bigger chip: whatever the
    caller counts); the marginal cost per request is 0 **to the vendor** by assumption (the user's device
    pays the electricity and wear); ``usd_per_request = one_time / lifetime_requests`` (inf where 0).
    """
    one_time = _check_nonnegative("devices", devices) * _check_nonnegative(
        "one_time_usd_per_device", one_time_usd_per_device
    )
    per_request = cost_per_request_usd(one_time, _check_nonnegative("lifetime_requests", lifetime_requests))
    return EdgeCost(_out(one_time), _out(np.zeros_like(one_time)), per_request)


# -------------------------------------------------------------------------------------------- growth


def monthly_requests_with_growth(
    first_month_requests: ArrayLike, monthly_growth: ArrayLike, months: int
) -> npt.NDArray[np.float64]:
    """Return requests per month for months 1..``months``, shape ``broadcast(...) + (months,)``.

    Compounding month-over-month growth ``g``: ``R_m = R_1 × (1 + g)^(m − 1)``. ``g`` may be negative
    (churn) but must be > −1.
    """
    g = _arr(monthly_growth)
    if np.any(~(g > -1.0)):
        raise InputError("monthly_growth", monthly_growth, "a growth rate > −1 (e.g. 0.1 for 10 %/month)")
    if months < 1:
        raise InputError("months", months, "an integer ≥ 1")
    k = np.arange(months, dtype=np.float64)
    return _arr(first_month_requests)[..., None] * (1.0 + g[..., None]) ** k


@dataclass(frozen=True)
class SpikeMonth:
    """A month with a traffic spike: its total volume and its peak day (requests)."""

    requests_per_month: ArrayLike
    peak_requests_per_day: ArrayLike


def spike_month(
    requests_per_day: ArrayLike,
    spike_multiplier: ArrayLike,
    spike_days: ArrayLike,
    days_per_month: ArrayLike = DAYS_PER_MONTH,
) -> SpikeMonth:
    """Return a month's volume and peak-day volume when traffic is ``×multiplier`` for ``spike_days`` days.

    ``R = r·(days_per_month − spike_days) + r·multiplier·spike_days``; ``peak/day = r·max(multiplier, 1)``
    (``r`` = requests/day outside the spike; ``spike_days`` is clipped to the month).
    """
    r = _check_nonnegative("requests_per_day", requests_per_day)
    mult = _check_nonnegative("spike_multiplier", spike_multiplier)
    days = _arr(days_per_month)
    span = np.minimum(_check_nonnegative("spike_days", spike_days), days)
    month = r * (days - span) + r * mult * span
    peak = r * np.where(span > 0, np.maximum(mult, 1.0), 1.0)
    return SpikeMonth(_out(month), _out(peak))


# ------------------------------------------------------------------------------- crossover and TCO


def cumulative_spend_usd(one_time_usd: ArrayLike, monthly_usd: ArrayLike) -> npt.NDArray[np.float64]:
    """Return cumulative spend after each month (USD): ``one_time + Σ_{k≤m} monthly_k``.

    ``monthly_usd`` has months on its last axis; ``one_time_usd`` broadcasts over the other axes.
    """
    return _arr(one_time_usd)[..., None] + np.cumsum(_arr(monthly_usd), axis=-1)


def lifetime_tco_usd(one_time_usd: ArrayLike, monthly_usd: ArrayLike) -> ArrayLike:
    """Return lifetime total cost of ownership (USD): ``one_time + Σ_m monthly_m`` over the last axis."""
    return _out(_arr(one_time_usd) + np.sum(_arr(monthly_usd), axis=-1))


def crossover_month_array(
    one_time_usd: ArrayLike, monthly_inference_usd: ArrayLike
) -> npt.NDArray[np.float64]:
    """Return the first month m (1-based, float) where cumulative inference spend ≥ one-time spend.

    ``min{m : Σ_{k≤m} inference_k ≥ one_time}``; NaN where it never happens within the horizon (the
    length of the last axis of ``monthly_inference_usd``). Broadcasts like :func:`cumulative_spend_usd`.
    """
    cumulative = np.cumsum(_arr(monthly_inference_usd), axis=-1)
    reached = cumulative >= _arr(one_time_usd)[..., None]
    first = np.argmax(reached, axis=-1).astype(np.float64) + 1.0
    return np.where(np.any(reached, axis=-1), first, np.nan)


def crossover_month(one_time_usd: float, monthly_inference_usd: ArrayLike) -> int | None:
    """Return the first month (1-based) where cumulative inference spend ≥ the one-time (training) spend.

    ``None`` if that never happens within the horizon (``len(monthly_inference_usd)`` months). Scalar
    version of :func:`crossover_month_array`. Example: training $1M, inference $300k/month →
    cumulative 300k, 600k, 900k, 1.2M → month 4.
    """
    month = crossover_month_array(one_time_usd, np.atleast_1d(_arr(monthly_inference_usd)))
    if month.ndim != 0:
        raise InputError(
            "monthly_inference_usd", "a 2-D array", "one month series (use crossover_month_array)"
        )
    return None if np.isnan(month) else int(month)
