"""Break-even daily volume between each API option and each GPU-backed option, at expected inputs.

The API costs ``a`` USD per model call (linear in volume). A GPU-backed option costs what the projection
bills for the same volume (:func:`flopbill.scenario.costs.fleet_month`, one fleet model for both): whole
replicas per hour of the diurnal curve, whole instances, billing increments, cold starts and scale to
zero; owned GPUs as whole servers at their monthly cost. That cost is a step function of volume, so the
break-even is found numerically: the smallest volume on a fine log grid (refined by bisection) at which
the GPU option costs no more than the API, and "never" when it costs more at every volume up to
10¹² calls/month. Spikes are left out. Volumes are product requests per day:
``calls/month ÷ (days × ai_share × samples per request)``.
"""

from __future__ import annotations

import numpy as np

from flopbill.estimate.pricing.economics import SECONDS_PER_DAY
from flopbill.estimate.pricing.fleet import owned_gpu_cost
from flopbill.scenario.costs import Context, _api_cost_per_call, fleet_month
from flopbill.scenario.engine import Evaluation
from flopbill.scenario.inputs import Resolved
from flopbill.scenario.result import BreakEven, VolumeCostCurve
from flopbill.scenario.schema import ApiOption, GpuBacked, OwnedOption, SelfHostedOption

_GRID = np.geomspace(1.0, 1e12, 1201)  # calls per month


def _owned_usd_per_gpu_month(opt: OwnedOption, ctx: Context) -> float:
    key = f"options.{opt.name}"
    extras = ctx.v[f"{key}.server_extras_usd_per_server"][0] / opt.gpus_per_server
    per_gpu = owned_gpu_cost(
        purchase_price_usd=ctx.v[f"{key}.purchase_price_usd_per_gpu"][0] + extras,
        depreciation_months=ctx.v[f"{key}.depreciation_years"][0] * 12.0,
        power_kw=ctx.v[f"{key}.power_w_per_gpu"][0] / 1e3,
        pue=ctx.v[f"{key}.pue"][0],
        electricity_usd_per_kwh=ctx.v[f"{key}.electricity_usd_per_kwh"][0],
        hosting_usd_per_gpu_month=ctx.v[f"{key}.hosting_usd_per_gpu_month"][0],
        days_per_month=ctx.resolved.scenario.days_per_month,
    )
    return float(per_gpu.usd_per_gpu_month)


def gpu_monthly_usd(gpu: GpuBacked, ctx: Context, calls_per_month: np.ndarray) -> np.ndarray:
    """Return the GPU option's recurring USD per month at each volume (calls/month), expected inputs."""
    days = ctx.resolved.scenario.days_per_month
    base = np.asarray(calls_per_month, dtype=np.float64).reshape(1, -1) / (days * SECONDS_PER_DAY)
    flat = np.zeros_like(base)
    fm = fleet_month(gpu, ctx, base, flat, flat + 1.0, flat + 1.0)
    key = f"options.{gpu.name}"
    terms = ctx.resolved.fleet[gpu.name]
    if isinstance(gpu, SelfHostedOption):
        usd = fm.instance_hours * terms.gpus_per_instance * float(ctx.v[f"{key}.price_usd_per_gpu_hour"][0])
    elif isinstance(gpu, OwnedOption):
        usd = fm.peak_instances * gpu.gpus_per_server * _owned_usd_per_gpu_month(gpu, ctx)
    else:
        price = float(ctx.v[f"{key}.price_usd_per_gpu_second"][0])
        usd = fm.instance_hours * 3600.0 * gpu.gpus_per_replica * price
    return np.asarray(usd[0], dtype=np.float64)


def _first_win(a: float, gpu: GpuBacked, ctx: Context) -> tuple[float | None, float | None]:
    """Return (first calls/month where the GPU option costs ≤ the API, last grid volume above it where the
    API wins again), or (None, None) when the GPU option never wins on the grid."""
    wins = gpu_monthly_usd(gpu, ctx, _GRID) <= a * _GRID
    if not np.any(wins):
        return None, None
    i = int(np.argmax(wins))
    if i == 0:
        first = float(_GRID[0])
    else:
        lo, hi = float(_GRID[i - 1]), float(_GRID[i])
        for _ in range(40):
            mid = float(np.sqrt(lo * hi))
            won = gpu_monthly_usd(gpu, ctx, np.array([mid]))[0] <= a * mid
            lo, hi = (lo, mid) if won else (mid, hi)
        first = hi
    later_losses = np.flatnonzero(~wins[i:])
    again = float(_GRID[i + later_losses[-1]]) if later_losses.size else None
    return first, again


def break_even(api: ApiOption, gpu: GpuBacked, ctx: Context) -> BreakEven:
    """Return the break-even between ``api`` and ``gpu`` in product requests per day."""
    days = ctx.resolved.scenario.days_per_month
    a = float(_api_cost_per_call(api, ctx)[0, 0])
    calls_per_request = float(ctx.v["traffic.ai_share"][0] * ctx.v["request.samples_per_request"][0])
    current = float(ctx.traffic.requests[0, 0]) / days
    first, again = _first_win(a, gpu, ctx) if a > 0 and calls_per_request > 0 else (None, None)
    if first is None:
        note = "the API is cheaper at every volume (whole instances cost more than their calls via the API)"
        return BreakEven(api.name, gpu.name, None, None, api.name, None, current, note)
    per_day = first / (days * calls_per_request)
    note = ""
    if again is not None and again > first:
        note = (
            f"{gpu.name} wins from {per_day:,.0f} requests/day; just past each added instance the API can "
            f"win again, up to {again / (days * calls_per_request):,.0f} requests/day"
        )
    return BreakEven(api.name, gpu.name, per_day, a * first, api.name, gpu.name, current, note)


def break_evens(resolved: Resolved, ev: Evaluation) -> tuple[BreakEven, ...]:
    """Return a break-even for every (API option, self-hosted or owned option) pair."""
    from flopbill.estimate.core.uncertainty import expected_inputs

    ctx = Context(resolved, expected_inputs(resolved.ranges), ev.traffic)
    apis = [o for o in resolved.scenario.options if isinstance(o, ApiOption)]
    gpus = [o for o in resolved.scenario.options if isinstance(o, GpuBacked)]
    return tuple(break_even(a, g, ctx) for a in apis for g in gpus)


def cost_curves(
    resolved: Resolved, ev: Evaluation, evens: tuple[BreakEven, ...], points: int = 60
) -> tuple[VolumeCostCurve, ...]:
    """Return each API and GPU-backed option's recurring monthly cost (USD) over daily volumes.

    Same model as :func:`break_even` (API: ``a`` per call; GPU: the projection's fleet model), on one
    log-spaced grid of product requests per day from 0.1× the smallest to 10× the largest of the
    month-1 volume and every break-even volume (both on the grid), so the curves meet at the break-evens.
    """
    from flopbill.estimate.core.uncertainty import expected_inputs

    ctx = Context(resolved, expected_inputs(resolved.ranges), ev.traffic)
    s = resolved.scenario
    apis = [o for o in s.options if isinstance(o, ApiOption)]
    gpus = [o for o in s.options if isinstance(o, GpuBacked)]
    if not apis or not gpus:
        return ()
    marks = [float(ctx.traffic.requests[0, 0]) / s.days_per_month]
    marks += [b.requests_per_day for b in evens if b.requests_per_day]
    marks = [m for m in marks if m > 0]
    if not marks:
        return ()
    grid = np.unique(np.concatenate([np.geomspace(min(marks) / 10.0, max(marks) * 10.0, points), marks]))
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
