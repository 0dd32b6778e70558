"""Search disaggregated deployments: prefill-pool configurations × decode-pool configurations.

A disaggregated deployment (Zhong et al. 2024, "DistServe"; Patel et al. 2024, "Splitwise") is a prefill
pool and a decode pool with the prompt's KV cache sent over the scale-out network between them
(:mod:`flopbill.estimate.serving.disaggregated` plans one given pair). Given the request rate ``λ`` the two
pools are independent except for the formats: the decode pool reads the KV cache the prefill pool wrote
with the same weights, so a pair must share the weight and KV formats. Each pool's grid is therefore sized
once and the feasible sets are combined per format, never as the full cross product:

* prefill pool, per (accelerator, weights, KV, TP): ``p`` a prompt's prefill replica-seconds (compute + TP
  communication, weights amortized over the prompts of a chunk), the KV transfer
  ``x = KV(I) / (tp_p · NIC one-way)`` (the prefill replica's ``tp_p`` NICs send their shards; the decode
  side is assumed not to be the bottleneck) and the TTFT ``= lone prefill + x + queueing wait``; replicas
  are the fewest ``≥ ceil(λ·p / utilization)`` whose M/M/c wait at ``slo.ttft_percentile`` (one prompt at
  a time per replica, service ``p``; :mod:`flopbill.estimate.serving.queueing`) keeps the TTFT within
  the objective;
* decode pool, per (accelerator, weights, KV, TP, batch ``B``): ``d = O_total·T/(B·τ)``
  replica-seconds per request, ``replicas = ceil(λ·d / utilization)``, TPOT ``= T/τ`` (no prefill
  interleaved); the wait for a free decode slot (it delays the second token, not the first) is not
  modelled;
* cost per request ``= Σ_pools replicas · tp · price / 3600 / λ``; the cheapest pair of a format is its
  cheapest feasible prefill configuration plus its cheapest feasible decode configuration, and the ``n``
  cheapest pairs come from the ``n`` cheapest of each pool (any pair outside them is beaten by ``n`` pairs
  inside).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopbill.catalog.efficiency import EngineProfile
from flopbill.catalog.schema import ModelSpec
from flopbill.checks import MAX_SEARCH_CANDIDATES, budget, integer, number, positive
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import runtime_arrays, spec_arrays
from flopbill.estimate.serving.metrics import (
    SpecArrays,
    WorkloadArrays,
    memory_limited_batch,
    one_prompt_prefill,
    serving_metrics,
)
from flopbill.estimate.serving.search import (
    MAX_RATE_PER_S,
    MIN_RATE_PER_S,
    MIN_UTILIZATION,
    Candidate,
    SearchGrid,
    SearchResult,
    Slo,
    WorkloadOptions,
    _device_grid,
    _queue_fleet,
    _tp_allowed,
    why_nothing_meets,
)
from flopbill.estimate.serving.step import kv_bytes_per_sequence, model_terms


@dataclass(frozen=True)
class DisaggregatedSearch:
    """Both pools' configurations (flat arrays) and what joins them.

    ``prefill``: one element per (accelerator, weights, KV, TP) — ``batch`` 1 (one prompt at a time),
    ``ttft_s`` the TTFT under load (lone prefill + KV transfer + queueing wait), ``tpot_s`` NaN.
    ``decode``: one element per (accelerator, weights, KV, TP, batch) — ``tpot_s`` the decode step per
    token, ``ttft_s`` NaN. ``prefill_format`` / ``decode_format``: an integer per configuration naming its
    (weights, KV) pair; only equal ones combine.
    """

    prefill: SearchResult
    decode: SearchResult
    kv_transfer_s: Any  # per prefill configuration; NaN where the network bandwidth is unknown
    prefill_format: Any
    decode_format: Any
    generated_per_sequence: float  # output tokens a sequence generates (e2e latency = TTFT + (this − 1)·TPOT)

    @property
    def n_evaluated(self) -> int:
        """Pool configurations evaluated (prefill + decode)."""
        return self.prefill.n_evaluated + self.decode.n_evaluated

    @property
    def n_pairs(self) -> int:
        """Deployments covered: prefill × decode configurations sharing a format (never materialized)."""
        return self._pairs(np.ones(self.prefill.n_evaluated, bool), np.ones(self.decode.n_evaluated, bool))

    @property
    def n_feasible_pairs(self) -> int:
        """Deployments meeting every objective: feasible prefill × feasible decode, per format."""
        return self._pairs(self.prefill.feasible, self.decode.feasible)

    def _pairs(self, p_mask: Any, d_mask: Any) -> int:
        n_fmt = int(max(np.max(self.prefill_format), np.max(self.decode_format))) + 1
        p = np.bincount(self.prefill_format[p_mask], minlength=n_fmt)
        d = np.bincount(self.decode_format[d_mask], minlength=n_fmt)
        return int(np.dot(p.astype(np.int64), d.astype(np.int64)))


@dataclass(frozen=True)
class DisaggregatedPick:
    """One deployment: indices into both pools and its request-level figures (SI units)."""

    prefill_index: int
    decode_index: int
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    gpus: int
    cost_usd_per_request: float


def search_disaggregated(
    m: ModelSpec,
    cands: list[Candidate],
    engine: EngineProfile,
    input_tokens: float,
    output_tokens: float,
    rps: float,
    slo: Slo,
    decode_grid: SearchGrid,
    prefill_tps: tuple[int, ...] | None = None,
    utilization: float = 1.0,
    workload: WorkloadOptions | None = None,
) -> DisaggregatedSearch:
    """Evaluate the prefill pool over ``cands × weights × KV × prefill_tps`` and the decode pool over
    ``cands × weights × KV × TP × batch`` of ``decode_grid`` (see the module docstring).

    ``prefill_tps`` defaults to ``decode_grid.tps``. The candidate budget counts both pools' configurations.
    """
    positive(input_tokens, "input_tokens")
    positive(output_tokens, "output_tokens")
    if not cands:
        raise InputError("gpu", "", "at least one accelerator with a price")
    p_tps = prefill_tps or decode_grid.tps
    n_fmt = len(cands) * len(decode_grid.weights) * len(decode_grid.kv_formats)
    n_cfg = n_fmt * (len(p_tps) + len(decode_grid.tps) * len(decode_grid.batches))
    budget(n_cfg, MAX_SEARCH_CANDIDATES, "search", n_cfg, "prefill + decode pool configurations")
    if not MIN_RATE_PER_S <= positive(rps, "rps") <= MAX_RATE_PER_S:
        raise InputError("rps", rps, f"a request rate in [{MIN_RATE_PER_S:g}, {MAX_RATE_PER_S:g}] per second")
    if not MIN_UTILIZATION <= number(utilization, "utilization") <= 1.0:
        raise InputError("utilization", utilization, f"a fraction in [{MIN_UTILIZATION:g}, 1]")
    w = workload or WorkloadOptions()
    wl = WorkloadArrays(input_tokens, output_tokens, w.prefix_hit_rate, w.n_samples, w.reasoning_multiplier)
    pre, transfer, p_fmt = _prefill_pool(m, cands, engine, wl, rps, slo, decode_grid, p_tps, utilization)
    dec, d_fmt = _decode_pool(m, cands, engine, wl, rps, slo, decode_grid, utilization, w)
    return DisaggregatedSearch(pre, dec, transfer, p_fmt, d_fmt, float(wl.generated_per_sequence))


def _labels(cands: list[Candidate], grid: SearchGrid) -> tuple[Any, Any, Any, Any]:
    """Return accelerator, weight, KV names and the format index along the device axis (shape (D, 1, 1))."""
    kvs = grid.kv_formats
    acc = [c.accelerator.id for c in cands for _ in grid.weights for _ in kvs]
    wts = [f.value for _ in cands for f in grid.weights for _ in kvs]
    kv = [k.value for _ in cands for _ in grid.weights for k in kvs]
    fmt = np.arange(len(acc)) % (len(grid.weights) * len(kvs))
    return tuple(np.array(x)[:, None, None] for x in (acc, wts, kv, fmt))  # type: ignore[return-value]


def _prefill_pool(
    m: ModelSpec,
    cands: list[Candidate],
    engine: EngineProfile,
    wl: WorkloadArrays,
    rps: float,
    slo: Slo,
    grid: SearchGrid,
    tps: tuple[int, ...],
    utilization: float,
) -> tuple[SearchResult, Any, Any]:
    dev, prec, price = _device_grid(cands, grid.weights, grid.kv_formats)
    tp = np.asarray(tps, dtype=np.float64)[None, :, None]
    terms, rt = model_terms(m), runtime_arrays(engine)
    with np.errstate(invalid="ignore", divide="ignore"):
        pre = one_prompt_prefill(terms, dev, prec, rt, tp, wl.input_tokens, wl.prefix_hit_rate)
        prompt_kv = np.asarray(wl.input_tokens, dtype=np.float64)
        max_b, *_ = memory_limited_batch(terms, dev, prec, rt, tp, prompt_kv, SpecArrays())
        transfer = kv_bytes_per_sequence(terms, prompt_kv, prec.kv_bpv) / (
            tp * np.asarray(dev.scale_out_bidir_bytes_per_s) / 2.0
        )
        p_s = np.asarray(pre.gpu_s_per_request)
        min_replicas = np.ceil(rps * p_s / utilization)
        link_ok = (tp == 1.0) | np.isfinite(dev.link_bidir_bytes_per_s(tp))
        fits = (max_b >= 1.0) & _tp_allowed(m, tps) & link_ok & np.isfinite(min_replicas * tp * price)
        ttft_service = np.asarray(pre.ttft_s) + transfer
        meets_ttft = ttft_service <= slo.ttft_s  # NaN transfer (unknown network) never meets
    shape = np.broadcast_shapes(fits.shape, ttft_service.shape, min_replicas.shape)

    def flat(x: Any) -> Any:
        return np.broadcast_to(x, shape).reshape(-1)

    check = flat(fits & meets_ttft)
    with np.errstate(invalid="ignore", divide="ignore"):
        fleet = _queue_fleet(
            rps,
            flat(p_s),
            np.ones(check.size),
            flat(min_replicas),
            slo.ttft_s - flat(ttft_service),
            check,
            slo.ttft_percentile,
        )
        gpus = fleet.replicas * flat(tp)
        cost = gpus * flat(price) / 3600.0 / rps
        ttft = flat(ttft_service) + np.where(np.isnan(fleet.wait_s), 0.0, fleet.wait_s)
    acc, wts, kv, fmt = _labels(cands, grid)
    nan = np.full(check.size, np.nan)
    res = SearchResult(
        accelerator=flat(acc),
        weights=flat(wts),
        tp=flat(tp).astype(int),
        batch=np.ones(check.size, dtype=int),
        feasible=check & np.isfinite(cost),
        ttft_s=ttft,
        tpot_s=nan,
        e2e_latency_s=nan,
        replicas=fleet.replicas,
        gpus=gpus,
        cost_usd_per_request=cost,
        output_tokens_per_s_per_gpu=nan,
        utilization=rps * flat(p_s) / fleet.replicas,
        queue_wait_s=fleet.wait_s,
        kv=flat(kv),
        fits=flat(fits),
        meets_tpot=np.ones(check.size, dtype=bool),
        meets_ttft=flat(meets_ttft),
    )
    return res, flat(transfer), flat(fmt)


def _decode_pool(
    m: ModelSpec,
    cands: list[Candidate],
    engine: EngineProfile,
    wl: WorkloadArrays,
    rps: float,
    slo: Slo,
    grid: SearchGrid,
    utilization: float,
    w: WorkloadOptions,
) -> tuple[SearchResult, Any]:
    dev, prec, price = _device_grid(cands, grid.weights, grid.kv_formats)
    tp = np.asarray(grid.tps, dtype=np.float64)[None, :, None]
    batch = np.asarray(grid.batches, dtype=np.float64)[None, None, :]
    terms, rt = model_terms(m), runtime_arrays(engine)
    spec = spec_arrays(m, w.spec_k, w.spec_acceptance, w.draft)
    with np.errstate(invalid="ignore", divide="ignore"):
        mt = serving_metrics(terms, dev, prec, rt, tp, batch, wl, spec)
        d_s = mt.decode_s_per_request
        replicas = np.ceil(rps * d_s / utilization)
        link_ok = (tp == 1.0) | np.isfinite(dev.link_bidir_bytes_per_s(tp))
        fits = mt.fits & _tp_allowed(m, grid.tps) & link_ok & np.isfinite(replicas * tp * price)
        meets_tpot = mt.tpot_s <= slo.tpot_s
        gpus = replicas * tp
        cost = gpus * price / 3600.0 / rps
        tok_s_gpu = wl.output_total / (tp * d_s)
    shape = np.broadcast_shapes(fits.shape, cost.shape, np.shape(mt.tpot_s))

    def flat(x: Any) -> Any:
        return np.broadcast_to(x, shape).reshape(-1)

    acc, wts, kv, fmt = _labels(cands, grid)
    nan = np.full(int(np.prod(shape)), np.nan)
    feasible = flat(fits & meets_tpot) & np.isfinite(flat(cost))
    res = SearchResult(
        accelerator=flat(acc),
        weights=flat(wts),
        tp=flat(tp).astype(int),
        batch=flat(batch).astype(int),
        feasible=feasible,
        ttft_s=nan,
        tpot_s=flat(mt.tpot_s),
        e2e_latency_s=nan,
        replicas=flat(replicas),
        gpus=flat(gpus),
        cost_usd_per_request=flat(cost),
        output_tokens_per_s_per_gpu=flat(tok_s_gpu),
        utilization=flat(rps * d_s / replicas),
        queue_wait_s=nan,
        kv=flat(kv),
        fits=flat(fits),
        meets_tpot=flat(meets_tpot),
        meets_ttft=np.ones(feasible.size, dtype=bool),
    )
    return res, flat(fmt)


def _best_decode(res: SearchResult, idx: Any, n: int) -> list[int]:
    """Return up to ``n`` of ``idx``, cheapest first, one per (accelerator, TP): its cheapest batch."""
    order = idx[np.lexsort((res.tpot_s[idx], res.cost_usd_per_request[idx]))]
    seen: set[tuple[str, int]] = set()
    picked: list[int] = []
    for i in order:
        key = (str(res.accelerator[i]), int(res.tp[i]))
        if key not in seen:
            seen.add(key)
            picked.append(int(i))
            if len(picked) >= n:
                break
    return picked


def cheapest_disaggregated(res: DisaggregatedSearch, n: int = 10) -> list[DisaggregatedPick]:
    """Return the ``n`` cheapest feasible deployments (prefill + decode sharing a format), cheapest first.

    The decode side keeps one batch per (accelerator, formats, TP), like :func:`cheapest`; ties in cost go
    to the lower TTFT + TPOT.
    """
    integer(n, "top", lower=1)
    p, d = res.prefill, res.decode
    pairs: list[tuple[float, float, int, int]] = []
    for f in np.union1d(res.prefill_format, res.decode_format):
        p_idx = np.flatnonzero(p.feasible & (res.prefill_format == f))
        d_idx = np.flatnonzero(d.feasible & (res.decode_format == f))
        if p_idx.size == 0 or d_idx.size == 0:
            continue
        p_best = p_idx[np.lexsort((p.ttft_s[p_idx], p.cost_usd_per_request[p_idx]))][:n]
        d_best = _best_decode(d, d_idx, n)
        for i in p_best:
            for j in d_best:
                cost = float(p.cost_usd_per_request[i] + d.cost_usd_per_request[j])
                pairs.append((cost, float(p.ttft_s[i] + d.tpot_s[j]), int(i), int(j)))
    pairs.sort()
    return [_pick(res, i, j) for _, _, i, j in pairs[:n]]


def _pick(res: DisaggregatedSearch, i: int, j: int) -> DisaggregatedPick:
    ttft, tpot = float(res.prefill.ttft_s[i]), float(res.decode.tpot_s[j])
    return DisaggregatedPick(
        prefill_index=i,
        decode_index=j,
        ttft_s=ttft,
        tpot_s=tpot,
        e2e_latency_s=ttft + max(res.generated_per_sequence - 1.0, 0.0) * tpot,
        gpus=int(res.prefill.gpus[i] + res.decode.gpus[j]),
        cost_usd_per_request=float(res.prefill.cost_usd_per_request[i] + res.decode.cost_usd_per_request[j]),
    )


def why_no_disaggregated(res: DisaggregatedSearch, m: ModelSpec, slo: Slo) -> str:
    """Return one sentence saying why no deployment is feasible (empty when some are).

    In order: no accelerator searched has a known network bandwidth (no KV transfer time); the prefill
    pool's reason (:func:`why_nothing_meets`); the decode pool's; no weight/KV format feasible in both.
    """
    if res.n_feasible_pairs > 0:
        return ""
    p = res.prefill
    if not bool(np.any(np.isfinite(res.kv_transfer_s))):
        names = ", ".join(sorted({str(a) for a in p.accelerator}))
        return (
            f"no KV transfer time: the per-GPU network bandwidth of {names} is unknown; choose a `gpu` "
            "whose network is known"
        )
    for pool, part in (("prefill", p), ("decode", res.decode)):
        why = why_nothing_meets(part, m, slo)
        if why:
            return f"{pool} pool: {why}"
    return (
        "no weight/KV format has a configuration meeting the objectives in both pools; "
        "widen `weights` or `kv`"
    )


def compare_with_colocated(
    disaggregated_usd_per_request: float | None, colocated_usd_per_request: float | None
) -> tuple[str | None, float | None]:
    """Return (the cheaper deployment, the loser's cost over the winner's minus 1); ``None`` where unknown.

    ``"disaggregated"`` / ``"colocated"`` (a tie goes to co-located, the simpler one); the fraction is how
    much more the other costs (0.25: 25 % dearer). With only one side feasible it wins and the fraction is
    ``None``.
    """
    d, c = disaggregated_usd_per_request, colocated_usd_per_request
    if d is None and c is None:
        return None, None
    if d is None or c is None:
        return ("colocated" if d is None else "disaggregated"), None
    if d < c:
        return "disaggregated", c / d - 1.0
    return "colocated", d / c - 1.0


__all__ = [
    "DisaggregatedPick",
    "DisaggregatedSearch",
    "cheapest_disaggregated",
    "compare_with_colocated",
    "search_disaggregated",
    "why_no_disaggregated",
]
