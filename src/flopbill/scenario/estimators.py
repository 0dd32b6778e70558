"""The one place the scenario engine calls the estimators and catalogs (API prices, GPU prices,
serving throughput, training cost), so wiring changes stay local.

Each function returns plain numbers and the :class:`Assumption` records that say where they came from.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from flopbill.catalog.prices import gpu_price
from flopbill.errors import FlopbillError, InputError
from flopbill.estimate.api import api_price
from flopbill.estimate.assumptions import Assumption

_PER_MILLION = 1_000_000


@dataclass(frozen=True)
class TokenPrices:
    """API prices in USD per token: uncached input, cached input (cache read), output."""

    input_usd_per_token: float
    cached_input_usd_per_token: float
    output_usd_per_token: float
    assumptions: tuple[Assumption, ...]


@functools.lru_cache(maxsize=256)
def api_token_prices(model: str, provider: str | None, when: dt.date) -> TokenPrices:
    """Return an API model's token prices (USD/token) at date ``when``, through :func:`api_price`.

    The first (shortest-context) tier is used; cached input without a published cache price pays the
    input price. Unknown model → :class:`UnknownNameError` with close matches.
    """
    price = api_price(model, provider, at=when)
    cached = price.cached_input_usd_per_mtok
    prices = TokenPrices(
        input_usd_per_token=price.input_usd_per_mtok / _PER_MILLION,
        cached_input_usd_per_token=(price.input_usd_per_mtok if cached is None else cached) / _PER_MILLION,
        output_usd_per_token=price.output_usd_per_mtok / _PER_MILLION,
        assumptions=(),
    )
    name = f"{price.provider_id}/{price.model_id}"
    src = f"{price.source} ({name})"
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


def gpu_hour_price(
    gpu: str, pricing: str, provider: str | None, field: str = "price_usd_per_gpu_hour"
) -> tuple[float, tuple[Assumption, ...]]:
    """Return the median USD per GPU-hour of the GPU price snapshot for ``gpu`` at ``pricing``
    (:func:`flopbill.catalog.prices.gpu_price`); ``provider`` restricts the offers.

    No offer → :class:`InputError` naming ``field`` and asking for ``price_usd_per_gpu_hour``.
    """
    try:
        p = gpu_price(gpu, pricing, provider=provider)
    except FlopbillError as exc:
        raise InputError(field, None, f"a price: the GPU price snapshot has none here ({exc})") from None
    note = (
        f"median of {p.n_offers} offers, range ${p.low_usd_per_gpu_hour:.2f}..${p.high_usd_per_gpu_hour:.2f}"
    )
    return p.price_usd_per_gpu_hour, (
        Assumption(f"{gpu} {pricing} USD per GPU-hour", p.price_usd_per_gpu_hour, p.source, note),
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
