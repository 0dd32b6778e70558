"""Invariants of the scenario engine (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.scenario.inputs import resolve
from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.montecarlo import monte_carlo
from flopbill.scenario.projection import project

TODAY = dt.date(2025, 1, 1)
volumes = st.floats(min_value=1.0, max_value=1e8, allow_nan=False)


def _data(requests_per_day: float, options: list[dict[str, Any]], **traffic: Any) -> dict[str, Any]:
    return {
        "name": "p",
        "horizon_months": 6,
        "days_per_month": 30,
        "traffic": {"requests_per_day": requests_per_day, **traffic},
        "request": {"input_tokens": 1000, "output_tokens": 200},
        "options": options,
        "monte_carlo": {"samples": 0},
    }


API = {
    "name": "api",
    "kind": "api",
    "price_usd_per_million_input_tokens": 2.5,
    "price_usd_per_million_output_tokens": 10,
}
GPU = {
    "name": "gpu",
    "kind": "self_hosted",
    "model": "llama-3.1-8b",
    "gpu": "h100-sxm",
    "throughput_requests_per_s_per_replica": 10,
    "price_usd_per_gpu_hour": 2,
}


@settings(max_examples=25)
@given(v=volumes, k=st.floats(min_value=0.1, max_value=10))
def test_api_cost_linear_in_volume(v: float, k: float) -> None:
    a = project(scenario_from_dict(_data(v, [API])), today=TODAY).option("api").total_cost_usd
    b = project(scenario_from_dict(_data(v * k, [API])), today=TODAY).option("api").total_cost_usd
    assert b == pytest.approx(k * a, rel=1e-9)


@settings(max_examples=20)
@given(v=st.floats(min_value=1000, max_value=1e7))
def test_fixed_fleet_cost_per_request_falls_until_next_gpu(v: float) -> None:
    """Within one replica count, more volume → lower cost per request; a new replica raises it."""
    r1 = project(scenario_from_dict(_data(v, [GPU])), today=TODAY).option("gpu")
    r2 = project(scenario_from_dict(_data(v * 1.01, [GPU])), today=TODAY).option("gpu")
    assert r1.gpus is not None and r2.gpus is not None
    if r1.gpus[0] == r2.gpus[0]:
        assert r2.cost_per_request_usd[0] < r1.cost_per_request_usd[0]
    else:
        assert r2.gpus[0] > r1.gpus[0]
        assert r2.monthly_cost_usd[0] > r1.monthly_cost_usd[0]


@settings(max_examples=20)
@given(price=st.floats(min_value=1e-4, max_value=0.05), cut=st.floats(min_value=0.1, max_value=0.9))
def test_break_even_moves_up_when_api_gets_cheaper(price: float, cut: float) -> None:
    def be(p: float) -> float:
        api = {"name": "api", "kind": "api", "price_usd_per_request": p}
        (b,) = project(scenario_from_dict(_data(1000, [api, GPU])), today=TODAY).break_evens
        return np.inf if b.requests_per_day is None else b.requests_per_day

    assert be(price * cut) >= be(price)


@settings(max_examples=10)
@given(v=volumes, growth=st.floats(min_value=-0.2, max_value=0.5), seed=st.integers(0, 2**31))
def test_degenerate_monte_carlo_p50_equals_point(v: float, growth: float, seed: int) -> None:
    data = _data(
        v,
        [API, GPU, {"name": "r", "kind": "router", "small": "gpu", "large": "api", "small_share": 0.6}],
        monthly_growth=growth,
        peak_factor=1.7,
    )
    resolved = resolve(scenario_from_dict(data), TODAY)
    point = project(resolved)
    mc = monte_carlo(resolved, 64, np.random.default_rng(seed), seed)
    for opt, unc in zip(point.options, mc.options, strict=True):
        assert unc.total_cost_usd.p50 == pytest.approx(opt.total_cost_usd, rel=1e-12)
        assert unc.monthly_cost_p50_usd == pytest.approx(opt.monthly_cost_usd, rel=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31))
def test_percentiles_ordered_and_seeded(seed: int) -> None:
    data = _data(10_000, [API, GPU], monthly_growth="0%..20%", peak_factor="1.5..2.5")
    resolved = resolve(scenario_from_dict(data), TODAY)
    a = monte_carlo(resolved, 200, np.random.default_rng(seed), seed)
    b = monte_carlo(resolved, 200, np.random.default_rng(seed), seed)
    assert a == b
    for u in a.options:
        assert u.total_cost_usd.p10 <= u.total_cost_usd.p50 <= u.total_cost_usd.p90


@given(
    st.integers(1, 400),
    st.integers(1, 5),
    st.sampled_from(["uniform", "lognormal", "ties"]),
    st.integers(0, 2**32 - 1),
)
def test_fast_percentiles_equal_numpy(n: int, cols: int, kind: str, seed: int) -> None:
    """flopbill's selection-based P10/P50/P90 equal ``np.percentile`` (linear) and leave the input alone."""
    from flopbill.estimate.core.uncertainty import percentiles

    rng = np.random.default_rng(seed)
    data = {
        "uniform": rng.random((n, cols)),
        "lognormal": rng.lognormal(0, 2, (n, cols)),
        "ties": rng.integers(0, 3, (n, cols)).astype(float),
    }[kind]
    before = data.copy()
    np.testing.assert_allclose(percentiles(data), np.percentile(data, (10, 50, 90), axis=0), rtol=1e-12)
    np.testing.assert_allclose(percentiles(data[:, 0]), np.percentile(data[:, 0], (10, 50, 90)), rtol=1e-12)
    np.testing.assert_array_equal(data, before)
