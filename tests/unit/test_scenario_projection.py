"""Break-even, crossover, router, idle and spikes through the scenario engine; hand calculations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from flopbill.scenario.jsonschema import scenario_json_schema
from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.projection import project

TODAY = dt.date(2025, 1, 1)
ROOT = Path(__file__).resolve().parents[2]


def _gpu(name: str = "gpu", **kw: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "kind": "self_hosted",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "throughput_requests_per_s_per_replica": 10,
        "price_usd_per_gpu_hour": 2,
    }
    return {**base, **kw}


def _run(options: list[dict[str, Any]], traffic: dict[str, Any] | None = None, **extra: Any) -> Any:
    data = {
        "name": "t",
        "horizon_months": extra.pop("horizon_months", 12),
        "days_per_month": 30,
        "traffic": traffic or {"requests_per_day": 100_000},
        "request": {"input_tokens": 1000, "output_tokens": 200},
        "options": options,
        "monte_carlo": {"samples": 0},
        **extra,
    }
    return project(scenario_from_dict(data), today=TODAY)


def test_break_even_single_replica() -> None:
    """API $0.001/call; one replica serves 10 calls/s for $2/h; 30-day month, flat traffic.

    Replica: $2 × 720 h = $1,440/month; capacity 10 × 86,400 × 30 = 25.92M calls/month.
    Break-even: 0.001 × 30 × V = 1,440 → V = 48,000 requests/day (one replica suffices).
    """
    result = _run([{"name": "api", "kind": "api", "price_usd_per_request": 0.001}, _gpu()])
    (be,) = result.break_evens
    assert be.requests_per_day == pytest.approx(48_000.0)
    assert be.monthly_cost_usd == pytest.approx(1_440.0)
    assert (be.cheaper_below, be.cheaper_above) == ("api", "gpu")


def test_break_even_with_peak_factor_and_utilization() -> None:
    """Peak factor 2, target utilization 0.5: a replica serves 10 × 0.5 / 2 = 2.5 calls/s on average.

    K = 2.5 × 86,400 × 30 = 6.48M calls/month; c = $1,440; a = $0.0001 → a·K = $648 < c: never.
    With a = $0.001: a·K = $6,480 > c → V = 1,440 / (0.001 × 30) = 48,000/day (≤ K/30 = 216,000/day).
    """
    traffic = {"requests_per_day": 100_000, "peak_factor": 2}
    cheap = _run(
        [{"name": "api", "kind": "api", "price_usd_per_request": 0.0001}, _gpu(target_utilization=0.5)],
        traffic,
    )
    assert cheap.break_evens[0].requests_per_day is None
    dear = _run(
        [{"name": "api", "kind": "api", "price_usd_per_request": 0.001}, _gpu(target_utilization=0.5)],
        traffic,
    )
    assert dear.break_evens[0].requests_per_day == pytest.approx(48_000.0)


def test_break_even_counts_ai_share_and_samples() -> None:
    """ai_share 0.5 and 2 samples per request: 1 product request = 1 model call.

    Same as the single-replica case in calls (1.44M calls/month = 48,000 calls/day) → 48,000 requests/day.
    With ai_share 0.25 and 2 samples: 0.5 calls per request → 96,000 requests/day.
    """
    api = {"name": "api", "kind": "api", "price_usd_per_request": 0.001}
    r1 = _run(
        [api, _gpu()],
        {"requests_per_day": 1000, "ai_share": 0.5},
        request={"input_tokens": 1, "output_tokens": 1, "samples_per_request": 2},
    )
    assert r1.break_evens[0].requests_per_day == pytest.approx(48_000.0)
    r2 = _run(
        [api, _gpu()],
        {"requests_per_day": 1000, "ai_share": 0.25},
        request={"input_tokens": 1, "output_tokens": 1, "samples_per_request": 2},
    )
    assert r2.break_evens[0].requests_per_day == pytest.approx(96_000.0)


def test_crossover_month() -> None:
    """One-time $100,000; inference $0.005 × 100,000/day × 30 = $15,000/month.

    Cumulative: 15k, 30k, ..., 90k (month 6), 105k (month 7) → crossover in month 7.
    """
    result = _run(
        [{"name": "api", "kind": "api", "price_usd_per_request": 0.005}],
        one_time=[{"name": "train", "cost_usd": 100_000}],
    )
    (c,) = result.crossovers
    assert c.month == 7
    assert c.cumulative_inference_usd_at_month == pytest.approx(105_000.0)


def test_crossover_not_reached() -> None:
    """$1M one-time vs $15,000/month for 12 months = $180,000 < $1M → no crossover."""
    result = _run(
        [{"name": "api", "kind": "api", "price_usd_per_request": 0.005}],
        one_time=[{"name": "train", "cost_usd": "1M"}],
    )
    assert result.crossovers[0].month is None


def test_fixed_fleet_replicas_and_idle() -> None:
    """100,000 calls/day = 1.157 calls/s mean; peak factor 2 → 2.31/s; 10/s per replica → 1 replica.

    Cost $1,440/month; utilization 1.157/10 = 11.6 %, so 88.4 % of the bill idles.
    """
    result = _run([_gpu()], {"requests_per_day": 100_000, "peak_factor": 2})
    opt = result.option("gpu")
    assert opt.gpus is not None and opt.gpus[0] == 1
    assert opt.monthly_cost_usd[0] == pytest.approx(1_440.0)
    (idle,) = result.idle_costs
    assert idle.idle_fraction == pytest.approx(1 - 100_000 / 86_400 / 10)


def test_router_savings() -> None:
    """Large $0.01/call, small $0.001/call, 70 % to small, 10 % escalated: per call
    0.3·0.01 + 0.7·0.001 + 0.07·0.01 = $0.0044, saving 56 % against $0.01."""
    options = [
        {"name": "big", "kind": "api", "price_usd_per_request": 0.01},
        {"name": "small", "kind": "api", "price_usd_per_request": 0.001},
        {
            "name": "r",
            "kind": "router",
            "small": "small",
            "large": "big",
            "small_share": 0.7,
            "escalation_rate": 0.1,
        },
    ]
    result = _run(options)
    (saving,) = result.router_savings
    assert saving.savings_fraction == pytest.approx(0.56)
    assert result.option("r").cost_per_request_usd[0] == pytest.approx(0.0044)


def test_spike_adds_volume_in_its_months() -> None:
    """×10 for 45 days from month 2 of 30-day months: month 2 has 30 spike days, month 3 has 15.

    Month volume = r·(30 + 9·days): 1,000/day → 30,000; 300,000; 165,000; back to 30,000.
    """
    traffic = {"requests_per_day": 1000, "spikes": [{"month": 2, "multiplier": 10, "duration_days": 45}]}
    result = _run([{"name": "api", "kind": "api", "price_usd_per_request": 0.001}], traffic)
    assert result.traffic.requests[:4] == pytest.approx((30_000, 300_000, 165_000, 30_000))


def test_owned_depreciation_and_power() -> None:
    """One owned GPU (a 1-GPU server): $36,000 over 3 years = $1,000/month; 1 kW × PUE 1.5 × $0.1/kWh ×
    720 h = $108. Depreciation stops after 36 months: a 40-month horizon has 36 × $1,000.
    """
    owned = {
        "name": "own",
        "kind": "owned",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "throughput_requests_per_s_per_replica": 10,
        "purchase_price_usd_per_gpu": 36_000,
        "gpus_per_server": 1,
        "server_extras_usd_per_server": 0,
        "depreciation_years": 3,
        "power_w_per_gpu": 1000,
        "pue": 1.5,
        "electricity_usd_per_kwh": 0.1,
    }
    result = _run([owned], horizon_months=40)
    parts = {c.name: c for c in result.option("own").components}
    assert parts["gpu_depreciation"].monthly_usd[0] == pytest.approx(1_000.0)
    assert parts["gpu_depreciation"].total_usd == pytest.approx(36_000.0)
    assert parts["power"].monthly_usd[0] == pytest.approx(108.0)


def test_json_schema_is_up_to_date() -> None:
    """schemas/scenario.schema.json is generated: `python -m flopbill.scenario.jsonschema`."""
    path = ROOT / "schemas" / "scenario.schema.json"
    assert path.read_text(encoding="utf-8") == scenario_json_schema()
    assert json.loads(path.read_text(encoding="utf-8"))["additionalProperties"] is False
