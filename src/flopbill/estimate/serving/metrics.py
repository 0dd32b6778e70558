"""Request-level serving metrics from step physics, vectorized over configurations.

One call of :func:`serving_metrics` turns per-step times (:mod:`flopbill.estimate.serving.step`) into
TTFT, TPOT, throughput, memory-limited batch and cost for every configuration of a broadcast grid
(accelerator × TP × precision × batch). :mod:`flopbill.estimate.serving.deployment` wraps it for one scalar
configuration; :mod:`flopbill.estimate.serving.search` for a search.

Definitions (per replica = ``tp`` GPUs serving one model copy):

* ``τ`` expected tokens per target step with speculative decoding, draft length ``k``, acceptance
  ``α``: ``(1 − α^(k+1)) / (1 − α)`` (Leviathan et al. 2023, "Fast Inference from Transformers via
  Speculative Decoding", eq. 1); 1 without speculation.
* step time ``T = T_target(B, k+1 tokens/seq) + k·T_draft(B)``; TPOT ``= T / τ``.
* prefill GPU time per request: the prompt's FLOPs at the compute roofline, chunks of the engine's
  token budget (TTFT uses the same figure for a request alone).
* replica seconds per request ``S = prefill + O_total · T / (B·τ)``; output tokens/s/GPU
  ``= O_total / (tp·S)`` (steady state over whole requests, prefill included, as offline
  benchmarks such as ``trtllm-bench throughput`` report it).
* cost: ``$ per replica-second = tp · price / 3600 / utilization``; the prefill seconds of a request are
  billed to its input tokens and its decode seconds to its output tokens (split by GPU-time share).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopbill.estimate.serving.step import (
    DeviceArrays,
    ExpertImbalance,
    ModelTerms,
    PrecisionArrays,
    StepTime,
    activation_bytes_per_gpu,
    decode_step,
    kernel_launch_time_s,
    kv_bytes_per_sequence,
    kv_shards,
    prefill_time,
    weight_bytes_per_gpu,
    weight_bytes_stored,
)


def expected_tokens_per_step(draft_tokens: Any, acceptance: Any) -> Any:
    """Return expected tokens accepted per target step: ``(1 − α^(k+1)) / (1 − α)`` (k+1 when α = 1).

    Leviathan et al. 2023, eq. 1; ``k = 0`` gives 1 (no speculation).
    """
    k = np.asarray(draft_tokens, dtype=np.float64)
    a = np.clip(np.asarray(acceptance, dtype=np.float64), 0.0, 1.0)
    safe = np.where(a < 1.0, a, 0.5)
    value = np.where(a < 1.0, (1.0 - safe ** (k + 1.0)) / (1.0 - safe), k + 1.0)
    return float(value) if value.ndim == 0 else value


@dataclass(frozen=True)
class RuntimeArrays:
    """Engine figures: overhead per step, memory reserve, chunk budget, batch cap (broadcastable).

    ``kv_free_fraction``: share of the memory left after weights and activations that the KV cache gets
    (TensorRT-LLM ``kv_cache_free_gpu_mem_fraction``); 1 for engines that budget a fraction of the total
    (vLLM ``gpu_memory_utilization``, SGLang ``mem_fraction_static``, in ``memory_reserve_fraction``).
    """

    overhead_s_per_step: Any
    memory_reserve_fraction: Any
    prefill_chunk_tokens: Any
    max_batch_sequences: Any
    kv_free_fraction: Any = 1.0
    kernel_floor_s: Any = 0.0  # shortest GPU time of one decode kernel (CUDA-graph replay)
    kernel_launch_s: Any = 0.0  # GPU idle between two kernels of a step (step.kernel_launch_time_s)
    attention_dp: Any = 0.0  # 1: attention data parallelism + expert parallelism over the tp ranks
    expert_imbalance: ExpertImbalance | None = None  # published EP load imbalance (None: balanced)


@dataclass(frozen=True)
class WorkloadArrays:
    """Per-request shape: prompt and output lengths, prefix-cache hit rate, samples, reasoning multiplier."""

    input_tokens: Any
    output_tokens: Any
    prefix_hit_rate: Any = 0.0
    n_samples: Any = 1.0
    reasoning_multiplier: Any = 1.0
    decode_context: Any = None  # None: ``I + O·r/2``; a length distribution passes its decode-weighted mean
    reserved_context: Any = None  # None: ``I + O·r``; a length distribution passes its decode-weighted mean

    @property
    def decode_context_tokens(self) -> Any:
        """Mean context a decode step attends over: ``I + O·r/2`` unless given (tokens)."""
        if self.decode_context is not None:
            return np.asarray(self.decode_context, dtype=np.float64)
        return np.asarray(self.input_tokens, dtype=np.float64) + self.generated_per_sequence / 2.0

    @property
    def reserved_context_tokens(self) -> Any:
        """Context whose KV cache each batch slot reserves: ``I + O·r`` unless given (tokens)."""
        if self.reserved_context is not None:
            return np.asarray(self.reserved_context, dtype=np.float64)
        return np.asarray(self.input_tokens, dtype=np.float64) + self.generated_per_sequence

    @property
    def generated_per_sequence(self) -> Any:
        """Output tokens one sequence generates: ``O · reasoning_multiplier``."""
        return np.asarray(self.output_tokens, dtype=np.float64) * self.reasoning_multiplier

    @property
    def output_total(self) -> Any:
        """Output tokens per request, all samples: ``O · reasoning · n``."""
        return self.generated_per_sequence * np.asarray(self.n_samples, dtype=np.float64)


@dataclass(frozen=True)
class PrefillArrays:
    """Prefill figures of a request, computed elsewhere (e.g. over a length distribution; arrays, s).

    ``ttft_s``: the time to first token the SLO is checked at; ``gpu_s_per_request``: replica-seconds of
    prefill per request (compute + TP communication, weight reads amortized over the batch).
    """

    ttft_s: Any
    gpu_s_per_request: Any


@dataclass(frozen=True)
class SpecArrays:
    """Speculative decoding: draft length ``k``, acceptance ``α``; ``draft`` = draft model terms or None."""

    draft_tokens: Any = 0.0
    acceptance: Any = 0.0
    draft: ModelTerms | None = None


@dataclass(frozen=True)
class Metrics:
    """Request-level results for every configuration of the grid (arrays, SI units)."""

    batch: Any
    max_batch: Any
    fits: Any
    ttft_s: Any
    tpot_s: Any
    tpot_loaded_s: Any
    e2e_latency_s: Any
    step: StepTime
    step_s: Any
    tokens_per_step: Any
    prefill_s_per_request: Any
    decode_s_per_request: Any
    output_tokens_per_s_per_gpu: Any
    decode_tokens_per_s_per_gpu: Any
    weights_bytes_per_gpu: Any
    kv_bytes_per_sequence_per_gpu: Any
    activation_bytes_per_gpu: Any
    ttft_static_batch_s: Any = None  # static batch of B: every prompt prefills before any decode
    ttft_chunked_s: Any = None  # continuous batching at B, chunked prefill under the token budget, no queue


def static_batch_ttft_s(
    prefill_s_per_request: Any, batch: Any, new_tokens: Any, chunk_tokens: Any, overhead_s: Any
) -> Any:
    """Return the TTFT of a static batch: all ``B`` prompts prefill before the first decode step (s).

    ``B·p + ceil(B·n / chunk)·overhead`` with ``p`` a prompt's prefill replica-seconds (compute + TP
    communication; the weights are read once per chunk and amortized) and ``n`` its new tokens: every
    request's first token comes when the batch's prefill ends (TensorRT-LLM ``gptSessionBenchmark``, and
    any flood of requests admitted at once); ``overhead`` is what each chunk's forward pass pays besides its
    work (the engine's step overhead and the kernels' launch gaps). ``B = 1`` gives about the lone prompt's
    prefill.
    """
    b = np.asarray(batch, dtype=np.float64)
    chunks = np.maximum(np.ceil(b * np.asarray(new_tokens, dtype=np.float64) / np.asarray(chunk_tokens)), 1.0)
    return b * np.asarray(prefill_s_per_request) + chunks * np.asarray(overhead_s)


def chunked_prefill_ttft_s(
    step_s: Any, prefill_s_per_request: Any, batch: Any, new_tokens: Any, chunk_tokens: Any
) -> Any:
    """Return the TTFT of a prompt joining a running batch under chunked prefill, before any queueing (s).

    Continuous batching with a token budget (Agrawal et al. 2024, "Sarathi-Serve"; vLLM V1
    ``max_num_batched_tokens``): each step carries the ``B`` running decodes (one token each) and up to
    ``c = chunk − B`` prompt tokens, so a prompt of ``n`` new tokens needs ``ceil(n / c)`` mixed steps,
    each the decode step plus its share of the prompt's prefill compute:
    ``ceil(n/c) · step + p`` (``p`` the prompt's prefill replica-seconds). ``c`` is at least one token.
    """
    n = np.asarray(new_tokens, dtype=np.float64)
    room = np.maximum(np.asarray(chunk_tokens, dtype=np.float64) - np.asarray(batch, dtype=np.float64), 1.0)
    steps = np.maximum(np.ceil(n / room), 1.0)
    return steps * np.asarray(step_s) + np.asarray(prefill_s_per_request)


def memory_limited_batch(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    rt: RuntimeArrays,
    tp: Any,
    context_tokens: Any,
    spec: SpecArrays,
) -> tuple[Any, Any, Any, Any]:
    """Return (max sequences, weight bytes/GPU, KV bytes/sequence/GPU, activation bytes/GPU).

    ``floor(f_kv·(M·(1 − reserve) − W/tp − A) / KV_seq)`` capped at the engine's batch limit (per rank
    under attention DP); 0 when
    the weights and activations alone do not fit. KV of a sequence at its full context. vLLM and SGLang
    budget a fraction of the total (``reserve = 1 − gpu_memory_utilization``, ``f_kv = 1``); TensorRT-LLM
    gives the KV cache ``f_kv = kv_cache_free_gpu_mem_fraction`` of what is left after the weights.
    """
    tp_a = np.asarray(tp, dtype=np.float64)
    dp = rt.attention_dp
    weights = weight_bytes_per_gpu(
        t, weight_bytes_stored(t, prec.weight_bpv, prec.kept_bpv), prec.weight_bpv, tp_a, dp
    )
    kv = kv_bytes_per_sequence(t, context_tokens, prec.kv_bpv) / kv_shards(t, tp_a, dp)
    if spec.draft is not None:
        weights = weights + weight_bytes_stored(spec.draft, prec.weight_bpv, prec.kept_bpv) / tp_a
        kv = kv + kv_bytes_per_sequence(spec.draft, context_tokens, prec.kv_bpv) / kv_shards(spec.draft, tp_a)
    act = activation_bytes_per_gpu(t, rt.prefill_chunk_tokens, prec.activation_bpv, tp_a)
    free = np.asarray(dev.memory_bytes) * (1.0 - np.asarray(rt.memory_reserve_fraction)) - weights - act
    free = free * np.asarray(rt.kv_free_fraction, dtype=np.float64)
    fit = np.floor(np.maximum(free, 0.0) / kv)
    # under attention DP each rank schedules its own batch (TensorRT-LLM: "--max_batch_size: Max batch size
    # in each rank", Best_perf_practice_on_DeepSeek-R1 guide), so the cap is per rank
    cap = np.asarray(rt.max_batch_sequences) * np.where(np.asarray(dp) > 0, tp_a, 1.0)
    return np.minimum(fit, cap), weights, kv, act


def _draft_step(
    spec: SpecArrays,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    tp: Any,
    batch: Any,
    ctx: Any,
    rt: RuntimeArrays,
) -> Any:
    if spec.draft is None:
        return 0.0
    step = decode_step(
        spec.draft,
        dev,
        prec,
        tp,
        batch,
        ctx,
        1.0,
        rt.overhead_s_per_step,
        rt.attention_dp,
        rt.kernel_floor_s,
        rt.expert_imbalance,
        rt.kernel_launch_s,
    )
    return np.asarray(spec.draft_tokens, dtype=np.float64) * step.total_s


def serving_metrics(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    rt: RuntimeArrays,
    tp: Any,
    batch: Any,
    wl: WorkloadArrays,
    spec: SpecArrays | None = None,
    prefill: PrefillArrays | None = None,
) -> Metrics:
    """Return TTFT, TPOT, throughput and memory figures for a broadcast grid of configurations.

    ``batch`` is the number of concurrent sequences (a request with ``n`` samples holds ``n``);
    ``np.nan`` or values above the memory limit mark configurations that do not fit (``fits``).
    ``prefill`` replaces the prefill of one prompt of ``wl.input_tokens`` (used for length distributions,
    :mod:`flopbill.estimate.serving.workload`).
    """
    spec = spec or SpecArrays()
    gen = wl.generated_per_sequence
    ctx_avg = wl.decode_context_tokens
    ctx_max = wl.reserved_context_tokens
    max_b, w_gpu, kv_seq, act = memory_limited_batch(t, dev, prec, rt, tp, ctx_max, spec)
    b = np.asarray(batch, dtype=np.float64)
    fits = (b >= 1.0) & (b <= max_b)
    k = np.asarray(spec.draft_tokens, dtype=np.float64)
    tau = expected_tokens_per_step(k, spec.acceptance)
    target = decode_step(
        t,
        dev,
        prec,
        tp,
        b,
        ctx_avg,
        k + 1.0,
        rt.overhead_s_per_step,
        rt.attention_dp,
        rt.kernel_floor_s,
        rt.expert_imbalance,
        rt.kernel_launch_s,
    )
    step_s = target.total_s + _draft_step(spec, dev, prec, tp, b, ctx_avg, rt)
    tpot = step_s / tau
    if prefill is None:
        prefill = one_prompt_prefill(t, dev, prec, rt, tp, wl.input_tokens, wl.prefix_hit_rate)
    ttft, prefill_req = prefill.ttft_s, prefill.gpu_s_per_request
    decode_req = wl.output_total * step_s / (b * tau)
    tp_a = np.asarray(tp, dtype=np.float64)
    seqs_per_req = np.asarray(wl.n_samples, dtype=np.float64)
    new_tokens = np.asarray(wl.input_tokens, dtype=np.float64) * (1.0 - np.asarray(wl.prefix_hit_rate))
    return Metrics(
        batch=b,
        max_batch=max_b,
        fits=fits,
        ttft_s=ttft,
        tpot_s=tpot,
        tpot_loaded_s=tpot + b / gen * prefill_req / seqs_per_req,
        e2e_latency_s=ttft + np.maximum(gen - 1.0, 0.0) * tpot,
        step=target,
        step_s=step_s,
        tokens_per_step=tau,
        prefill_s_per_request=prefill_req,
        decode_s_per_request=decode_req,
        output_tokens_per_s_per_gpu=wl.output_total / (tp_a * (prefill_req + decode_req)),
        decode_tokens_per_s_per_gpu=b / (tpot * tp_a),
        weights_bytes_per_gpu=w_gpu,
        kv_bytes_per_sequence_per_gpu=kv_seq,
        activation_bytes_per_gpu=act,
        ttft_static_batch_s=static_batch_ttft_s(
            prefill_req,
            b / seqs_per_req,
            new_tokens,
            rt.prefill_chunk_tokens,
            rt.overhead_s_per_step + np.asarray(kernel_launch_time_s(t, rt.kernel_launch_s)),
        ),
        ttft_chunked_s=chunked_prefill_ttft_s(step_s, prefill_req, b, new_tokens, rt.prefill_chunk_tokens),
    )


def one_prompt_prefill(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    rt: RuntimeArrays,
    tp: Any,
    input_tokens: Any,
    prefix_hit_rate: Any,
) -> PrefillArrays:
    """Return TTFT (the prompt's prefill alone) and prefill replica-seconds per request (compute + comm).

    Batched with other requests, a prefill's weight reads are amortized, so its GPU time per request is
    its compute and TP communication; alone (TTFT) it pays the full chunked roofline and overheads.
    """
    cached = np.asarray(input_tokens, dtype=np.float64) * np.asarray(prefix_hit_rate)
    pre = prefill_time(
        t,
        dev,
        prec,
        tp,
        input_tokens,
        cached,
        rt.prefill_chunk_tokens,
        rt.overhead_s_per_step,
        rt.attention_dp,
        rt.kernel_floor_s,
        rt.expert_imbalance,
        rt.kernel_launch_s,
    )
    batched = pre.compute_s if pre.amortized_s is None else pre.amortized_s
    return PrefillArrays(ttft_s=pre.total_s, gpu_s_per_request=batched + pre.comm_s)


@dataclass(frozen=True)
class CostArrays:
    """Cost per request and per million input / output tokens (USD; arrays)."""

    usd_per_request: Any
    usd_per_mtok_input: Any
    usd_per_mtok_output: Any
    usd_per_replica_s: Any


def serving_cost(
    m: Metrics, wl: WorkloadArrays, tp: Any, price_usd_per_gpu_hour: Any, utilization: Any
) -> CostArrays:
    """Return costs: ``$/replica-s = tp·price/3600/utilization``; prefill time → input, decode → output.

    Utilization is the fraction of paid GPU time doing useful work (idle time is paid for too), so cost
    per token scales as ``1 / utilization``.
    """
    per_s = (
        np.asarray(tp, dtype=np.float64)
        * np.asarray(price_usd_per_gpu_hour)
        / 3600.0
        / np.asarray(utilization)
    )
    prefill_usd = per_s * m.prefill_s_per_request
    decode_usd = per_s * m.decode_s_per_request
    return CostArrays(
        usd_per_request=prefill_usd + decode_usd,
        usd_per_mtok_input=prefill_usd / np.asarray(wl.input_tokens, dtype=np.float64) * 1e6,
        usd_per_mtok_output=decode_usd / wl.output_total * 1e6,
        usd_per_replica_s=per_s,
    )
