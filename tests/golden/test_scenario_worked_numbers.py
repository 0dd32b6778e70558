"""Worked numbers from the product-economics issue, computed through the scenario engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.projection import project

TODAY = dt.date(2025, 1, 1)


def _scenario(traffic: dict[str, Any], options: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": "worked",
        "horizon_months": extra.pop("horizon_months", 12),
        "traffic": traffic,
        "request": {"input_tokens": 1000, "output_tokens": 200},
        "options": options,
        "monte_carlo": {"samples": 0},
        **extra,
    }


def test_five_million_answers_a_day_at_half_a_cent() -> None:
    """$0.005/answer × 5M answers/day = $25,000/day; × 365.25 days = $9,131,250/year ≈ $9.1M.

    Default month = 365.25/12 days, so 12 months = 365.25 days.
    """
    data = _scenario(
        {"requests_per_day": "5M"}, [{"name": "api", "kind": "api", "price_usd_per_request": 0.005}]
    )
    result = project(scenario_from_dict(data), today=TODAY)
    opt = result.option("api")
    assert opt.monthly_cost_usd[0] / result.traffic.days_per_month == pytest.approx(25_000.0)
    assert opt.total_cost_usd == pytest.approx(9_131_250.0)
    assert opt.total_cost_usd == pytest.approx(9.1e6, rel=0.01)


def test_million_users_five_queries_cent_each_thirty_day_month() -> None:
    """1M DAU × 5 queries × $0.01 = $50,000/day; × 30 days = $1,500,000/month.

    A 20 % cheaper option ($0.008/query) saves 0.2 × $1.5M = $300,000/month.
    """
    options = [
        {"name": "now", "kind": "custom", "cost_usd_per_request": 0.01},
        {"name": "optimised", "kind": "custom", "cost_usd_per_request": 0.008},
    ]
    traffic = {"daily_active_users": "1M", "requests_per_user_per_day": 5}
    result = project(scenario_from_dict(_scenario(traffic, options, days_per_month=30)), today=TODAY)
    now, better = result.option("now"), result.option("optimised")
    assert now.monthly_cost_usd[0] / 30 == pytest.approx(50_000.0)
    assert now.monthly_cost_usd[0] == pytest.approx(1_500_000.0)
    assert now.monthly_cost_usd[0] - better.monthly_cost_usd[0] == pytest.approx(300_000.0)
    assert now.cost_per_user_usd_per_month is not None
    assert now.cost_per_user_usd_per_month[0] == pytest.approx(1.5)  # $0.05/day × 30


def test_email_feature_on_all_mail_costs_five_times_the_replied_share() -> None:
    """Drafting for 100 % of inbound mail vs the 20 % users reply to: cost ratio 1 / 0.2 = 5."""
    options = [
        {
            "name": "mini",
            "kind": "api",
            "price_usd_per_million_input_tokens": 0.15,
            "price_usd_per_million_output_tokens": 0.6,
        }
    ]
    costs = []
    for share in ("100%", "20%"):
        traffic = {"daily_active_users": "2M", "requests_per_user_per_day": 40, "ai_share": share}
        result = project(scenario_from_dict(_scenario(traffic, options)), today=TODAY)
        costs.append(result.option("mini").total_cost_usd)
    assert costs[0] / costs[1] == pytest.approx(5.0)
