"""Self-hosted fleet costs and the break-even against a per-request API.

Pure and numpy-broadcastable over numeric arguments. A *replica* is the serving unit (``gpus_per_replica``
GPUs, default 1, so replicas = GPUs); its capacity (requests/s it can serve at the latency target) comes
from the serving estimator or a measurement. Prices are USD per GPU-hour; the on-demand/reserved/spot
choice is a ``price_multiplier`` the caller supplies (with its source), e.g. a 1-year commitment price
divided by the on-demand price from the same price sheet.

Load over a day is a *profile*: relative load in equal time slices on the last axis (e.g. 24 hourly
values), normalised here to mean 1. ``None`` means flat load. :func:`diurnal_load_profile` gives an
idealised cosine day with a chosen peak-to-mean ratio (a modelling choice, not a measurement).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flopbill.errors import InputError
from flopbill.estimate.core.arrays import ArrayLike, as_array, as_output, check_fraction, check_nonnegative
from flopbill.estimate.core.assumptions import Assumption
from flopbill.estimate.pricing.economics import DAYS_PER_MONTH, HOURS_PER_DAY

#: Hours in the default period, one average month (730.5 h).
HOURS_PER_MONTH = DAYS_PER_MONTH * HOURS_PER_DAY


def diurnal_load_profile(
    peak_to_mean: ArrayLike, slices: int = 24, peak_slice: int = 14
) -> npt.NDArray[np.float64]:
    """Return relative load per time slice (mean 1), shape ``shape(peak_to_mean) + (slices,)``.

    ``load_h = 1 + (p − 1)·cos(2π(h − peak_slice)/slices)``: mean exactly 1, maximum ``p`` at
    ``peak_slice``, minimum ``2 − p``. Requires 1 ≤ p ≤ 2 (load cannot go negative). An idealisation:
    pass a measured profile instead when you have one.
    """
    p = as_array(peak_to_mean)
    if np.any(~((p >= 1.0) & (p <= 2.0))):
        raise InputError(
            "peak_to_mean", peak_to_mean, "a peak-to-mean ratio between 1 and 2 for a cosine day"
        )
    h = np.arange(slices, dtype=np.float64)
    return 1.0 + (p[..., None] - 1.0) * np.cos(2.0 * np.pi * (h - peak_slice) / slices)


def _profile(load_profile: ArrayLike | None) -> npt.NDArray[np.float64]:
    if load_profile is None:
        return np.ones(1)
    prof = check_nonnegative("load_profile", load_profile)
    mean = prof.mean(axis=-1, keepdims=True)
    if prof.ndim == 0 or np.any(mean <= 0):
        raise InputError("load_profile", "…", "relative loads per time slice (last axis), not all zero")
    normalised: npt.NDArray[np.float64] = prof / mean
    return normalised


def gpu_price_usd_per_gpu_hour(
    on_demand_usd_per_gpu_hour: ArrayLike, price_multiplier: ArrayLike
) -> ArrayLike:
    """Return the effective USD per GPU-hour: ``on-demand price × multiplier`` (reserved/spot < 1)."""
    return as_output(
        check_nonnegative("on_demand_usd_per_gpu_hour", on_demand_usd_per_gpu_hour)
        * as_array(price_multiplier)
    )


def replicas_for_peak(
    mean_requests_per_s: ArrayLike,
    peak_to_mean: ArrayLike,
    capacity_requests_per_s_per_replica: ArrayLike,
    target_utilization: ArrayLike = 1.0,
    min_replicas: ArrayLike = 1.0,
) -> ArrayLike:
    """Return replicas a fixed fleet needs for its peak: ``max(min, ⌈mean·peak/(capacity·target)⌉)``."""
    cap = as_array(capacity_requests_per_s_per_replica) * check_fraction(
        "target_utilization", target_utilization
    )
    need = np.ceil(as_array(mean_requests_per_s) * as_array(peak_to_mean) / cap)
    return as_output(np.maximum(as_array(min_replicas), need))


@dataclass(frozen=True)
class FleetCost:
    """A self-hosted fleet over one period: what it costs, how busy it is, and what idles.

    ``utilization`` = served request-seconds / capacity request-seconds paid for (0..1);
    ``idle_cost_usd = cost_usd × (1 − utilization)``; ``unserved_fraction`` is demand above capacity
    (0 for an autoscaled fleet, which is assumed to keep up).
    """

    cost_usd: ArrayLike
    gpu_hours: ArrayLike
    mean_gpus: ArrayLike
    peak_gpus: ArrayLike
    utilization: ArrayLike
    idle_cost_usd: ArrayLike
    served_requests: ArrayLike
    unserved_fraction: ArrayLike
    usd_per_served_request: ArrayLike
    assumptions: tuple[Assumption, ...]


def _fleet_result(
    gpus_t: npt.NDArray[np.float64],
    served_t: npt.NDArray[np.float64],
    demand_t: npt.NDArray[np.float64],
    capacity_t: npt.NDArray[np.float64],
    usd_per_gpu_hour: npt.NDArray[np.float64],
    period_hours: float,
    assumptions: tuple[Assumption, ...],
) -> FleetCost:
    mean_gpus = gpus_t.mean(axis=-1)
    cost = mean_gpus * usd_per_gpu_hour * period_hours
    served_rate, demand_rate, cap_rate = served_t.mean(-1), demand_t.mean(-1), capacity_t.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(cap_rate > 0, served_rate / np.where(cap_rate > 0, cap_rate, 1.0), 0.0)
        unserved = np.where(
            demand_rate > 0, 1.0 - served_rate / np.where(demand_rate > 0, demand_rate, 1.0), 0.0
        )
    served = served_rate * period_hours * 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_request = np.where(served > 0, cost / np.where(served > 0, served, 1.0), np.inf)
    return FleetCost(
        cost_usd=as_output(cost),
        gpu_hours=as_output(mean_gpus * period_hours),
        mean_gpus=as_output(mean_gpus),
        peak_gpus=as_output(gpus_t.max(axis=-1)),
        utilization=as_output(util),
        idle_cost_usd=as_output(cost * (1.0 - util)),
        served_requests=as_output(served),
        unserved_fraction=as_output(np.maximum(unserved, 0.0)),
        usd_per_served_request=as_output(per_request),
        assumptions=assumptions,
    )


def fixed_fleet_cost(
    replicas: ArrayLike,
    usd_per_gpu_hour: ArrayLike,
    mean_requests_per_s: ArrayLike,
    capacity_requests_per_s_per_replica: ArrayLike,
    load_profile: ArrayLike | None = None,
    gpus_per_replica: ArrayLike = 1.0,
    period_hours: float = HOURS_PER_MONTH,
    price_multiplier: ArrayLike = 1.0,
) -> FleetCost:
    """Return the cost of a fixed fleet over ``period_hours`` (USD), paid whether busy or idle.

    ``cost = replicas × gpus_per_replica × usd_per_gpu_hour × multiplier × period_hours``. Served load
    per slice is ``min(demand_t, replicas × capacity)``; utilization is its mean over the capacity;
    the idle dollars are ``cost × (1 − utilization)``. Under a diurnal profile a fleet sized for the
    peak idles off-peak: flat demand at 50 % of capacity gives utilization 0.5 and half the bill idle.
    """
    replicas_a = check_nonnegative("replicas", replicas)
    price = check_nonnegative("usd_per_gpu_hour", usd_per_gpu_hour) * as_array(price_multiplier)
    cap = check_nonnegative("capacity_requests_per_s_per_replica", capacity_requests_per_s_per_replica)
    demand_t = check_nonnegative("mean_requests_per_s", mean_requests_per_s)[..., None] * _profile(
        load_profile
    )
    capacity_t = (replicas_a * cap)[..., None] * np.ones_like(demand_t)
    served_t = np.minimum(demand_t, capacity_t)
    gpus_t = (replicas_a * as_array(gpus_per_replica))[..., None] * np.ones_like(demand_t)
    notes = (
        Assumption("period_hours", period_hours, "given", f"default {HOURS_PER_MONTH} h = 365.25/12 days"),
        Assumption("load_profile", "flat" if load_profile is None else "given", "given"),
        Assumption("billing", "every GPU-hour of the fleet is paid, busy or idle", "fixed fleet"),
    )
    return _fleet_result(gpus_t, served_t, demand_t, capacity_t, price, period_hours, notes)


def autoscaled_fleet_cost(
    usd_per_gpu_hour: ArrayLike,
    mean_requests_per_s: ArrayLike,
    capacity_requests_per_s_per_replica: ArrayLike,
    target_utilization: ArrayLike,
    min_replicas: ArrayLike = 1.0,
    load_profile: ArrayLike | None = None,
    gpus_per_replica: ArrayLike = 1.0,
    period_hours: float = HOURS_PER_MONTH,
    price_multiplier: ArrayLike = 1.0,
) -> FleetCost:
    """Return the cost of a fleet whose replicas follow the load (USD over ``period_hours``).

    Per slice t: ``replicas_t = max(min_replicas, ⌈demand_t / (capacity × target_utilization)⌉)``;
    ``cost = mean_t(replicas_t) × gpus_per_replica × usd_per_gpu_hour × multiplier × period_hours``.
    Assumes scaling keeps up within a slice (no cold-start lag) and billing per slice.
    """
    price = check_nonnegative("usd_per_gpu_hour", usd_per_gpu_hour) * as_array(price_multiplier)
    cap = check_nonnegative("capacity_requests_per_s_per_replica", capacity_requests_per_s_per_replica)
    target = check_fraction("target_utilization", target_utilization)
    demand_t = check_nonnegative("mean_requests_per_s", mean_requests_per_s)[..., None] * _profile(
        load_profile
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.ceil(demand_t / (cap * target)[..., None])
    replicas_t = np.maximum(as_array(min_replicas)[..., None], needed)
    capacity_t = replicas_t * cap[..., None]
    gpus_t = replicas_t * as_array(gpus_per_replica)[..., None]
    notes = (
        Assumption("period_hours", period_hours, "given", f"default {HOURS_PER_MONTH} h = 365.25/12 days"),
        Assumption("load_profile", "flat" if load_profile is None else "given", "given"),
        Assumption("scaling", "replicas follow each time slice's load instantly", "autoscaling idealisation"),
    )
    return _fleet_result(gpus_t, demand_t, demand_t, capacity_t, price, period_hours, notes)


@dataclass(frozen=True)
class OwnedGpuCost:
    """Monthly cost of one owned GPU (USD per GPU-month) by part, and its hourly equivalent."""

    depreciation_usd_per_gpu_month: ArrayLike
    energy_usd_per_gpu_month: ArrayLike
    hosting_usd_per_gpu_month: ArrayLike
    usd_per_gpu_month: ArrayLike
    usd_per_gpu_hour: ArrayLike
    assumptions: tuple[Assumption, ...]


def owned_gpu_cost(
    purchase_price_usd: ArrayLike,
    depreciation_months: ArrayLike,
    power_kw: ArrayLike,
    pue: ArrayLike,
    electricity_usd_per_kwh: ArrayLike,
    hosting_usd_per_gpu_month: ArrayLike = 0.0,
    days_per_month: float = DAYS_PER_MONTH,
) -> OwnedGpuCost:
    """Return the cost of owning one GPU per month (USD/GPU-month) and per hour.

    ``depreciation = purchase / depreciation_months`` (straight line, no resale value, no interest);
    ``energy = power_kw × PUE × usd_per_kwh × 24 × days_per_month`` (``power_kw`` is the average draw of
    the GPU and its share of the server, the caller's choice: TDP is the upper bound);
    ``total = depreciation + energy + hosting``; ``per hour = total / (24 × days_per_month)``.
    PUE (power usage effectiveness) = facility power / IT power, ≥ 1.
    """
    months = as_array(depreciation_months)
    if np.any(~(months > 0)):
        raise InputError("depreciation_months", depreciation_months, "a number of months > 0")
    pue_a = as_array(pue)
    if np.any(~(pue_a >= 1.0)):
        raise InputError("pue", pue, "a power usage effectiveness ≥ 1 (facility power / IT power)")
    hours = HOURS_PER_DAY * days_per_month
    depreciation = check_nonnegative("purchase_price_usd", purchase_price_usd) / months
    energy = (
        check_nonnegative("power_kw", power_kw)
        * pue_a
        * check_nonnegative("electricity_usd_per_kwh", electricity_usd_per_kwh)
        * hours
    )
    hosting = check_nonnegative("hosting_usd_per_gpu_month", hosting_usd_per_gpu_month)
    total = depreciation + energy + hosting
    notes = (
        Assumption("depreciation", "straight line, no resale value, no cost of capital", "convention"),
        Assumption("days_per_month", days_per_month, "convention", "365.25/12 unless given"),
    )
    return OwnedGpuCost(
        as_output(depreciation + 0.0 * total),
        as_output(energy + 0.0 * total),
        as_output(hosting + 0.0 * total),
        as_output(total),
        as_output(total / hours),
        notes,
    )


def self_hosted_usd_per_month(
    requests_per_month: ArrayLike,
    capacity_requests_per_gpu_month: ArrayLike,
    gpu_usd_per_month: ArrayLike,
    fixed_usd_per_month: ArrayLike = 0.0,
    min_gpus: ArrayLike = 1.0,
) -> ArrayLike:
    """Return a self-hosted option's monthly cost (USD), a step function of volume.

    ``cost(R) = max(min_gpus, ⌈R / K⌉) × c + F`` with K = requests one GPU (or replica) serves per month
    at its planned utilization, c = USD per GPU-month, F = fixed USD per month (ops, licences).
    """
    k = as_array(capacity_requests_per_gpu_month)
    gpus = np.maximum(
        as_array(min_gpus), np.ceil(check_nonnegative("requests_per_month", requests_per_month) / k)
    )
    return as_output(gpus * as_array(gpu_usd_per_month) + as_array(fixed_usd_per_month))


@dataclass(frozen=True)
class BreakEven:
    """Volumes (requests/month) where a self-hosted option stops costing more than an API.

    ``first_requests_per_month``: smallest volume at which self-hosting costs ≤ the API.
    ``always_requests_per_month``: volume above which self-hosting costs ≤ the API at every volume
    (between the two, adding one more GPU can briefly make the API cheaper again).
    Both are ``inf`` where ``never`` is true: the API is always cheaper within ``max_requests_per_month``.
    """

    first_requests_per_month: ArrayLike
    always_requests_per_month: ArrayLike
    never: npt.NDArray[np.bool_] | bool
    assumptions: tuple[Assumption, ...]


def break_even_requests_per_month(
    api_usd_per_request: ArrayLike,
    capacity_requests_per_gpu_month: ArrayLike,
    gpu_usd_per_month: ArrayLike,
    fixed_usd_per_month: ArrayLike = 0.0,
    min_gpus: ArrayLike = 1.0,
    max_requests_per_month: ArrayLike = np.inf,
) -> BreakEven:
    """Return the break-even volume between an API (``a·R``) and a self-hosted fleet (step function).

    With a = API USD/request, K = requests per GPU-month, c = USD per GPU-month, F = fixed USD/month,
    n₀ = min_gpus and ``d = a·K − c`` (what one full GPU saves against the API): if ``d ≤ 0`` or a = 0,
    self-hosting never wins. Otherwise, within step n (``R ∈ ((n−1)K, nK]``, and ``[0, n₀K]`` for n₀),
    self-hosting wins once ``a·R ≥ n·c + F``, which is possible iff ``n·d ≥ F``. So
    ``n* = max(n₀, ⌈F/d⌉)`` and ``first = max((n*·c + F)/a, lower(n*))``. Whole steps win from
    ``m = max(n₀ + 1, ⌈(a·K + F)/d⌉)`` on, so ``always = min(((m−1)·c + F)/a, (m−1)·K)``.
    Results above ``max_requests_per_month`` count as never.
    """
    a = check_nonnegative("api_usd_per_request", api_usd_per_request)
    k = as_array(capacity_requests_per_gpu_month)
    if np.any(~(k > 0)):
        raise InputError("capacity_requests_per_gpu_month", capacity_requests_per_gpu_month, "a number > 0")
    c = check_nonnegative("gpu_usd_per_month", gpu_usd_per_month)
    f = check_nonnegative("fixed_usd_per_month", fixed_usd_per_month)
    n0 = np.maximum(as_array(min_gpus), 1.0)  # any volume > 0 needs a GPU
    a, k, c, f, n0 = np.broadcast_arrays(a, k, c, f, n0)
    d = a * k - c
    wins = (d > 0) & (a > 0)
    safe_d, safe_a = np.where(wins, d, 1.0), np.where(wins, a, 1.0)
    n_star = np.maximum(n0, np.ceil(f / safe_d))
    lower = np.where(n_star > n0, (n_star - 1.0) * k, 0.0)
    first = np.maximum((n_star * c + f) / safe_a, lower)
    m = np.maximum(n0 + 1.0, np.ceil((safe_a * k + f) / safe_d))
    always = np.minimum(((m - 1.0) * c + f) / safe_a, (m - 1.0) * k)
    never = ~wins | (first > as_array(max_requests_per_month))
    notes = (
        Assumption("api_cost", "linear in requests (no volume discounts)", "model"),
        Assumption("self_hosted_cost", "max(min_gpus, ceil(R/K))·c + F", "model"),
    )
    never_out: npt.NDArray[np.bool_] | bool = bool(never) if never.ndim == 0 else never
    return BreakEven(
        as_output(np.where(never, np.inf, first)),
        as_output(np.where(~wins, np.inf, always)),
        never_out,
        notes,
    )
