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
* cost per request ``= gpus · price / 3600 / rps``;
* pipeline parallelism (``SearchGrid.pps``): each depth ``pp`` is one more vectorized evaluation of the
  grid with the slowest stage's terms (:func:`flopbill.estimate.serving.pipeline.stage_model`) and
  :func:`flopbill.estimate.serving.pipeline.pipeline_metrics`; a replica is ``tp·pp`` GPUs. By default
  only PP 1 runs, and :data:`AUTO_PPS` are added for accelerators on which TP alone fits nowhere.

:func:`search_serving_lengths` takes a request-length distribution instead of means
(:mod:`flopbill.estimate.serving.workload`): GPU time per request is the sample mean, TTFT is checked at a
percentile of the per-request TTFTs (plus the queueing wait at that percentile) and TPOT at the
decode-weighted mean context.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from flopbill.catalog.efficiency import EngineProfile, HardwareEfficiency
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.checks import MAX_SEARCH_CANDIDATES, budget, integer, number, positive
from flopbill.dtypes import QUANTIZED, Dtype, bytes_per_value
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import compute_dtype, runtime_arrays, spec_arrays
from flopbill.estimate.serving.metrics import (
    Metrics,
    PrefillArrays,
    SpecArrays,
    WorkloadArrays,
    serving_metrics,
)
from flopbill.estimate.serving.pipeline import pipeline_metrics, stage_model
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
    """What to vary: TP degrees, weight formats, KV-cache formats, batch sizes and pipeline depths.

    ``kvs`` lists the KV formats searched; ``None`` searches the single format ``kv`` (bf16 when that is
    ``None`` too), as before. ``pps`` lists the pipeline depths (a replica is ``tp·pp`` GPUs); ``None``
    searches PP 1 and adds :data:`AUTO_PPS` only for the accelerators TP alone cannot fit the model on.
    """

    tps: tuple[int, ...] = (1, 2, 4, 8)
    weights: tuple[Dtype, ...] = (Dtype.BF16, Dtype.FP8, Dtype.INT8, Dtype.INT4, Dtype.FP4)
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
    kv: Dtype | None = None
    kvs: tuple[Dtype, ...] | None = None
    pps: tuple[int, ...] | None = None

    @property
    def kv_formats(self) -> tuple[Dtype, ...]:
        """The KV formats searched."""
        return self.kvs if self.kvs else (self.kv or Dtype.BF16,)

    @property
    def pipeline_stages(self) -> tuple[int, ...]:
        """The pipeline depths searched first: ``pps``, or 1 alone (``None``: see :data:`AUTO_PPS`)."""
        return self.pps if self.pps else (1,)


#: Pipeline depths the search adds when ``SearchGrid.pps`` is ``None``, for an accelerator on which the
#: model fits at no TP degree of the grid in any format searched (too large for its scale-up domain).
AUTO_PPS = (2, 4, 8)


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
    pp: Any = None  # int array: pipeline stages per replica (None: all 1)

    @property
    def n_evaluated(self) -> int:
        """Number of configurations evaluated."""
        return int(np.size(self.tp))


def _combos(
    cands: list[Candidate], weights: tuple[Dtype, ...], kvs: tuple[Dtype, ...]
) -> list[tuple[Candidate, Dtype, Dtype]]:
    """Return (candidate, weight format, KV format) in the grid's order: candidate-major, then weights."""
    return [(c, w, kv) for c in cands for w in weights for kv in kvs]


def _device_grid(
    cands: list[Candidate],
    weights: tuple[Dtype, ...],
    kvs: tuple[Dtype, ...] = (Dtype.BF16,),
    only: Any = None,
) -> tuple[DeviceArrays, PrecisionArrays, Any]:
    """Return device/precision arrays over (candidate × weight format × KV format) and prices.

    NaN where a figure is unknown; the leading axis runs candidate-major, then weights, then KV.
    ``only`` (a boolean per combination, in that order) keeps a subset of the rows.
    """
    rows: list[tuple[float, ...]] = []
    combos = _combos(cands, weights, kvs)
    keep = np.ones(len(combos), dtype=bool) if only is None else np.asarray(only, dtype=bool)
    for (c, w, kv), kept_row in zip(combos, keep, strict=True):
        if not kept_row:
            continue
        a, e = c.accelerator, c.efficiency
        attn = a.peak_flops_per_s.bf16 or a.peak_flops_per_s.fp16
        peak = getattr(a.peak_flops_per_s, compute_dtype(w, None).value, None)
        kept = Dtype.BF16 if w in QUANTIZED else w
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
    pps = grid.pipeline_stages
    budget(n_setups * points * len(pps), MAX_SEARCH_CANDIDATES, "search", n_setups, "setups × length points")
    if not MIN_RATE_PER_S <= positive(rps, "rps") <= MAX_RATE_PER_S:
        raise InputError("rps", rps, f"a request rate in [{MIN_RATE_PER_S:g}, {MAX_RATE_PER_S:g}] per second")
    if not MIN_UTILIZATION <= number(utilization, "utilization") <= 1.0:
        raise InputError("utilization", utilization, f"a fraction in [{MIN_UTILIZATION:g}, 1]")
    for pp in pps:
        integer(pp, "pp", lower=1, upper=m.n_layers)
    if lengths is not None and max(pps) > 1:
        raise InputError(
            "pp", max(pps), "1 with a length distribution (pipelines are modelled for mean lengths)"
        )
    w = workload or WorkloadOptions()
    ev = _Evaluation(m, cands, engine, wl, lengths, rps, slo, grid, utilization, w)
    plan: list[tuple[int, Any]] = [(pp, None) for pp in pps]
    if grid.pps is None and lengths is None:
        plan += _auto_pipeline(ev, m.n_layers)
    return ev.evaluate(plan)


def _auto_pipeline(ev: _Evaluation, n_layers: int) -> list[tuple[int, Any]]:
    """Return the (depth, combinations) to add from :data:`AUTO_PPS`: for accelerators TP alone cannot use.

    A combination is the (accelerator, weights, KV) of one row of the device grid. An accelerator on
    which the model fits at no TP degree in any of the formats searched gets its combinations deepened,
    those whose figures are all known (a format the chip runs, its memory, a price): one that fits at no
    TP because a figure is unknown would not fit at any depth. Depths are tried in order, each only for
    the combinations the shallower ones left unfitted. Whether a combination fits anywhere is checked at
    the grid's smallest batch (the batch that fits if any does), which costs one batch of the grid.
    """
    combos = _combos(ev.cands, ev.grid.weights, ev.grid.kv_formats)
    per_acc = len(ev.grid.weights) * len(ev.grid.kv_formats)
    acc_fits = ev.fits_somewhere(1, None).reshape(len(ev.cands), per_acc).any(axis=1)
    todo = np.repeat(~acc_fits, per_acc) & np.array([_rated(c) for c in combos])
    plan: list[tuple[int, Any]] = []
    for pp in AUTO_PPS:
        if not todo.any() or pp > n_layers:
            break
        extra = int(todo.sum()) * len(ev.grid.tps) * len(ev.grid.batches)
        budget(extra, MAX_SEARCH_CANDIDATES, "search", extra, "automatic pipeline configurations")
        plan.append((pp, todo.copy()))
        todo[np.flatnonzero(todo)[ev.fits_somewhere(pp, todo)]] = False
    return plan


def _rated(combo: tuple[Candidate, Dtype, Dtype]) -> bool:
    """Whether the accelerator has the figures a pipeline of this combination needs.

    Its format's peak rate, memory, bandwidth and price, and a link between GPUs (the interconnect or
    the network) to send activations from stage to stage.
    """
    c, w, _ = combo
    a = c.accelerator
    peak = getattr(a.peak_flops_per_s, compute_dtype(w, None).value, None)
    known = (peak, a.memory_bytes, a.memory_bandwidth_bytes_per_s, c.price_usd_per_gpu_hour)
    linked = a.interconnect_bidir_bytes_per_s is not None or a.scale_out_bidir_bytes_per_s is not None
    return linked and all(v is not None and np.isfinite(v) for v in known)


@dataclass(frozen=True)
class _Evaluation:
    """One search's inputs; :meth:`at` evaluates the whole grid at one pipeline depth."""

    m: ModelSpec
    cands: list[Candidate]
    engine: EngineProfile
    wl: WorkloadArrays
    lengths: LengthSample | None
    rps: float
    slo: Slo
    grid: SearchGrid
    utilization: float
    w: WorkloadOptions

    def _metrics(
        self, pp: int, dev: DeviceArrays, prec: PrecisionArrays, tp: Any, batch: Any
    ) -> tuple[Metrics, Any]:
        """Return the replica metrics at ``pp`` stages and whether the longest request fits.

        PP 1: the whole model in one call. PP > 1: the slowest stage (:func:`stage_model`) at ``B/M``
        sequences per micro-batch, one scheduler batch per stage, then :func:`pipeline_metrics` (bubble,
        stage-to-stage transfers over the scale-up link or the network).
        """
        m, wl, slo = self.m, self.wl, self.slo
        rt = runtime_arrays(self.engine)
        spec: SpecArrays = spec_arrays(m, self.w.spec_k, self.w.spec_acceptance, self.w.draft)
        if pp == 1:
            terms = model_terms(m)
            prefill: PrefillArrays | None = None
            longest_ok: Any = True
            if self.lengths is not None:
                prefill = sample_prefill(
                    terms, dev, prec, rt, tp, self.lengths, slo.ttft_percentile, self.w.prefix_hit_rate
                )
                longest_ok = longest_request_fits(terms, dev, prec, rt, tp, self.lengths)
            return serving_metrics(terms, dev, prec, rt, tp, batch, wl, spec, prefill), longest_ok
        rt = replace(rt, max_batch_sequences=rt.max_batch_sequences * pp)
        terms = model_terms(stage_model(m, pp))
        micro = batch / np.maximum(np.minimum(float(pp), batch), 1.0)
        stage = serving_metrics(terms, dev, prec, rt, tp, micro, wl, spec)
        return pipeline_metrics(
            stage, terms, dev, rt, wl, prec.activation_bpv, tp, pp, batch, strict=False
        ), True

    def _selected(self, only: Any) -> list[tuple[Candidate, Dtype, Dtype]]:
        combos = _combos(self.cands, self.grid.weights, self.grid.kv_formats)
        return combos if only is None else [c for c, keep in zip(combos, only, strict=True) if keep]

    def evaluate(self, plan: list[tuple[int, Any]]) -> SearchResult:
        """Return every configuration of each (depth, combinations) of ``plan``, one after the other.

        The result's arrays are allocated once and each part written into its slice (no concatenation).
        """
        if len(plan) == 1:  # one part: its arrays as computed (views where they are already flat)
            return SearchResult(**self._fill(*plan[0]))
        per_combo = len(self.grid.tps) * len(self.grid.batches)
        chosen = [self._selected(only) for _, only in plan]
        sizes = [len(c) * per_combo for c in chosen]
        every = [c for part in chosen for c in part]
        out: dict[str, Any] = {  # text columns repeated from the combinations, not copied from the parts
            "accelerator": np.repeat(np.array([c.accelerator.id for c, _, _ in every]), per_combo),
            "weights": np.repeat(np.array([w.value for _, w, _ in every]), per_combo),
            "kv": np.repeat(np.array([k.value for _, _, k in every]), per_combo),
        }
        for f in fields(SearchResult):
            if f.name not in out:
                out[f.name] = np.empty(sum(sizes), dtype=_RESULT_KINDS.get(f.name, np.float64))
        offset = 0
        for (pp, only), n in zip(plan, sizes, strict=True):
            for name, value in self._fill(pp, only).items():
                if name not in ("accelerator", "weights", "kv"):
                    out[name][offset : offset + n] = value
            offset += n
        return SearchResult(**out)

    def fits_somewhere(self, pp: int, only: Any) -> Any:
        """Return, per selected combination, whether any TP degree fits at the grid's smallest batch."""
        small = replace(self, grid=replace(self.grid, batches=(min(self.grid.batches),)))
        res = small.evaluate([(pp, only)])
        return res.fits.reshape(-1, len(self.grid.tps)).any(axis=1)

    def _fill(self, pp: int, only: Any) -> dict[str, Any]:
        """Return the result columns (flat arrays) of the grid at ``pp`` pipeline stages.

        ``only``: a boolean per (accelerator, weights, KV) combination, to evaluate a subset of them; a
        replica is ``tp·pp`` GPUs.
        """
        m, grid, slo, rps, cands, wl = self.m, self.grid, self.slo, self.rps, self.cands, self.wl
        kvs = grid.kv_formats
        dev, prec, price = _device_grid(cands, grid.weights, kvs, only)
        combos = self._selected(only)
        tp = np.asarray(grid.tps, dtype=np.float64)[None, :, None]
        batch = np.asarray(grid.batches, dtype=np.float64)[None, None, :]
        gpus_per_replica = tp * pp
        with np.errstate(invalid="ignore", divide="ignore"):
            mt, longest_ok = self._metrics(pp, dev, prec, tp, batch)
            s_per_req = mt.prefill_s_per_request + mt.decode_s_per_request
            min_replicas = np.ceil(rps * s_per_req / self.utilization)
            ttft_service = mt.ttft_s + mt.step_s
            ok_tp = _tp_allowed(m, grid.tps)
            link_ok = (gpus_per_replica == 1.0) | np.isfinite(dev.link_bidir_bytes_per_s(gpus_per_replica))
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
            gpus = fleet.replicas * flat(gpus_per_replica)
            cost = gpus * flat(price) / 3600.0 / rps
            ttft_loaded = flat(ttft_service) + np.where(np.isnan(fleet.wait_s), 0.0, fleet.wait_s)
            feasible = flat(before_queue) & np.isfinite(cost)
        names = np.array([c.accelerator.id for c, _, _ in combos])[:, None, None]
        wnames = np.array([w.value for _, w, _ in combos])[:, None, None]
        kvnames = np.array([k.value for _, _, k in combos])[:, None, None]
        return {
            "accelerator": flat(names),
            "weights": flat(wnames),
            "tp": flat(tp).astype(int),
            "batch": flat(batch).astype(int),
            "feasible": feasible,
            "ttft_s": ttft_loaded,
            "tpot_s": flat(mt.tpot_loaded_s),
            "e2e_latency_s": ttft_loaded
            + (np.asarray(wl.generated_per_sequence) - 1.0) * flat(mt.tpot_loaded_s),
            "replicas": fleet.replicas,
            "gpus": gpus,
            "cost_usd_per_request": cost,
            "output_tokens_per_s_per_gpu": flat(mt.output_tokens_per_s_per_gpu),
            "utilization": rps * flat(s_per_req) / fleet.replicas,
            "queue_wait_s": fleet.wait_s,
            "kv": flat(kvnames),
            "fits": flat(fits),
            "meets_tpot": flat(meets_tpot),
            "meets_ttft": flat(meets_ttft),
            "pp": np.full(shape, pp, dtype=int).reshape(-1),
        }


#: dtypes of the non-float, non-text result columns.
_RESULT_KINDS: dict[str, Any] = {
    "tp": np.int64,
    "batch": np.int64,
    "pp": np.int64,
    "feasible": bool,
    "fits": bool,
    "meets_tpot": bool,
    "meets_ttft": bool,
}


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
    """Return indices of the ``n`` cheapest feasible configurations, one per accelerator/formats/TP/PP."""
    integer(n, "top", lower=1)
    idx = np.flatnonzero(result.feasible)
    order = idx[np.lexsort((result.tpot_s[idx], result.cost_usd_per_request[idx]))]
    seen: set[tuple[str, str, str, int, int]] = set()
    picked: list[int] = []
    kv = result.kv if result.kv is not None else np.full(np.shape(result.tp), "")
    pp = result.pp if result.pp is not None else np.ones(np.shape(result.tp), dtype=int)
    for i in order:
        key = (str(result.accelerator[i]), str(result.weights[i]), str(kv[i]), int(result.tp[i]), int(pp[i]))
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
        pps = result.pp if result.pp is not None else np.ones(np.shape(result.tp), dtype=int)
        combos = sorted(
            {
                (str(a), str(w), int(t), int(p))
                for a, w, t, p in zip(result.accelerator, result.weights, result.tp, pps, strict=True)
            }
        )
        shown = ", ".join(f"{w} on {a} at TP{t}" + (f"×PP{p}" if p > 1 else "") for a, w, t, p in combos[:4])
        more = f" and {len(combos) - 4} more" if len(combos) > 4 else ""
        return (
            f"nothing fits: {m.id} does not fit as {shown}{more}; try a larger `tp` or `pp`, more memory "
            f"(`gpu`) or a lower precision (`weights` fp8/int4, `kv` fp8)"
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
