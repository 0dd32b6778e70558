"""Economics primitives against hand calculations (written out in each docstring)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flopbill.errors import InputError
from flopbill.estimate.pricing.economics import (
    DAYS_PER_MONTH,
    cost_per_request_usd,
    cost_per_user_per_month_usd,
    crossover_month,
    crossover_month_array,
    cumulative_spend_usd,
    edge_inference_cost,
    gross_margin,
    lifetime_tco_usd,
    mean_requests_per_s,
    monthly_cost_usd,
    monthly_requests_with_growth,
    period_costs,
    requests_per_month_from_daily,
    requests_per_month_from_users,
    router_cost,
    spike_month,
)


def test_days_per_month_convention() -> None:
    """365.25 days / 12 months = 30.4375 days."""
    assert DAYS_PER_MONTH == 30.4375


def test_half_cent_answer_at_5m_per_day() -> None:
    """$0.005/answer × 5M requests/day = $25,000/day; × 365 days = $9,125,000/year (≈ $9.1M);
    default year 12 × 30.4375 = 365.25 days → $9,131,250."""
    c = period_costs(0.005, 5e6)
    assert c.usd_per_day == pytest.approx(25_000.0)
    assert c.usd_per_year == pytest.approx(9_131_250.0)
    assert c.usd_per_day * 365 == pytest.approx(9_125_000.0)
    assert c.usd_per_month == pytest.approx(25_000.0 * 30.4375)


def test_1m_dau_five_queries_one_cent() -> None:
    """1M DAU × 5 queries × $0.01 = $50,000/day; × 30 days = $1,500,000/month;
    a 20 % cheaper request saves 0.2 × $1.5M = $300,000/month."""
    requests = requests_per_month_from_users(1e6, 5, days_per_month=30)
    assert requests == pytest.approx(150e6)
    bill = monthly_cost_usd(0.01, requests)
    assert bill == pytest.approx(1.5e6)
    assert bill - monthly_cost_usd(0.01 * 0.8, requests) == pytest.approx(300_000.0)
    assert period_costs(0.01, 5e6, days_per_month=30).usd_per_month == pytest.approx(1.5e6)


def test_email_feature_on_all_mail_costs_five_times_the_20pct_feature() -> None:
    """Summaries on 100 % of mail vs only 20 %: requests (and cost) scale with the share → 1.0/0.2 = 5×."""
    full = requests_per_month_from_daily(1e7, ai_share=1.0)
    partial = requests_per_month_from_daily(1e7, ai_share=0.2)
    assert full / partial == pytest.approx(5.0)


def test_cost_per_user_and_margin() -> None:
    """$0.002/request × 10 requests/day × 30 days = $0.60/user-month; on a $2 subscription the
    gross margin is (2 − 0.6)/2 = 0.70; revenue 0 → undefined (NaN); cost > revenue → negative."""
    per_user = cost_per_user_per_month_usd(0.002, 10, days_per_month=30)
    assert per_user == pytest.approx(0.60)
    assert gross_margin(2.0, per_user) == pytest.approx(0.70)
    assert math.isnan(gross_margin(0.0, 1.0))
    assert gross_margin(1.0, 3.0) == pytest.approx(-2.0)


def test_volume_helpers() -> None:
    """86,400 requests/day over 30 days = 2,592,000 requests/month = 1 request/s."""
    assert mean_requests_per_s(2_592_000, days_per_month=30) == pytest.approx(1.0)
    assert cost_per_request_usd(100.0, 0.0) == math.inf
    assert cost_per_request_usd(100.0, 50.0) == pytest.approx(2.0)


def test_broadcasting_shapes() -> None:
    """A (3,1) × (1,4) grid of DAU × requests/user gives a (3,4) result."""
    out = requests_per_month_from_users(
        np.array([[1.0], [2.0], [3.0]]), np.array([[1.0, 2.0, 3.0, 4.0]]), 1.0, 30
    )
    assert np.shape(out) == (3, 4)
    assert np.asarray(out)[2, 3] == pytest.approx(3 * 4 * 30)


def test_router_savings() -> None:
    """big $0.01, small $0.001, 70 % to small: saving = 0.7 × 0.009 = $0.0063/request.
    With 10 % of the small model's answers escalated: extra 0.7 × 0.1 × 0.01 = $0.0007 → $0.0056."""
    plain = router_cost(0.01, 0.001, 0.7)
    assert plain.savings_usd_per_request == pytest.approx(0.0063)
    assert plain.usd_per_request == pytest.approx(0.0037)
    assert plain.savings_fraction == pytest.approx(0.63)
    escalated = router_cost(0.01, 0.001, 0.7, escalation_fraction=0.1)
    assert escalated.savings_usd_per_request == pytest.approx(0.0056)
    with pytest.raises(InputError, match="small_share"):
        router_cost(0.01, 0.001, 1.2)


def test_edge_inference() -> None:
    """1M devices × $0.50 one-time = $500,000; over 1e9 requests that is $0.0005/request; marginal 0."""
    edge = edge_inference_cost(1e6, 0.5, 1e9)
    assert edge.one_time_usd == pytest.approx(500_000.0)
    assert edge.usd_per_request == pytest.approx(0.0005)
    assert edge.marginal_usd_per_request == 0.0


def test_growth_compounds() -> None:
    """1M requests in month 1 growing 10 %/month: 1M, 1.1M, 1.21M, 1.331M."""
    series = monthly_requests_with_growth(1e6, 0.10, 4)
    np.testing.assert_allclose(series, [1e6, 1.1e6, 1.21e6, 1.331e6])
    assert monthly_requests_with_growth(np.array([1.0, 2.0]), 0.0, 3).shape == (2, 3)
    with pytest.raises(InputError, match="monthly_growth"):
        monthly_requests_with_growth(1.0, -1.0, 3)


def test_spike_month() -> None:
    """100k/day over a 30-day month with a 3-day ×10 launch spike:
    27 × 100k + 3 × 1M = 5.7M requests; peak day 1M."""
    month = spike_month(1e5, 10.0, 3, days_per_month=30)
    assert month.requests_per_month == pytest.approx(5.7e6)
    assert month.peak_requests_per_day == pytest.approx(1e6)
    assert spike_month(1e5, 10.0, 0, 30).peak_requests_per_day == pytest.approx(1e5)


@pytest.mark.parametrize(
    ("training_usd", "monthly_usd", "expected"),
    [
        # $1M training, $300k/month inference: cumulative 0.3, 0.6, 0.9, 1.2M → month 4.
        (1e6, [3e5] * 12, 4),
        # $1M training, inference 100k growing +100k/month: 0.1, 0.3, 0.6, 1.0M → month 4 (equality counts).
        (1e6, [1e5, 2e5, 3e5, 4e5, 5e5], 4),
        # $10M training, $100k/month for 24 months = $2.4M < $10M → never (None).
        (1e7, [1e5] * 24, None),
        # Nothing one-time → month 1.
        (0.0, [1.0, 1.0], 1),
    ],
)
def test_crossover_month_hand_cases(
    training_usd: float, monthly_usd: list[float], expected: int | None
) -> None:
    """Crossover = first month where cumulative inference spend ≥ one-time spend (cases in the table)."""
    assert crossover_month(training_usd, monthly_usd) == expected


def test_crossover_array_and_tco() -> None:
    """Vectorized crossover over two trainings; TCO = 1M + 12 × 300k = 4.6M."""
    months = crossover_month_array(np.array([1e6, 1e7]), np.full((2, 12), 3e5))
    assert months[0] == 4.0
    assert math.isnan(months[1])
    assert lifetime_tco_usd(1e6, [3e5] * 12) == pytest.approx(4.6e6)
    np.testing.assert_allclose(cumulative_spend_usd(1e6, [3e5, 3e5]), [1.3e6, 1.6e6])
