"""The one place the scenario engine calls the estimators and catalogs (API prices, GPU prices,
serving throughput, training cost), so wiring changes stay local.

Each function returns plain numbers and the :class:`Assumption` records that say where they came from.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from flopbill.catalog.prices import gpu_price
from flopbill.errors import FlopbillError, InputError
from flopbill.estimate.core.assumptions import Assumption
from flopbill.estimate.pricing.api import api_price, first_price_date

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
    first = first_price_date(model, provider)
    if first is not None and when < first:
        raise InputError(
            "prices_as_of", when.isoformat(), f"a date on or after {first.isoformat()}, {model}'s first price"
        )
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
    from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving

    acc = accelerator(gpu)
    opts = ServingOptions(tp=gpus_per_replica, weights=parse_dtype(weight_dtype, "weight_dtype"))
    est = estimate_serving(
        resolve_model(model),
        acc,
        max(input_tokens, 1.0),
        max(output_tokens, 1.0),
        opts,
        hardware_efficiency(acc.id),
        engine_profile(None, acc.id),
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

    Uses the training estimator (:func:`flopbill.estimate.training.cost.estimate_training`): stage FLOPs
    (LoRA, DPO, PPO rollouts... per its cost models), MFU (given, or the sourced default for the
    accelerator generation and ``n_gpus``), goodput and the given GPU-hour price.
    """
    from flopbill.catalog import accelerator, resolve_model
    from flopbill.estimate.training.cost import estimate_training
    from flopbill.estimate.training.inputs import resolve_training_setup
    from flopbill.estimate.training.stages import StageConfig, parse_stage

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


@dataclass(frozen=True)
class InstanceTerms:
    """How a rented GPU is billed: GPUs per instance, billing increment and minimum (s)."""

    gpus_per_instance: int
    billing_increment_s: float
    billing_minimum_s: float
    assumptions: tuple[Assumption, ...]


def instance_terms(gpu: str, pricing: str, provider: str | None) -> InstanceTerms:
    """Return the instance shape and billing of the catalog offer whose price is nearest the median.

    Ties (to the micro-dollar) go to the offer with more GPUs per instance (the conservative reading).
    Without any offer: 1 GPU per instance billed in whole hours (stated).
    """
    try:
        p = gpu_price(gpu, pricing, provider=provider)
    except FlopbillError:
        return InstanceTerms(
            1,
            3600.0,
            3600.0,
            (Assumption(f"{gpu} instance", "1 GPU, billed per whole hour", "no catalog offer: assumed"),),
        )
    offer = min(
        p.offers,
        key=lambda o: (
            round(abs(o.price_usd_per_gpu_hour - p.price_usd_per_gpu_hour), 6),
            -o.gpus_per_instance,
        ),
    )
    known = offer.billing_increment_known_s is not None
    note = (
        f"{offer.provider} {offer.instance}: {offer.gpus_per_instance} GPU(s) per instance, billed per "
        f"{offer.billing_increment_s:g} s after a {offer.billing_minimum_s:g} s minimum"
        + ("" if known else " (increment unknown: whole hours assumed)")
    )
    return InstanceTerms(
        offer.gpus_per_instance,
        offer.billing_increment_s,
        offer.billing_minimum_s,
        (Assumption(f"{gpu} {pricing} instance", offer.gpus_per_instance, offer.source_url, note),),
    )


@dataclass(frozen=True)
class SloCapacity:
    """One replica at the batch the serving planner picks for a latency target, and what it delivers."""

    requests_per_s: float
    utilization: float
    batch: int
    ttft_s: float
    tpot_s: float
    weight_bytes: float
    assumptions: tuple[Assumption, ...]


def _check_replica_shape(m: Any, gpus_per_replica: int, input_tokens: float, output_tokens: float) -> None:
    """Raise the real cause before the SLO search would report it as "no batch meets the SLO".

    TP = ``gpus_per_replica`` must divide the attention heads (as :func:`flopbill.estimate.serving.deployment`
    requires), and one request (input + output tokens) must fit the model's context window.
    """
    if m.n_heads % gpus_per_replica:
        raise InputError(
            "gpus_per_replica", gpus_per_replica, f"a divisor of the {m.n_heads} attention heads of {m.id}"
        )
    if input_tokens + output_tokens > m.max_context_tokens:
        raise InputError(
            "request.input_tokens",
            input_tokens,
            f"a request within {m.id}'s context window of {m.max_context_tokens:,} tokens "
            f"(input + output = {input_tokens + output_tokens:,.0f})",
        )


def replica_at_slo(
    model: str,
    gpu: str,
    gpus_per_replica: int,
    weight_dtype: str,
    input_tokens: float,
    output_tokens: float,
    slo: tuple[float, float, float],
    rps: float,
) -> SloCapacity:
    """Return the replica throughput (requests/s) and planned utilization that meet ``slo`` at ``rps``.

    ``slo`` is (TTFT s, TPOT s, percentile). Calls :func:`flopbill.estimate.serving.search.search_serving`
    for this accelerator, weight format and TP = ``gpus_per_replica`` over its batch grid; of the
    configurations that meet the SLO under load (TPOT with interleaved prefills, TTFT with the M/M/c
    wait), the one with the most output tokens/s per GPU is priced. Its utilization ρ = λ·S / replicas
    is the busy fraction up to which the fleet sized for ``rps`` (``n`` replicas) still meets the TTFT
    percentile: the largest ``λ·S/n`` whose M/M/c wait (``n·B`` slots) fits the TTFT budget left after
    the service TTFT (bisection on λ).
    Raises :class:`InputError` naming the SLO when no batch meets it.
    """
    import numpy as np

    from flopbill.catalog import accelerator, resolve_model
    from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
    from flopbill.dtypes import parse_dtype
    from flopbill.estimate.serving.search import Candidate, SearchGrid, Slo, search_serving

    acc = accelerator(gpu)
    m = resolve_model(model)
    w = parse_dtype(weight_dtype, "weight_dtype")
    eff, measured = hardware_efficiency(acc.id)
    _check_replica_shape(m, gpus_per_replica, input_tokens, output_tokens)
    ttft, tpot, pct = slo
    found = search_serving(
        m,
        [Candidate(acc, eff, 1.0)],
        engine_profile(None, acc.id),
        max(input_tokens, 1.0),
        max(output_tokens, 1.0),
        max(rps, 1e-9),
        Slo(ttft_s=ttft, tpot_s=tpot, ttft_percentile=pct),
        SearchGrid(tps=(gpus_per_replica,), weights=(w,)),
    )
    ok = np.flatnonzero(found.feasible)
    if ok.size == 0:
        raise InputError(
            "slo",
            f"TTFT {ttft:g} s, TPOT {tpot:g} s at P{pct:g}",
            f"a latency target {model} on {gpus_per_replica}× {gpu} ({w.value}) can meet at some batch "
            "(relax slo, add GPUs per replica, or give throughput_requests_per_s_per_replica)",
        )
    i = int(ok[np.argmax(found.output_tokens_per_s_per_gpu[ok])])
    out_tok = max(output_tokens, 1.0)
    rps_rep = float(found.output_tokens_per_s_per_gpu[i]) * gpus_per_replica / out_tok
    util = _max_utilization(
        float(found.replicas[i]),
        float(found.batch[i]),
        1.0 / rps_rep,
        ttft - (float(found.ttft_s[i]) - float(np.nan_to_num(found.queue_wait_s[i]))),
        pct / 100.0,
    )
    wbytes = weight_bytes(model, weight_dtype)
    note = (
        f"batch {int(found.batch[i])}: TTFT {float(found.ttft_s[i]):.3g} s, "
        f"TPOT {float(found.tpot_s[i]):.3g} s "
        f"({1.0 / float(found.tpot_s[i]):.3g} tokens/s per user) under load at {rps:.4g} calls/s; "
        f"SLO TTFT {ttft:g} s, TPOT {tpot:g} s at P{pct:g}"
        + ("" if measured else "; extrapolation (no measured efficiency for this GPU)")
    )
    return SloCapacity(
        requests_per_s=rps_rep,
        utilization=util,
        batch=int(found.batch[i]),
        ttft_s=float(found.ttft_s[i]),
        tpot_s=float(found.tpot_s[i]),
        weight_bytes=wbytes,
        assumptions=(
            Assumption(
                f"{model} on {gpus_per_replica}× {gpu} requests/s per replica",
                rps_rep,
                "serving planner",
                note,
            ),
            Assumption(
                f"{model} on {gpus_per_replica}× {gpu} utilization at the SLO",
                util,
                "serving planner (M/M/c)",
            ),
        ),
    )


def _max_utilization(replicas: float, batch: float, s_per_request: float, slack_s: float, q: float) -> float:
    """Return the largest ``ρ = λ·S/n`` whose wait at quantile ``q`` is within ``slack_s`` (0 < ρ < 1)."""
    from flopbill.estimate.serving.queueing import wait_quantile_s

    cap = replicas / s_per_request  # requests/s at ρ = 1
    lo, hi = 0.0, cap
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        wait = float(wait_quantile_s(replicas * batch, mid, batch * s_per_request, q))
        lo, hi = (mid, hi) if wait <= slack_s else (lo, mid)
    return max(lo / cap, 1e-6)


def weight_bytes(model: str, weight_dtype: str) -> float:
    """Return the bytes of a model's weights stored in ``weight_dtype`` (quantized formats keep
    embeddings and norms in bf16, as the serving estimator counts them)."""
    from flopbill.catalog import resolve_model
    from flopbill.dtypes import QUANTIZED, Dtype, bytes_per_value, parse_dtype
    from flopbill.estimate.serving.step import model_terms, weight_bytes_stored

    w = parse_dtype(weight_dtype, "weight_dtype")
    kept = Dtype.BF16 if w in QUANTIZED else w
    return float(
        weight_bytes_stored(model_terms(resolve_model(model)), bytes_per_value(w), bytes_per_value(kept))
    )
