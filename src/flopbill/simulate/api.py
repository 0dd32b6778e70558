"""``simulate(spec)``: resolve a spec against the catalogs, run the kernel, summarise the outcome."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from flopbill.catalog import accelerator, resolve_model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.catalog.prices import PriceOffer, gpu_price, select_offers
from flopbill.dtypes import Dtype, parse_dtype
from flopbill.errors import FlopbillError, InputError, UnknownNameError
from flopbill.estimate.core.assumptions import Assumption
from flopbill.estimate.pricing.fleet_day import DEFAULT_ENGINE_START_S, DEFAULT_LOAD_BYTES_PER_S
from flopbill.estimate.pricing.fleet_day import cold_start_s as fleet_cold_start_s
from flopbill.simulate import events
from flopbill.simulate.autoscaler import autoscaler_code
from flopbill.simulate.entities import (
    COUNT_DTYPE,
    F_END,
    F_ITL_SUM,
    I_DROPPED,
    I_FINISHED,
    I_ITL_N,
    I_N_INTERVALS,
    I_N_TIMELINE,
    I_PREEMPTIONS,
    I_STEPS,
    I_STOPPED,
    TIMED_OUT,
    TOO_LONG,
    Config,
    Requests,
    State,
    Tables,
    new_state,
)
from flopbill.simulate.itl import itl_distribution
from flopbill.simulate.metrics import Distribution, billed_gpu_s, distribution
from flopbill.simulate.physics import StepTables, serving_options, step_tables
from flopbill.simulate.result import Outcomes, SimulationResult, Timeline
from flopbill.simulate.router import router_code
from flopbill.simulate.spec import AnySpec, Autoscaler, PoolsSpec, SimulationSpec
from flopbill.simulate.traffic import Workload, workload

_DAY_S = 86400.0
_PER_SECOND_S = 1.0  # per-second billing (AWS EC2 Linux on-demand, GCP, Azure)
_MINIMUM_S = 60.0  # AWS EC2 Linux: per-second billing with a 60-second minimum
_MAX_TIMELINE = 100_000
_MAX_INTERVALS = 1_000_000
_LOAD_SOURCE = (
    "vLLM safetensors loader, AWS gp3 SSD: Llama 3 8B 16.06 GB in 47.99 s, NVIDIA Run:ai Model Streamer "
    "benchmark, Oct 2024, developer.nvidia.com/blog/reducing-cold-start-latency-for-llm-inference-with-"
    "nvidia-runai-model-streamer, checked 2026-12-01"
)
_START_SOURCE = (
    "vLLM, Llama 3.1 8B on L40S, warm compile cache: 10 + 13 + 7 + 34 s, tensorfuse.io/docs/blogs/"
    "reducing_gpu_cold_start, 2025-09-01, checked 2026-12-01"
)


@dataclass(frozen=True)
class _Price:
    usd_per_gpu_hour: float | None
    source: str
    gpus_per_instance: int
    increment_s: float
    minimum_s: float


def _offer(spec: SimulationSpec) -> PriceOffer | None:
    """Return the snapshot offer named by ``deployment.instance`` (None when not given)."""
    d = spec.deployment
    if d.instance is None:
        return None
    offers = [o for o in select_offers(d.gpu, pricing=d.pricing) if o.instance == d.instance]
    if not offers:
        known = {o.instance for o in select_offers(d.gpu, pricing=d.pricing)}
        raise UnknownNameError(f"{d.pricing} instance with {d.gpu}", d.instance, known)
    return offers[0]


def _price(spec: SimulationSpec) -> _Price:
    """Return the price and billing terms: given fields first, then the named instance, then defaults."""
    d, fl = spec.deployment, spec.fleet
    offer = _offer(spec)
    gpi = d.gpus_per_instance or (offer.gpus_per_instance if offer is not None else d.tp)
    inc = fl.billing_increment_s or (offer.billing_increment_s if offer is not None else _PER_SECOND_S)
    low = fl.minimum_billed_s
    minimum = low if low is not None else (offer.billing_minimum_s if offer is not None else _MINIMUM_S)
    if d.price_usd_per_gpu_hour is not None:
        return _Price(d.price_usd_per_gpu_hour, "given", gpi, inc, minimum)
    if offer is not None:
        src = f"{offer.provider} {offer.instance} {offer.pricing} (checked {offer.date_checked}): "
        src += offer.source_url
        return _Price(offer.price_usd_per_gpu_hour, src, gpi, inc, minimum)
    try:
        p = gpu_price(d.gpu, d.pricing)
    except FlopbillError:
        return _Price(None, f"no {d.pricing} price for {d.gpu} in the snapshot", gpi, inc, minimum)
    return _Price(p.price_usd_per_gpu_hour, p.source, gpi, inc, minimum)


def tables_for(spec: SimulationSpec, max_context_tokens: int) -> StepTables:
    """Return the step tables of the spec's deployment (resolving model, GPU, engine, efficiency)."""
    d = spec.deployment
    m = resolve_model(d.model)
    acc = accelerator(d.gpu)
    opt = serving_options(d.tp, parse_dtype(d.weights, "deployment.weights"), _kv(d.kv))
    eff, _ = hardware_efficiency(acc.id)
    return step_tables(
        m,
        acc,
        opt,
        eff,
        engine_profile(d.engine, acc.id),
        max_context_tokens,
        d.block_tokens,
        d.max_seqs,
        d.token_budget,
    )


def table_context_tokens(spec: SimulationSpec, wl: Workload) -> int:
    """Return the longest context the step tables must cover: the traffic's longest request, capped at
    what one replica's KV cache holds (a longer request is dropped on arrival, ``too_long``, and never
    looked up). Uncapped, one 10⁹-token request (or a session whose context grows turn after turn) would
    build tables of 10⁹ entries each, tens of GB, before the run could drop it.
    """
    longest = int((wl.prompt_tokens.astype(np.int64) + wl.output_tokens).max()) if wl.arrival_s.size else 2
    probe = tables_for(spec, 2)
    return max(min(longest, probe.kv_blocks * probe.block_tokens), 2)


def _kv(text: str | None) -> Dtype | None:
    return None if text is None else parse_dtype(text, "deployment.kv")


def _config(spec: SimulationSpec, tb: StepTables, wl: Workload, horizon_s: float = 0.0) -> Config:
    fl, a = spec.fleet, spec.fleet.autoscaler
    code = autoscaler_code(a.policy)
    fixed = code == 0
    max_r = max(fl.replicas, 1) if fixed else a.max_replicas
    if not fixed and not a.min_replicas <= a.max_replicas:
        raise InputError("fleet.autoscaler.min_replicas", a.min_replicas, f"≤ max_replicas {a.max_replicas}")
    if not fixed and fl.replicas > a.max_replicas:
        raise InputError("fleet.replicas", fl.replicas, f"≤ autoscaler.max_replicas {a.max_replicas}")
    if fixed and fl.replicas < 1:
        raise InputError("fleet.replicas", fl.replicas, "≥ 1 replica with a fixed fleet (or an autoscaler)")
    horizon = float(spec.traffic.duration_s or 0.0) if spec.traffic.arrivals != "trace" else 0.0
    horizon = max(horizon, horizon_s)
    last = _last_known_arrival_s(wl) if wl.arrival_s.size else horizon
    max_sim = spec.bounds.max_sim_seconds if spec.bounds.max_sim_seconds is not None else last + _DAY_S
    return Config(
        block_tokens=tb.block_tokens,
        kv_blocks=tb.kv_blocks,
        max_seqs=tb.max_seqs,
        token_budget=tb.token_budget,
        router=router_code(fl.router),
        autoscaler=code,
        max_replicas=max_r,
        min_replicas=max_r if fixed else a.min_replicas,
        initial_replicas=fl.replicas,
        eval_interval_s=a.eval_interval_s,
        autoscale_target=a.target,
        cooldown_s=a.cooldown_s,
        cold_start_s=cold_start_s(spec, tb),
        queue_timeout_s=spec.queue_timeout_s if spec.queue_timeout_s is not None else math.inf,
        prefix_ttl_s=spec.prefix_cache_ttl_s if spec.prefix_cache_ttl_s is not None else math.inf,
        affinity_slack=spec.affinity_slack,
        max_sim_s=float(max_sim),
        horizon_s=horizon,
    )


def _last_known_arrival_s(wl: Workload) -> float:
    """Return the last arrival known before the run (sessions' later turns arrive during it)."""
    return float(np.nanmax(wl.arrival_s))


def _static(wl: Workload) -> int:
    """Return how many requests arrive at known times (all but the sessions' later turns; they come first)."""
    return int(wl.arrival_s.size if wl.next_turn is None else np.count_nonzero(~np.isnan(wl.arrival_s)))


def cold_start_s(spec: SimulationSpec, tb: StepTables) -> float:
    """Return a new replica's start delay: given, or ``weights bytes / load bandwidth + engine start`` (s)."""
    a = spec.fleet.autoscaler
    if a.cold_start_s is not None:
        return a.cold_start_s
    return float(fleet_cold_start_s(tb.weights_bytes, a.load_bytes_per_s, a.engine_start_s))


def _check_fits(wl: Workload, tb: StepTables) -> None:
    """Raise when no request of the traffic fits one replica's KV cache (a replica that holds none)."""
    need = -(-(wl.prompt_tokens + wl.output_tokens) // tb.block_tokens)
    if int(need.min()) > tb.kv_blocks:
        raise InputError(
            "traffic.input_tokens/output_tokens",
            int((wl.prompt_tokens + wl.output_tokens).min()),
            f"requests a replica can hold: its KV cache has {tb.kv_blocks * tb.block_tokens:,} tokens",
        )


def run_kernel(
    wl: Workload, cfg: Config, tb: StepTables, progress: Callable[[float], None] | None = None
) -> State:
    """Run the compiled event loop on ``wl`` and return its final state.

    ``progress`` (optional) is called with the fraction of requests done (0..1) every 2 % of simulated
    time up to the last arrival (the result does not depend on it).
    """
    n_groups = int(wl.group.max()) + 1 if wl.group.size else 1
    n = wl.arrival_s.size
    st = new_state(n, cfg, n_groups, _MAX_INTERVALS, _MAX_TIMELINE, _static(wl))
    nxt = wl.next_turn.astype(COUNT_DTYPE) if wl.next_turn is not None else np.full(n, -1, COUNT_DTYPE)
    think = wl.think_s if wl.think_s is not None else np.zeros(n)
    rq = Requests(wl.arrival_s, wl.prompt_tokens, wl.output_tokens, wl.group, wl.prefix_tokens, nxt, think)
    cum = np.concatenate([[0.0], np.cumsum(tb.decode_attention_s)])
    tables = Tables(tb.linear_s, tb.decode_attention_s, tb.prefill_attention_s, cum)
    events.start(st, cfg)
    if progress is None:
        events.run(st, rq, cfg, tables, math.inf)
        return st
    horizon = max(_last_known_arrival_s(wl) if wl.arrival_s.size else cfg.horizon_s, 1e-9)
    chunk = 0
    while not events.run(st, rq, cfg, tables, horizon * (chunk + 1) / 50.0 if chunk < 49 else math.inf):
        chunk += 1
        progress(float(st.ints[I_FINISHED] + st.ints[I_DROPPED]) / max(wl.arrival_s.size, 1))
    progress(1.0)
    return st


def simulate(spec: AnySpec, progress: Callable[[float], None] | None = None) -> SimulationResult:
    """Return what the spec's fleet does under its traffic (seeded: the same spec gives the same result).

    A :class:`PoolsSpec` runs each pool on its share of the traffic (:mod:`flopbill.simulate.pools`).
    ``progress``, if given, is called with the fraction of requests done as the run advances.
    """
    if isinstance(spec, PoolsSpec):
        from flopbill.simulate.pools import simulate_pools  # builds on run_pool below

        return simulate_pools(spec, progress)
    wl = workload(spec.traffic, spec.seed, spec.bounds.max_requests)
    return run_pool(spec, wl, progress)[0]


def run_pool(
    spec: SimulationSpec,
    wl: Workload,
    progress: Callable[[float], None] | None = None,
    horizon_s: float = 0.0,
) -> tuple[SimulationResult, State]:
    """Return the result and the kernel's final state of one pool (``spec``'s fleet) serving ``wl``.

    ``horizon_s``: the fleet is up (and billed) at least this long (s), besides the traffic's duration —
    for a pool of a several-pool fleet that the split sent no request (``wl`` may then be empty).
    """
    tb = tables_for(spec, table_context_tokens(spec, wl))
    limit = spec.deployment.kv_tokens_limit
    if limit is not None:
        blocks = min(tb.kv_blocks, limit // tb.block_tokens)
        if blocks < 1:
            raise InputError("deployment.kv_tokens_limit", limit, f"≥ one block of {tb.block_tokens} tokens")
        tb = dataclasses.replace(tb, kv_blocks=blocks)
    if wl.arrival_s.size:
        _check_fits(wl, tb)
    cfg = _config(spec, tb, wl, horizon_s)
    st = _without_scratch(run_kernel(wl, cfg, tb, progress))
    return summarise(spec, wl, cfg, tb, st), st


def _without_scratch(st: State) -> State:
    """Return ``st`` without the per-request arrays only the kernel uses (freed before the summary).

    The summary and :class:`Outcomes` read admission, first-token and finish times, generated tokens,
    drops, preemptions and cached tokens; the rest (computed tokens, held blocks, queue links, last
    token times, prefix holds, replica of each request: 25 bytes a request) is released here.
    """
    none_i, none_f = np.empty(0, st.computed.dtype), np.empty(0, st.last_token_s.dtype)
    return st._replace(
        computed=none_i,
        held_blocks=none_i,
        next_in_queue=none_i,
        last_token_s=none_f,
        holds_prefix=np.empty(0, st.holds_prefix.dtype),
        replica_of=none_i,
    )


def summarise(spec: SimulationSpec, wl: Workload, cfg: Config, tb: StepTables, st: State) -> SimulationResult:
    """Return the :class:`SimulationResult` of a finished kernel run."""
    d = spec.deployment
    end = float(st.floats[F_END])
    fin = ~np.isnan(st.finish_s)
    admitted = ~np.isnan(st.admit_s)
    lat = _latencies(spec, wl, st, fin, admitted)
    price = _price(spec)
    gpi = price.gpus_per_instance
    if gpi < d.tp or gpi % d.tp:
        raise InputError("deployment.gpus_per_instance", gpi, f"a multiple of tp {d.tp}")
    k = int(st.ints[I_N_INTERVALS])
    billed_s = billed_gpu_s(st.iv_start_s[:k], st.iv_end_s[:k], d.tp, gpi, price.increment_s, price.minimum_s)
    busy_s = float(st.r_busy_s.sum()) * d.tp
    out_tokens = int(np.sum(st.generated, where=fin, dtype=np.int64))
    in_tokens = int(np.sum(wl.prompt_tokens, where=fin, dtype=np.int64))
    total_tokens = out_tokens + in_tokens
    cost = None if price.usd_per_gpu_hour is None else billed_s / 3600.0 * price.usd_per_gpu_hour
    idle = None if price.usd_per_gpu_hour is None else (billed_s - busy_s) / 3600.0 * price.usd_per_gpu_hour
    n_fin = int(fin.sum())
    n_tl = int(st.ints[I_N_TIMELINE])
    tl = Timeline(
        st.tl_t_s[:n_tl].copy(),
        st.tl_ready[:n_tl].copy(),
        st.tl_provisioning[:n_tl].copy(),
        st.tl_waiting[:n_tl].copy(),
        st.tl_running[:n_tl].copy(),
    )
    return SimulationResult(
        resolved=_resolved(spec, cfg, tb, price),
        arrived=int(np.sum(wl.arrival_s <= end) if st.ints[I_STOPPED] else np.sum(~np.isnan(wl.arrival_s))),
        finished=n_fin,
        dropped=int((st.dropped > 0).sum()),
        dropped_too_long=int((st.dropped == TOO_LONG).sum()),
        dropped_timed_out=int((st.dropped == TIMED_OUT).sum()),
        unfinished=int(np.sum((wl.arrival_s <= end) & ~fin & (st.dropped == 0))),
        preemptions=int(st.ints[I_PREEMPTIONS]),
        prefix_cached_tokens=int(np.sum(st.cached_tokens, where=admitted, dtype=np.int64)),
        steps=int(st.ints[I_STEPS]),
        duration_s=end,
        ttft_s=lat.ttft_s,
        tpot_s=lat.tpot_s,
        itl_s=itl_distribution(st.itl_hist, int(st.ints[I_ITL_N]), float(st.floats[F_ITL_SUM])),
        e2e_s=lat.e2e_s,
        queue_wait_s=lat.queue_wait_s,
        goodput_rps=lat.good / end if end > 0 else 0.0,
        goodput_fraction=lat.good / max(int(np.sum(wl.arrival_s <= end)), 1),
        input_tokens=in_tokens,
        output_tokens=out_tokens,
        output_tokens_per_s=out_tokens / end if end > 0 else 0.0,
        gpu_hours_billed=billed_s / 3600.0,
        gpu_hours_busy=busy_s / 3600.0,
        kv_blocks_per_replica=tb.kv_blocks,
        kv_blocks_peak_used=int(tb.kv_blocks - st.r_min_free_blocks.min()),
        max_replicas_seen=int(max(tl.ready.max(initial=0), cfg.initial_replicas)),
        price_usd_per_gpu_hour=price.usd_per_gpu_hour,
        cost_usd=cost,
        idle_cost_usd=idle,
        usd_per_mtok_output=None if cost is None or not out_tokens else cost / out_tokens * 1e6,
        usd_per_mtok_total=None if cost is None or not total_tokens else cost / total_tokens * 1e6,
        usd_per_request=None if cost is None or not n_fin else cost / n_fin,
        outcomes=Outcomes(
            wl.arrival_s,
            st.admit_s,
            st.first_token_s,
            st.finish_s,
            wl.prompt_tokens,
            wl.output_tokens,
            st.generated,
            st.dropped,
            st.preemptions,
            st.cached_tokens,
        ),
        timeline=tl,
        assumptions=_assumptions(spec, cfg, price, wl),
        arrivals_truncated=wl.truncated,
    )


class _Latencies(NamedTuple):
    ttft_s: Distribution
    tpot_s: Distribution
    e2e_s: Distribution
    queue_wait_s: Distribution
    good: float  # finished requests meeting both objectives


def _latencies(
    spec: SimulationSpec, wl: Workload, st: State, fin: np.ndarray, admitted: np.ndarray
) -> _Latencies:
    """Return the latency distributions (exact percentiles) and the goodput count of a finished run.

    TTFT ``= first − arrival``, E2E ``= finish − arrival``, TPOT ``= (finish − first) / (output − 1)``
    (requests with > 1 output token), queue wait ``= admit − arrival``; a request is good when it
    finished with TTFT ≤ the SLO's and TPOT ≤ the SLO's (0 for a one-token request). Memory: one float64
    scratch array of the run's requests, reused for each latency, and a copy of the selected entries
    only where some request did not finish (a day of 50 M requests would otherwise hold ~2 GB of
    temporaries here).
    """
    buf = np.subtract(st.first_token_s, wl.arrival_s)
    ok = fin & (buf <= spec.slo.ttft_s)
    ttft = distribution(_selected(buf, fin), overwrite=True)
    np.subtract(st.finish_s, wl.arrival_s, out=buf)
    e2e = distribution(_selected(buf, fin), overwrite=True)
    np.subtract(st.finish_s, st.first_token_s, out=buf)
    np.divide(buf, np.maximum(wl.output_tokens - 1, 1), out=buf)
    several = wl.output_tokens > 1
    ok &= np.where(several, buf <= spec.slo.tpot_s, spec.slo.tpot_s >= 0.0)
    several &= fin
    tpot = distribution(_selected(buf, several), overwrite=True)
    np.subtract(st.admit_s, wl.arrival_s, out=buf)
    wait = distribution(_selected(buf, admitted), overwrite=True)
    return _Latencies(ttft, tpot, e2e, wait, float(np.count_nonzero(ok)))


def _selected(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return ``values[mask]``, or ``values`` itself when the mask selects all (no copy)."""
    return values if bool(mask.all()) else values[mask]


def _resolved(spec: SimulationSpec, cfg: Config, tb: StepTables, price: _Price) -> dict[str, object]:
    dump = spec.model_dump(mode="json")
    out: dict[str, object] = {"deployment": dump.pop("deployment"), "fleet": dump.pop("fleet"), **dump}
    out["derived"] = {
        "kv_blocks_per_replica": tb.kv_blocks,
        "kv_tokens_per_replica": tb.kv_blocks * tb.block_tokens,
        "max_seqs": tb.max_seqs,
        "token_budget": tb.token_budget,
        "cold_start_s": cfg.cold_start_s,
        "weights_bytes": tb.weights_bytes,
        "max_sim_s": cfg.max_sim_s,
        "price_usd_per_gpu_hour": price.usd_per_gpu_hour,
        "price_source": price.source,
    }
    return out


def _ttl_text(ttl_s: float | None) -> str:
    return "" if ttl_s is None else f", at most {ttl_s:g} s unused"


def _cold_source(a: Autoscaler) -> str:
    """Return where a computed cold start comes from (the scenario fleet model's sourced defaults)."""
    load = "given" if a.load_bytes_per_s != DEFAULT_LOAD_BYTES_PER_S else _LOAD_SOURCE
    start = "given" if a.engine_start_s != DEFAULT_ENGINE_START_S else _START_SOURCE
    return (
        f"weight bytes ÷ {a.load_bytes_per_s / 1e9:.3g} GB/s ({load}) + {a.engine_start_s:g} s engine start "
        f"({start})"
    )


def _billing_source(spec: SimulationSpec) -> str:
    if spec.deployment.instance is not None:
        return f"instance {spec.deployment.instance} in the price snapshot"
    return (
        "default: per-second billing with a 60 s minimum (AWS EC2 Linux on-demand), one replica per instance"
    )


def _assumptions(spec: SimulationSpec, cfg: Config, price: _Price, wl: Workload) -> tuple[Assumption, ...]:
    a = spec.fleet.autoscaler
    items = [
        Assumption("step_time", "serving estimator per-step physics", "flopbill.estimate.serving.step"),
        Assumption("scheduler", "vLLM v1: token budget, chunked prefill, recompute preemption", "vLLM v1"),
        Assumption("block_tokens", spec.deployment.block_tokens, "vLLM default block size 16"),
        Assumption(
            "cold_start_s", cfg.cold_start_s, "given" if a.cold_start_s is not None else _cold_source(a)
        ),
        Assumption(
            "prefix_cache",
            "LRU eviction by KV capacity"
            + (
                f", at most {spec.prefix_cache_ttl_s:g} s unused"
                if spec.prefix_cache_ttl_s is not None
                else ""
            ),
            "vLLM v1 automatic prefix caching (free-block queue, least recently freed reused first); "
            "shared blocks not de-duplicated (conservative on capacity)",
        ),
        Assumption(
            "billing",
            f"{price.gpus_per_instance}-GPU instances, {price.increment_s:g} s increments, "
            f"{price.minimum_s:g} s minimum",
            "given" if spec.fleet.billing_increment_s is not None else _billing_source(spec),
        ),
    ]
    if price.usd_per_gpu_hour is not None:
        items.append(Assumption("price_usd_per_gpu_hour", price.usd_per_gpu_hour, price.source))
    if wl.truncated:
        items.append(
            Assumption(
                "traffic_truncated",
                f"first {wl.arrival_s.size:,} requests (last arrival at {_last_known_arrival_s(wl):,.0f} s)",
                "bounds.max_requests: the traffic had more requests; later arrivals are not simulated",
            )
        )
    return tuple(items)
