"""The one place the scenario engine calls the estimators and catalogs (API prices, GPU prices,
serving throughput, training cost), so wiring changes stay local.

Each function returns plain numbers and the :class:`Assumption` records that say where they came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import statistics
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from flopbill.errors import FlopbillError, InputError, UnknownNameError
from flopbill.estimate.assumptions import Assumption

_PER_MILLION = 1_000_000


@dataclass(frozen=True)
class TokenPrices:
    """API prices in USD per token: uncached input, cached input (cache read), output."""

    input_usd_per_token: float
    cached_input_usd_per_token: float
    output_usd_per_token: float
    assumptions: tuple[Assumption, ...]


def _genai_price(model: str, provider: str | None, when: dt.date, **usage: int) -> Any:
    import genai_prices

    stamp = dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC)
    return genai_prices.calc_price(
        genai_prices.Usage(**usage), model_ref=model, provider_id=provider, genai_request_timestamp=stamp
    )


@functools.lru_cache(maxsize=256)
def api_token_prices(model: str, provider: str | None, when: dt.date) -> TokenPrices:
    """Return an API model's token prices (USD/token) from genai-prices at date ``when``.

    Prices of 1M input, 1M cache-read and 1M output tokens are read separately, so long-context tiers
    are not applied (the first tier is used). Unknown model → :class:`UnknownNameError`.
    """
    try:
        inp = _genai_price(model, provider, when, input_tokens=_PER_MILLION)
        out = _genai_price(model, provider, when, output_tokens=_PER_MILLION)
    except LookupError as exc:
        raise UnknownNameError("API model", model, _known_api_models()) from exc
    except Exception as exc:  # genai-prices raises plain exceptions for unknown names
        if isinstance(exc, FlopbillError):
            raise
        raise UnknownNameError("API model", model, _known_api_models()) from exc
    try:
        cached = _genai_price(
            model, provider, when, input_tokens=_PER_MILLION, cache_read_tokens=_PER_MILLION
        ).total_price
    except Exception:  # no cache price published: cached tokens cost the input price
        cached = inp.total_price
    to_float = float
    name = f"{inp.provider.id}/{inp.model.id}"
    src = f"genai-prices 0.2.3 price data for {name}, prices in force on {when.isoformat()}"
    prices = TokenPrices(
        input_usd_per_token=to_float(Decimal(inp.total_price)) / _PER_MILLION,
        cached_input_usd_per_token=to_float(Decimal(cached)) / _PER_MILLION,
        output_usd_per_token=to_float(Decimal(out.total_price)) / _PER_MILLION,
        assumptions=(),
    )
    notes = (
        Assumption(f"{model} input price, USD per 1M tokens", prices.input_usd_per_token * 1e6, src),
        Assumption(
            f"{model} cached input price, USD per 1M tokens", prices.cached_input_usd_per_token * 1e6, src
        ),
        Assumption(f"{model} output price, USD per 1M tokens", prices.output_usd_per_token * 1e6, src),
    )
    return TokenPrices(
        prices.input_usd_per_token, prices.cached_input_usd_per_token, prices.output_usd_per_token, notes
    )


@functools.lru_cache(maxsize=1)
def _known_api_models() -> tuple[str, ...]:
    try:
        from genai_prices import data

        names = {m.id for p in data.providers for m in p.models}
        return tuple(sorted(names))
    except Exception:  # the list only feeds "did you mean"; its absence is not an error
        return ()


@functools.lru_cache(maxsize=1)
def _gpu_price_rows() -> tuple[dict[str, str], ...]:
    text = resources.files("flopbill.catalog.data").joinpath("gpu_prices.csv").read_text(encoding="utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def gpu_hour_price(
    gpu: str, pricing: str, provider: str | None, field: str = "price_usd_per_gpu_hour"
) -> tuple[float, tuple[Assumption, ...]]:
    """Return the median USD per GPU-hour in the GPU price catalog for ``gpu`` at ``pricing``.

    ``provider`` restricts the rows. No row → :class:`InputError` asking for ``price_usd_per_gpu_hour``.
    """
    rows = [
        r
        for r in _gpu_price_rows()
        if r["accelerator_id"] == gpu
        and r["pricing"] == pricing
        and (provider is None or r["provider"] == provider)
        and r.get("price_usd_per_gpu_hour")
    ]
    if not rows:
        raise InputError(
            field,
            None,
            f"a price: the GPU price catalog has no {pricing} row for {gpu}"
            + (f" at {provider}" if provider else "")
            + " (see `flopbill catalog`)",
        )
    prices = [float(r["price_usd_per_gpu_hour"]) for r in rows]
    median = statistics.median(prices)
    listing = "; ".join(
        f"{r['provider']} {r['instance']} ${float(r['price_usd_per_gpu_hour']):.2f} "
        f"({r['date_checked']}, {r['source_url']})"
        for r in rows
    )
    note = f"median of {len(rows)} catalog rows, range ${min(prices):.2f}..${max(prices):.2f}"
    return median, (
        Assumption(f"{gpu} {pricing} USD per GPU-hour", median, f"gpu_prices.csv: {listing}", note),
    )


def replica_throughput(
    model: str,
    gpu: str,
    gpus_per_replica: int,
    weight_dtype: str,
    input_tokens: float,
    output_tokens: float,
) -> tuple[float, tuple[Assumption, ...]]:
    """Return requests/s one replica sustains for this request shape, from the serving estimator.

    Raises :class:`InputError` when the serving estimator cannot give one (then the scenario must state
    ``throughput_requests_per_s_per_replica``).
    """
    from flopbill.catalog import accelerator, resolve_model
    from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
    from flopbill.dtypes import parse_dtype
    from flopbill.estimate.serving import ServingOptions, estimate_serving

    acc = accelerator(gpu)
    opts = ServingOptions(tp=gpus_per_replica, weights=parse_dtype(weight_dtype, "weight_dtype"))
    est = estimate_serving(
        resolve_model(model),
        acc,
        max(input_tokens, 1.0),
        max(output_tokens, 1.0),
        opts,
        hardware_efficiency(acc.id),
        engine_profile(),
    )
    rps = est.output_tokens_per_s_per_gpu * est.tp / max(output_tokens, 1.0)
    note = (
        f"output tokens/s per GPU {est.output_tokens_per_s_per_gpu:.4g} at batch {est.batch} "
        f"(largest that fits), {est.bound}-bound"
        + ("; extrapolation (no measured efficiency for this GPU)" if est.extrapolation else "")
    )
    return rps, (
        Assumption(f"{model} on {gpus_per_replica}× {gpu}", rps, "serving estimator", note),
        *est.assumptions,
    )


def training_cost(
    stage: str,
    model: str,
    tokens: float,
    gpu: str,
    mfu: float | None,
    context_tokens: int,
    price_usd_per_gpu_hour: float,
    n_gpus: int = 8,
    teacher: str | None = None,
) -> tuple[float, float, tuple[Assumption, ...]]:
    """Return (USD, GPU-hours, assumptions) of one training stage at expected inputs.

    Uses the training estimator (:func:`flopbill.estimate.training.estimate_training`): stage FLOPs
    (LoRA, DPO, PPO rollouts... per its cost models), MFU (given, or the sourced default for the
    accelerator generation and ``n_gpus``), goodput and the given GPU-hour price.
    """
    from flopbill.catalog import accelerator, resolve_model
    from flopbill.estimate.training import estimate_training
    from flopbill.estimate.training_inputs import resolve_training_setup
    from flopbill.estimate.training_stages import StageConfig, parse_stage

    parsed = parse_stage(stage)
    cfg = StageConfig(stage=parsed, teacher=resolve_model(teacher) if teacher else None)
    setup = resolve_training_setup(
        resolve_model(model),
        accelerator(gpu),
        n_gpus=n_gpus,
        tokens=tokens,
        seq_len=context_tokens,
        mfu=None if mfu is None else (mfu, mfu, mfu),
        price=(price_usd_per_gpu_hour,) * 3,
        stage=cfg,
    )
    est = estimate_training(setup)
    if est.cost_usd is None:  # a price was given, so this cannot happen; kept for the type checker
        raise InputError("training.price_usd_per_gpu_hour", price_usd_per_gpu_hour, "a price in USD")
    notes = (
        Assumption(f"{stage} training FLOPs", est.flops, "training estimator (stage cost model)"),
        *(a for a in est.assumptions if a.name != "price_usd_per_gpu_hour"),
    )
    return est.cost_usd.expected, est.gpu_hours.expected, notes
