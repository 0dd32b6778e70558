"""``flopbill api``: documented JSON keys, hand-checked numbers, clear errors (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

RunCli = Callable[[list[str]], tuple[int, str, str]]
WORKLOAD = ["--input-tokens", "800", "--output-tokens", "300", "--requests-per-day", "5M"]
TOP_KEYS = {
    "prices_at",
    "price_data",
    "days_per_month",
    "days_per_year",
    "workload",
    "options",
    "assumptions",
}
OPTION_KEYS = {
    "provider_id",
    "provider_name",
    "model_id",
    "model_name",
    "usd_per_request",
    "usd_per_million_tokens",
    "usd_per_day",
    "usd_per_month",
    "usd_per_year",
    "usd_per_mtok",
    "long_context_tiers",
    "batch_source",
    "source",
    "pricing_url",
    "context_window_tokens",
}


def test_api_json_keys_and_gpt4o_numbers(run_cli: RunCli) -> None:
    """gpt-4o at OpenAI's published $2.50/1M input and $10/1M output: 800 × 2.5e-6 + 300 × 1e-5 = $0.005;
    × 5M/day = $25,000/day; × 30.4375 days = $760,937.50/month; × 12 = $9,131,250/year."""
    code, out, _ = run_cli(["api", "--model", "gpt-4o", *WORKLOAD, "--json"])
    assert code == 0
    data = json.loads(out)
    assert set(data) == TOP_KEYS
    assert data["prices_at"] == "2026-11-01"
    assert data["days_per_month"] == 30.4375
    assert data["days_per_year"] == pytest.approx(365.25)
    (option,) = data["options"]
    assert set(option) == OPTION_KEYS
    assert option["usd_per_request"] == pytest.approx(0.005)
    assert option["usd_per_day"] == pytest.approx(25_000.0)
    assert option["usd_per_month"] == pytest.approx(760_937.5)
    assert option["usd_per_year"] == pytest.approx(9_131_250.0)
    assert option["usd_per_mtok"]["input"] == 2.5
    assert option["usd_per_mtok"]["output"] == 10.0
    assert data["workload"]["requests_per_day"] == 5e6


def test_api_without_requests_per_day_gives_per_request_and_per_million_tokens(run_cli: RunCli) -> None:
    """Without a volume: gpt-4o 800 in + 300 out = 800 × 2.5e-6 + 300 × 1e-5 = $0.005 per request;
    per 1M tokens = 0.005 / 1,100 tokens × 1e6 = $4.5454...; per day/month/year unknown (null)."""
    code, out, _ = run_cli(
        ["api", "--model", "gpt-4o", "--input-tokens", "800", "--output-tokens", "300", "--json"]
    )
    assert code == 0
    data = json.loads(out)
    (option,) = data["options"]
    assert option["usd_per_request"] == pytest.approx(0.005)
    assert option["usd_per_million_tokens"] == pytest.approx(0.005 / 1100 * 1e6)
    assert option["usd_per_day"] is None and option["usd_per_year"] is None
    assert data["workload"]["requests_per_day"] is None
    code, out, _ = run_cli(["api", "--model", "gpt-4o", "--input-tokens", "800", "--output-tokens", "300"])
    assert code == 0
    assert "per 1M tokens" in out and "per day" not in out


def test_api_days_per_month_30(run_cli: RunCli) -> None:
    """$25,000/day × 30 days = $750,000/month."""
    code, out, _ = run_cli(["api", "--model", "gpt-4o", *WORKLOAD, "--days-per-month", "30", "--json"])
    assert code == 0
    assert json.loads(out)["options"][0]["usd_per_month"] == pytest.approx(750_000.0)


def test_api_compare_side_by_side(run_cli: RunCli) -> None:
    """Three models, one row each, in the order given; the table names the price date and month length."""
    models = "gpt-4o,claude-sonnet-4,gemini-2.5-flash"
    code, out, _ = run_cli(["api", "--compare", models, *WORKLOAD, "--cache-hit", "0.5", "--json"])
    assert code == 0
    ids = [o["model_id"] for o in json.loads(out)["options"]]
    assert ids == ["gpt-4o", "claude-sonnet-4-0", "gemini-2.5-flash"]
    code, out, _ = run_cli(["api", "--compare", models, *WORKLOAD, "--batch-share", "0.3"])
    assert code == 0
    assert "2026-11-01" in out
    assert "30.4375 days" in out
    assert "claude-sonnet-4-0" in out


def test_api_unknown_model_exit_2_with_close_matches(run_cli: RunCli) -> None:
    code, out, err = run_cli(["api", "--model", "gpt-4oo", *WORKLOAD])
    assert code == 2
    assert "gpt-4oo" in err
    assert "did you mean" in err
    assert "gpt-4o" in err
    assert out == ""


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--model", "gpt-4o", *WORKLOAD, "--cache-hit", "1.5"], "--cache-hit"),
        (["--model", "gpt-4o", *WORKLOAD, "--at", "last week"], "--at"),
        (["--model", "gpt-4o", "--provider", "opnai", *WORKLOAD], "opnai"),
        ([*WORKLOAD], "--model"),
    ],
)
def test_api_bad_input_exit_2(run_cli: RunCli, args: list[str], field: str) -> None:
    code, _, err = run_cli(["api", *args])
    assert code == 2
    assert field in err
