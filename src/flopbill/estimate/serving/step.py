"""Per-step serving physics: prefill and decode step times, weights and KV bytes moved, TP communication.

Pure and numpy-broadcastable: the model is a scalar description (:class:`ModelTerms`); every other
argument (batch, context, bytes per value, peaks, efficiencies, TP degree) may be an array, so one call
evaluates a whole grid of configurations.

Model (Pope et al. 2022, "Efficiently Scaling Transformer Inference", §2-3):

* A decode step of ``B`` sequences at context ``L`` does ``B·(2·N_active + attn(L))`` FLOPs and reads
  every weight it uses once plus the whole KV cache of the batch. Matmul kernels and attention kernels
  run one after the other, so the step time per GPU is the sum of two rooflines,
  ``max(matmul FLOPs / (tp·peak·η_flops), weight bytes / (bw·η_bw)) + max(attention FLOPs / ..., KV
  bytes / ...)``, plus tensor-parallel all-reduces and a fixed framework overhead per step.
* MoE: compute uses the active parameters, but the expert weights read per step are those of the
  *distinct* experts the step's tokens touch, ``E·(1 − (1 − k/E)^T)`` per layer
  (:func:`flopbill.estimate.core.architecture.expected_experts_touched`): ``k`` experts at batch 1, all ``E``
  at large batch.
* Prefill of ``n`` new tokens after ``c`` cached ones does ``n·2·N_active`` (less the output head for all
  but the last token: engines compute logits only where they sample) plus causal attention
  ``Σ_{t=c+1}^{c+n} attn(t)`` FLOPs, which grows with the square of the prompt; it reads the weights
  once per chunk of ``prefill_chunk_tokens``.
* Tensor parallelism (Shoeybi et al. 2019, Megatron-LM §3): 2 all-reduces per layer of the step's
  activations, ring time ``2·(tp−1)/tp · bytes / (bidir_bw/2) + latency``.
* Attention data parallelism with expert parallelism (``attention_dp``; SGLang ``--enable-dp-attention``,
  TensorRT-LLM ``enable_attention_dp`` with ``--ep``): each of the ``tp`` ranks runs attention for its own
  ``B/tp`` sequences with a full copy of the attention (and dense-layer) weights, keeps only its own
  sequences' KV cache (the MLA latent once per rank, not replicated), and the MoE layers exchange tokens
  with two all-to-alls (dispatch + combine) instead of all-reduces.
* MLA decode runs in the absorbed form (DeepSeek-V2 report §2.1.2; FlashMLA): queries are projected into
  the latent space, so each head scores ``d_c + d_r`` values and mixes ``d_c`` values per cached token,
  ``2·h·L·(2·d_c + d_r)`` FLOPs per layer (the projections stay in the matmuls).
* Topology: a collective over more GPUs than one scale-up domain (8 NVLink GPUs in an HGX/DGX node, 72
  in a GB200 NVL72) runs at the per-GPU network bandwidth (one NIC per GPU), not the interconnect's.
* Latency floor: a step cannot be shorter than its kernels' minimum durations,
  ``n_layers · kernels_per_layer · kernel_floor_s`` (the roofline is raised to it); all-reduces are counted
  in the communication term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from flopbill.catalog.schema import ModelSpec
from flopbill.estimate.core.architecture import (
    attention_flops_per_token,
    expected_experts_touched,
    ffn_params,
    kv_cache_bytes,
    param_counts,
)
from flopbill.estimate.core.arrays import ArrayLike
from flopbill.estimate.core.roofline import compute_time_s, memory_time_s


@dataclass(frozen=True)
class ModelTerms:
    """The numbers of one model that serving physics needs (counts; independent of precision)."""

    model: ModelSpec
    quantized_params: float  # transformer-block weights, stored at the weight format's width
    kept_params: float  # embeddings, positions, output head, norms: bf16 when weights are quantized
    step_block_params: float  # block weights every step reads (attention, dense FFN, shared experts, router)
    head_params: float  # output head read every step (the embedding when tied)
    expert_params: float  # one routed expert of one layer (0 for dense models)
    n_moe_layers: int
    n_experts: int
    experts_per_token: int
    linear_flops_per_token: float  # 2·N_matmul_active (output head included)
    n_layers: int
    d_model: int
    ffn_width: int  # widest FFN inner size (activation memory)
    kv_shard_limit: int  # TP ranks that can split the KV cache (KV heads; 1 for MLA: latent replicated)
    replicated_params: float = 0.0  # attention + dense-FFN weights each rank holds under attention DP
    kernels_per_layer: float = 0.0  # GPU kernels one decoder layer launches in decode (excl. all-reduces)


def model_terms(m: ModelSpec) -> ModelTerms:
    """The :class:`ModelTerms` of a model (:func:`flopbill.estimate.core.architecture.param_counts`)."""
    pc = param_counts(m)
    kept = pc.embedding + pc.position + pc.output_head + pc.norms
    n_moe = m.n_moe_layers
    expert = ffn_params(m, m.d_ff_expert) if m.is_moe and m.d_ff_expert else 0.0
    block = pc.attention + pc.ffn_dense + pc.experts_shared + pc.router
    return ModelTerms(
        model=m,
        quantized_params=pc.total - kept,
        kept_params=kept,
        step_block_params=block,
        head_params=pc.output_head or pc.embedding,
        expert_params=expert,
        n_moe_layers=n_moe,
        n_experts=m.n_experts or 0,
        experts_per_token=m.experts_per_token or 0,
        linear_flops_per_token=2.0 * pc.matmul_active,
        n_layers=m.n_decoder_layers or m.n_layers,
        d_model=m.d_model,
        ffn_width=max(m.d_ff, m.d_ff_expert or 0),
        kv_shard_limit=1 if m.is_mla else m.kv_heads,
        replicated_params=pc.attention + pc.ffn_dense,
        kernels_per_layer=kernels_per_layer(m),
    )


#: Decode kernels of one decoder layer, excluding all-reduces, as the engines' model code launches them
#: (vLLM ``LlamaDecoderLayer``: fused residual+RMSNorm, QKV GEMM, rotary+KV-cache write, paged attention,
#: output GEMM, fused residual+RMSNorm, gate-up GEMM, SiLU-and-mul, down GEMM: 9; ``FusedMoE`` adds router
#: GEMM, top-k, token alignment, two grouped GEMMs and the weighted sum: 6 more; MLA adds the latent
#: down/up projections and their norms: 3 more).
DENSE_LAYER_KERNELS = 9.0
MOE_EXTRA_KERNELS = 6.0
MLA_EXTRA_KERNELS = 3.0


def kernels_per_layer(m: ModelSpec) -> float:
    """Return the mean number of decode kernels per decoder layer (count; see ``DENSE_LAYER_KERNELS``)."""
    moe_share = m.n_moe_layers / m.n_layers
    mla = MLA_EXTRA_KERNELS if m.is_mla else 0.0
    return DENSE_LAYER_KERNELS + mla + MOE_EXTRA_KERNELS * moe_share


@dataclass(frozen=True)
class StepTime:
    """Time of one forward step on one replica, by part (s; arrays broadcast over the inputs)."""

    compute_s: Any  # all FLOPs at their peaks
    memory_s: Any  # all bytes at the bandwidth
    roofline_s: Any  # Σ over kernel groups of max(compute, memory)
    comm_s: Any
    overhead_s: Any

    @property
    def total_s(self) -> Any:
        """``roofline + comm + overhead`` (s)."""
        return self.roofline_s + self.comm_s + self.overhead_s

    @property
    def compute_bound(self) -> Any:
        """True where the step's FLOPs take longer than its bytes (the step is compute-bound)."""
        return np.asarray(self.compute_s) > np.asarray(self.memory_s)


def weight_bytes_stored(t: ModelTerms, weight_bpv: ArrayLike, kept_bpv: ArrayLike) -> ArrayLike:
    """Return bytes of all weights: ``quantized·bpv_w + kept·bpv_kept`` (bytes, whole model)."""
    return t.quantized_params * np.asarray(weight_bpv) + t.kept_params * np.asarray(kept_bpv)


def weight_bytes_read(
    t: ModelTerms, tokens_in_step: ArrayLike, weight_bpv: ArrayLike, kept_bpv: ArrayLike
) -> ArrayLike:
    """Return weight bytes one forward step of ``tokens_in_step`` tokens reads (bytes, whole model).

    ``block·bpv_w + head·bpv_kept + n_moe_layers · E_touched(T) · expert·bpv_w`` with
    ``E_touched(T) = E·(1 − (1 − k/E)^T)``; embedding rows looked up are negligible.
    """
    w = np.asarray(weight_bpv)
    dense = t.step_block_params * w + t.head_params * np.asarray(kept_bpv)
    if not t.n_moe_layers:
        return dense
    touched = expected_experts_touched(t.n_experts, t.experts_per_token, np.maximum(tokens_in_step, 1.0))
    return cast(ArrayLike, dense + t.n_moe_layers * np.asarray(touched) * t.expert_params * w)


def kv_bytes_per_sequence(t: ModelTerms, context_tokens: ArrayLike, kv_bpv: ArrayLike) -> ArrayLike:
    """Return KV-cache bytes of one sequence at ``context_tokens`` (bytes, all layers, all GPUs).

    :func:`flopbill.estimate.core.architecture.kv_cache_bytes` (GQA/MLA sizes, sliding-window layers capped at
    ``W``), scaled from 2-byte values to ``kv_bpv`` bytes per value.
    """
    values = np.asarray(kv_cache_bytes(t.model, np.asarray(context_tokens, dtype=np.float64), "bf16")) / 2.0
    return cast(ArrayLike, values * np.asarray(kv_bpv))


def kv_shards(t: ModelTerms, tp: ArrayLike, attention_dp: ArrayLike = 0.0) -> ArrayLike:
    """Return how many ways the KV cache is split over a replica's ``tp`` GPUs.

    TP splits it by KV head, ``min(tp, kv_heads)`` (1 for MLA's shared latent: every rank holds all of
    it); with attention data parallelism each rank holds only its own sequences, ``tp`` ways.
    """
    tp_a = np.asarray(tp, dtype=np.float64)
    return np.where(np.asarray(attention_dp) > 0, tp_a, np.minimum(tp_a, t.kv_shard_limit))


def weight_bytes_per_gpu(
    t: ModelTerms, whole_model_bytes: ArrayLike, weight_bpv: ArrayLike, tp: ArrayLike, attention_dp: ArrayLike
) -> ArrayLike:
    """Return one GPU's share of ``whole_model_bytes`` of weights (bytes).

    TP: ``bytes / tp``. Attention DP: the attention and dense-FFN weights (``replicated_params``) are whole
    on every rank, the rest is split: ``R·bpv + (bytes − R·bpv) / tp``.
    """
    tp_a = np.asarray(tp, dtype=np.float64)
    whole = np.asarray(whole_model_bytes, dtype=np.float64)
    rep = t.replicated_params * np.asarray(weight_bpv)
    return cast(ArrayLike, np.where(np.asarray(attention_dp) > 0, rep + (whole - rep) / tp_a, whole / tp_a))


def decode_attention_flops_per_token(t: ModelTerms, context_tokens: ArrayLike) -> ArrayLike:
    """Return attention-core FLOPs of one decoded token at context ``L`` (FLOPs, all layers).

    MLA in the absorbed form: ``2·h·L·(d_c + d_r) + 2·h·L·d_c`` per layer (scores over the latent and
    rotary key, then mixing of the latent values; DeepSeek-V2 report §2.1.2, FlashMLA); other attention
    as :func:`flopbill.estimate.core.architecture.attention_flops_per_token`.
    """
    m = t.model
    ctx = np.asarray(context_tokens, dtype=np.float64)
    if not m.is_mla:
        return attention_flops_per_token(m, ctx)
    assert m.kv_lora_rank and m.qk_rope_head_dim
    per_key = 2.0 * m.n_heads * (2.0 * m.kv_lora_rank + m.qk_rope_head_dim)
    return cast(ArrayLike, per_key * t.n_layers * ctx)


def alltoall_time_s(
    t: ModelTerms,
    tokens_in_step: ArrayLike,
    activation_bpv: ArrayLike,
    ranks: ArrayLike,
    interconnect_bidir_bytes_per_s: ArrayLike,
    latency_s: ArrayLike,
) -> ArrayLike:
    """Return expert-parallel communication seconds of one step: dispatch + combine in every MoE layer.

    Each rank sends its ``T/ep`` tokens' hidden states to their ``k`` experts, ``(ep−1)/ep`` of them on
    other ranks: ``(T/ep)·k·d·bpv·(ep−1)/ep`` bytes each way per all-to-all, over one direction of the
    link, plus one latency; two all-to-alls (dispatch, combine) per MoE layer (DeepSeek-V3 report §3.2;
    DeepEP). 0 for one rank or a dense model.
    """
    ep = np.asarray(ranks, dtype=np.float64)
    one_way = np.asarray(interconnect_bidir_bytes_per_s, dtype=np.float64) / 2.0
    sent = np.asarray(tokens_in_step) / ep * t.experts_per_token * t.d_model * np.asarray(activation_bpv)
    each = sent * (ep - 1.0) / ep / one_way + latency_s
    return cast(ArrayLike, np.where(ep > 1.0, 2.0 * t.n_moe_layers * each, 0.0))


def step_comm_time_s(
    t: ModelTerms,
    tokens_in_step: ArrayLike,
    activation_bpv: ArrayLike,
    tp: ArrayLike,
    interconnect_bidir_bytes_per_s: ArrayLike,
    latency_s: ArrayLike,
    attention_dp: ArrayLike = 0.0,
) -> ArrayLike:
    """Return communication seconds of one step: TP all-reduces, or EP all-to-alls under attention DP."""
    tp_part = tp_comm_time_s(t, tokens_in_step, activation_bpv, tp, interconnect_bidir_bytes_per_s, latency_s)
    if not t.n_moe_layers:
        return tp_part
    ep_part = alltoall_time_s(
        t, tokens_in_step, activation_bpv, tp, interconnect_bidir_bytes_per_s, latency_s
    )
    return cast(ArrayLike, np.where(np.asarray(attention_dp) > 0, ep_part, tp_part))


def kernel_floor_time_s(t: ModelTerms, kernel_floor_s: ArrayLike) -> ArrayLike:
    """Return the shortest a forward step can be: ``n_layers · kernels_per_layer · kernel_floor_s`` (s)."""
    return cast(ArrayLike, t.n_layers * t.kernels_per_layer * np.asarray(kernel_floor_s, dtype=np.float64))


def decode_flops_per_token(t: ModelTerms, context_tokens: ArrayLike) -> ArrayLike:
    """Return forward FLOPs of one decoded token at position ``context_tokens``: ``2·N_active + attn(L)``."""
    attn = attention_flops_per_token(t.model, np.asarray(context_tokens, dtype=np.float64))
    return t.linear_flops_per_token + np.asarray(attn)


def prefill_linear_flops(t: ModelTerms, new_tokens: ArrayLike) -> ArrayLike:
    """Return matmul FLOPs of prefilling ``n`` new prompt tokens: ``n·(2·N_active − 2·H) + 2·H`` (FLOPs).

    ``H`` is the output head (``V·d``). Engines compute logits only at the positions they sample, the
    last prompt token (vLLM ``gpu_model_runner``: ``compute_logits(hidden_states[logits_indices])`` with
    one index per request; SGLang ``LogitsProcessor``; TensorRT-LLM without ``gather_context_logits``),
    so the head runs once per prompt, not once per token. ``0`` when there is nothing to prefill.
    """
    n = np.asarray(new_tokens, dtype=np.float64)
    head = 2.0 * t.head_params
    return cast(ArrayLike, n * (t.linear_flops_per_token - head) + np.minimum(n, 1.0) * head)


def prefill_flops(t: ModelTerms, prompt_tokens: ArrayLike, cached_tokens: ArrayLike = 0.0) -> ArrayLike:
    """Return FLOPs to prefill a prompt whose first ``cached_tokens`` are already cached (FLOPs).

    ``prefill_linear_flops(P − c) + P·attn_avg(P) − c·attn_avg(c)`` where ``attn_avg(P)`` is the causal
    mean attention cost per token over ``P`` positions, so the attention part grows as ``P²``.
    """
    p = np.asarray(prompt_tokens, dtype=np.float64)
    c = np.minimum(np.asarray(cached_tokens, dtype=np.float64), p)
    attn_p = p * np.asarray(attention_flops_per_token(t.model, p, causal_average=True))
    attn_c = c * np.asarray(attention_flops_per_token(t.model, c, causal_average=True))
    return cast(ArrayLike, np.asarray(prefill_linear_flops(t, p - c)) + attn_p - attn_c)


def allreduce_time_s(
    message_bytes: ArrayLike, tp: ArrayLike, interconnect_bidir_bytes_per_s: ArrayLike, latency_s: ArrayLike
) -> ArrayLike:
    """Return seconds for one ring all-reduce of ``message_bytes`` over ``tp`` devices (0 when tp = 1).

    ``2·(tp−1)/tp · bytes / (bidir/2) + latency`` (Patarasuk and Yuan 2009; one direction of the link).
    """
    tp_a = np.asarray(tp, dtype=np.float64)
    one_way = np.asarray(interconnect_bidir_bytes_per_s, dtype=np.float64) / 2.0
    t = 2.0 * (tp_a - 1.0) / tp_a * np.asarray(message_bytes) / one_way + latency_s
    return np.where(tp_a > 1.0, t, 0.0)


def tp_comm_time_s(
    t: ModelTerms,
    tokens_in_step: ArrayLike,
    activation_bpv: ArrayLike,
    tp: ArrayLike,
    interconnect_bidir_bytes_per_s: ArrayLike,
    latency_s: ArrayLike,
) -> ArrayLike:
    """Return TP communication seconds of one step: 2 all-reduces per layer of ``T·d_model`` activations."""
    message = np.asarray(tokens_in_step) * t.d_model * np.asarray(activation_bpv)
    return 2.0 * t.n_layers * allreduce_time_s(message, tp, interconnect_bidir_bytes_per_s, latency_s)


@dataclass(frozen=True)
class DeviceArrays:
    """Per-device figures, broadcastable arrays: peaks for the compute format, bandwidths, efficiencies."""

    peak_flops_per_s: Any
    attention_peak_flops_per_s: Any
    bandwidth_bytes_per_s: Any
    interconnect_bidir_bytes_per_s: Any
    memory_bytes: Any
    eta_flops: Any
    eta_bw: Any
    allreduce_latency_s: Any
    attention_eta_flops: Any = None  # efficiency of the bf16 attention math; None: eta_flops
    scale_up_gpus: Any = np.inf  # GPUs one scale-up domain (NVLink / Infinity Fabric) joins; inf: unbounded
    scale_out_bidir_bytes_per_s: Any = np.nan  # per-GPU network beyond the domain (InfiniBand/RoCE NIC)

    @property
    def attention_eta(self) -> Any:
        """The efficiency the attention math runs at (``attention_eta_flops``, else ``eta_flops``)."""
        return self.eta_flops if self.attention_eta_flops is None else self.attention_eta_flops

    def link_bidir_bytes_per_s(self, ranks: ArrayLike) -> ArrayLike:
        """Return the bidirectional bandwidth a collective over ``ranks`` GPUs runs at (bytes/s).

        Within one scale-up domain the interconnect's; beyond it a ring passes through every GPU's NIC,
        so the slower of the two (NaN where the network bandwidth is unknown).
        """
        r = np.asarray(ranks, dtype=np.float64)
        inside = np.asarray(self.interconnect_bidir_bytes_per_s, dtype=np.float64)
        outside = np.fmin(inside, np.asarray(self.scale_out_bidir_bytes_per_s, dtype=np.float64))
        outside = np.where(np.isnan(self.scale_out_bidir_bytes_per_s), np.nan, outside)
        return cast(ArrayLike, np.where(r > np.asarray(self.scale_up_gpus), outside, inside))


@dataclass(frozen=True)
class PrecisionArrays:
    """Bytes per value of weights, kept (embedding/head/norm) weights, KV cache and activations."""

    weight_bpv: Any
    kept_bpv: Any
    kv_bpv: Any
    activation_bpv: Any


def decode_step(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    tp: ArrayLike,
    batch: ArrayLike,
    context_tokens: ArrayLike,
    tokens_per_sequence: ArrayLike = 1.0,
    overhead_s: ArrayLike = 0.0,
    attention_dp: ArrayLike = 0.0,
    kernel_floor_s: ArrayLike = 0.0,
) -> StepTime:
    """Return the time of one decode (or speculative verify) step of ``batch`` sequences (s, per replica).

    Two rooflines run one after the other, as the kernels do: the matmuls
    ``max(T·2·N_active / (tp·peak·η), weights_read(T)/tp / (bw·η))`` and the attention
    ``max(T·attn(L) / (tp·peak_attn·η), B·KV(L)/kv_shards / (bw·η))``, with ``T = B·q`` tokens
    (``q = k+1`` when verifying a draft). Attention math runs at the bf16 peak whatever the weight format.
    ``attention_dp`` (1/0): attention data parallelism with expert parallelism (module docstring); the
    roofline is raised to :func:`kernel_floor_time_s` of ``kernel_floor_s``.
    """
    b = np.asarray(batch, dtype=np.float64)
    tokens = b * np.asarray(tokens_per_sequence, dtype=np.float64)
    tp_a = np.asarray(tp, dtype=np.float64)
    lin_c = compute_time_s(tokens * t.linear_flops_per_token / tp_a, dev.peak_flops_per_s, dev.eta_flops)
    attn = np.asarray(decode_attention_flops_per_token(t, context_tokens))
    att_c = compute_time_s(tokens * attn / tp_a, dev.attention_peak_flops_per_s, dev.attention_eta)
    w_read = weight_bytes_read(t, tokens, prec.weight_bpv, prec.kept_bpv)
    w_bytes = weight_bytes_per_gpu(t, w_read, prec.weight_bpv, tp_a, attention_dp)
    kv = b * kv_bytes_per_sequence(t, context_tokens, prec.kv_bpv) / kv_shards(t, tp_a, attention_dp)
    lin_m = memory_time_s(w_bytes, dev.bandwidth_bytes_per_s, dev.eta_bw)
    att_m = memory_time_s(kv, dev.bandwidth_bytes_per_s, dev.eta_bw)
    roofline = np.maximum(lin_c, lin_m) + np.maximum(att_c, att_m)
    return StepTime(
        compute_s=np.asarray(lin_c) + att_c,
        memory_s=np.asarray(lin_m) + att_m,
        roofline_s=np.maximum(roofline, kernel_floor_time_s(t, kernel_floor_s)),
        comm_s=step_comm_time_s(
            t,
            tokens,
            prec.activation_bpv,
            tp_a,
            dev.link_bidir_bytes_per_s(tp_a),
            dev.allreduce_latency_s,
            attention_dp,
        ),
        overhead_s=np.asarray(overhead_s, dtype=np.float64),
    )


def prefill_time(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    tp: ArrayLike,
    prompt_tokens: ArrayLike,
    cached_tokens: ArrayLike,
    chunk_tokens: ArrayLike,
    overhead_s: ArrayLike = 0.0,
    attention_dp: ArrayLike = 0.0,
    kernel_floor_s: ArrayLike = 0.0,
) -> StepTime:
    """Return the time to prefill one prompt on one replica (s), in chunks of ``chunk_tokens``.

    Matmuls: ``max(prefill_linear_flops(n) / (tp·peak·η), ceil(n/chunk)·weights_read / tp / (bw·η))``
    for ``n`` new tokens; attention: the causal FLOPs of :func:`prefill_flops` beyond the matmuls at the
    bf16 peak (FlashAttention is compute-bound). TP all-reduces carry the new tokens' activations
    (``n·d`` values in all, plus one latency per all-reduce of each chunk); one framework overhead per
    chunk. Used alone for TTFT, and per request for the GPU time prefill takes.
    """
    tp_a = np.asarray(tp, dtype=np.float64)
    new = np.maximum(np.asarray(prompt_tokens, dtype=np.float64) - np.asarray(cached_tokens), 0.0)
    chunk = np.asarray(chunk_tokens, dtype=np.float64)
    n_chunks = np.maximum(np.ceil(new / chunk), 1.0)
    tokens_per_chunk = np.minimum(new, chunk)
    w_read = weight_bytes_read(t, tokens_per_chunk, prec.weight_bpv, prec.kept_bpv)
    w_bytes = n_chunks * np.asarray(weight_bytes_per_gpu(t, w_read, prec.weight_bpv, tp_a, attention_dp))
    lin_flops = np.asarray(prefill_linear_flops(t, new))
    attn_flops = np.asarray(prefill_flops(t, prompt_tokens, cached_tokens)) - lin_flops
    lin_c = compute_time_s(lin_flops / tp_a, dev.peak_flops_per_s, dev.eta_flops)
    attn_ranks = np.where(np.asarray(attention_dp) > 0, 1.0, tp_a)  # a prompt's attention: one DP rank
    att_c = compute_time_s(attn_flops / attn_ranks, dev.attention_peak_flops_per_s, dev.attention_eta)
    mem = memory_time_s(w_bytes, dev.bandwidth_bytes_per_s, dev.eta_bw)
    comm_one = step_comm_time_s(  # mean chunk: a short last chunk carries only its own tokens
        t,
        new / n_chunks,
        prec.activation_bpv,
        tp_a,
        dev.link_bidir_bytes_per_s(tp_a),
        dev.allreduce_latency_s,
        attention_dp,
    )
    return StepTime(
        compute_s=np.asarray(lin_c) + att_c,
        memory_s=np.asarray(mem),
        roofline_s=np.maximum(
            np.maximum(lin_c, mem) + att_c, n_chunks * kernel_floor_time_s(t, kernel_floor_s)
        ),
        comm_s=n_chunks * comm_one,
        overhead_s=n_chunks * np.asarray(overhead_s, dtype=np.float64),
    )


def activation_bytes_per_gpu(
    t: ModelTerms, chunk_tokens: ArrayLike, activation_bpv: ArrayLike, tp: ArrayLike
) -> ArrayLike:
    """Return peak activation bytes of one prefill chunk on one GPU (bytes).

    ``chunk · (4·d_model + 2·d_ff/tp) · bpv``: hidden state, residual, attention output and the
    (sharded) FFN intermediate of one layer alive at once. Runtimes size this peak the same way, by
    profiling one forward pass of their token budget (vLLM ``max_num_batched_tokens``).
    """
    width = 4.0 * t.d_model + 2.0 * t.ffn_width / np.asarray(tp, dtype=np.float64)
    return cast(ArrayLike, np.asarray(chunk_tokens) * width * np.asarray(activation_bpv))
