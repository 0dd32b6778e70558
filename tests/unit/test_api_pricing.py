"""API pricing through genai-prices, checked against independently stated published rates.

Published rates used below (USD per 1M tokens), as stated on the providers' pricing pages and as held
by the genai-prices 0.2.3 snapshot read at 2026-11-01:
- OpenAI gpt-4o (https://platform.openai.com/docs/pricing): input $2.50, cached input $1.25,
  output $10.00; Batch API: input $1.25, output $5.00.
- Anthropic Claude Sonnet 4 (https://www.anthropic.com/pricing#api): input $3, output $15,
  cache hits $0.30, 5-minute cache writes $3.75; Message Batches at 50 % of standard
  (https://platform.claude.com/docs/en/build-with-claude/batch-processing#pricing).
- Google Gemini 2.5 Pro (https://ai.google.dev/gemini-api/docs/pricing): prompts ≤ 200k tokens
  input $1.25 / output $10; prompts > 200k tokens input $2.50 / output $15 (whole request).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from flopbill.errors import InputError, UnknownNameError
from flopbill.estimate.pricing.api import (
    DEFAULT_PRICES_AT,
    api_price,
    api_request_cost_usd,
    api_workload_cost,
    genai_prices_request_cost_usd,
    known_api_models,
)

GPT4O_IN, GPT4O_CACHED, GPT4O_OUT = 2.50, 1.25, 10.00
GPT4O_BATCH_IN, GPT4O_BATCH_OUT = 1.25, 5.00
SONNET4_IN, SONNET4_OUT, SONNET4_CACHED = 3.0, 15.0, 0.30


def published(input_tokens: float, output_tokens: float, in_rate: float, out_rate: float) -> float:
    """Cost (USD) from per-1M-token rates: tokens × rate / 1e6."""
    return (input_tokens * in_rate + output_tokens * out_rate) / 1e6


def test_gpt4o_rates_match_published() -> None:
    price = api_price("gpt-4o")
    assert (price.provider_id, price.model_id) == ("openai", "gpt-4o")
    assert price.input_usd_per_mtok == GPT4O_IN
    assert price.cached_input_usd_per_mtok == GPT4O_CACHED
    assert price.output_usd_per_mtok == GPT4O_OUT
    assert price.prices_at == DEFAULT_PRICES_AT
    assert "genai-prices" in price.source


def test_gpt4o_request_cost_from_published_rate() -> None:
    """800 input × $2.50/1M + 300 output × $10/1M = $0.002 + $0.003 = $0.005 per request."""
    price = api_price("gpt-4o")
    assert api_request_cost_usd(price, 800, 300) == pytest.approx(published(800, 300, GPT4O_IN, GPT4O_OUT))
    assert api_request_cost_usd(price, 800, 300) == pytest.approx(0.005)


def test_gpt4o_cache_reasoning_batch() -> None:
    """Cache hit 0.5 on 800 input: 400 × 2.50 + 400 × 1.25 + 300 × 10 = $0.0045.
    200 reasoning tokens pay the output rate: + 200 × $10/1M = $0.002.
    All batch: 800 × 1.25 + 300 × 5 = $0.0025; 30 % batch: 0.7 × 0.005 + 0.3 × 0.0025 = $0.00425."""
    price = api_price("gpt-4o")
    cached = (400 * GPT4O_IN + 400 * GPT4O_CACHED + 300 * GPT4O_OUT) / 1e6
    assert api_request_cost_usd(price, 800, 300, cache_hit=0.5) == pytest.approx(cached)
    assert api_request_cost_usd(price, 800, 300, reasoning_tokens=200) == pytest.approx(0.007)
    batch = published(800, 300, GPT4O_BATCH_IN, GPT4O_BATCH_OUT)
    assert api_request_cost_usd(price, 800, 300, batch_share=1.0) == pytest.approx(batch)
    assert api_request_cost_usd(price, 800, 300, batch_share=0.3) == pytest.approx(0.7 * 0.005 + 0.3 * batch)
    assert "batch price" in price.batch_source


def test_sonnet4_batch_falls_back_to_sourced_discount() -> None:
    """genai-prices has no batch price for claude-sonnet-4: batch = 50 % of standard (Anthropic's
    published Message Batches rule). 1,000 in + 500 out: standard 3,000 + 7,500 = $0.0105; batch $0.00525.
    A given discount of 0.4 gives 0.6 × 0.0105 = $0.0063."""
    price = api_price("claude-sonnet-4")
    assert price.provider_id == "anthropic"
    assert price.cached_input_usd_per_mtok == SONNET4_CACHED
    standard = published(1000, 500, SONNET4_IN, SONNET4_OUT)
    assert api_request_cost_usd(price, 1000, 500) == pytest.approx(standard)
    assert api_request_cost_usd(price, 1000, 500, batch_share=1.0) == pytest.approx(0.5 * standard)
    assert any(a.name == "batch_discount" for a in price.assumptions)
    given = api_price("claude-sonnet-4", batch_discount=0.4)
    assert api_request_cost_usd(given, 1000, 500, batch_share=1.0) == pytest.approx(0.6 * standard)


@pytest.mark.parametrize(
    ("input_tokens", "in_rate", "out_rate"),
    [(200_000, 1.25, 10.0), (200_001, 2.50, 15.0)],
)
def test_gemini_25_pro_long_context_tier_both_sides(
    input_tokens: int, in_rate: float, out_rate: float
) -> None:
    """Gemini 2.5 Pro: the > 200k tier applies to the whole request once input exceeds 200,000 tokens."""
    price = api_price("gemini-2.5-pro")
    expected = published(input_tokens, 1000, in_rate, out_rate)
    assert api_request_cost_usd(price, input_tokens, 1000) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("model", "input_tokens"),
    [
        ("gpt-4o", 1_000),
        ("gpt-4o", 120_000),
        ("claude-sonnet-4", 150_000),
        ("gemini-2.5-pro", 1_000),
        ("gemini-2.5-pro", 250_000),
        ("o3", 150_000),
        ("gemini-2.5-flash", 900_000),
    ],
)
def test_vectorized_matches_genai_prices_calc_price(model: str, input_tokens: int) -> None:
    """The numpy formula agrees with genai_prices.calc_price (Decimal) for cache + reasoning tokens."""
    price = api_price(model)
    cached = int(0.3 * input_tokens)
    ours = api_request_cost_usd(
        price, input_tokens, 500, cache_hit=cached / input_tokens, reasoning_tokens=200
    )
    theirs = genai_prices_request_cost_usd(
        model, input_tokens, 500, cached_tokens=cached, reasoning_tokens=200
    )
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_broadcasts_over_tokens_and_shares() -> None:
    """(2,1) input tokens × (1,3) batch shares → (2,3); equal to element-wise scalar calls."""
    price = api_price("gpt-4o")
    tokens = np.array([[800.0], [1600.0]])
    shares = np.array([[0.0, 0.5, 1.0]])
    grid = api_request_cost_usd(price, tokens, 300, batch_share=shares)
    assert np.shape(grid) == (2, 3)
    assert np.asarray(grid)[1, 2] == pytest.approx(api_request_cost_usd(price, 1600, 300, batch_share=1.0))


def test_workload_periods() -> None:
    """$0.005/request × 5M/day = $25,000/day; × 30.4375 days = $760,937.50/month; × 12 = $9,131,250/yr."""
    work = api_workload_cost(api_price("gpt-4o"), 800, 300, 5e6)
    assert work.costs.usd_per_day == pytest.approx(25_000.0)
    assert work.costs.usd_per_month == pytest.approx(760_937.5)
    assert work.costs.usd_per_year == pytest.approx(9_131_250.0)


def test_unknown_names_list_close_matches() -> None:
    with pytest.raises(UnknownNameError, match="gpt-4o"):
        api_price("gpt-4oo")
    with pytest.raises(UnknownNameError, match="openai"):
        api_price("gpt-4o", provider="opnai")
    assert "gpt-4o" in known_api_models("openai")


def test_bad_inputs() -> None:
    price = api_price("gpt-4o")
    with pytest.raises(InputError, match="cache_hit"):
        api_request_cost_usd(price, 800, 300, cache_hit=1.5)
    with pytest.raises(InputError, match="input_tokens"):
        api_request_cost_usd(price, 10_000_000, 300)
    with pytest.raises(InputError, match="batch_discount"):
        api_price("gpt-4o", batch_discount=2.0)


def test_explicit_date_selects_historical_price() -> None:
    """o3 was $10 in / $40 out until OpenAI's 2025-06-10 cut to $2 / $8 (genai-prices price history)."""
    assert api_price("o3", at=dt.date(2025, 5, 1)).input_usd_per_mtok == 10.0
    assert api_price("o3", at=dt.date(2025, 7, 1)).input_usd_per_mtok == 2.0
