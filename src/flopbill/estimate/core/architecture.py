"""Transformer arithmetic: parameters, FLOPs per token, weight bytes, KV-cache bytes, MoE experts touched.

All functions are pure. Arguments named ``*_tokens``, ``batch_*`` or ``bytes_per_*`` accept numpy arrays
and broadcast; the model (a :class:`~flopbill.catalog.schema.ModelSpec`) is a scalar description.

FLOP convention: one multiply-add = 2 FLOPs. A matmul of a token's ``m``-vector with an ``m×n`` weight
costs ``2·m·n`` FLOPs; the non-matmul work (norms, softmax, activations, rotary) is < 1 % and not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flopbill.catalog.schema import ModelSpec
from flopbill.checks import array as check_array
from flopbill.dtypes import QUANTIZED, Dtype, bytes_per_value, parse_dtype
from flopbill.errors import InputError
from flopbill.estimate.core.arrays import ArrayLike, as_output


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts of one model, by component (plain counts, not bytes).

    ``total`` = embedding + position + attention + ffn_dense + experts_routed + experts_shared + router
    + norms + output_head (an invariant a property test checks).
    """

    embedding: float
    position: float
    attention: float
    ffn_dense: float
    experts_routed: float
    experts_shared: float
    router: float
    norms: float
    output_head: float
    active: float

    @property
    def total(self) -> float:
        """All parameters stored."""
        return sum(self.parts().values())

    def parts(self) -> dict[str, float]:
        """Return the components that sum to :attr:`total`."""
        return {
            "embedding": self.embedding,
            "position": self.position,
            "attention": self.attention,
            "ffn_dense": self.ffn_dense,
            "experts_routed": self.experts_routed,
            "experts_shared": self.experts_shared,
            "router": self.router,
            "norms": self.norms,
            "output_head": self.output_head,
        }

    @property
    def non_embedding(self) -> float:
        """Parameters outside the input embedding and position tables (Kaplan et al. 2020's N)."""
        return self.total - self.embedding - self.position

    @property
    def matmul_active(self) -> float:
        """Active parameters used as matmul weights per token: everything active but lookups and norms.

        Includes the output head (a vocab×d matmul) whether or not it is tied to the input embedding.
        """
        tied_head = 0.0 if self.output_head else self.embedding
        return self.active - self.embedding - self.position - self.norms + tied_head


def self_attention_params(m: ModelSpec) -> float:
    """Return one self-attention block's weights and biases (count).

    Standard/GQA/MQA: q and o are ``d·h·d_h``; k and v are ``d·h_kv·d_h`` each.
    MLA (DeepSeek-V2/V3, Liu et al. 2024, §2.1.2): q down ``d·r_q`` + norm ``r_q`` + q up
    ``r_q·h·(d_nope + d_rope)`` (or ``d·h·(d_nope+d_rope)`` without ``r_q``); kv down
    ``d·(r_kv + d_rope)`` + norm ``r_kv`` + kv up ``r_kv·h·(d_nope + d_v)``; o ``h·d_v·d``.
    """
    d, h = m.d_model, m.n_heads
    if m.is_mla:
        assert m.kv_lora_rank and m.qk_nope_head_dim and m.qk_rope_head_dim and m.v_head_dim
        qk_dim = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            q = d * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * h * qk_dim
        else:
            q = d * h * qk_dim
        kv_down = d * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        kv_up = m.kv_lora_rank * h * (m.qk_nope_head_dim + m.v_head_dim)
        return float(q + kv_down + kv_up + h * m.v_head_dim * d)
    dh, hkv = m.head_size, m.kv_heads
    weights = 2 * d * h * dh + 2 * d * hkv * dh
    biases = (h * dh + 2 * hkv * dh if m.qkv_bias else 0) + (d if m.attn_out_bias else 0)
    qk_norm = 2 * dh if m.qk_norm else 0
    return float(weights + biases + qk_norm)


def ffn_params(m: ModelSpec, d_ff: int) -> float:
    """Return one FFN's weights (and biases): ``k·d·d_ff`` with k = 3 if gated (SwiGLU) else 2."""
    n_mats = 3 if m.gated_ffn else 2
    biases = ((n_mats - 1) * d_ff + m.d_model) if m.mlp_bias else 0
    return float(n_mats * m.d_model * d_ff + biases)


def _norm_params(m: ModelSpec) -> float:
    per_norm = 2 * m.d_model if m.norm == "layernorm" else m.d_model
    blocks = m.n_layers + (m.n_decoder_layers or 0)
    extra_dec_norms = m.n_decoder_layers or 0  # cross-attention norm in each decoder block
    final = 2 if m.n_decoder_layers else 1
    return float(per_norm * (m.norms_per_layer * blocks + extra_dec_norms + final))


def param_counts(m: ModelSpec) -> ParamCounts:
    """Return parameter counts by component, total and active per token (counts).

    Decoder-only: embedding ``V·d`` (+ learned positions ``n_ctx·d``), per layer attention + FFN
    (dense, or router ``d·E`` + E routed experts + shared experts), norms, and an output head ``V·d``
    unless tied. Active = total minus the routed experts a token does not use:
    ``(E − k)·expert_params`` per MoE layer. MoE layers: ``(n_layers − n_dense_layers) // moe_layer_step``
    (Llama 4 Maverick interleaves dense and MoE layers); the other layers hold a dense FFN of width d_ff.
    Encoder-decoder (Vaswani et al. 2017): ``n_layers`` encoder blocks (self-attention + FFN) and
    ``n_decoder_layers`` decoder blocks (self-attention + cross-attention + FFN); one embedding table
    shared by source, target and the output head when ``tied_embeddings``.
    """
    d = m.d_model
    attn_one = self_attention_params(m)
    n_dec = m.n_decoder_layers or 0
    attention = attn_one * (m.n_layers + 2 * n_dec)
    position = float(m.max_context_tokens * d) if m.learned_position_embeddings else 0.0
    embedding = float(m.vocab_size * d)
    output_head = 0.0 if m.tied_embeddings else float(m.vocab_size * d)
    norms = _norm_params(m)
    if not m.is_moe:
        ffn_dense = ffn_params(m, m.d_ff) * (m.n_layers + n_dec)
        total_parts = (embedding, position, attention, ffn_dense, 0.0, 0.0, 0.0, norms, output_head)
        return ParamCounts(*total_parts, active=sum(total_parts))
    assert m.n_experts and m.experts_per_token and m.d_ff_expert
    n_moe = m.n_moe_layers
    ffn_dense = ffn_params(m, m.d_ff) * m.n_dense_ffn_layers
    expert_one = ffn_params(m, m.d_ff_expert)
    shared_one = ffn_params(m, m.d_ff_shared_expert or m.d_ff_expert)
    experts_routed = expert_one * m.n_experts * n_moe
    experts_shared = shared_one * m.n_shared_experts * n_moe
    router = float(d * m.n_experts * n_moe)
    parts = (
        embedding,
        position,
        attention,
        ffn_dense,
        experts_routed,
        experts_shared,
        router,
        norms,
    )
    total = sum(parts) + output_head
    unused = expert_one * (m.n_experts - m.experts_per_token) * n_moe
    return ParamCounts(*parts, output_head=output_head, active=total - unused)


def attention_flops_per_token(
    m: ModelSpec, position_tokens: ArrayLike, causal_average: bool = False
) -> ArrayLike:
    """Return attention-score FLOPs of one token (QKᵀ and attention·V), forward, all layers.

    A token at position ``t`` attends over ``t`` keys in each full-attention layer, over
    ``min(t, W)`` keys in a sliding-window layer and over at most ``min(t, C)`` (the tokens of its own
    chunk; the bound is used for one decode step) in a chunked-attention layer (Llama 4):
    ``4·h·d_h·t`` FLOPs per layer (2·h·d_qk·t for
    QKᵀ, 2·h·d_v·t for AV). With ``causal_average`` the result is the mean over positions
    ``1..L`` of a sequence of length ``L = position_tokens`` (what training and prefill pay per token):
    ``≈ 2·h·d_h·L`` per layer, which is Kaplan et al. 2020 (Table 1)'s ``2·n_layer·n_ctx·d_attn``.
    Encoder-decoder models count decoder self-attention only (cross-attention and encoder attention
    depend on the source length).
    """
    check_array(position_tokens, "context_tokens")
    t = np.asarray(position_tokens, dtype=np.float64)
    if m.is_mla:
        assert m.qk_nope_head_dim and m.qk_rope_head_dim and m.v_head_dim
        qk, v = m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim
    else:
        qk = v = m.head_size
    per_key = 2.0 * m.n_heads * (qk + v)
    layers = m.n_decoder_layers or m.n_layers
    n_window = min(m.sliding_window_layers, layers)
    n_chunk = min(m.chunked_attention_layers, layers - n_window)
    window = float(m.sliding_window_tokens or 0)
    chunk = float(m.attention_chunk_tokens or 1)
    if causal_average:
        full_keys = (t + 1.0) / 2.0
        # mean over positions 1..L of min(pos, W)
        w_keys = np.where(
            t <= window,
            (t + 1.0) / 2.0,
            window - window * (window - 1.0) / (2.0 * np.maximum(t, 1.0)),
        )
        c_keys = _chunked_mean_keys(t, chunk)
    else:
        full_keys = t
        w_keys = np.minimum(t, window)
        c_keys = np.minimum(t, chunk)
    flops = per_key * ((layers - n_window - n_chunk) * full_keys + n_window * w_keys + n_chunk * c_keys)
    return as_output(flops)


def _chunked_mean_keys(t: np.ndarray, chunk: float) -> np.ndarray:
    """Mean keys per query over positions 1..L under chunked local attention with chunk C.

    Position p sees the ``((p − 1) mod C) + 1`` tokens of its own chunk. With ``L = q·C + r``:
    ``Σ = q·C(C + 1)/2 + r(r + 1)/2``, divided by ``L`` (for L ≤ C this is the causal ``(L + 1)/2``).
    """
    length = np.maximum(t, 1.0)
    q = np.floor(length / chunk)
    r = length - q * chunk
    return np.asarray((q * chunk * (chunk + 1.0) / 2.0 + r * (r + 1.0) / 2.0) / length)


def forward_flops_per_token(
    m: ModelSpec, context_tokens: ArrayLike, causal_average: bool = True
) -> ArrayLike:
    """Return forward FLOPs per token: ``2·N_matmul_active`` + attention scores (FLOPs).

    ``N_matmul_active`` is the active matmul parameters including the output head and excluding
    embedding lookups (see :attr:`ParamCounts.matmul_active`). By default the attention term is the
    causal mean over a sequence of ``context_tokens`` (training, prefill); pass
    ``causal_average=False`` for one decode step at position ``context_tokens``.
    Compare Kaplan et al. 2020 Table 1: ``C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn``.
    """
    check_array(context_tokens, "context_tokens")
    linear = 2.0 * param_counts(m).matmul_active
    return linear + attention_flops_per_token(m, context_tokens, causal_average=causal_average)


def training_flops_per_token(m: ModelSpec, context_tokens: ArrayLike) -> ArrayLike:
    """Return model FLOPs per training token: 3 × forward (backward = 2 × forward; Kaplan et al. 2020).

    This is the "6N" rule plus attention. It counts model FLOPs (no activation recompute), the
    numerator of MFU as defined in PaLM (Chowdhery et al. 2022, appendix B).
    """
    return 3.0 * forward_flops_per_token(m, context_tokens, causal_average=True)


def weight_bytes(m: ModelSpec, dtype: Dtype | str = Dtype.BF16) -> float:
    """Return bytes to store all weights in ``dtype`` (bytes, decimal).

    Unquantized formats store every parameter at their width. Quantized formats (fp8, int8, int4,
    fp4) store the transformer-block matmul weights at their width, scales included (see
    :mod:`flopbill.dtypes`), and keep embeddings, output head and norms in bf16, as AWQ/GPTQ and
    fp8 checkpoints do.
    """
    dt = parse_dtype(dtype, "weights")
    counts = param_counts(m)
    if dt not in QUANTIZED:
        return counts.total * bytes_per_value(dt)
    kept = counts.embedding + counts.position + counts.output_head + counts.norms
    return (counts.total - kept) * bytes_per_value(dt) + kept * bytes_per_value(Dtype.BF16)


def weight_bytes_all_dtypes(m: ModelSpec) -> dict[str, float]:
    """Return :func:`weight_bytes` for fp32, bf16, fp8, int8, int4 and fp4 (bytes)."""
    return {
        d.value: weight_bytes(m, d)
        for d in (Dtype.FP32, Dtype.BF16, Dtype.FP8, Dtype.INT8, Dtype.INT4, Dtype.FP4)
    }


def kv_values_per_token_per_layer(m: ModelSpec) -> float:
    """Return cached values per token per attention layer (count of elements).

    MHA/GQA/MQA: ``2·h_kv·d_h`` (keys and values). MLA caches the compressed latent and the
    decoupled rotary key: ``r_kv + d_rope`` (DeepSeek-V2 report, §2.1.3, Table 1).
    """
    if m.is_mla:
        assert m.kv_lora_rank and m.qk_rope_head_dim
        return float(m.kv_lora_rank + m.qk_rope_head_dim)
    return float(2 * m.kv_heads * m.head_size)


def kv_bytes_per_token(m: ModelSpec, kv_dtype: Dtype | str = Dtype.BF16) -> float:
    """Return KV-cache bytes per token with every layer caching it (full attention), bytes.

    ``n_layers · kv_values_per_token_per_layer · bytes_per_value``. Sliding-window layers cap the
    cache at ``W`` tokens: use :func:`kv_cache_bytes` for a sequence of a given length.
    """
    layers = m.n_decoder_layers or m.n_layers
    return layers * kv_values_per_token_per_layer(m) * bytes_per_value(kv_dtype)


def kv_cache_bytes(m: ModelSpec, context_tokens: ArrayLike, kv_dtype: Dtype | str = Dtype.BF16) -> ArrayLike:
    """Return KV-cache bytes of one sequence holding ``context_tokens`` tokens (bytes).

    Full-attention layers keep every token; sliding-window layers keep ``min(L, W)`` (Mistral 7B:
    W = 4096 in all layers; Gemma 2: every other layer); chunked-attention layers (Llama 4, chunk C)
    keep at most ``min(L, C)``: the current chunk, an upper bound that engines allocate for.
    """
    check_array(context_tokens, "context_tokens")
    t = np.asarray(context_tokens, dtype=np.float64)
    layers = m.n_decoder_layers or m.n_layers
    n_window = min(m.sliding_window_layers, layers)
    n_chunk = min(m.chunked_attention_layers, layers - n_window)
    per_layer = kv_values_per_token_per_layer(m) * bytes_per_value(kv_dtype)
    window = float(m.sliding_window_tokens or 0)
    chunk = float(m.attention_chunk_tokens or 0)
    total = per_layer * (
        (layers - n_window - n_chunk) * t + n_window * np.minimum(t, window) + n_chunk * np.minimum(t, chunk)
    )
    return as_output(total)


def expected_experts_touched(
    n_experts: ArrayLike, experts_per_token: ArrayLike, batch_tokens: ArrayLike
) -> ArrayLike:
    """Return the expected number of distinct experts a batch of ``B`` tokens routes to, per layer.

    Under uniform, independent routing each expert is missed by one token with probability
    ``1 − k/E``, so ``E·(1 − (1 − k/E)^B)``: ``k`` for B = 1, approaching ``E`` for large B.
    """
    check_array(n_experts, "n_experts", strict=True)
    check_array(experts_per_token, "experts_per_token")
    check_array(batch_tokens, "batch_tokens")
    if np.any(np.asarray(experts_per_token) > np.asarray(n_experts)):
        raise InputError("experts_per_token", experts_per_token, "at most n_experts")
    e = np.asarray(n_experts, dtype=np.float64)
    k = np.asarray(experts_per_token, dtype=np.float64)
    b = np.asarray(batch_tokens, dtype=np.float64)
    return as_output(e * (1.0 - (1.0 - k / e) ** b))
