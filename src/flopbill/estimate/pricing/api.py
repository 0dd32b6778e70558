"""API prices: what a hosted model costs per request, through ``genai-prices`` (the one adapter module).

Prices come from the data bundled with ``genai-prices`` 0.2.3 (pydantic/genai-prices, MIT), read at an
explicit date (:data:`DEFAULT_PRICES_AT` unless given); its network updater is never started. Inside the
adapter money is ``Decimal``; what leaves it is float USD.

Token accounting (the ``genai-prices`` convention): ``input_tokens`` is the whole prompt, cached part
included; ``output_tokens`` is the visible answer; ``reasoning_tokens`` are extra hidden output tokens,
billed at the output rate unless the model has a separate reasoning rate. Long-context tiers are
"cliffs": once a request's input tokens exceed a tier's start, *all* its tokens pay the tier rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from genai_prices import Usage, calc_price, data_snapshot
from genai_prices import __version__ as _genai_prices_version
from genai_prices import types as gp

from flopbill.checks import array as check_array
from flopbill.checks import number
from flopbill.errors import InputError, UnknownNameError
from flopbill.estimate.core.arrays import ArrayLike, as_array, as_output
from flopbill.estimate.core.assumptions import Assumption
from flopbill.estimate.pricing.economics import DAYS_PER_MONTH, PeriodCosts, period_costs

#: Version of the genai-prices package (and so of its bundled price data).
GENAI_PRICES_VERSION: str = _genai_prices_version

#: Date at which prices are read when none is given (genai-prices 0.2.3 data has entries up to then).
DEFAULT_PRICES_AT = dt.date(2026, 11, 1)

#: Batch discount used only when genai-prices has no batch price for a model: batch APIs bill 50 % of the
#: standard token rates. Sources: OpenAI Batch API guide (https://platform.openai.com/docs/guides/batch,
#: "50% cost discount"); Anthropic Message Batches (https://platform.claude.com/docs/en/build-with-claude/
#: batch-processing#pricing, "50% of the standard rates"); Gemini Batch Mode
#: (https://ai.google.dev/gemini-api/docs/batch-mode, "50% of the standard cost"); as recorded in the
#: genai-prices 0.2.3 data comments, checked 2026-10-14.
DEFAULT_BATCH_DISCOUNT = Assumption(
    name="batch_discount",
    value=0.5,
    source="OpenAI Batch API guide; Anthropic Message Batches pricing; Gemini Batch Mode docs (2026-10-14)",
    note="used only where genai-prices has no batch price for the model; applied to every token rate",
)

_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok", "output_reasoning_mtok")
_BATCH_CONTEXT = {"processing": "batch"}


@dataclass(frozen=True)
class TokenRate:
    """USD per million tokens, with long-context tiers ``(start_input_tokens, usd_per_mtok)``.

    Cliff rule: a request whose input tokens are ``> start`` pays the tier rate on all these tokens.
    """

    usd_per_mtok: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, input_tokens: ArrayLike) -> ArrayLike:
        """Return the rate (USD/1M tokens) that applies to a request with ``input_tokens`` prompt tokens."""
        tokens = as_array(input_tokens)
        rate = np.full_like(tokens, self.usd_per_mtok)
        for start, tier_rate in self.tiers:
            rate = np.where(tokens > start, tier_rate, rate)
        return as_output(rate)

    def scaled(self, factor: float) -> TokenRate:
        """Return this rate times ``factor`` (tiers included)."""
        return TokenRate(self.usd_per_mtok * factor, tuple((s, r * factor) for s, r in self.tiers))


@dataclass(frozen=True)
class ApiRates:
    """One set of rates (standard or batch). ``None``: the model has no such rate (see the cost rules)."""

    input: TokenRate
    cached_input: TokenRate | None
    cache_write: TokenRate | None
    output: TokenRate
    reasoning: TokenRate | None
    usd_per_request: float = 0.0


@dataclass(frozen=True)
class ApiPrice:
    """A model's API prices at one date, from genai-prices, with where they come from."""

    provider_id: str
    provider_name: str
    model_id: str
    model_name: str
    standard: ApiRates
    batch: ApiRates
    batch_source: str
    prices_at: dt.date
    source: str
    pricing_url: str | None
    context_window_tokens: int | None
    assumptions: tuple[Assumption, ...]

    @property
    def input_usd_per_mtok(self) -> float:
        """Standard input rate below any long-context tier (USD per 1M tokens)."""
        return self.standard.input.usd_per_mtok

    @property
    def cached_input_usd_per_mtok(self) -> float | None:
        """Standard cache-read rate (USD per 1M tokens); ``None`` if cached tokens pay the input rate."""
        return None if self.standard.cached_input is None else self.standard.cached_input.usd_per_mtok

    @property
    def output_usd_per_mtok(self) -> float:
        """Standard output rate below any long-context tier (USD per 1M tokens)."""
        return self.standard.output.usd_per_mtok


def _snapshot() -> Any:
    """Return the data bundled with genai-prices (never an auto-updated one)."""
    return data_snapshot.get_snapshot()


def known_api_models(provider: str | None = None) -> tuple[str, ...]:
    """Return the model ids genai-prices knows (of one provider, or all), sorted."""
    providers = _snapshot().providers
    if provider is not None:
        providers = [p for p in providers if p.id == _find_provider(provider).id]
    return tuple(sorted({m.id for p in providers for m in p.models}))


def _find_provider(provider: str) -> Any:
    found = data_snapshot.find_provider_by_id(_snapshot().providers, provider)
    if found is None:
        raise UnknownNameError("API provider", provider, [p.id for p in _snapshot().providers])
    return found


def _find_model(model: str, provider: str | None) -> tuple[Any, Any]:
    provider_id = None if provider is None else _find_provider(provider).id
    try:
        return _snapshot().find_provider_model(model, None, provider_id, None)  # type: ignore[no-any-return]
    except LookupError:
        raise UnknownNameError("API model", model, known_api_models(provider)) from None


def _to_rate(value: Decimal | gp.TieredPrices | None, factor: Decimal = Decimal(1)) -> TokenRate | None:
    if value is None:
        return None
    if isinstance(value, gp.TieredPrices):
        tiers = tuple((int(t.start), float(t.price * factor)) for t in value.tiers)
        return TokenRate(float(value.base * factor), tiers)
    return TokenRate(float(value * factor))


def _rates(model_price: Any, factor: Decimal = Decimal(1)) -> ApiRates:
    values = {key: getattr(model_price, key, None) for key in _KEYS}
    per_k = getattr(model_price, "requests_kcount", None)
    return ApiRates(
        input=_to_rate(values["input_mtok"], factor) or TokenRate(0.0),
        cached_input=_to_rate(values["cache_read_mtok"], factor),
        cache_write=_to_rate(values["cache_write_mtok"], factor),
        output=_to_rate(values["output_mtok"], factor) or TokenRate(0.0),
        reasoning=_to_rate(values["output_reasoning_mtok"], factor),
        usd_per_request=0.0 if per_k is None else float(per_k / Decimal(1000)),
    )


def _has_batch_variant(provider: Any, model: Any, at: dt.datetime) -> bool:
    if not any(model is m for m in provider.models):  # genai-prices ignores variants on fallback models
        return False
    return any(
        v.when == _BATCH_CONTEXT and (v.constraint is None or v.constraint.active(at))
        for v in model.price_variants or ()
    )


def _timestamp(at: dt.date) -> dt.datetime:
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)


#: The first public LLM API (OpenAI's, announced 2020-06-11: https://openai.com/index/openai-api/,
#: checked 2026-12-01): no price in the data can apply to an earlier date.
EARLIEST_PRICES_AT = dt.date(2020, 6, 11)


def first_price_date(model: str, provider: str | None = None) -> dt.date | None:
    """Return the date from which genai-prices has a price for ``model``, or None when its price is undated.

    genai-prices falls back to the first price for dates before it; callers that must not price a date
    before the model existed check against this.
    """
    _, model_info = _find_model(model, provider)
    return first_dated_price(model_info)


def first_dated_price(model_info: gp.ModelInfo) -> dt.date | None:
    """Return the earliest start date of a genai-prices model's prices when all are dated, else None."""
    prices = model_info.prices
    if isinstance(prices, gp.ModelPrice) or not prices:
        return None
    starts = [
        c.constraint.start_date
        for c in prices
        if c.constraint is not None and isinstance(c.constraint, gp.StartDateConstraint)
    ]
    undated = any(c.constraint is None for c in prices)
    return None if undated or not starts else min(starts)


def api_price(
    model: str,
    provider: str | None = None,
    at: dt.date = DEFAULT_PRICES_AT,
    batch_discount: float | None = None,
) -> ApiPrice:
    """Return a model's API prices (USD per 1M tokens) at date ``at``, from genai-prices' bundled data.

    ``provider`` picks the seller (``openai``, ``azure``, ``aws``...); without it genai-prices matches the
    model name to its maker. Batch rates: genai-prices' batch price when it has one (and
    ``batch_discount`` is None); otherwise standard rates × (1 − discount), the discount being
    ``batch_discount`` or :data:`DEFAULT_BATCH_DISCOUNT`. Raises :class:`UnknownNameError` with close
    matches for an unknown model or provider.
    """
    if not isinstance(at, dt.date) or at < EARLIEST_PRICES_AT:
        raise InputError(
            "at", at, f"a date on or after {EARLIEST_PRICES_AT} (no hosted LLM API was priced before)"
        )
    if batch_discount is not None and not 0.0 <= batch_discount <= 1.0:
        raise InputError("batch_discount", batch_discount, "a fraction between 0 and 1 (0.5 = half price)")
    provider_info, model_info = _find_model(model, provider)
    when = _timestamp(at)
    standard = model_info.get_prices(when)
    if batch_discount is None and _has_batch_variant(provider_info, model_info, when):
        batch = _rates(model_info.get_prices(when, _BATCH_CONTEXT))
        batch_source = f"genai-prices {GENAI_PRICES_VERSION} batch price"
        notes: tuple[Assumption, ...] = ()
    else:
        discount = DEFAULT_BATCH_DISCOUNT.value if batch_discount is None else batch_discount
        batch = _rates(standard, Decimal(1) - Decimal(str(discount)))
        batch_source = f"standard × (1 − {discount:g})"
        notes = (
            (DEFAULT_BATCH_DISCOUNT,)
            if batch_discount is None
            else (Assumption("batch_discount", batch_discount, "given"),)
        )
    urls = provider_info.pricing_urls or []
    source = (
        f"genai-prices {GENAI_PRICES_VERSION} bundled data, {provider_info.name} prices at {at.isoformat()}"
    )
    return ApiPrice(
        provider_id=provider_info.id,
        provider_name=provider_info.name,
        model_id=model_info.id,
        model_name=model_info.name or model_info.id,
        standard=_rates(standard),
        batch=batch,
        batch_source=batch_source,
        prices_at=at,
        source=source,
        pricing_url=urls[0] if urls else None,
        context_window_tokens=model_info.context_window,
        assumptions=(
            Assumption("api_prices", f"{provider_info.id}/{model_info.id}", source, urls[0] if urls else ""),
            Assumption("prices_at", at.isoformat(), "given" if at != DEFAULT_PRICES_AT else "default date"),
            *notes,
        ),
    )


def _rates_request_cost_usd(
    rates: ApiRates,
    input_tokens: Any,
    output_tokens: Any,
    cache_hit: Any,
    cache_write: Any,
    reasoning_tokens: Any,
) -> Any:
    cached = cache_hit * input_tokens
    written = cache_write * input_tokens
    uncached = input_tokens - cached - written
    rate_in = as_array(rates.input.at(input_tokens))
    rate_cached = rate_in if rates.cached_input is None else as_array(rates.cached_input.at(input_tokens))
    rate_write = rate_in if rates.cache_write is None else as_array(rates.cache_write.at(input_tokens))
    rate_out = as_array(rates.output.at(input_tokens))
    rate_reason = rate_out if rates.reasoning is None else as_array(rates.reasoning.at(input_tokens))
    usd_per_mtok_tokens = (
        uncached * rate_in
        + cached * rate_cached
        + written * rate_write
        + output_tokens * rate_out
        + reasoning_tokens * rate_reason
    )
    return usd_per_mtok_tokens / 1e6 + rates.usd_per_request


def api_request_cost_usd(
    price: ApiPrice,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    cache_hit: ArrayLike = 0.0,
    reasoning_tokens: ArrayLike = 0.0,
    batch_share: ArrayLike = 0.0,
    cache_write: ArrayLike = 0.0,
) -> ArrayLike:
    """Return the expected cost of one request (USD); broadcasts over every numeric argument.

    With I input, O output, Z reasoning tokens, cache-hit share h, cache-write share w (h + w ≤ 1) and
    rates r (USD/1M tokens, chosen by the long-context tier that I falls in):
    ``c = [(1 − h − w)·I·r_in + h·I·r_cached + w·I·r_write + O·r_out + Z·r_reasoning] / 1e6 + fee``,
    where a missing cached/write rate means the input rate and a missing reasoning rate the output
    rate. With a batch share b: ``cost = (1 − b)·c_standard + b·c_batch``. Input tokens above the
    model's context window raise :class:`InputError`.
    """
    i = _nonnegative("input_tokens", input_tokens)
    o = _nonnegative("output_tokens", output_tokens)
    z = _nonnegative("reasoning_tokens", reasoning_tokens)
    h = _fraction("cache_hit", cache_hit)
    w = _fraction("cache_write", cache_write)
    b = _fraction("batch_share", batch_share)
    window = price.context_window_tokens
    if window is not None and np.any(i > window):
        raise InputError("input_tokens", input_tokens, f"≤ {window} (the context window of {price.model_id})")
    if np.any(h + w > 1.0 + 1e-12):
        raise InputError("cache_hit + cache_write", "> 1", "shares of the input tokens that sum to ≤ 1")
    standard = _rates_request_cost_usd(price.standard, i, o, h, w, z)
    batch = _rates_request_cost_usd(price.batch, i, o, h, w, z)
    return as_output(as_array((1.0 - b) * standard + b * batch))


def _nonnegative(field: str, value: Any) -> Any:
    arr = as_array(check_array(value, field))
    if np.any(~(arr >= 0)):
        raise InputError(field, value, "a number ≥ 0")
    return arr


def _fraction(field: str, value: Any) -> Any:
    arr = as_array(check_array(value, field, lower=None))
    if np.any(~((arr >= 0) & (arr <= 1))):
        raise InputError(field, value, "a fraction between 0 and 1")
    return arr


@dataclass(frozen=True)
class ApiWorkloadCost:
    """A workload's API bill: per request, day, month, year (USD), and the prices used."""

    price: ApiPrice
    costs: PeriodCosts
    assumptions: tuple[Assumption, ...]
    usd_per_million_tokens: ArrayLike = 0.0


def usd_per_million_tokens(
    usd_per_request: ArrayLike, input_tokens: ArrayLike, output_tokens: ArrayLike, reasoning_tokens: ArrayLike
) -> ArrayLike:
    """Return the blended cost of 1M tokens (USD): ``cost/request ÷ (I + O + Z) × 1e6``.

    I, O, Z are input, visible output and reasoning tokens per request (all billed tokens counted once);
    0 when a request has no tokens. Broadcasts over arrays.
    """
    tokens = as_array(input_tokens) + as_array(output_tokens) + as_array(reasoning_tokens)
    cost = as_array(usd_per_request)
    safe = np.where(tokens > 0, tokens, 1.0)
    return as_output(np.where(tokens > 0, cost / safe * 1e6, 0.0))


def api_workload_cost(
    price: ApiPrice,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    requests_per_day: ArrayLike,
    cache_hit: ArrayLike = 0.0,
    reasoning_tokens: ArrayLike = 0.0,
    batch_share: ArrayLike = 0.0,
    cache_write: ArrayLike = 0.0,
    days_per_month: float = DAYS_PER_MONTH,
) -> ApiWorkloadCost:
    """Return a workload's API cost per request, day, month and year (USD).

    ``per day = cost/request × requests/day`` (:func:`api_request_cost_usd`), ``per month = per day ×
    days_per_month`` (default 365.25/12 = 30.4375), ``per year = 12 months``.
    """
    if not 0.0 < number(days_per_month, "days_per_month") <= 31.0:
        raise InputError("days_per_month", days_per_month, "a number of days in (0, 31]")
    per_request = api_request_cost_usd(
        price, input_tokens, output_tokens, cache_hit, reasoning_tokens, batch_share, cache_write
    )
    costs = period_costs(per_request, _nonnegative("requests_per_day", requests_per_day), days_per_month)
    notes = (
        *price.assumptions,
        Assumption(
            "days_per_month", days_per_month, "convention", "365.25/12 unless given; year = 12 months"
        ),
    )
    per_mtok = usd_per_million_tokens(per_request, input_tokens, output_tokens, reasoning_tokens)
    return ApiWorkloadCost(price=price, costs=costs, assumptions=notes, usd_per_million_tokens=per_mtok)


def genai_prices_request_cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    provider: str | None = None,
    at: dt.date = DEFAULT_PRICES_AT,
    batch: bool = False,
) -> float:
    """Return one request's cost (USD) computed by ``genai_prices.calc_price`` itself (Decimal inside).

    A scalar cross-check of :func:`api_request_cost_usd`: same token accounting, no batch fallback
    (``batch=True`` asks genai-prices for its batch price, which exists for some models only).
    """
    provider_info, _ = _find_model(model, provider)
    usage = Usage(
        input_tokens=input_tokens,
        cache_read_tokens=cached_tokens,
        output_tokens=output_tokens + reasoning_tokens,
        output_reasoning_tokens=reasoning_tokens,
    )
    result = calc_price(
        usage,
        model,
        provider_id=provider_info.id,
        genai_request_timestamp=_timestamp(at),
        price_context=_BATCH_CONTEXT if batch else None,
    )
    return float(result.total_price)
