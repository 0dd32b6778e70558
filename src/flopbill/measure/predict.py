"""flopbill's prediction of one measured shape (prefill, decode step, training step) on a hardware profile.

FLOPs and bytes come from the estimators (:mod:`flopbill.estimate.serving.step`,
:mod:`flopbill.estimate.core.architecture`); the time is the two-roofline sum the serving physics uses
(Pope et al. 2022 §2-3; ``serving_step.decode_step`` / ``prefill_time``) plus the work it leaves out::

    t = max(F_gemm / (P·η_flops), B_weights / (BW·η_w(rows)))
      + max(F_attn / (P·η_attn), B_kv / (BW·η_stream))
      + B_adamw / (BW·η_stream) + V_ew / (R_ew·η_stream)
      + steps · (o_step + L · o_layer)

with ``η_w = η_bw`` for steps of one token per sequence at batch 1 (a matrix-vector product) and
``η_bw_batched`` × the measured ratio of the step's row count to 4 rows for steps of several
(:func:`weight_read_rows_ratio`; CPU BLAS packs the weights for a matrix-matrix product). On a profile
whose compute and memory traffic do not overlap (``overlap: false``, CPUs: a core that multiplies is the
core that waits for the loads) each ``max`` becomes a sum.

``P`` is the profile's measured matmul FLOP/s for the dtype, ``BW`` its measured bandwidth, ``R_ew`` its
measured rate of elementwise values, ``L`` the layers. Per operation:

* attention FLOPs as the device's kernel computes them (:func:`prefill_attention_flops`: on a CPU,
  torch's flash-attention kernel computes whole 512-key blocks);
* ``V_ew``, the values the block's elementwise operations read and write
  (:func:`elementwise_values_per_token_per_layer`), which the serving physics leaves out (on a GPU they
  hide behind the matmuls; on a CPU core they do not);
* a training step (forward + backward + AdamW): 3× the forward's matmul and attention FLOPs (backward =
  2 × forward, Kaplan et al. 2020 Table 1), 3× its elementwise values plus the cross-entropy's, and
  AdamW's passes over its state, :data:`ADAMW_BYTES_PER_PARAM`: torch's default single-tensor AdamW
  (``torch/optim/adam.py``, ``_single_tensor_adam``; checked for torch 2.13.0) makes 8 passes per
  parameter tensor — ``param.mul_`` (weight decay), ``exp_avg.lerp_``, ``exp_avg_sq.mul_`` and
  ``addcmul_``, ``sqrt``, the division by the bias correction, ``add_(eps)``, ``param.addcdiv_`` —
  reading and writing 20 fp32 values per parameter; its overheads count 3 forward-equivalents of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flopbill.catalog.profile import Efficiencies, HardwareProfile
from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.estimate.core.architecture import attention_flops_per_token
from flopbill.estimate.serving.step import (
    kv_bytes_per_sequence,
    model_terms,
    prefill_linear_flops,
    weight_bytes_read,
)

Phase = Literal["prefill", "decode", "train_step"]
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}
#: Bytes torch's default (single-tensor, unfused) AdamW moves per fp32 parameter and step: 20 values
#: (module docstring).
ADAMW_BYTES_PER_PARAM = 80.0
#: Values cross-entropy reads and writes per logit in a training step: log-softmax (read, write) and its
#: backward (read the softmax and the upstream gradient, write the gradient), and the gradient of the
#: logits handed to the head's backward (read, write) — 6.
CROSS_ENTROPY_VALUES_PER_LOGIT = 6.0
#: Key-block length of torch's CPU flash-attention kernel (:func:`cpu_flash_attention_keys`).
KV_SPLIT_TOKENS = 512


def scaled_spec(
    m: ModelSpec, layers: int | None = None, hidden: int | None = None, vocab: int | None = None
) -> ModelSpec:
    """Return ``m`` scaled down: fewer layers, a smaller hidden size (heads and FFN scaled with it, head
    size kept), a smaller vocabulary. The result is the architecture that is built and predicted."""
    if m.is_moe or m.is_mla or m.n_decoder_layers:
        raise InputError(
            "model", m.id, "a dense decoder-only model (MoE, MLA and encoder-decoder are not built)"
        )
    upd: dict[str, object] = {}
    if layers is not None:
        if layers < 1:
            raise InputError("--layers", layers, "a positive integer")
        upd |= {
            "n_layers": layers,
            "sliding_window_layers": min(m.sliding_window_layers, layers),
            "chunked_attention_layers": min(m.chunked_attention_layers, layers),
        }
    if hidden is not None:
        hs = m.head_size
        if hidden < hs or hidden % hs:
            raise InputError("--hidden", hidden, f"a multiple of the head size {hs}")
        heads = hidden // hs
        group = max(1, m.n_heads // m.kv_heads)
        kv = max(1, heads // group)
        while heads % kv:
            kv -= 1
        upd |= {
            "d_model": hidden,
            "n_heads": heads,
            "n_kv_heads": kv,
            "head_dim": hs,
            "d_ff": max(1, round(m.d_ff * hidden / m.d_model)),
        }
    if vocab is not None:
        if vocab < 2:
            raise InputError("--vocab", vocab, "at least 2")
        upd["vocab_size"] = vocab
    if not upd:
        return m
    return m.model_copy(update={**upd, "id": f"{m.id}-scaled", "published_params_total": None})


@dataclass(frozen=True)
class Shape:
    """One measured shape: ``tokens`` new tokens per sequence after ``context_tokens`` cached ones."""

    phase: Phase
    batch: int
    tokens: int
    context_tokens: int = 0


@dataclass(frozen=True)
class Work:
    """What one shape does: FLOPs by kind, bytes by kind, elementwise values, forward steps, layers."""

    gemm_flops: float
    attention_flops: float
    weight_bytes: float
    kv_bytes: float
    stream_bytes: float
    steps: float
    layers: int
    tokens_per_step: float = 1.0
    elementwise_values: float = 0.0


def cpu_flash_attention_keys(queries: int, keys: int, causal: bool) -> float:
    """Return the query·key pairs torch's CPU flash-attention kernel computes for one head (count).

    The kernel (``cpu_flash_attention<scalar_t, accum_t, qSplitSize, kvSplitSize>`` in
    ``aten/src/ATen/native/cpu/FlashAttentionKernel.cpp``, PyTorch 2.x; checked 2026-12-01) splits the
    queries into blocks of 256 rows (``q_seq_len ≥ 768``), 64 (``≥ 192``) or 32, the keys into blocks of
    :data:`KV_SPLIT_TOKENS`, and with ``is_causal`` computes, for the query block ending at row ``e``,
    every key block that starts before ``e`` *in full* (the mask is applied inside a block, not skipped):
    ``Σ_blocks rows·min(⌈e/512⌉·512, keys)``. For ``queries = keys = 512`` that is the whole square, twice
    the causal half an exact count gives; at 1,024 tokens 1.5×, at 2,048 1.25×.
    """
    if not causal:
        return float(queries) * float(keys)
    split = 256 if queries >= 768 else (64 if queries >= 192 else 32)
    total = 0.0
    for first in range(0, queries, split):
        last = min(first + split, queries)
        blocks = -(-last // KV_SPLIT_TOKENS)
        total += (last - first) * min(blocks * KV_SPLIT_TOKENS, keys)
    return total


def prefill_attention_flops(m: ModelSpec, tokens: int, device: str) -> float:
    """Return attention-score FLOPs (QKᵀ and P·V) of prefilling ``tokens`` into an empty cache (FLOPs).

    ``4·h·d_h`` FLOPs per query·key pair per layer; the pairs are the exact causal count
    ``n(n+1)/2`` on a GPU (FlashAttention skips masked blocks: Dao 2023, FlashAttention-2 §3.1) and what
    torch's CPU kernel computes on a CPU (:func:`cpu_flash_attention_keys`).
    """
    n = int(tokens)
    pairs = cpu_flash_attention_keys(n, n, causal=True) if device == "cpu" else n * (n + 1) / 2.0
    return 4.0 * m.n_heads * m.head_size * pairs * m.n_layers


def elementwise_values_per_token_per_layer(m: ModelSpec) -> float:
    """Return the values the elementwise operations of one block read and write per token (count).

    As :mod:`flopbill.measure.torch_model` builds a block (one value read or written = 1), with
    ``d = d_model``, ``q = n_heads·head_size``, ``k = kv_heads·head_size``, ``f = d_ff``:

    * two norms, each squared, reduced, scaled and weighted (torch's composite ``rms_norm``): ``2·7d``;
    * two residual adds (read 2, write 1): ``2·3d``;
    * rotary embedding of q and k (four products and a sum and a difference over halves, then the
      interleaving copy): ``9·(q + k)``;
    * the KV-cache write of k and v: ``4k``; the head merge (transpose + contiguous copy): ``2q``;
    * the FFN activation: gated ``silu(gate)·up`` (read f, write f; read 2f, write f) ``5f``, else ``2f``.
    """
    d, q, k, f = m.d_model, m.n_heads * m.head_size, m.kv_heads * m.head_size, m.d_ff
    rope = 0.0 if m.learned_position_embeddings else 9.0 * (q + k)
    ffn = 5.0 * f if m.gated_ffn else 2.0 * f
    return 14.0 * d + 6.0 * d + rope + 4.0 * k + 2.0 * q + ffn


def work(m: ModelSpec, shape: Shape, dtype: str, device: str = "cpu") -> Work:
    """Return the FLOPs, bytes and elementwise values of ``shape`` on model ``m`` with ``dtype`` values
    (attention counted as ``device``'s kernel computes it: :func:`prefill_attention_flops`)."""
    bpv = BYTES[dtype]
    t = model_terms(m)
    b, n = float(shape.batch), float(shape.tokens)
    ew = b * n * m.n_layers * elementwise_values_per_token_per_layer(m)
    if shape.phase == "prefill":
        lin = b * float(prefill_linear_flops(t, n))
        attn = b * prefill_attention_flops(m, shape.tokens, device)
        wb = float(weight_bytes_read(t, b * n, bpv, bpv))
        return Work(lin, attn, wb, 0.0, 0.0, 1.0, m.n_layers, b * n, ew)
    if shape.phase == "decode":
        ctx = float(shape.context_tokens)
        return Work(
            b * t.linear_flops_per_token,
            b * float(attention_flops_per_token(m, ctx)),
            float(weight_bytes_read(t, b, bpv, bpv)),
            b * float(kv_bytes_per_sequence(t, ctx, bpv)),
            0.0,
            1.0,
            m.n_layers,
            b,
            ew,
        )
    if shape.phase == "train_step":
        tokens = b * n
        lin = 3.0 * tokens * t.linear_flops_per_token
        attn = 3.0 * b * prefill_attention_flops(m, shape.tokens, device)
        params = t.quantized_params + t.kept_params
        ew_train = 3.0 * ew + CROSS_ENTROPY_VALUES_PER_LOGIT * tokens * m.vocab_size
        return Work(
            lin, attn, 3.0 * params * bpv, 0.0, ADAMW_BYTES_PER_PARAM * params, 3.0, m.n_layers, 1.0, ew_train
        )
    raise InputError("phase", shape.phase, "prefill, decode or train_step")


@dataclass(frozen=True)
class Prediction:
    """Predicted seconds of one shape, by part."""

    compute_s: float
    memory_s: float
    overhead_s: float
    total_s: float


def peak_for(profile: HardwareProfile, dtype: str) -> float:
    """Return the profile's measured matmul FLOP/s for ``dtype`` or raise if it was not measured."""
    fig = profile.matmul_flops_per_s.get(dtype)
    if fig is None:
        raise InputError(
            "--dtype", dtype, f"a dtype the profile measured ({', '.join(profile.matmul_flops_per_s)})"
        )
    return fig.value


def weight_eta(w: Work, eff: Efficiencies) -> float:
    """Return the weight-read efficiency for ``w``: ``η_bw`` at one token per step, else batched."""
    if w.tokens_per_step <= 1.0 or eff.eta_bw_batched is None:
        return eff.eta_bw
    return eff.eta_bw_batched


def predict_work(
    w: Work,
    peak: float,
    bw: float,
    eff: Efficiencies,
    elementwise_values_per_s: float | None = None,
    rows_ratio: float = 1.0,
) -> Prediction:
    """Return the predicted time of ``w`` (module formula) with peaks ``peak``/``bw``, the measured rate
    of elementwise values (``None``: ``bw`` / 8 bytes, one 4-byte read and write per value), the
    weight-read ratio of this step's row count (:func:`weight_read_rows_ratio`) and the efficiencies."""
    ew_rate = elementwise_values_per_s or bw / 8.0
    gemm_c = w.gemm_flops / (peak * eff.eta_flops)
    attn_c = w.attention_flops / (peak * eff.eta_attention)
    w_m = w.weight_bytes / (bw * weight_eta(w, eff) * (rows_ratio if w.tokens_per_step > 1.0 else 1.0))
    kv_m = w.kv_bytes / (bw * eff.eta_stream)
    stream = w.stream_bytes / (bw * eff.eta_stream) + w.elementwise_values / (ew_rate * eff.eta_stream)
    over = w.steps * (eff.overhead_s_per_step + w.layers * eff.overhead_s_per_layer)
    if eff.overlap:
        total = max(gemm_c, w_m) + max(attn_c, kv_m) + stream + over
    else:
        total = gemm_c + w_m + attn_c + kv_m + stream + over
    return Prediction(gemm_c + attn_c, w_m + kv_m + stream, over, total)


def elementwise_rate(profile: HardwareProfile) -> float | None:
    """Return the profile's measured elementwise values per second, or ``None`` if not measured."""
    fig = profile.elementwise_values_per_s
    return None if fig is None else fig.value


def weight_read_rows_ratio(profile: HardwareProfile, rows: float) -> float:
    """Return the weight-read bandwidth at ``rows`` input rows relative to the 4-row figure that
    ``η_bw_batched`` stands for: the profile's figure at the largest measured row count ≤ ``rows``
    (1 where the profile has no table, or for one row, which ``η_bw`` covers)."""
    table = profile.weight_read_bytes_per_s_by_rows
    if rows <= 1.0 or 4 not in table:
        return 1.0
    near = max((r for r in table if 2 <= r <= rows), default=min(r for r in table if r >= 2))
    return table[near].value / table[4].value


def predict(m: ModelSpec, shape: Shape, profile: HardwareProfile, dtype: str = "fp32") -> Prediction:
    """Return flopbill's predicted time of ``shape`` for ``m`` on ``profile`` (s)."""
    w = work(m, shape, dtype, profile.device)
    return predict_work(
        w,
        peak_for(profile, dtype),
        profile.memory_bandwidth_bytes_per_s.value,
        profile.efficiency,
        elementwise_rate(profile),
        weight_read_rows_ratio(profile, w.tokens_per_step),
    )
