"""``fleet: {simulate: true}`` in a self-hosted option: the projection bills a simulated day.

Hand check (flat traffic, fixed fleet): with ``peak_factor: 1`` every hour runs at the daily mean
``λ = requests_per_day / 86400``, so the analytic model runs ``⌈λ / (c·u)⌉`` whole replicas all day
(``c`` the planner's calls/s per replica, ``u`` its utilization at the SLO) and bills
``instances × GPUs per instance × 24 h`` per day. The simulated fleet must run that many replicas, bill
at least that (its day ends after the last request drains: at most one more hour) and bill at least the
GPU-hours it was busy.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from flopbill.errors import FlopbillError
from flopbill.scenario.loader import load_scenario, scenario_from_dict
from flopbill.scenario.projection import project

ROOT = Path(__file__).resolve().parents[2]


def _scenario(
    fleet: Any, requests_per_day: float = 200_000.0, horizon: int = 2, **extra: Any
) -> dict[str, Any]:
    option = {"name": "sh", "kind": "self_hosted", "model": "llama-3.1-8b", "gpu": "h100-sxm", "fleet": fleet}
    return {
        "name": "flat",
        "horizon_months": horizon,
        "traffic": {"requests_per_day": requests_per_day, "peak_factor": 1},
        "request": {"input_tokens": 1000, "output_tokens": 250},
        "options": [{**option, **extra}],
        "monte_carlo": {"samples": 0},
    }


def test_flat_fixed_month_matches_the_whole_replica_count() -> None:
    from flopbill.scenario.inputs import resolve

    scenario = scenario_from_dict(_scenario({"scaling": "fixed", "simulate": True}))
    resolved = resolve(scenario)
    lam = 200_000.0 / 86400.0
    c = resolved.capacity_requests_per_s["sh"]
    u = resolved.ranges["options.sh.target_utilization"].expected
    replicas = math.ceil(lam / (c * u))
    gpi = resolved.fleet["sh"].gpus_per_instance
    instances = math.ceil(replicas / gpi)  # 1 GPU per replica
    r = project(resolved)
    sim = r.option("sh").simulation
    assert sim is not None and sim.distinct_days == 1  # both months have the same traffic: one run
    for m in sim.months:
        d = m.day
        assert d.shards == 1
        assert d.peak_replicas == replicas
        per_day = instances * gpi * 24.0
        assert per_day <= d.gpu_hours_billed <= per_day + instances * gpi * 1.0
        assert d.gpu_hours_billed >= d.gpu_hours_busy > 0
        assert d.unserved_calls == 0
        assert abs(d.requests_per_day - 200_000) < 5 * math.sqrt(200_000)  # Poisson count of the day
        assert m.analytic_gpu_hours_billed == pytest.approx(per_day * r.traffic.days_per_month)
        assert abs(m.gpu_hours_billed / m.analytic_gpu_hours_billed - 1.0) <= 1.0 / 24.0 + 1e-9  # ≤ 1 h more
    # the bill is what the simulation billed
    price = resolved.ranges["options.sh.price_usd_per_gpu_hour"].expected
    billed_usd = sim.months[0].gpu_hours_billed * price
    assert r.option("sh").recurring_cost_usd[0] == pytest.approx(billed_usd)
    assert any("fleet simulated" in n for n in r.option("sh").notes)


def test_the_day_is_sharded_above_the_cap_and_scaled_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """2.4 M requests/day with a 100 k cap on 1-GPU instances: k > 1 shards of whole instances, counts
    scaled by k. (The shard floor is lowered to 1 instance here so that a small fleet shards.)"""
    from flopbill.scenario import simulated

    monkeypatch.setattr(simulated, "MIN_INSTANCES_PER_SHARD", 1)
    fleet = {"scaling": "autoscale", "simulate": True, "max_requests_per_day": 100_000}
    data = _scenario(fleet, requests_per_day=2_400_000.0, horizon=1, gpus_per_instance=1)
    r = project(scenario_from_dict(data))
    sim = r.option("sh").simulation
    assert sim is not None
    d = sim.months[0].day
    assert d.shards > 1
    assert d.simulated_requests < 2_400_000 / d.shards * 1.05
    assert d.requests_per_day == d.simulated_requests * d.shards
    assert d.gpu_hours_billed >= d.gpu_hours_busy
    assert "1/k of the traffic" in sim.note


def _plan(scaling: str, capacity: float, gpus_per_instance: int = 1) -> Any:
    from flopbill.scenario.schema import FleetSettings
    from flopbill.scenario.simulated import DayPlan

    return DayPlan(
        model="llama-3.1-8b",
        gpu="l4",
        tp=1,
        weights="bf16",
        batch=0,
        price_usd_per_gpu_hour=1.0,
        gpus_per_instance=gpus_per_instance,
        offer_gpus_per_instance=gpus_per_instance,
        billing_increment_s=1.0,
        billing_minimum_s=60.0,
        capacity_calls_per_s=capacity,
        utilization=1.0,
        cold_start_s=60.0,
        cooldown_s=300.0,
        input_tokens=1000,
        output_tokens=150,
        scaling=scaling,
        min_replicas=2,
        max_replicas=None,
        fixed_replicas=None,
        settings=FleetSettings(scaling=scaling, simulate=True, max_requests_per_day=20_000),
    )


def test_shards_keep_whole_instances_and_their_floor() -> None:
    """Hand cases of the shard rule (no simulation): ``k = min(⌈requests / cap⌉, ⌊mean instances / F⌋)``
    for an autoscaled fleet (F = MIN_INSTANCES_PER_SHARD), the largest divisor of the instance count
    ``n`` not above ``min(⌈requests / cap⌉, ⌊n / F⌋)`` for a fixed one.

    A day whose night falls to zero calls (as the e-mail example's does) still shards: the cap is the
    day's mean, not its quietest hour (which once kept such a day in one run, cut at the request bound).
    """
    from flopbill.scenario.simulated import MIN_INSTANCES_PER_SHARD, day_spec, shards

    f = MIN_INSTANCES_PER_SHARD
    rates = np.concatenate([[0.0], np.full(23, 100.0)])  # calls/s; 8.28 M calls a day
    plan = _plan("autoscale", capacity=1.0)  # 1 call/s per replica: 100 replicas in 23 hours
    mean_instances = 100.0 * 23 / 24
    want = math.ceil(float(rates.sum()) * 3600 / 20_000)
    assert shards(plan, rates, 0) == max(1, min(want, int(mean_instances // f)))
    assert shards(_plan("autoscale", capacity=1.0, gpus_per_instance=8), rates, 0) == max(
        1, min(want, int(mean_instances / 8 // f))
    )
    assert shards(_plan("autoscale", capacity=1e6), rates, 0) == 1  # one replica: one shard
    # a fixed fleet: a divisor of its instances, each shard ≥ F instances (12 → one shard; 1,200 → 12)
    assert shards(_plan("fixed", capacity=1.0), rates, 12) == 1
    assert shards(_plan("fixed", capacity=1.0), rates, 12 * f) == 12
    assert shards(_plan("fixed", capacity=1.0), rates, 12 * f + 1) == 1  # a prime: no whole split
    spec, k = day_spec(plan, rates, 0)
    bounds = spec["bounds"]
    assert isinstance(bounds, dict)
    assert bounds["max_requests"] > float(rates.sum()) * 3600 / k + 5 * math.sqrt(
        float(rates.sum()) * 3600 / k
    )


def test_strict_schema_and_examples_leave_it_off() -> None:
    with pytest.raises(FlopbillError, match="simulat"):
        scenario_from_dict(_scenario({"simulat": True}))
    with pytest.raises(FlopbillError):
        scenario_from_dict(_scenario({"simulate": True, "max_requests_per_day": 10}))
    assert scenario_from_dict(_scenario("autoscale")).options[0].simulation is None  # type: ignore[union-attr]
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for opt in load_scenario(path).options:
            assert getattr(opt, "simulation", None) is None, f"{path.name}: {opt.name} simulates"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sim_vs_scen", ROOT / "scripts" / "simulation_vs_scenarios.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (ROOT / "scripts").exists(), reason="scripts folder not available")
def test_comparison_runs_on_a_small_case(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "flat.yaml"
    path.write_text(yaml.safe_dump(_scenario("fixed", requests_per_day=50_000.0, horizon=3)))
    rows = _script().compare(path)
    assert [r.month for r in rows] == [1, 2, 3]
    for row in rows:
        assert abs(row.difference) <= 1.0 / 24.0 + 1e-9  # flat, fixed: same replicas, ≤ 1 h more
        assert row.simulated_gpu_hours >= row.busy_gpu_hours


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "examples").exists(), reason="examples not available")
def test_comparison_runs_on_every_example() -> None:
    script = _script()
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for row in script.compare(path):
            assert row.simulated_gpu_hours >= row.busy_gpu_hours > 0


def test_a_router_sending_calls_to_a_simulated_option_stays_analytic() -> None:
    """Only the option's own row is simulated; the router's share of it uses the hourly fleet model."""
    data = _scenario({"scaling": "fixed", "simulate": True}, requests_per_day=20_000.0, horizon=1)
    data["options"] += [
        {"name": "api", "kind": "api", "price_usd_per_request": 0.001},
        {"name": "route", "kind": "router", "small": "sh", "large": "api", "small_share": 0.5},
    ]
    r = project(scenario_from_dict(data))
    assert r.option("sh").simulation is not None
    assert r.option("route").simulation is None


def test_a_replica_wider_than_an_instance_is_compared_in_the_offer_s_gpu_hours() -> None:
    """70B on 4 GPUs priced per 1-GPU instance, flat traffic, fixed fleet: the analytic bill is
    ``replicas × 4 GPUs × 24 h`` a day (hand count) and the simulated one the same whole replicas, so
    the two agree within the last hour's drain. (The comparison once counted the analytic side in 4-GPU
    instances of the 1-GPU offer: four times too many GPU-hours.)"""
    from flopbill.scenario.inputs import resolve

    data = _scenario(
        {"scaling": "fixed", "simulate": True}, requests_per_day=20_000.0, horizon=1, gpus_per_instance=1
    )
    data["options"][0] |= {"model": "llama-3.1-70b", "gpus_per_replica": 4}
    resolved = resolve(scenario_from_dict(data))
    c = resolved.capacity_requests_per_s["sh"]
    u = resolved.ranges["options.sh.target_utilization"].expected
    replicas = math.ceil(20_000.0 / 86400.0 / (c * u))
    sim = project(resolved).option("sh").simulation
    assert sim is not None
    m = sim.months[0]
    assert m.analytic_gpu_hours_billed == pytest.approx(
        replicas * 4 * 24.0 * resolved.scenario.days_per_month, rel=0.01
    )
    assert abs(m.gpu_hours_billed / m.analytic_gpu_hours_billed - 1.0) <= 1.0 / 24.0 + 1e-9  # ≤ 1 h more
