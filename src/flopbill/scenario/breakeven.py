"""Break-even daily volume between each API option and each GPU-backed option, at expected inputs.

The API costs ``a`` USD per model call (linear in volume). A GPU option is a step function: one
replica costs ``c`` USD per month and serves ``K = c_rps · u · 86 400 · days / p`` calls per month,
where ``c_rps`` is its throughput, ``u`` the target utilization and ``p`` the diurnal peak factor (a
fleet sized for the busiest hour serves ``1/p`` of its capacity on average). The volume comes from
:func:`flopbill.estimate.fleet.break_even_requests_per_month` and is turned into product requests per
day: ``calls/month ÷ (days × ai_share × samples per request)``.

An autoscaling fleet follows the daily curve as the projection does: with ``D = calls / K₀`` replicas of
mean demand (``K₀ = c_rps · u · 86 400 · days``, no peak division) and a floor of ``m`` replicas it runs
``D · G(m/D, p)`` replicas on average (:func:`flopbill.scenario.diurnal.mean_of_floor_max`). Its cost per
call ``(c/K₀)·G(m/D, p)`` falls monotonically towards ``c/K₀`` as volume grows, so the break-even is the
single volume where it meets the API's ``a`` (found by bisection), and "never" when ``c/K₀ ≥ a``. Spikes
are left out.
"""

from __future__ import annotations

import numpy as np

from flopbill.estimate.economics import HOURS_PER_DAY, SECONDS_PER_DAY
from flopbill.estimate.fleet import break_even_requests_per_month, owned_gpu_cost, self_hosted_usd_per_month
from flopbill.scenario.costs import Context, _api_cost_per_call, _capacity
from flopbill.scenario.diurnal import mean_of_floor_max
from flopbill.scenario.engine import Evaluation
from flopbill.scenario.inputs import Resolved
from flopbill.scenario.result import BreakEven, VolumeCostCurve
from flopbill.scenario.schema import ApiOption, OwnedOption, SelfHostedOption


def _replica_usd_per_month(opt: SelfHostedOption | OwnedOption, ctx: Context) -> float:
    key = f"options.{opt.name}"
    days = ctx.resolved.scenario.days_per_month
    if isinstance(opt, SelfHostedOption):
        return (
            float(ctx.col(f"{key}.price_usd_per_gpu_hour")[0, 0])
            * HOURS_PER_DAY
            * days
            * opt.gpus_per_replica
        )
    per_gpu = owned_gpu_cost(
        purchase_price_usd=ctx.v[f"{key}.purchase_price_usd_per_gpu"][0],
        depreciation_months=ctx.v[f"{key}.depreciation_years"][0] * 12.0,
        power_kw=ctx.v[f"{key}.power_w_per_gpu"][0] / 1e3,
        pue=ctx.v[f"{key}.pue"][0],
        electricity_usd_per_kwh=ctx.v[f"{key}.electricity_usd_per_kwh"][0],
        hosting_usd_per_gpu_month=ctx.v[f"{key}.hosting_usd_per_gpu_month"][0],
        days_per_month=days,
    )
    return float(per_gpu.usd_per_gpu_month) * opt.gpus_per_replica


def _autoscales(gpu: SelfHostedOption | OwnedOption) -> bool:
    return isinstance(gpu, SelfHostedOption) and gpu.fleet == "autoscale"


def _step_inputs(gpu: SelfHostedOption | OwnedOption, ctx: Context) -> tuple[float, float, float]:
    """Return (K calls per replica-month, c USD per replica-month, replica floor) at expected inputs.

    Fixed and owned fleets are sized for the busiest hour (``K`` divided by the peak factor); an
    autoscaling fleet's ``K`` is its mean-load capacity (see the module docstring).
    """
    days = ctx.resolved.scenario.days_per_month
    cap = float(_capacity(gpu, ctx)[0, 0])
    u = float(ctx.v[f"options.{gpu.name}.target_utilization"][0])
    peak = float(ctx.v["traffic.peak_factor"][0])
    k = cap * u * SECONDS_PER_DAY * days
    if _autoscales(gpu):
        assert isinstance(gpu, SelfHostedOption)
        return k, _replica_usd_per_month(gpu, ctx), float(gpu.min_replicas)
    replicas = getattr(gpu, "replicas", None)
    floor = float(replicas) if replicas else 1.0
    return k / peak, _replica_usd_per_month(gpu, ctx), floor


def gpu_monthly_usd(
    gpu: SelfHostedOption | OwnedOption, ctx: Context, calls_per_month: np.ndarray
) -> np.ndarray:
    """Return the GPU option's recurring USD per month at each volume (calls/month), expected inputs."""
    k, c, floor = _step_inputs(gpu, ctx)
    if _autoscales(gpu):
        demand = np.asarray(calls_per_month, dtype=np.float64) / k
        peak = float(ctx.v["traffic.peak_factor"][0])
        safe = np.where(demand > 0, demand, 1.0)
        replicas = np.where(demand > 0, safe * mean_of_floor_max(floor / safe, peak), floor)
        return np.asarray(c * replicas, dtype=np.float64)
    return np.asarray(self_hosted_usd_per_month(calls_per_month, k, c, 0.0, floor), dtype=np.float64)


def _autoscale_break_even_calls(a: float, gpu: SelfHostedOption, ctx: Context) -> float | None:
    """Return calls/month where the autoscaling fleet's cost per call falls to the API's ``a``, or None."""
    k, c, _ = _step_inputs(gpu, ctx)
    if c / k >= a:
        return None
    lo, hi = 1e-6, 1e21  # calls/month; cost per call is monotone in volume, so bisect in log space
    for _ in range(200):
        mid = float(np.sqrt(lo * hi))
        per_call = float(gpu_monthly_usd(gpu, ctx, np.array([mid]))[0]) / mid
        lo, hi = (mid, hi) if per_call > a else (lo, mid)
    return hi


def break_even(api: ApiOption, gpu: SelfHostedOption | OwnedOption, ctx: Context) -> BreakEven:
    """Return the break-even between ``api`` and ``gpu`` in product requests per day."""
    s = ctx.resolved.scenario
    days = s.days_per_month
    a = float(_api_cost_per_call(api, ctx)[0, 0])
    calls_per_request = float(ctx.v["traffic.ai_share"][0] * ctx.v["request.samples_per_request"][0])
    current = float(ctx.traffic.requests[0, 0]) / days
    if _autoscales(gpu):
        assert isinstance(gpu, SelfHostedOption)
        calls = _autoscale_break_even_calls(a, gpu, ctx)
        if calls is None or calls_per_request <= 0:
            note = "the API is cheaper at every volume (a fully used replica costs more than its calls)"
            return BreakEven(api.name, gpu.name, None, None, api.name, None, current, note)
        per_day = calls / (days * calls_per_request)
        return BreakEven(api.name, gpu.name, per_day, a * calls, api.name, gpu.name, current, "")
    k, c, floor = _step_inputs(gpu, ctx)
    result = break_even_requests_per_month(a, k, c, 0.0, floor)
    if bool(result.never) or calls_per_request <= 0:
        note = "the API is cheaper at every volume (one full replica costs more than its calls via the API)"
        return BreakEven(api.name, gpu.name, None, None, api.name, None, current, note)
    first_calls = float(result.first_requests_per_month)
    per_day = first_calls / (days * calls_per_request)
    note = ""
    always = float(result.always_requests_per_month)
    if np.isfinite(always) and always > first_calls * (1 + 1e-9):
        note = (
            f"{gpu.name} wins from {per_day:,.0f} requests/day; just past each added replica the API can "
            f"win again, up to {always / (days * calls_per_request):,.0f} requests/day"
        )
    return BreakEven(api.name, gpu.name, per_day, a * first_calls, api.name, gpu.name, current, note)


def break_evens(resolved: Resolved, ev: Evaluation) -> tuple[BreakEven, ...]:
    """Return a break-even for every (API option, self-hosted or owned option) pair."""
    from flopbill.estimate.uncertainty import expected_inputs

    ctx = Context(resolved, expected_inputs(resolved.ranges), ev.traffic)
    apis = [o for o in resolved.scenario.options if isinstance(o, ApiOption)]
    gpus = [o for o in resolved.scenario.options if isinstance(o, SelfHostedOption | OwnedOption)]
    return tuple(break_even(a, g, ctx) for a in apis for g in gpus)


def cost_curves(
    resolved: Resolved, ev: Evaluation, evens: tuple[BreakEven, ...], points: int = 60
) -> tuple[VolumeCostCurve, ...]:
    """Return each API and GPU-backed option's recurring monthly cost (USD) over daily volumes.

    Same model as :func:`break_even` (API: ``a`` per call; GPU: ``c · max(floor, ⌈calls/K⌉)``), on one
    log-spaced grid of product requests per day from 0.1× the smallest to 10× the largest of the
    month-1 volume and every break-even volume, so the curves cross at the break-even points.
    """
    from flopbill.estimate.uncertainty import expected_inputs

    ctx = Context(resolved, expected_inputs(resolved.ranges), ev.traffic)
    s = resolved.scenario
    apis = [o for o in s.options if isinstance(o, ApiOption)]
    gpus = [o for o in s.options if isinstance(o, SelfHostedOption | OwnedOption)]
    if not apis or not gpus:
        return ()
    marks = [float(ctx.traffic.requests[0, 0]) / s.days_per_month]
    marks += [b.requests_per_day for b in evens if b.requests_per_day]
    marks = [m for m in marks if m > 0]
    if not marks:
        return ()
    grid = np.geomspace(min(marks) / 10.0, max(marks) * 10.0, points)
    calls = (
        grid
        * s.days_per_month
        * float(ctx.v["traffic.ai_share"][0] * ctx.v["request.samples_per_request"][0])
    )
    curves = [
        VolumeCostCurve(
            api.name,
            tuple(grid.tolist()),
            tuple((float(_api_cost_per_call(api, ctx)[0, 0]) * calls).tolist()),
        )
        for api in apis
    ]
    for gpu in gpus:
        cost = gpu_monthly_usd(gpu, ctx, calls)
        curves.append(VolumeCostCurve(gpu.name, tuple(grid.tolist()), tuple(cost.tolist())))
    return tuple(curves)
