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

import numpy as np
import numpy.typing as npt

from flopbill.errors import InputError
from flopbill.estimate.core.arrays import ArrayLike, as_array, as_output, check_fraction, check_nonnegative

#: Average days per calendar month, 365.25 / 12 (Julian year of 365.25 days over 12 months).
DAYS_PER_MONTH = 365.25 / 12.0
#: Hours per day.
HOURS_PER_DAY = 24.0
#: Seconds per day.
SECONDS_PER_DAY = 86_400.0
#: Months per year.
MONTHS_PER_YEAR = 12.0


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
    return as_output(
        as_array(daily_active_users)
        * as_array(requests_per_user_per_day)
        * as_array(ai_share)
        * days_per_month
    )


def requests_per_month_from_daily(
    requests_per_day: ArrayLike, ai_share: ArrayLike = 1.0, days_per_month: ArrayLike = DAYS_PER_MONTH
) -> ArrayLike:
    """Return AI requests per month (count): ``R = requests/day × ai_share × days_per_month``."""
    return as_output(as_array(requests_per_day) * as_array(ai_share) * days_per_month)


def mean_requests_per_s(
    requests_per_month: ArrayLike, days_per_month: ArrayLike = DAYS_PER_MONTH
) -> ArrayLike:
    """Return the mean request rate (requests/s): ``R / (days_per_month × 86 400 s)``."""
    return as_output(as_array(requests_per_month) / (as_array(days_per_month) * SECONDS_PER_DAY))


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
    per_day = as_array(usd_per_request) * as_array(requests_per_day)
    per_month = per_day * days_per_month
    return PeriodCosts(
        usd_per_request=as_output(as_array(usd_per_request) + np.zeros_like(per_day)),
        usd_per_day=as_output(per_day),
        usd_per_month=as_output(per_month),
        usd_per_year=as_output(per_month * MONTHS_PER_YEAR),
        days_per_month=float(days_per_month),
    )


def monthly_cost_usd(usd_per_request: ArrayLike, requests_per_month: ArrayLike) -> ArrayLike:
    """Return the monthly bill (USD): ``cost/request × requests/month``."""
    return as_output(as_array(usd_per_request) * as_array(requests_per_month))


def cost_per_request_usd(total_cost_usd: ArrayLike, requests: ArrayLike) -> ArrayLike:
    """Return USD per request: ``total cost / requests`` over the same period (inf where requests = 0)."""
    cost, n = np.broadcast_arrays(as_array(total_cost_usd), as_array(requests))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 0, cost / np.where(n > 0, n, 1.0), np.inf)
    return as_output(out)


def cost_per_user_per_month_usd(
    usd_per_request: ArrayLike,
    requests_per_user_per_day: ArrayLike,
    ai_share: ArrayLike = 1.0,
    days_per_month: ArrayLike = DAYS_PER_MONTH,
) -> ArrayLike:
    """Return USD per active user per month: ``cost/request × requests/user/day × ai_share × days/month``."""
    return as_output(
        as_array(usd_per_request) * as_array(requests_per_user_per_day) * as_array(ai_share) * days_per_month
    )


def gross_margin(revenue_usd: ArrayLike, cost_usd: ArrayLike) -> ArrayLike:
    """Return gross margin, a fraction: ``(revenue − cost) / revenue`` (NaN where revenue = 0).

    Revenue and cost over the same period and scope (per user-month, per month, ...). Negative when the
    cost exceeds the revenue.
    """
    revenue, cost = np.broadcast_arrays(as_array(revenue_usd), as_array(cost_usd))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(revenue != 0, (revenue - cost) / np.where(revenue != 0, revenue, 1.0), np.nan)
    return as_output(out)


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
    big = check_nonnegative("big_usd_per_request", big_usd_per_request)
    small = check_nonnegative("small_usd_per_request", small_usd_per_request)
    s = check_fraction("small_share", small_share)
    e = check_fraction("escalation_fraction", escalation_fraction)
    cost = (1.0 - s) * big + s * small + s * e * big + as_array(router_usd_per_request)
    savings = big - cost
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(big > 0, savings / np.where(big > 0, big, 1.0), np.nan)
    return RouterCost(as_output(cost), as_output(savings), as_output(fraction))


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
    one_time = check_nonnegative("devices", devices) * check_nonnegative(
        "one_time_usd_per_device", one_time_usd_per_device
    )
    per_request = cost_per_request_usd(one_time, check_nonnegative("lifetime_requests", lifetime_requests))
    return EdgeCost(as_output(one_time), as_output(np.zeros_like(one_time)), per_request)


# -------------------------------------------------------------------------------------------- growth


def monthly_requests_with_growth(
    first_month_requests: ArrayLike, monthly_growth: ArrayLike, months: int
) -> npt.NDArray[np.float64]:
    """Return requests per month for months 1..``months``, shape ``broadcast(...) + (months,)``.

    Compounding month-over-month growth ``g``: ``R_m = R_1 × (1 + g)^(m − 1)``. ``g`` may be negative
    (churn) but must be > −1.
    """
    g = as_array(monthly_growth)
    if np.any(~(g > -1.0)):
        raise InputError("monthly_growth", monthly_growth, "a growth rate > −1 (e.g. 0.1 for 10 %/month)")
    if months < 1:
        raise InputError("months", months, "an integer ≥ 1")
    k = np.arange(months, dtype=np.float64)
    return as_array(first_month_requests)[..., None] * (1.0 + g[..., None]) ** k


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
    r = check_nonnegative("requests_per_day", requests_per_day)
    mult = check_nonnegative("spike_multiplier", spike_multiplier)
    days = as_array(days_per_month)
    span = np.minimum(check_nonnegative("spike_days", spike_days), days)
    month = r * (days - span) + r * mult * span
    peak = r * np.where(span > 0, np.maximum(mult, 1.0), 1.0)
    return SpikeMonth(as_output(month), as_output(peak))


# ------------------------------------------------------------------------------- crossover and TCO


def cumulative_spend_usd(one_time_usd: ArrayLike, monthly_usd: ArrayLike) -> npt.NDArray[np.float64]:
    """Return cumulative spend after each month (USD): ``one_time + Σ_{k≤m} monthly_k``.

    ``monthly_usd`` has months on its last axis; ``one_time_usd`` broadcasts over the other axes.
    """
    return as_array(one_time_usd)[..., None] + np.cumsum(as_array(monthly_usd), axis=-1)


def lifetime_tco_usd(one_time_usd: ArrayLike, monthly_usd: ArrayLike) -> ArrayLike:
    """Return lifetime total cost of ownership (USD): ``one_time + Σ_m monthly_m`` over the last axis."""
    return as_output(as_array(one_time_usd) + np.sum(as_array(monthly_usd), axis=-1))


def crossover_month_array(
    one_time_usd: ArrayLike, monthly_inference_usd: ArrayLike
) -> npt.NDArray[np.float64]:
    """Return the first month m (1-based, float) where cumulative inference spend ≥ one-time spend.

    ``min{m : Σ_{k≤m} inference_k ≥ one_time}``; NaN where it never happens within the horizon (the
    length of the last axis of ``monthly_inference_usd``). Broadcasts like :func:`cumulative_spend_usd`.
    """
    cumulative = np.cumsum(as_array(monthly_inference_usd), axis=-1)
    reached = cumulative >= as_array(one_time_usd)[..., None]
    first = np.argmax(reached, axis=-1).astype(np.float64) + 1.0
    return np.where(np.any(reached, axis=-1), first, np.nan)


def crossover_month(one_time_usd: float, monthly_inference_usd: ArrayLike) -> int | None:
    """Return the first month (1-based) where cumulative inference spend ≥ the one-time (training) spend.

    ``None`` if that never happens within the horizon (``len(monthly_inference_usd)`` months). Scalar
    version of :func:`crossover_month_array`. Example: training $1M, inference $300k/month →
    cumulative 300k, 600k, 900k, 1.2M → month 4.
    """
    check_nonnegative("one_time_usd", one_time_usd)
    check_nonnegative("monthly_inference_usd", monthly_inference_usd)
    month = crossover_month_array(one_time_usd, np.atleast_1d(as_array(monthly_inference_usd)))
    if month.ndim != 0:
        raise InputError(
            "monthly_inference_usd", "a 2-D array", "one month series (use crossover_month_array)"
        )
    return None if np.isnan(month) else int(month)
