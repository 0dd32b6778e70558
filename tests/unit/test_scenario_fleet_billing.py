"""Product economics a CFO would sign: whole instances, cold starts, unserved demand, SLO-priced batches,
payback months and the price date. Every expected value is a hand calculation in the docstring."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from flopbill.errors import InputError
from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.projection import project


def _run(options: list[dict[str, Any]], traffic: dict[str, Any] | None = None, **extra: Any) -> Any:
    data = {
        "name": "t",
        "horizon_months": extra.pop("horizon_months", 3),
        "days_per_month": 30,
        "traffic": traffic or {"requests_per_day": 1000},
        "request": {"input_tokens": 1000, "output_tokens": 200},
        "options": options,
        "monte_carlo": {"samples": 0},
        **extra,
    }
    return project(scenario_from_dict(data))


_H100_NODE = {
    "name": "h100",
    "kind": "self_hosted",
    "model": "llama-3.1-8b",
    "gpu": "h100-sxm",
    "fleet": "autoscale",
    "min_replicas": 0,
    "price_usd_per_gpu_hour": 6.88,
    "gpus_per_instance": 8,
    "billing_increment_s": 1,
    "billing_minimum_s": 60,
    "throughput_requests_per_s_per_replica": 10,
    "target_utilization": 1.0,
    "cold_start_s": 112,
}


def test_scale_to_zero_h100_node_bills_whole_instance_time_and_loses_to_gpt_4o_mini() -> None:
    """1,000 requests/day (flat) on an autoscaling 8-GPU H100 node (AWS p5.48xlarge, $6.88/GPU-h), min 0.

    λ = 1,000/86,400 = 0.011574/s; the last replica stays 300 s after a request, so the node is down a
    share e^(−λ·300) = e^(−3.4722) = 0.031056 of the time and starts cold λ·0.031056·3,600 = 1.2940 times
    an hour, each billed 112 s + ½ s rounding (> the 60 s minimum): up share 0.968944 + 1.2940·112.5/3,600
    = 1.0094 → capped at the whole hour. So the node is billed all day: 8 GPUs × $6.88 × 24 h × 30 days
    = $39,628.80 a month, not 0.1 % of one GPU. Requests that wait for a cold start:
    31.06 starts/day × (1 + λ·112 s) = 31.06 × 2.2963 = 71.3 a day → 2,140 a month.

    gpt-4o-mini ($0.15 / $0.60 per 1M input / output tokens, OpenAI): 1,000·0.15e-6 + 200·0.6e-6 =
    $0.00027 a request → $8.10 a month: the API is far cheaper at this volume. Break-even: one node
    costs 8 × 6.88 × 24 = $1,320.96 a day; ÷ $0.00027 = 4.892M requests/day (its 8 replicas serve
    8 × 10 × 86,400 = 6.9M a day, so one node suffices there).
    """
    api = {"name": "mini", "kind": "api", "model": "gpt-4o-mini", "provider": "openai"}
    result = _run([api, _H100_NODE])
    gpu, mini = result.option("h100"), result.option("mini")
    assert gpu.recurring_cost_usd[0] == pytest.approx(39_628.80, rel=1e-6)
    assert mini.recurring_cost_usd[0] == pytest.approx(8.10, rel=1e-3)
    assert gpu.recurring_cost_usd[0] > mini.recurring_cost_usd[0]
    assert gpu.gpus is not None and gpu.gpus[0] == 8.0
    assert gpu.cold_start_waits is not None
    assert gpu.cold_start_waits[0] == pytest.approx(30 * 24 * 1.2940 * (1 + 1000 / 86_400 * 112), rel=1e-3)
    (be,) = result.break_evens
    assert be.requests_per_day == pytest.approx(1_320.96 / 0.00027, rel=2e-3)
    assert result.cheapest_option == "mini"


def test_scale_to_zero_pays_off_only_when_idle_gaps_are_long() -> None:
    """10 requests/day on the same node: λ = 1.1574e-4/s, λ·300 s = 0.034722, so the node is down
    e^(−0.034722) = 96.59 % of the time; up share 0.034126 of each hour, plus 0.40245 cold starts an hour
    (λ·0.96587·3,600) × 112.5 s = 0.012577 of the hour: 0.046703 × 24 h × 30 days × 8 GPUs × $6.88 =
    $1,850.8 a month — scale to zero saves money only when the gaps between requests exceed the delay."""
    result = _run([_H100_NODE], {"requests_per_day": 10})
    lam = 10 / 86_400
    quiet = math.exp(-lam * 300)
    per_hour = (1 - quiet) + lam * quiet * 3600 * 112.5 / 3600
    expected = per_hour * 24 * 30 * 8 * 6.88
    assert result.option("h100").recurring_cost_usd[0] == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(1_851, rel=2e-3)


def test_fixed_l4_fleet_under_a_10x_spike_reports_the_dropped_share() -> None:
    """3 L4s, 1 request/s each (given), flat 2 requests/s (172,800/day); ×10 for 10 days in month 2.

    Spike days: 20 requests/s against 3 of capacity → 17/s dropped × 86,400 × 10 = 14,688,000.
    Month 2 demand: 172,800 × (30 + 9 × 10) = 20,736,000 → dropped share 70.83 %; months 1 and 3 serve
    all 5,184,000. Over the horizon: 14,688,000 / 31,104,000 = 47.22 % unserved.
    Cost: 3 GPUs × $1/h × 720 h = $2,160 a month; per served request in month 2:
    $2,160 / (20,736,000 − 14,688,000) = $0.000357.
    """
    l4 = {
        "name": "l4",
        "kind": "self_hosted",
        "model": "llama-3.1-8b",
        "gpu": "l4",
        "replicas": 3,
        "price_usd_per_gpu_hour": 1.0,
        "throughput_requests_per_s_per_replica": 1,
        "target_utilization": 1.0,
    }
    spike = {"month": 2, "multiplier": 10, "duration_days": 10}
    result = _run([l4], {"requests_per_day": 172_800, "spikes": [spike]})
    opt = result.option("l4")
    assert opt.unserved_requests is not None and opt.cost_per_served_request_usd is not None
    assert opt.unserved_requests == pytest.approx((0.0, 14_688_000.0, 0.0), abs=1e-3)
    assert opt.unserved_share == pytest.approx(14_688_000 / 31_104_000)
    assert opt.recurring_cost_usd[1] == pytest.approx(2_160.0)
    assert opt.cost_per_served_request_usd[1] == pytest.approx(2_160 / 6_048_000)
    assert any("dropped" in n for n in opt.notes)


def test_l4_with_the_chat_slo_prices_a_batch_that_meets_it() -> None:
    """Llama 3.1 8B (16.06 GB of bf16 weights) on an L4 (300 GB/s): every decode step reads the weights,
    so TPOT ≥ 16.06/300 = 53.5 ms even at batch 1; the largest batch that fits memory runs far slower than
    the default chat SLO (TTFT 2 s, TPOT 0.1 s at P90). The priced configuration must meet the SLO: TPOT ≤
    0.1 s (≥ 10 tokens/s per user) and TTFT ≤ 2 s under load, and its throughput is what that batch gives.
    A TPOT target below the 53.5 ms floor is an error, not a silent slower answer.
    """
    l4 = {"name": "l4", "kind": "self_hosted", "model": "llama-3.1-8b", "gpu": "l4", "fleet": "autoscale"}
    result = _run([l4], {"requests_per_day": 1_000_000, "peak_factor": 2})
    lat = result.option("l4").latency
    assert lat is not None
    assert lat.tpot_s <= 0.1 and lat.ttft_s <= 2.0
    assert lat.tokens_per_s_per_user >= 10.0
    assert lat.tpot_s >= 16.06e9 / 300e9
    assert lat.batch >= 1 and 0 < lat.utilization <= 1
    with pytest.raises(InputError, match="slo"):
        _run([l4], slo={"tpot_s": 0.05})


def test_payback_month_matches_the_cumulative_curves() -> None:
    """API $0.01 × 1,000 requests/day × 30 = $300 a month. GPU: 1 replica at $0.10/h = $72 a month
    plus $2,000 of engineering in month 1. Cumulative: 2,000 + 72·m ≤ 300·m ⇔ m ≥ 8.77 → month 9
    ($2,648 vs $2,700); month 8 is still behind ($2,576 vs $2,400)."""
    gpu = {
        "name": "gpu",
        "kind": "self_hosted",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "replicas": 1,
        "price_usd_per_gpu_hour": 0.1,
        "throughput_requests_per_s_per_replica": 1,
        "target_utilization": 1.0,
    }
    api = {"name": "api", "kind": "api", "price_usd_per_request": 0.01}
    one_time = [{"name": "engineering", "cost_usd": 2000, "options": ["gpu"]}]
    result = _run([api, gpu], horizon_months=12, one_time=one_time)
    (pb,) = result.paybacks
    assert (pb.option, pb.api_option, pb.month) == ("gpu", "api", 9)
    cum_gpu = np.asarray(result.option("gpu").cumulative_cost_usd)
    cum_api = np.asarray(result.option("api").cumulative_cost_usd)
    assert cum_gpu[8] == pytest.approx(2_648.0) and cum_api[8] == pytest.approx(2_700.0)
    assert cum_gpu[7] > cum_api[7]
    assert int(np.argmax(cum_gpu <= cum_api)) + 1 == pb.month


def test_payback_never_within_the_horizon() -> None:
    """The same GPU at $1/h costs $720 a month > the API's $300: cumulative never drops below."""
    gpu = {
        "name": "gpu",
        "kind": "self_hosted",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "replicas": 1,
        "price_usd_per_gpu_hour": 1.0,
        "throughput_requests_per_s_per_replica": 1,
        "target_utilization": 1.0,
    }
    result = _run([{"name": "api", "kind": "api", "price_usd_per_request": 0.01}, gpu])
    (pb,) = result.paybacks
    assert pb.month is None and "never" in pb.note


def test_the_price_date_is_recorded() -> None:
    """No prices_as_of → the documented default 2026-11-01 (flopbill.estimate.pricing.api.DEFAULT_PRICES_AT)
    is used and written into the resolved scenario and the result; a given date is kept."""
    api = [{"name": "mini", "kind": "api", "model": "gpt-4o-mini", "provider": "openai"}]
    result = _run(api)
    assert result.resolved_scenario["prices_as_of"] == "2026-11-01"
    assert result.prices_as_of == "2026-11-01"
    given = _run(api, prices_as_of=dt.date(2026, 6, 1).isoformat())
    assert given.resolved_scenario["prices_as_of"] == "2026-06-01"


def test_serverless_bills_replica_seconds_at_the_catalog_price() -> None:
    """RunPod flex L4 ($0.00019 per GPU-second, idle timeout 5 s, per-second billing), 100,000 requests/day
    flat, 1 request/s per replica at utilization 1, cold start 60 s:
    λ = 1.1574/s → busy replicas 1.1574 (> the first replica's up share, e^(−λ·5) ≈ 0.003 down):
    billed 1.1574 replica-seconds per second → × 86,400 × 30 × $0.00019 = $570.00 a month
    (= 100,000 × 30 requests × 1 s × $0.00019)."""
    sl = {
        "name": "sl",
        "kind": "serverless",
        "model": "llama-3.1-8b",
        "gpu": "l4",
        "provider": "runpod",
        "throughput_requests_per_s_per_replica": 1,
        "target_utilization": 1.0,
        "cold_start_s": 60,
    }
    result = _run([sl], {"requests_per_day": 100_000})
    assert result.option("sl").recurring_cost_usd[0] == pytest.approx(570.0, rel=1e-6)


def test_edge_devices_are_capital_not_opex() -> None:
    """1,000 users, one $50 device each, bought in month 1: $50,000 one-time, $0 recurring; month-2 growth
    of 10 % adds 100 devices ($5,000, one-time in month 2)."""
    edge = {"name": "edge", "kind": "edge", "cost_usd_per_device": 50}
    traffic = {"daily_active_users": 1000, "requests_per_user_per_day": 1, "monthly_growth": 0.1}
    opt = _run([edge], traffic, horizon_months=2).option("edge")
    assert opt.recurring_cost_usd == pytest.approx((0.0, 0.0))
    assert opt.monthly_cost_usd == pytest.approx((50_000.0, 5_000.0))


def test_owned_gpus_come_as_servers_with_a_cash_view() -> None:
    """1 request/s flat on owned H100s, 1 request/s per replica (utilization 1): one replica needs one GPU,
    but servers come with 8: 8 GPUs × $30,000 + $15,060 of InfiniBand per server (the sourced default) =
    $255,060 of capital, paid in month 1 in the cash view. Accrual: $255,060 / 36 months = $7,085 a month.
    Energy: 8 × 0.7 kW × PUE 1 × $0.10 × 720 h = $403.20 a month (30-day months), both views."""
    owned = {
        "name": "own",
        "kind": "owned",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "replicas": 1,
        "throughput_requests_per_s_per_replica": 1,
        "target_utilization": 1.0,
        "purchase_price_usd_per_gpu": 30_000,
        "depreciation_years": 3,
        "power_w_per_gpu": 700,
        "electricity_usd_per_kwh": 0.1,
    }
    opt = _run([owned], {"requests_per_day": 86_400}, horizon_months=2).option("own")
    assert opt.gpus == (8.0, 8.0)
    parts = {c.name: c for c in opt.components}
    assert parts["gpu_depreciation"].monthly_usd[0] == pytest.approx(255_060 / 36)
    assert parts["power"].monthly_usd[0] == pytest.approx(403.20)
    assert opt.cash_monthly_usd == pytest.approx((255_060 + 403.20, 403.20))


def test_a_date_before_the_first_price_is_known_only_from_dated_prices() -> None:
    """genai-prices gives an undated first price for every bundled model (then dated changes), so no first
    date is known for gpt-4o-mini and any prices_as_of is priced. A model whose prices all carry start dates
    (2026-03-13 and 2026-06-01) has a first priced date, 2026-03-13, which the scenario's API pricing
    checks prices_as_of against (an earlier date is an InputError naming it)."""
    from decimal import Decimal

    from genai_prices import types as gp

    from flopbill.estimate.pricing.api import first_dated_price, first_price_date

    assert first_price_date("gpt-4o-mini", "openai") is None
    dated = gp.ModelInfo(
        id="m",
        match=gp.ClauseEquals(equals="m"),
        prices=[
            gp.ConditionalPrice(
                constraint=gp.StartDateConstraint(start_date=dt.date(2026, 6, 1)),
                prices=gp.ModelPrice(input_mtok=Decimal(2)),
            ),
            gp.ConditionalPrice(
                constraint=gp.StartDateConstraint(start_date=dt.date(2026, 3, 13)),
                prices=gp.ModelPrice(input_mtok=Decimal(1)),
            ),
        ],
    )
    assert first_dated_price(dated) == dt.date(2026, 3, 13)
    undated = gp.ModelInfo(
        id="m",
        match=gp.ClauseEquals(equals="m"),
        prices=[gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=Decimal(1)))],
    )
    assert first_dated_price(undated) is None


def test_owned_h100_without_a_price_uses_the_sourced_server_quotation() -> None:
    """An owned H100 fleet without ``purchase_price_usd_per_gpu``: Thinkmate's 8× H100 server quotation
    $317,000 (Aug 2024) ÷ 8 = $39,625 per GPU, plus the default networking $963,840 / 64 = $15,060 per
    server ($1,882.50 per GPU), over 3 years: (39,625 + 1,882.50) / 36 = $1,152.99 per GPU-month of
    depreciation; one 8-GPU server (replicas: 1) → $9,223.89 a month. Other GPUs must give a price."""
    owned = {
        "name": "own",
        "kind": "owned",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "replicas": 1,
        "throughput_requests_per_s_per_replica": 10,
        "target_utilization": 1.0,
        "depreciation_years": 3,
        "electricity_usd_per_kwh": 0.0,
    }
    result = _run([owned], horizon_months=1)
    dep = next(c for c in result.option("own").components if c.name == "gpu_depreciation")
    assert dep.monthly_usd[0] == pytest.approx(8 * (317_000 / 8 + 963_840 / 64 / 8) / 36)
    with pytest.raises(InputError, match="purchase_price_usd_per_gpu"):
        _run([{**owned, "gpu": "l4"}], horizon_months=1)
