"""A small hand-made projection result for the report tests.

The numbers are fixture values chosen to be easy to check by eye (no claim about real prices): an API
option at $0.002 per request, a self-hosted option at a flat $4,000 a month plus $20,000 of training in
month 1, six months of traffic doubling from 0.5M to 16M requests.
"""

from __future__ import annotations

import math
from itertools import accumulate

from flopbill.estimate.core.assumptions import Assumption
from flopbill.scenario.result import (
    BreakEven,
    CostComponent,
    Crossover,
    MonteCarloSummary,
    OneTimeCost,
    OptionProjection,
    OptionUncertainty,
    Percentiles,
    ScenarioResult,
    Tornado,
    TornadoRow,
    TrafficProjection,
    VolumeCostCurve,
)

MONTHS = (1, 2, 3, 4, 5, 6)
REQUESTS = (0.5e6, 1e6, 2e6, 4e6, 8e6, 16e6)
API_USD_PER_REQUEST = 0.002
GPU_USD_PER_MONTH = 4000.0
TRAINING_USD = 20_000.0


def _option(
    name: str, kind: str, label: str, recurring: tuple[float, ...], one_time: float
) -> OptionProjection:
    one_time_series = (one_time, 0.0, 0.0, 0.0, 0.0, 0.0)
    monthly = tuple(r + o for r, o in zip(recurring, one_time_series, strict=True))
    components = [CostComponent("api" if kind == "api" else "gpu_rental", "running cost", recurring)]
    if one_time:
        components.append(CostComponent("one_time", "fine-tuning", one_time_series, one_time=True))
    total = sum(monthly)
    return OptionProjection(
        name=name,
        kind=kind,
        label=label,
        components=tuple(components),
        monthly_cost_usd=monthly,
        recurring_cost_usd=recurring,
        cumulative_cost_usd=tuple(accumulate(monthly)),
        cost_per_request_usd=tuple(r / q for r, q in zip(recurring, REQUESTS, strict=True)),
        cost_per_user_usd_per_month=tuple(r / 1e4 for r in recurring),
        gross_margin=tuple(1 - r / (0.01 * q) for r, q in zip(recurring, REQUESTS, strict=True)),
        gross_profit_usd=tuple(0.01 * q - r for r, q in zip(recurring, REQUESTS, strict=True)),
        total_cost_usd=total,
        total_one_time_usd=one_time,
        total_recurring_usd=sum(recurring),
        lifetime_cost_per_request_usd=total / sum(REQUESTS),
        notes=(f"{label} note",),
        assumptions=(Assumption(f"{name} price", 1.0, "fixture, checked 2025-01-01"),),
    )


def _uncertainty(opt: OptionProjection, cheapest: float) -> OptionUncertainty:
    low = tuple(0.8 * c for c in opt.monthly_cost_usd)
    high = tuple(1.3 * c for c in opt.monthly_cost_usd)
    total = Percentiles(0.8 * opt.total_cost_usd, opt.total_cost_usd, 1.3 * opt.total_cost_usd)
    per_request = Percentiles(0.8, 1.0, 1.3)
    return OptionUncertainty(
        opt.name,
        low,
        opt.monthly_cost_usd,
        high,
        low,
        opt.cumulative_cost_usd,
        high,
        total,
        per_request,
        cheapest,
    )


def _traffic() -> TrafficProjection:
    return TrafficProjection(
        months=MONTHS,
        days_per_month=30.0,
        requests=REQUESTS,
        ai_requests=REQUESTS,
        model_calls=REQUESTS,
        daily_active_users=(1e4,) * 6,
        mean_requests_per_s=tuple(q / (30 * 86400) for q in REQUESTS),
        peak_requests_per_s=tuple(3 * q / (30 * 86400) for q in REQUESTS),
        spike_multiplier=(1.0,) * 6,
    )


def _curves() -> tuple[VolumeCostCurve, ...]:
    """API: $0.002 × 30 days × volume; GPU: $4,000 per replica, one replica per 100k requests/day."""
    volumes = tuple(10 ** (3 + k / 8) for k in range(25))  # 1k .. 1M requests/day
    replicas = tuple(math.ceil(v / 1e5) for v in volumes)
    return (
        VolumeCostCurve("api-mini", volumes, tuple(API_USD_PER_REQUEST * 30 * v for v in volumes)),
        VolumeCostCurve("h100", volumes, tuple(GPU_USD_PER_MONTH * r for r in replicas)),
    )


def _tornado(gpu: OptionProjection) -> Tornado:
    rows = (
        TornadoRow("gpu price USD/h", 2.0, 2.5, 3.5, 38_000.0, 56_000.0, 18_000.0),
        TornadoRow("MFU", 0.35, 0.42, 0.5, 47_000.0, 41_000.0, 6_000.0),
    )
    return Tornado("h100", "total_cost_usd", gpu.total_cost_usd, rows)


def make_result(name: str = "Support bot", monte_carlo: bool = True, extras: bool = True) -> ScenarioResult:
    """Return the fixture result.

    ``monte_carlo=False`` drops the ranges (no tornado, no bands); ``extras=False`` drops one-time costs,
    break-evens, crossovers and cost curves.
    """
    api = _option("api-mini", "api", "API mini", tuple(API_USD_PER_REQUEST * q for q in REQUESTS), 0.0)
    gpu = _option("h100", "self_hosted", "Self-hosted on H100", (GPU_USD_PER_MONTH,) * 6, TRAINING_USD)
    break_even = BreakEven(
        "api-mini", "h100", 4000.0 / (API_USD_PER_REQUEST * 30), 4000.0, "api-mini", "h100", REQUESTS[0] / 30
    )
    mc = MonteCarloSummary(
        1000, 7, "triangular", ("gpu price USD/h", "MFU"), (_uncertainty(api, 0.3), _uncertainty(gpu, 0.7))
    )
    training = OneTimeCost("fine-tuning", TRAINING_USD, 1, "fixture", 8000.0, "h100-sxm")
    return ScenarioResult(
        name=name,
        description="Answers customer questions <b>fast</b> & cheaply.",
        horizon_months=6,
        traffic=_traffic(),
        revenue_usd=tuple(0.01 * q for q in REQUESTS),
        options=(api, gpu),
        one_time_costs=(training,) if extras else (),
        cheapest_option="h100",
        break_evens=(break_even,) if extras else (),
        crossovers=(Crossover("h100", TRAINING_USD, 6, 6 * GPU_USD_PER_MONTH, ""),) if extras else (),
        router_savings=(),
        idle_costs=(),
        tornado=(_tornado(gpu),) if monte_carlo else (),
        monte_carlo=mc if monte_carlo else None,
        assumptions=(
            Assumption("days per month", 30.0, "given"),
            Assumption("H100 price", 2.49, "example cloud price page, checked 2025-06-01", "on-demand"),
        ),
        resolved_scenario={
            "name": name,
            "horizon_months": 6,
            "options": [{"name": "api-mini"}, {"name": "h100"}],
        },
        notes=("All prices in USD.",),
        cost_curves=_curves() if extras else (),
    )
