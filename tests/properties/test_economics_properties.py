"""Invariants of API pricing and fleet economics (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flopbill.estimate.pricing.api import api_price, api_request_cost_usd, api_workload_cost
from flopbill.estimate.pricing.economics import router_cost
from flopbill.estimate.pricing.fleet import (
    break_even_requests_per_month,
    fixed_fleet_cost,
    self_hosted_usd_per_month,
)

PRICE = api_price("gpt-4o")
tokens = st.floats(min_value=0, max_value=60_000)  # two of them stay inside gpt-4o's 128k window
share = st.floats(min_value=0, max_value=1)
positive = st.floats(min_value=1e-3, max_value=1e9)


@given(
    tokens,
    tokens,
    share,
    share,
    st.floats(min_value=1, max_value=1e9),
    st.floats(min_value=1.01, max_value=50),
)
def test_api_cost_linear_in_volume(i: float, o: float, h: float, b: float, rpd: float, k: float) -> None:
    """k × the requests/day costs k × as much per day and month; the cost per request is unchanged."""
    one = api_workload_cost(PRICE, i, o, rpd, cache_hit=h, batch_share=b).costs
    many = api_workload_cost(PRICE, i, o, rpd * k, cache_hit=h, batch_share=b).costs
    assert many.usd_per_day == pytest.approx(k * one.usd_per_day, rel=1e-9, abs=1e-12)
    assert many.usd_per_month == pytest.approx(k * one.usd_per_month, rel=1e-9, abs=1e-12)
    assert many.usd_per_request == pytest.approx(one.usd_per_request)


@given(tokens, tokens, tokens, share, share)
def test_api_cost_never_falls_as_tokens_rise(i: float, o: float, extra: float, h: float, b: float) -> None:
    """More output or input tokens never cost less (gpt-4o has no tier cliff); batch never costs more."""
    base = api_request_cost_usd(PRICE, i, o, cache_hit=h, batch_share=b)
    assert api_request_cost_usd(PRICE, i, o + extra, cache_hit=h, batch_share=b) >= base
    assert api_request_cost_usd(PRICE, i + extra, o, cache_hit=h, batch_share=b) >= base
    assert api_request_cost_usd(PRICE, i, o, cache_hit=h, batch_share=1.0) <= base + 1e-15


@given(
    st.integers(min_value=1, max_value=64),
    st.floats(min_value=0.1, max_value=10),
    st.floats(min_value=0.1, max_value=100),
    st.floats(min_value=0.01, max_value=0.99),
    st.floats(min_value=0.01, max_value=0.99),
)
def test_fixed_fleet_cost_per_request_falls_until_full(
    gpus: int, price: float, capacity: float, low: float, high: float
) -> None:
    """A fixed fleet's cost is flat in volume, so its cost per served request falls as volume rises
    while it has spare capacity; at full utilization it stops falling (it needs another GPU)."""
    low, high = sorted((low, high))
    total = gpus * capacity
    a = fixed_fleet_cost(gpus, price, low * total, capacity)
    b = fixed_fleet_cost(gpus, price, high * total, capacity)
    assert a.cost_usd == pytest.approx(b.cost_usd)
    assert b.usd_per_served_request <= a.usd_per_served_request * (1 + 1e-12)
    full = fixed_fleet_cost(gpus, price, total, capacity)
    over = fixed_fleet_cost(gpus, price, 1.5 * total, capacity)
    assert over.usd_per_served_request == pytest.approx(full.usd_per_served_request)
    assert over.unserved_fraction > 0
    assert 0.0 <= b.utilization <= 1.0
    assert b.idle_cost_usd == pytest.approx(b.cost_usd * (1 - b.utilization))


@given(
    st.floats(min_value=1e-4, max_value=1e-1),
    st.floats(min_value=0.05, max_value=0.99),
    st.floats(min_value=1e4, max_value=1e7),
    st.floats(min_value=10, max_value=1e4),
    st.floats(min_value=0, max_value=1e5),
)
def test_break_even_moves_up_when_api_gets_cheaper(
    api_usd: float, cheaper: float, capacity: float, gpu_usd: float, fixed_usd: float
) -> None:
    """A cheaper API (a' = cheaper × a) never lowers the break-even volume (or it becomes never)."""
    before = break_even_requests_per_month(api_usd, capacity, gpu_usd, fixed_usd)
    after = break_even_requests_per_month(api_usd * cheaper, capacity, gpu_usd, fixed_usd)
    assert after.first_requests_per_month >= before.first_requests_per_month * (1 - 1e-12)
    if before.never:
        assert after.never


@given(
    st.floats(min_value=1e-4, max_value=1e-1),
    st.floats(min_value=1e4, max_value=1e7),
    st.floats(min_value=10, max_value=1e4),
    st.floats(min_value=0, max_value=1e5),
    st.integers(min_value=0, max_value=4),
)
def test_break_even_is_where_costs_cross(
    api_usd: float, capacity: float, gpu_usd: float, fixed_usd: float, min_gpus: int
) -> None:
    """At the break-even volume self-hosting costs ≤ the API; just below it, it costs more; above the
    'always' volume it is never dearer (checked on a grid of 200 volumes)."""
    be = break_even_requests_per_month(api_usd, capacity, gpu_usd, fixed_usd, min_gpus)
    if be.never:
        # then even at a huge volume no full step is cheaper: a·K ≤ c
        assert api_usd * capacity <= gpu_usd or api_usd == 0
        return
    first = be.first_requests_per_month
    assert self_hosted_usd_per_month(first, capacity, gpu_usd, fixed_usd, min_gpus) <= api_usd * first * (
        1 + 1e-9
    )
    below = first * (1 - 1e-6)
    if below > 0:
        assert self_hosted_usd_per_month(below, capacity, gpu_usd, fixed_usd, min_gpus) > api_usd * below * (
            1 - 1e-9
        )
    always = be.always_requests_per_month
    grid = always * (1 + np.linspace(1e-6, 5, 200))
    assert np.all(
        np.asarray(self_hosted_usd_per_month(grid, capacity, gpu_usd, fixed_usd, min_gpus))
        <= api_usd * grid * (1 + 1e-9)
    )


@given(positive, positive, share, share)
def test_router_never_costs_more_than_big_without_escalation(
    big: float, small: float, s: float, e: float
) -> None:
    """With a small model no dearer than the big one and no escalation, routing never costs more;
    escalation adds exactly s·e·big."""
    small = min(small, big)
    plain = router_cost(big, small, s)
    assert plain.usd_per_request <= big * (1 + 1e-12)
    escalated = router_cost(big, small, s, escalation_fraction=e)
    assert escalated.usd_per_request - plain.usd_per_request == pytest.approx(
        s * e * big, rel=1e-9, abs=1e-12 * big
    )
    assert not math.isnan(plain.savings_usd_per_request)
