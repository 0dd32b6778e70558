"""Capacity and search: replicas for a request rate under TTFT/TPOT SLOs, cheapest configurations, Pareto set.

One vectorized call of :func:`serving_metrics` evaluates the whole grid accelerator × precision × TP ×
batch. Under load (continuous batching with chunked prefill, Agrawal et al. 2024, "Sarathi-Serve"):

* a replica at batch ``B`` serves ``1 / S`` requests/s, ``S = prefill + O·T/(B·τ)`` replica-seconds
  per request; the throughput minimum is ``ceil(rps / (utilization / S))`` copies (``utilization`` is a
  cap on the planned busy fraction, default 1);
* TPOT under load adds the prefills that interleave with decode: ``T/τ + B/(O·n)·prefill``;
* TTFT under load: the prompt's prefill, one step already in flight, and the M/M/c queueing wait at
  ``slo.ttft_percentile`` (:mod:`flopbill.estimate.serving.queueing`: ``replicas × B`` slots, each held
  ``B·S``);
  replicas are the fewest ≥ the throughput minimum with ``ρ < 1`` whose TTFT meets the objective,
  and the result reports ``ρ`` (``utilization``) and that wait (``queue_wait_s``);
* cost per request ``= gpus · price / 3600 / rps``.

:func:`search_serving_lengths` takes a request-length distribution instead of means
(:mod:`flopbill.estimate.serving.workload`): GPU time per request is the sample mean, TTFT is checked at a
percentile of the per-request TTFTs (plus the queueing wait at that percentile) and TPOT at the
decode-weighted mean context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopbill.catalog.efficiency import EngineProfile, HardwareEfficiency
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.checks import MAX_SEARCH_CANDIDATES, budget, integer, number, positive
from flopbill.dtypes import QUANTIZED, Dtype, bytes_per_value
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import compute_dtype, runtime_arrays, spec_arrays
from flopbill.estimate.serving.metrics import PrefillArrays, WorkloadArrays, serving_metrics
from flopbill.estimate.serving.queueing import replicas_for_wait
from flopbill.estimate.serving.step import DeviceArrays, PrecisionArrays, model_terms
from flopbill.estimate.serving.workload import (
    DEFAULT_SLO_PERCENTILE,
    LengthSample,
    check_percentile,
    longest_request_fits,
    sample_prefill,
    sample_workload,
)


@dataclass(frozen=True)
class Candidate:
    """An accelerator the search may use, its efficiency profile and its GPU-hour price."""

    accelerator: Accelerator
    efficiency: HardwareEfficiency
    price_usd_per_gpu_hour: float


@dataclass(frozen=True)
class Slo:
    """Service-level objectives under load (s); TTFT is checked at ``ttft_percentile`` of the requests.

    The percentile applies to the queueing wait and, with a length distribution, to the service TTFT.
    """

    ttft_s: float = float("inf")
    tpot_s: float = float("inf")
    ttft_percentile: float = DEFAULT_SLO_PERCENTILE

    def __post_init__(self) -> None:
        """Objectives are durations > 0 (``inf`` = no objective); NaN is refused."""
        for name, value in (("slo_ttft", self.ttft_s), ("slo_tpot", self.tpot_s)):
            if isinstance(value, bool) or not float(value) > 0:
                raise InputError(name, value, "a duration in seconds > 0 (or no objective)")


@dataclass(frozen=True)
class SearchGrid:
    """What to vary: TP degrees, weight formats, KV-cache formats and batch sizes.

    ``kvs`` lists the KV formats searched; ``None`` searches the single format ``kv`` (bf16 when that is
    ``None`` too), as before.
    """

    tps: tuple[int, ...] = (1, 2, 4, 8)
    weights: tuple[Dtype, ...] = (Dtype.BF16, Dtype.FP8, Dtype.INT8, Dtype.INT4, Dtype.FP4)
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
    kv: Dtype | None = None
    kvs: tuple[Dtype, ...] | None = None

    @property
    def kv_formats(self) -> tuple[Dtype, ...]:
        """The KV formats searched."""
        return self.kvs if self.kvs else (self.kv or Dtype.BF16,)


def at_least(formats: tuple[Dtype, ...], floor: Dtype | None) -> tuple[Dtype, ...]:
    """Return the formats whose bytes per value are at least the floor's (``None``: all of them).

    A precision floor of fp8 keeps bf16, fp8 and int8 and drops int4 and fp4 (4 or 4.5 bits).
    """
    if floor is None:
        return formats
    return tuple(f for f in formats if bytes_per_value(f) >= bytes_per_value(floor))


@dataclass(frozen=True)
class WorkloadOptions:
    """Per-request options capacity and search honour (the same meaning as in ``ServingOptions``).

    ``draft`` with ``spec_k > 0``: the draft model; ``None`` uses the model's own MTP head, and a model
    without one is refused (:func:`flopbill.estimate.serving.deployment.spec_arrays`).
    """

    prefix_hit_rate: float = 0.0
    n_samples: int = 1
    reasoning_multiplier: float = 1.0
    spec_k: int = 0
    spec_acceptance: float = 0.0
    draft: ModelSpec | None = None


@dataclass(frozen=True)
class SearchResult:
    """Every evaluated configuration as flat arrays (one element per configuration)."""

    accelerator: Any  # str array
    weights: Any  # str array
    tp: Any
    batch: Any
    feasible: Any
    ttft_s: Any
    tpot_s: Any
    e2e_latency_s: Any
    replicas: Any
    gpus: Any
    cost_usd_per_request: Any
    output_tokens_per_s_per_gpu: Any
    utilization: Any  # ρ = λ·s/replicas, the chosen fleet's busy fraction
    queue_wait_s: Any  # M/M/c wait at the TTFT percentile; NaN where not sized (fails an objective first)
    kv: Any = None  # str array: the KV-cache format of each configuration
    fits: Any = None  # bool: weights, activations and the batch's KV fit (and the TP degree is allowed)
    meets_tpot: Any = None  # bool: TPOT under load within the objective
    meets_ttft: Any = None  # bool: TTFT before queueing within the objective

    @property
    def n_evaluated(self) -> int:
        """Number of configurations evaluated."""
        return int(np.size(self.tp))


def _device_grid(
    cands: list[Candidate], weights: tuple[Dtype, ...], kvs: tuple[Dtype, ...] = (Dtype.BF16,)
) -> tuple[DeviceArrays, PrecisionArrays, Any]:
    """Return device/precision arrays over (candidate × weight format × KV format) and prices.

    NaN where a figure is unknown; the leading axis runs candidate-major, then weights, then KV.
    """
    rows: list[tuple[float, ...]] = []
    for c in cands:
        a, e = c.accelerator, c.efficiency
        attn = a.peak_flops_per_s.bf16 or a.peak_flops_per_s.fp16
        for w in weights:
            peak = getattr(a.peak_flops_per_s, compute_dtype(w, None).value, None)
            kept = Dtype.BF16 if w in QUANTIZED else w
            for kv in kvs:
                rows.append(
                    (
                        _nan(peak),
                        _nan(attn),
                        _nan(a.memory_bandwidth_bytes_per_s),
                        _nan(a.interconnect_bidir_bytes_per_s),
                        _nan(e.memory_bytes(a.id, a.memory_bytes)),
                        e.eta_flops_for(compute_dtype(w, None).value),
                        e.eta_bw.value,
                        e.allreduce_latency_s.value,
                        bytes_per_value(w),
                        bytes_per_value(kept),
                        c.price_usd_per_gpu_hour,
                        bytes_per_value(kv),
                        *a.topology(),
                        e.eta_flops_for(Dtype.BF16.value),
                    )
                )
    g = np.array(rows, dtype=np.float64).T[:, :, None, None]  # (field, D, 1, 1)
    dev = DeviceArrays(
        g[0],
        g[1],
        g[2],
        g[3],
        g[4],
        g[5],
        g[6],
        g[7],
        attention_eta_flops=g[14],
        scale_up_gpus=g[12],
        scale_out_bidir_bytes_per_s=g[13],
    )
    return dev, PrecisionArrays(g[8], g[9], g[11], 2.0), g[10]


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


#: Request rates a search accepts (requests/s): about three a year up to a billion a second.
MIN_RATE_PER_S = 1e-7
MAX_RATE_PER_S = 1e9
#: Lowest target utilization a search accepts (fleet sizes divide by it).
MIN_UTILIZATION = 1e-3


def search_serving(
    m: ModelSpec,
    cands: list[Candidate],
    engine: EngineProfile,
    input_tokens: float,
    output_tokens: float,
    rps: float,
    slo: Slo,
    grid: SearchGrid,
    utilization: float = 1.0,
    workload: WorkloadOptions | None = None,
) -> SearchResult:
    """Return every configuration of ``grid`` over ``cands`` with its SLO feasibility, GPUs and cost.

    Every request is ``input_tokens`` → ``output_tokens`` (means); ``workload`` adds prefix-cache hits,
    samples per request, the reasoning multiplier on output tokens and speculative decoding.
    """
    positive(input_tokens, "input_tokens")
    positive(output_tokens, "output_tokens")
    w = workload or WorkloadOptions()
    wl = WorkloadArrays(input_tokens, output_tokens, w.prefix_hit_rate, w.n_samples, w.reasoning_multiplier)
    return _search(m, cands, engine, wl, None, rps, slo, grid, utilization, w)


def search_serving_lengths(
    m: ModelSpec,
    cands: list[Candidate],
    engine: EngineProfile,
    lengths: LengthSample,
    rps: float,
    slo: Slo,
    grid: SearchGrid,
    utilization: float = 1.0,
    workload: WorkloadOptions | None = None,
) -> SearchResult:
    """Return every configuration of ``grid`` for requests whose lengths follow ``lengths``.

    Replicas and cost use the mean GPU time per request over the sample; ``ttft_s`` is the
    ``slo.ttft_percentile`` of the per-request TTFT under load and ``tpot_s`` the TPOT at the
    decode-weighted mean context (see :mod:`flopbill.estimate.serving.workload`); ``e2e_latency_s`` is that
    TTFT plus ``(mean O − 1)`` TPOTs. A configuration where the longest request does not fit is infeasible.
    """
    check_percentile(slo.ttft_percentile)
    w = workload or WorkloadOptions()
    wl = sample_workload(lengths, w.prefix_hit_rate, w.n_samples, w.reasoning_multiplier)
    return _search(m, cands, engine, wl, lengths, rps, slo, grid, utilization, w)


def _search(
    m: ModelSpec,
    cands: list[Candidate],
    engine: EngineProfile,
    wl: WorkloadArrays,
    lengths: LengthSample | None,
    rps: float,
    slo: Slo,
    grid: SearchGrid,
    utilization: float,
    workload: WorkloadOptions | None = None,
) -> SearchResult:
    n_setups = len(cands) * len(grid.weights) * len(grid.kv_formats) * len(grid.tps) * len(grid.batches)
    points = 1 if lengths is None else max(1, int(np.size(lengths.input_tokens)))
    budget(n_setups * points, MAX_SEARCH_CANDIDATES, "search", n_setups, "setups × length points")
    if not MIN_RATE_PER_S <= positive(rps, "rps") <= MAX_RATE_PER_S:
        raise InputError("rps", rps, f"a request rate in [{MIN_RATE_PER_S:g}, {MAX_RATE_PER_S:g}] per second")
    if not MIN_UTILIZATION <= number(utilization, "utilization") <= 1.0:
        raise InputError("utilization", utilization, f"a fraction in [{MIN_UTILIZATION:g}, 1]")
    w = workload or WorkloadOptions()
    kvs = grid.kv_formats
    dev, prec, price = _device_grid(cands, grid.weights, kvs)
    tp = np.asarray(grid.tps, dtype=np.float64)[None, :, None]
    batch = np.asarray(grid.batches, dtype=np.float64)[None, None, :]
    terms, rt = model_terms(m), runtime_arrays(engine)
    spec = spec_arrays(m, w.spec_k, w.spec_acceptance, w.draft)
    with np.errstate(invalid="ignore", divide="ignore"):
        prefill: PrefillArrays | None = None
        longest_ok: Any = True
        if lengths is not None:
            prefill = sample_prefill(
                terms, dev, prec, rt, tp, lengths, slo.ttft_percentile, w.prefix_hit_rate
            )
            longest_ok = longest_request_fits(terms, dev, prec, rt, tp, lengths)
        mt = serving_metrics(terms, dev, prec, rt, tp, batch, wl, spec, prefill)
        s_per_req = mt.prefill_s_per_request + mt.decode_s_per_request
        min_replicas = np.ceil(rps * s_per_req / utilization)
        ttft_service = mt.ttft_s + mt.step_s
        ok_tp = _tp_allowed(m, grid.tps)
        link_ok = (tp == 1.0) | np.isfinite(dev.link_bidir_bytes_per_s(tp))
        fits = mt.fits & longest_ok & ok_tp & link_ok & np.isfinite(min_replicas * tp * price)
        meets_tpot = mt.tpot_loaded_s <= slo.tpot_s
        meets_ttft = ttft_service <= slo.ttft_s
        before_queue = fits & meets_tpot & meets_ttft
    shape = np.broadcast_shapes(before_queue.shape, min_replicas.shape, mt.tpot_loaded_s.shape)

    def flat(x: Any) -> Any:
        return np.broadcast_to(x, shape).reshape(-1)

    with np.errstate(invalid="ignore", divide="ignore"):
        fleet = _queue_fleet(
            rps,
            flat(s_per_req),
            flat(batch),
            flat(min_replicas),
            slo.ttft_s - flat(ttft_service),
            flat(before_queue),
            slo.ttft_percentile,
        )
        gpus = fleet.replicas * flat(tp)
        cost = gpus * flat(price) / 3600.0 / rps
        ttft_loaded = flat(ttft_service) + np.where(np.isnan(fleet.wait_s), 0.0, fleet.wait_s)
        feasible = flat(before_queue) & np.isfinite(cost)
    names = np.array([c.accelerator.id for c in cands for _ in grid.weights for _ in kvs])[:, None, None]
    wnames = np.array([f.value for _ in cands for f in grid.weights for _ in kvs])[:, None, None]
    kvnames = np.array([k.value for _ in cands for _ in grid.weights for k in kvs])[:, None, None]
    return SearchResult(
        accelerator=flat(names),
        weights=flat(wnames),
        tp=flat(tp).astype(int),
        batch=flat(batch).astype(int),
        feasible=feasible,
        ttft_s=ttft_loaded,
        tpot_s=flat(mt.tpot_loaded_s),
        e2e_latency_s=ttft_loaded + (np.asarray(wl.generated_per_sequence) - 1.0) * flat(mt.tpot_loaded_s),
        replicas=fleet.replicas,
        gpus=gpus,
        cost_usd_per_request=cost,
        output_tokens_per_s_per_gpu=flat(mt.output_tokens_per_s_per_gpu),
        utilization=rps * flat(s_per_req) / fleet.replicas,
        queue_wait_s=fleet.wait_s,
        kv=flat(kvnames),
        fits=flat(fits),
        meets_tpot=flat(meets_tpot),
        meets_ttft=flat(meets_ttft),
    )


@dataclass(frozen=True)
class _Fleet:
    replicas: Any
    wait_s: Any


def _queue_fleet(
    rps: float, s_per_req: Any, batch: Any, min_replicas: Any, slack_s: Any, check: Any, percentile: float
) -> _Fleet:
    """Return replicas and the queueing wait at ``percentile`` (1-D; the minimum and NaN where unchecked).

    Only configurations meeting every objective before queueing (``check``) are sized by
    :func:`flopbill.estimate.serving.queueing.replicas_for_wait`: the TTFT budget left for waiting is
    ``slack_s``.
    """
    replicas = np.array(min_replicas, dtype=np.float64)
    wait = np.full(replicas.shape, np.nan)
    idx = np.flatnonzero(check)
    r, w = replicas_for_wait(rps, s_per_req[idx], batch[idx], replicas[idx], slack_s[idx], percentile / 100.0)
    replicas[idx], wait[idx] = r, w
    return _Fleet(replicas, wait)


def tp_splits_heads(m: ModelSpec, tp: int) -> bool:
    """Whether ``tp`` divides the attention heads and divides or multiplies the KV heads (MLA: any KV)."""
    return tp >= 1 and m.n_heads % tp == 0 and (m.is_mla or m.kv_heads % tp == 0 or tp % m.kv_heads == 0)


def check_tp(m: ModelSpec, tp: int, field: str = "tp") -> None:
    """Raise :class:`InputError` for a TP degree that cannot split ``m``'s heads, naming the ones that can."""
    if not tp_splits_heads(m, tp):
        ok = ", ".join(str(t) for t in range(1, m.n_heads + 1) if tp_splits_heads(m, t))
        raise InputError(field, tp, f"a TP degree that splits the heads of {m.id}: {ok}")


def _tp_allowed(m: ModelSpec, tps: tuple[int, ...]) -> Any:
    """Return, per TP degree, whether it divides the attention heads and divides or multiplies KV heads."""
    return np.array([tp_splits_heads(m, t) for t in tps])[None, :, None]


def cheapest(result: SearchResult, n: int = 10) -> Any:
    """Return indices of the ``n`` cheapest feasible configurations, one per (accelerator, formats, TP)."""
    integer(n, "top", lower=1)
    idx = np.flatnonzero(result.feasible)
    order = idx[np.lexsort((result.tpot_s[idx], result.cost_usd_per_request[idx]))]
    seen: set[tuple[str, str, str, int]] = set()
    picked: list[int] = []
    kv = result.kv if result.kv is not None else np.full(np.shape(result.tp), "")
    for i in order:
        key = (str(result.accelerator[i]), str(result.weights[i]), str(kv[i]), int(result.tp[i]))
        if key not in seen:
            seen.add(key)
            picked.append(int(i))
        if len(picked) >= n:
            break
    return np.asarray(picked, dtype=int)


def pareto_front(cost: Any, latency: Any, feasible: Any) -> Any:
    """Return indices of feasible points no other feasible point beats on both cost and latency, by cost."""
    idx = np.flatnonzero(feasible)
    order = idx[np.lexsort((latency[idx], cost[idx]))]
    front: list[int] = []
    best = np.inf
    for i in order:
        if latency[i] < best:
            front.append(int(i))
            best = latency[i]
    return np.asarray(front, dtype=int)


def why_nothing_meets(result: SearchResult, m: ModelSpec, slo: Slo) -> str:
    """Return one sentence saying why no configuration is feasible (empty when some are).

    In order: nothing fits (which accelerator/format/TP combinations the weights and one sequence's KV
    do not fit, and the smallest TP that would fit if the grid has one); nothing that fits meets the TPOT
    objective (the best TPOT under load reached); nothing meets the TTFT objective before queueing (the
    best reached); otherwise the queue (no fleet size keeps the wait inside the TTFT budget).
    """
    if bool(np.any(result.feasible)):
        return ""
    fits, tpot_ok, ttft_ok = result.fits, result.meets_tpot, result.meets_ttft
    if fits is None or not bool(np.any(fits)):
        combos = sorted(
            {
                (str(a), str(w), int(t))
                for a, w, t in zip(result.accelerator, result.weights, result.tp, strict=True)
            }
        )
        shown = ", ".join(f"{w} on {a} at TP{t}" for a, w, t in combos[:4])
        more = f" and {len(combos) - 4} more" if len(combos) > 4 else ""
        return (
            f"nothing fits: {m.id} does not fit as {shown}{more}; try a larger `tp`, more memory (`gpu`) "
            f"or a lower precision (`weights` fp8/int4, `kv` fp8)"
        )
    if not bool(np.any(fits & tpot_ok)):
        best = float(np.nanmin(np.where(fits, result.tpot_s, np.nan)))
        return (
            f"no configuration that fits meets `slo.tpot_s` {slo.tpot_s * 1e3:.1f} ms: the best TPOT under "
            f"load is {best * 1e3:.1f} ms; relax the objective, allow a larger `tp` or a faster `gpu`"
        )
    if not bool(np.any(fits & tpot_ok & ttft_ok)):
        best = float(np.nanmin(np.where(fits & tpot_ok, result.ttft_s, np.nan)))
        return (
            f"no configuration meets `slo.ttft_s` {slo.ttft_s:.3f} s before queueing: the best TTFT is "
            f"{best:.3f} s; relax the objective or allow a larger `tp`"
        )
    return "every configuration meeting TTFT and TPOT queues past the TTFT objective at this `rate_rps`"
