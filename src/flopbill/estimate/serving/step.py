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
* Kernel launch gaps (low batch): kernels of one step run one after the other, and between two of them the
  GPU loads no weights while the next kernel is launched and set up, even when a CUDA graph replays them,
  so every kernel adds ``kernel_launch_s`` to the step, ``n_layers · kernels_per_layer · kernel_launch_s``
  (:func:`kernel_launch_time_s`; per prefill chunk for prefill). It is additive, unlike the floor: it is
  the time between kernels, not inside them, so it matters where the kernels are short (low batch, many
  layers, high TP) and not where they are long.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
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
    expert_ffn_width: int = 0  # inner size of one routed expert (0 for dense models)


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
        expert_ffn_width=(m.d_ff_expert or 0) if m.is_moe else 0,
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
    overhead_s: Any  # framework overhead and the kernels' launch gaps (launch_s)
    amortized_s: Any = None  # prefill batched with others (weights read once for all): per-token work, s
    launch_s: Any = 0.0  # of overhead_s: GPU idle between the step's kernels (kernel_launch_time_s), s

    @property
    def total_s(self) -> Any:
        """``roofline + comm + overhead`` (s; the overhead includes the launch gaps)."""
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


def routed_expert_flops_per_token(t: ModelTerms) -> float:
    """Return matmul FLOPs of one token in the routed experts: ``n_moe · k · 2 · P_expert`` (0 if dense)."""
    return float(t.n_moe_layers * t.experts_per_token * 2.0 * t.expert_params)


def routed_expert_weight_bytes(t: ModelTerms, tokens_in_step: ArrayLike, weight_bpv: ArrayLike) -> ArrayLike:
    """Return routed-expert weight bytes one step reads, ``n_moe · E_touched(T) · P_expert · bpv`` (bytes)."""
    if not t.n_moe_layers:
        return cast(ArrayLike, np.zeros_like(np.asarray(tokens_in_step, dtype=np.float64)))
    touched = expected_experts_touched(t.n_experts, t.experts_per_token, np.maximum(tokens_in_step, 1.0))
    return cast(ArrayLike, t.n_moe_layers * np.asarray(touched) * t.expert_params * np.asarray(weight_bpv))


def moe_activation_bytes_per_gpu(
    t: ModelTerms,
    tokens_in_step: ArrayLike,
    activation_bpv: ArrayLike,
    tp: ArrayLike,
    attention_dp: ArrayLike,
) -> ArrayLike:
    """Return activation bytes the routed-expert kernels move through HBM in one step, per GPU (bytes).

    A fused MoE layer (vLLM ``fused_moe``, TensorRT-LLM ``CutlassFusedMoE``, SGLang's Triton/DeepGEMM
    path) runs permute → grouped GEMM 1 → gated activation → grouped GEMM 2 → un-permute and weighted
    sum, each a kernel that reads its input from and writes its output to HBM. Per token and MoE layer,
    with ``k`` experts, hidden size ``d`` and expert width ``f``: permute reads ``d`` and writes ``k·d``;
    GEMM 1 reads ``k·d`` and writes ``k·2f``; the activation reads ``k·2f`` and writes ``k·f``; GEMM 2
    reads ``k·f`` and writes ``k·d``; the weighted sum reads ``k·d`` and writes ``d``:
    ``≈ k·(4·d + 6·f)`` values (the two ``d`` terms outside ``k`` dropped). Under TP every rank holds
    ``f/tp`` of each expert but all ``k·d`` hidden copies, ``k·(4·d + 6·f/tp)``; under expert
    parallelism each rank does ``1/ep`` of the token-expert pairs in full, ``k·(4·d + 6·f)/ep``.
    """
    if not t.n_moe_layers:
        return cast(ArrayLike, np.zeros_like(np.asarray(tokens_in_step, dtype=np.float64)))
    tp_a = np.asarray(tp, dtype=np.float64)
    d, f, k = float(t.d_model), float(t.expert_ffn_width), float(t.experts_per_token)
    per_pair = np.where(np.asarray(attention_dp) > 0, (4.0 * d + 6.0 * f) / tp_a, 4.0 * d + 6.0 * f / tp_a)
    values = np.asarray(tokens_in_step, dtype=np.float64) * t.n_moe_layers * k * per_pair
    return cast(ArrayLike, values * np.asarray(activation_bpv))


@dataclass(frozen=True)
class ExpertImbalance:
    """A published expert-parallel load imbalance: ``(max − mean)/mean`` routed tokens per rank, and where.

    ``ratio`` was measured at ``reference_ep`` ranks holding ``reference_experts_per_rank`` experts each
    (see ``moe_ep_imbalance`` in ``serving_efficiency.yaml``).
    """

    ratio: float
    reference_ep: int
    reference_experts_per_rank: float


def _expected_max_standard_normal(n: np.ndarray) -> np.ndarray:
    """Return ``E[max of n standard normals]`` by Blom's approximation ``Φ⁻¹((n − 0.375)/(n + 0.25))``."""
    inv = np.frompyfunc(lambda x: NormalDist().inv_cdf(float(x)), 1, 1)
    unique, index = np.unique(np.maximum(n, 2.0), return_inverse=True)
    values = np.asarray(inv((unique - 0.375) / (unique + 0.25)), dtype=np.float64)
    return cast(np.ndarray, values[index].reshape(np.shape(n)))


def expert_load_factor(t: ModelTerms, ep: ArrayLike, imbalance: ExpertImbalance | None) -> ArrayLike:
    """Return the busiest expert-parallel rank's routed tokens over the mean, ``γ ≥ 1`` (ratio).

    A rank holds ``n = E/ep`` experts; if per-expert loads vary independently with coefficient of
    variation ``c``, a rank's load varies with ``c/√n`` and the busiest of ``ep`` ranks sits about
    ``z(ep)`` standard deviations above the mean (``z`` the expected maximum of ``ep`` standard normals).
    The published ratio ``r₀`` at ``(ep₀, n₀)`` fixes the scale:
    ``γ = 1 + r₀ · √(n₀/n) · z(ep)/z(ep₀)``. ``1`` for one rank, a dense model or no published figure.
    Check of the independence assumption on the source's own numbers (TensorRT-LLM tech blog 4, Table 1,
    DeepSeek-R1 EP32, no EPLB): per-expert std/mean 164.1/128 = 1.28 predicts a per-rank 1.28/√8 = 0.45,
    measured 491.6/1024 = 0.48.
    """
    ep_a = np.asarray(ep, dtype=np.float64)
    if imbalance is None or not t.n_moe_layers:
        return cast(ArrayLike, np.ones_like(ep_a))
    per_rank = t.n_experts / np.maximum(ep_a, 1.0)
    z = _expected_max_standard_normal(ep_a) / float(
        _expected_max_standard_normal(np.asarray(float(imbalance.reference_ep)))
    )
    gamma = 1.0 + imbalance.ratio * np.sqrt(imbalance.reference_experts_per_rank / per_rank) * z
    return cast(ArrayLike, np.where(ep_a > 1.0, gamma, 1.0))


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
    load_factor: ArrayLike = 1.0,
) -> ArrayLike:
    """Return expert-parallel communication seconds of one step: dispatch + combine in every MoE layer.

    Each rank sends its ``T/ep`` tokens' hidden states to their ``k`` experts, ``(ep−1)/ep`` of them on
    other ranks: ``(T/ep)·k·d·bpv·(ep−1)/ep`` bytes each way per all-to-all, over one direction of the
    link, plus one latency; two all-to-alls (dispatch, combine) per MoE layer (DeepSeek-V3 report §3.2;
    DeepEP). 0 for one rank or a dense model. ``load_factor`` (:func:`expert_load_factor`): the busiest
    rank receives that many times the mean, and the all-to-all waits for it.
    """
    ep = np.asarray(ranks, dtype=np.float64)
    one_way = np.asarray(interconnect_bidir_bytes_per_s, dtype=np.float64) / 2.0
    sent = np.asarray(tokens_in_step) / ep * t.experts_per_token * t.d_model * np.asarray(activation_bpv)
    sent = sent * np.asarray(load_factor)
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
    ep_load_factor: ArrayLike = 1.0,
) -> ArrayLike:
    """Return communication seconds of one step: TP all-reduces, or EP all-to-alls under attention DP."""
    tp_part = tp_comm_time_s(t, tokens_in_step, activation_bpv, tp, interconnect_bidir_bytes_per_s, latency_s)
    if not t.n_moe_layers:
        return tp_part
    ep_part = alltoall_time_s(
        t, tokens_in_step, activation_bpv, tp, interconnect_bidir_bytes_per_s, latency_s, ep_load_factor
    )
    return cast(ArrayLike, np.where(np.asarray(attention_dp) > 0, ep_part, tp_part))


def kernel_floor_time_s(t: ModelTerms, kernel_floor_s: ArrayLike) -> ArrayLike:
    """Return the shortest a forward step can be: ``n_layers · kernels_per_layer · kernel_floor_s`` (s)."""
    return cast(ArrayLike, t.n_layers * t.kernels_per_layer * np.asarray(kernel_floor_s, dtype=np.float64))


def kernel_launch_time_s(t: ModelTerms, kernel_launch_s: ArrayLike) -> ArrayLike:
    """Return the GPU time one forward step loses between its kernels (s).

    ``n_layers · kernels_per_layer · kernel_launch_s``: each kernel of a layer waits for the one before it
    to drain and is launched and set up before it loads anything (Spector et al., Hazy Research, "Look Ma,
    No Bubbles!", 2025: about 1.3 µs per kernel on an H100 even when a CUDA graph launches them). E.g.
    Llama 3.1 70B, 80 layers × 9 kernels × 1.3 µs = 0.94 ms per decode step, whatever the batch.
    """
    return cast(ArrayLike, t.n_layers * t.kernels_per_layer * np.asarray(kernel_launch_s, dtype=np.float64))


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


def _expert_group_times(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    tp: np.ndarray,
    tokens: np.ndarray,
    weight_bytes_gpu: np.ndarray,
    attention_dp: ArrayLike,
    load: np.ndarray,
) -> tuple[Any, Any]:
    """Return (compute, memory) seconds of the routed-expert kernels on one GPU: FLOPs, and expert weights
    plus :func:`moe_activation_bytes_per_gpu`. ``load`` scales the token-proportional work (FLOPs,
    activations) to the busiest EP rank (:func:`expert_load_factor`).
    """
    flops = load * tokens * routed_expert_flops_per_token(t) / tp
    act = np.asarray(moe_activation_bytes_per_gpu(t, tokens, prec.activation_bpv, tp, attention_dp))
    return (
        compute_time_s(flops, dev.peak_flops_per_s, dev.eta_flops),
        memory_time_s(weight_bytes_gpu + load * act, dev.bandwidth_bytes_per_s, dev.eta_bw),
    )


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
    expert_imbalance: ExpertImbalance | None = None,
    kernel_launch_s: ArrayLike = 0.0,
) -> StepTime:
    """Return the time of one decode (or speculative verify) step of ``batch`` sequences (s, per replica).

    Two rooflines run one after the other, as the kernels do: the matmuls
    ``max(T·2·N_active / (tp·peak·η), weights_read(T)/tp / (bw·η))`` and the attention
    ``max(T·attn(L) / (tp·peak_attn·η), B·KV(L)/kv_shards / (bw·η))``, with ``T = B·q`` tokens
    (``q = k+1`` when verifying a draft). Attention math runs at the bf16 peak whatever the weight format.
    ``attention_dp`` (1/0): attention data parallelism with expert parallelism (module docstring); the
    roofline is raised to :func:`kernel_floor_time_s` of ``kernel_floor_s``. MoE: the routed experts are
    a kernel group of their own (:func:`_expert_group_times`), the busiest EP rank carrying
    :func:`expert_load_factor` of ``expert_imbalance`` times the mean. ``kernel_launch_s``: the gap each
    kernel adds (:func:`kernel_launch_time_s`; counted in ``overhead_s``, reported apart in ``launch_s``).
    """
    b = np.asarray(batch, dtype=np.float64)
    tokens = b * np.asarray(tokens_per_sequence, dtype=np.float64)
    tp_a = np.asarray(tp, dtype=np.float64)
    launch = np.asarray(kernel_launch_time_s(t, kernel_launch_s))
    attn = np.asarray(decode_attention_flops_per_token(t, context_tokens))
    att_c = compute_time_s(tokens * attn / tp_a, dev.attention_peak_flops_per_s, dev.attention_eta)
    w_read = weight_bytes_read(t, tokens, prec.weight_bpv, prec.kept_bpv)
    w_bytes = np.asarray(weight_bytes_per_gpu(t, w_read, prec.weight_bpv, tp_a, attention_dp))
    kv = b * kv_bytes_per_sequence(t, context_tokens, prec.kv_bpv) / kv_shards(t, tp_a, attention_dp)
    att_m = memory_time_s(kv, dev.bandwidth_bytes_per_s, dev.eta_bw)
    # Matmuls as two kernel groups run one after the other, each its own roofline: routed experts, the rest.
    load = np.where(np.asarray(attention_dp) > 0, expert_load_factor(t, tp_a, expert_imbalance), 1.0)
    exp_w = np.asarray(routed_expert_weight_bytes(t, tokens, prec.weight_bpv)) / tp_a
    exp_c, exp_m = _expert_group_times(t, dev, prec, tp_a, tokens, exp_w, attention_dp, load)
    rest_flops = tokens * (t.linear_flops_per_token - routed_expert_flops_per_token(t)) / tp_a
    rest_c = compute_time_s(rest_flops, dev.peak_flops_per_s, dev.eta_flops)
    rest_m = memory_time_s(w_bytes - exp_w, dev.bandwidth_bytes_per_s, dev.eta_bw)
    lin_c = np.asarray(rest_c) + exp_c
    lin_m = np.asarray(rest_m) + exp_m
    matmuls = np.maximum(rest_c, rest_m) + np.maximum(exp_c, exp_m)
    roofline = matmuls + np.maximum(att_c, att_m)
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
            load,
        ),
        overhead_s=np.asarray(overhead_s, dtype=np.float64) + launch,
        launch_s=launch,
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
    expert_imbalance: ExpertImbalance | None = None,
    kernel_launch_s: ArrayLike = 0.0,
) -> StepTime:
    """Return the time to prefill one prompt on one replica (s), in chunks of ``chunk_tokens``.

    Matmuls: ``max(prefill_linear_flops(n) / (tp·peak·η), ceil(n/chunk)·weights_read / tp / (bw·η))``
    for ``n`` new tokens; attention: the causal FLOPs of :func:`prefill_flops` beyond the matmuls at the
    bf16 peak (FlashAttention is compute-bound). TP all-reduces carry the new tokens' activations
    (``n·d`` values in all, plus one latency per all-reduce of each chunk); one framework overhead per
    chunk, and every chunk's kernels pay their launch gaps (:func:`kernel_launch_time_s`). Used alone for
    TTFT, and per request for the GPU time prefill takes (``amortized_s``: the
    compute, and for MoE the routed experts' activation traffic, which batching does not amortize).
    """
    tp_a = np.asarray(tp, dtype=np.float64)
    launch = np.asarray(kernel_launch_time_s(t, kernel_launch_s))
    new = np.maximum(np.asarray(prompt_tokens, dtype=np.float64) - np.asarray(cached_tokens), 0.0)
    chunk = np.asarray(chunk_tokens, dtype=np.float64)
    n_chunks = np.maximum(np.ceil(new / chunk), 1.0)
    tokens_per_chunk = np.minimum(new, chunk)
    w_read = weight_bytes_read(t, tokens_per_chunk, prec.weight_bpv, prec.kept_bpv)
    w_bytes = n_chunks * np.asarray(weight_bytes_per_gpu(t, w_read, prec.weight_bpv, tp_a, attention_dp))
    lin_flops = np.asarray(prefill_linear_flops(t, new))
    attn_flops = np.asarray(prefill_flops(t, prompt_tokens, cached_tokens)) - lin_flops
    attn_ranks = np.where(np.asarray(attention_dp) > 0, 1.0, tp_a)  # a prompt's attention: one DP rank
    att_c = compute_time_s(attn_flops / attn_ranks, dev.attention_peak_flops_per_s, dev.attention_eta)
    # Matmuls as two kernel groups (routed experts, the rest), each its own roofline, as in decode_step.
    load = np.where(np.asarray(attention_dp) > 0, expert_load_factor(t, tp_a, expert_imbalance), 1.0)
    exp_w = n_chunks * np.asarray(routed_expert_weight_bytes(t, tokens_per_chunk, prec.weight_bpv)) / tp_a
    exp_c, exp_m = _expert_group_times(t, dev, prec, tp_a, new, exp_w, attention_dp, load)
    _, exp_act_m = _expert_group_times(t, dev, prec, tp_a, new, np.zeros_like(exp_w), attention_dp, load)
    rest_c = compute_time_s(
        lin_flops / tp_a - new * routed_expert_flops_per_token(t) / tp_a, dev.peak_flops_per_s, dev.eta_flops
    )
    rest_m = memory_time_s(w_bytes - exp_w, dev.bandwidth_bytes_per_s, dev.eta_bw)
    lin_c = np.asarray(rest_c) + exp_c
    mem = np.asarray(rest_m) + exp_m
    matmuls = np.maximum(rest_c, rest_m) + np.maximum(exp_c, exp_m)
    comm_one = step_comm_time_s(  # mean chunk: a short last chunk carries only its own tokens
        t,
        new / n_chunks,
        prec.activation_bpv,
        tp_a,
        dev.link_bidir_bytes_per_s(tp_a),
        dev.allreduce_latency_s,
        attention_dp,
        load,
    )
    return StepTime(
        compute_s=np.asarray(lin_c) + att_c,
        memory_s=np.asarray(mem),
        roofline_s=np.maximum(matmuls + att_c, n_chunks * kernel_floor_time_s(t, kernel_floor_s)),
        comm_s=n_chunks * comm_one,
        overhead_s=n_chunks * (np.asarray(overhead_s, dtype=np.float64) + launch),
        launch_s=n_chunks * launch,
        # batched, every DP rank prefills its own prompts at once: a prompt's attention is 1/tp of the replica
        amortized_s=np.asarray(rest_c)
        + np.maximum(exp_c, exp_act_m)
        + compute_time_s(attn_flops / tp_a, dev.attention_peak_flops_per_s, dev.attention_eta),
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
