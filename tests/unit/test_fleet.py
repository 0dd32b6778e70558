"""Self-hosted fleet costs and the API break-even against hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flopbill.errors import InputError
from flopbill.estimate.pricing.fleet import (
    autoscaled_fleet_cost,
    break_even_requests_per_month,
    diurnal_load_profile,
    fixed_fleet_cost,
    gpu_price_usd_per_gpu_hour,
    owned_gpu_cost,
    replicas_for_peak,
    self_hosted_usd_per_month,
)


def test_fixed_fleet_flat_half_load() -> None:
    """4 GPUs × $2/h × 730 h = $5,840; capacity 4 × 10 = 40 req/s, demand 20 req/s → utilization 0.5,
    idle $2,920; served 20 × 730 × 3600 = 52.56M requests → $0.000111/request."""
    fleet = fixed_fleet_cost(4, 2.0, 20.0, 10.0, period_hours=730.0)
    assert fleet.cost_usd == pytest.approx(5840.0)
    assert fleet.utilization == pytest.approx(0.5)
    assert fleet.idle_cost_usd == pytest.approx(2920.0)
    assert fleet.served_requests == pytest.approx(52.56e6)
    assert fleet.unserved_fraction == pytest.approx(0.0)
    assert fleet.usd_per_served_request == pytest.approx(5840.0 / 52.56e6)


def test_fixed_fleet_diurnal_two_slices() -> None:
    """Two equal slices at loads 1.5 and 0.5 (mean 1) of 20 req/s → 30 and 10 req/s.
    A fleet of 3 × 10 req/s serves both: utilization (30 + 10)/2 / 30 = 2/3; idle = cost/3.
    A fleet of 2 serves 20 and 10: served mean 15 of demand 20 → 25 % unserved, utilization 0.75."""
    big = fixed_fleet_cost(3, 1.0, 20.0, 10.0, load_profile=np.array([1.5, 0.5]), period_hours=100.0)
    assert big.utilization == pytest.approx(2 / 3)
    assert big.idle_cost_usd == pytest.approx(300.0 / 3)
    small = fixed_fleet_cost(2, 1.0, 20.0, 10.0, load_profile=np.array([1.5, 0.5]), period_hours=100.0)
    assert small.unserved_fraction == pytest.approx(0.25)
    assert small.utilization == pytest.approx(0.75)


def test_autoscaled_fleet_two_slices() -> None:
    """Loads 30 and 10 req/s, 10 req/s per replica at 50 % target → ⌈30/5⌉ = 6 and ⌈10/5⌉ = 2 replicas,
    mean 4 GPUs × $2/h × 100 h = $800; utilization = 20 / (4 × 10) = 0.5; peak 6 GPUs.
    With min_replicas 3: 6 and 3 → mean 4.5 → $900."""
    fleet = autoscaled_fleet_cost(2.0, 20.0, 10.0, 0.5, load_profile=np.array([1.5, 0.5]), period_hours=100.0)
    assert fleet.cost_usd == pytest.approx(800.0)
    assert fleet.utilization == pytest.approx(0.5)
    assert fleet.peak_gpus == 6.0
    floor = autoscaled_fleet_cost(
        2.0, 20.0, 10.0, 0.5, min_replicas=3, load_profile=np.array([1.5, 0.5]), period_hours=100.0
    )
    assert floor.cost_usd == pytest.approx(900.0)


def test_diurnal_profile_and_peak_sizing() -> None:
    """Cosine day with peak/mean 1.8: mean 1, max 1.8, min 0.2. Mean 100 req/s × 1.8 = 180 req/s peak,
    25 req/s per replica at 80 % → ⌈180/20⌉ = 9 replicas."""
    prof = diurnal_load_profile(1.8)
    assert prof.mean() == pytest.approx(1.0)
    assert prof.max() == pytest.approx(1.8)
    assert prof.min() == pytest.approx(0.2)
    assert replicas_for_peak(100.0, 1.8, 25.0, 0.8) == 9.0
    with pytest.raises(InputError, match="peak_to_mean"):
        diurnal_load_profile(2.5)


def test_price_multiplier() -> None:
    """$4.00/h on demand × 0.6 (e.g. a reservation) = $2.40/h; spot ×0.3 = $1.20/h."""
    assert gpu_price_usd_per_gpu_hour(4.0, 0.6) == pytest.approx(2.4)
    assert gpu_price_usd_per_gpu_hour(4.0, np.array([1.0, 0.3])) == pytest.approx([4.0, 1.2])


def test_owned_gpu() -> None:
    """$30,000 over 36 months = $833.33/month; 1 kW × PUE 1.2 × $0.10/kWh × 730.5 h = $87.66;
    hosting $100 → $1,020.99/GPU-month = $1.3977/GPU-hour (÷ 730.5 h)."""
    owned = owned_gpu_cost(30_000.0, 36, 1.0, 1.2, 0.10, 100.0)
    assert owned.depreciation_usd_per_gpu_month == pytest.approx(833.333, rel=1e-5)
    assert owned.energy_usd_per_gpu_month == pytest.approx(87.66)
    assert owned.usd_per_gpu_month == pytest.approx(1020.9933, rel=1e-6)
    assert owned.usd_per_gpu_hour == pytest.approx(1020.9933 / 730.5, rel=1e-6)
    with pytest.raises(InputError, match="pue"):
        owned_gpu_cost(30_000.0, 36, 1.0, 0.9, 0.10)


def test_self_hosted_step() -> None:
    """K = 1M requests/GPU-month, $2,000/GPU-month, $500 fixed: 0.5M → 1 GPU $2,500; 2.5M → 3 GPUs $6,500."""
    assert self_hosted_usd_per_month(0.5e6, 1e6, 2000.0, 500.0) == pytest.approx(2500.0)
    assert self_hosted_usd_per_month(2.5e6, 1e6, 2000.0, 500.0) == pytest.approx(6500.0)
    assert self_hosted_usd_per_month(0.0, 1e6, 2000.0, 500.0, min_gpus=2) == pytest.approx(4500.0)


def test_break_even_case_1_no_fixed_cost() -> None:
    """API $0.005/request; a GPU serves K = 1M requests/month for c = $2,000/month, F = 0.
    d = aK − c = 5,000 − 2,000 = 3,000 > 0. n* = max(1, ⌈0/3000⌉) = 1; first = c/a = 400,000 requests.
    Whole steps win from m = max(2, ⌈(5,000 + 0)/3,000⌉) = 2
    → always = min((1·2,000)/0.005, 1·1M) = 400,000."""
    be = break_even_requests_per_month(0.005, 1e6, 2000.0)
    assert be.first_requests_per_month == pytest.approx(400_000.0)
    assert be.always_requests_per_month == pytest.approx(400_000.0)
    assert not be.never


def test_break_even_case_2_notches() -> None:
    """a = $0.0025, K = 1M, c = $2,000, F = 0 → d = 500. first = 2,000/0.0025 = 800,000 (inside GPU 1).
    Just above 1M a second GPU costs $4,000 > 0.0025 × 1M = $2,500: the API is cheaper again.
    m = ⌈2,500/500⌉ = 5 → always = min(4 × 2,000/0.0025, 4 × 1M) = min(3.2M, 4M) = 3.2M."""
    be = break_even_requests_per_month(0.0025, 1e6, 2000.0)
    assert be.first_requests_per_month == pytest.approx(800_000.0)
    assert be.always_requests_per_month == pytest.approx(3_200_000.0)
    assert self_hosted_usd_per_month(1.01e6, 1e6, 2000.0) > 0.0025 * 1.01e6


def test_break_even_case_3_fixed_cost() -> None:
    """a = $0.004, K = 1M, c = $3,000, F = $5,000 → d = 1,000; n* = ⌈5,000/1,000⌉ = 5;
    first = max((5 × 3,000 + 5,000)/0.004, 4 × 1M) = max(5M, 4M) = 5M requests/month."""
    be = break_even_requests_per_month(0.004, 1e6, 3000.0, fixed_usd_per_month=5000.0)
    assert be.first_requests_per_month == pytest.approx(5e6)
    assert self_hosted_usd_per_month(5e6, 1e6, 3000.0, 5000.0) == pytest.approx(0.004 * 5e6)


def test_break_even_never() -> None:
    """a = $0.001, K = 1M, c = $2,000 → a full GPU saves d = 1,000 − 2,000 < 0: self-hosting never wins.
    A winning case beyond max_requests_per_month also reports never."""
    be = break_even_requests_per_month(0.001, 1e6, 2000.0)
    assert be.never
    assert math.isinf(be.first_requests_per_month)
    capped = break_even_requests_per_month(0.005, 1e6, 2000.0, max_requests_per_month=1e5)
    assert capped.never


def test_break_even_broadcasts() -> None:
    """Three API prices in one call: 0.001 never, 0.005 → 400k, 0.01 → 200k."""
    be = break_even_requests_per_month(np.array([0.001, 0.005, 0.01]), 1e6, 2000.0)
    np.testing.assert_allclose(be.first_requests_per_month, [np.inf, 4e5, 2e5])
    np.testing.assert_array_equal(be.never, [True, False, False])
