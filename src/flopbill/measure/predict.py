"""flopbill's prediction of one measured shape (prefill, decode step, training step) on a hardware profile.

FLOPs and bytes come from the estimators (:mod:`flopbill.estimate.serving.step`,
:mod:`flopbill.estimate.core.architecture`); the time is the same two-roofline sum the serving physics uses
(Pope et al. 2022 §2-3; ``serving_step.decode_step`` / ``prefill_time``)::

    t = max(F_gemm / (P·η_flops), B_weights / (BW·η_w))
      + max(F_attn / (P·η_attn), B_kv / (BW·η_stream))
      + B_stream / (BW·η_stream)
      + steps · (o_step + L · o_layer)

with ``η_w = η_bw`` for steps of one token per sequence at batch 1 (a matrix-vector product) and
``η_bw_batched`` for steps of several tokens (CPU BLAS packs the weight matrix for a matrix-matrix
product, which reads and writes it once more).

On a profile whose compute and memory traffic do not overlap (``overlap: false``, CPUs: a core that
multiplies is the core that waits for the loads) each ``max`` becomes a sum.

with ``P`` the profile's measured matmul FLOP/s for the dtype, ``BW`` its measured bandwidth, ``L`` the
layers. A training step (forward + backward + AdamW) does ``training_flops_per_token`` (3× forward,
Kaplan et al. 2020 Table 1) and streams AdamW's state: fp32 parameter, gradient and two moments read and
parameter and moments written, 28 bytes per parameter (Loshchilov & Hutter 2019, Algorithm 2); its
overheads count 3 forward-equivalents of steps.

``B_stream`` also carries the elementwise traffic of each block, which the serving physics leaves out
(on a GPU it hides behind the matmuls; on a CPU core it does not): per token and layer, two norms
(read + write ``d``: ``4·d``), two residual adds (``6·d``), the gated FFN's activation and product (read
``2·d_ff``, write ``d_ff``) and the q/k/v split, rotary embedding and head merge (about
``6·n_heads·head_size``) — :func:`activation_values_per_token_per_layer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flopbill.catalog.profile import Efficiencies, HardwareProfile
from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.estimate.core.architecture import attention_flops_per_token, training_flops_per_token
from flopbill.estimate.serving.step import (
    kv_bytes_per_sequence,
    model_terms,
    prefill_flops,
    prefill_linear_flops,
    weight_bytes_read,
)

Phase = Literal["prefill", "decode", "train_step"]
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}
ADAMW_BYTES_PER_PARAM = 28.0


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
    """What one shape does: FLOPs by kind, bytes by kind, forward steps, layers (counts)."""

    gemm_flops: float
    attention_flops: float
    weight_bytes: float
    kv_bytes: float
    stream_bytes: float
    steps: float
    layers: int
    tokens_per_step: float = 1.0


def activation_values_per_token_per_layer(m: ModelSpec) -> float:
    """Return the values elementwise ops read and write per token per layer (module docstring)."""
    return 10.0 * m.d_model + 3.0 * m.d_ff + 6.0 * m.n_heads * m.head_size


def work(m: ModelSpec, shape: Shape, dtype: str) -> Work:
    """Return the FLOPs and bytes of ``shape`` on model ``m`` with values of ``dtype``."""
    bpv = BYTES[dtype]
    t = model_terms(m)
    b, n = float(shape.batch), float(shape.tokens)
    act = b * n * m.n_layers * activation_values_per_token_per_layer(m) * bpv
    if shape.phase == "prefill":
        lin = b * float(prefill_linear_flops(t, n))
        attn = b * float(prefill_flops(t, n)) - lin
        return Work(lin, attn, float(weight_bytes_read(t, b * n, bpv, bpv)), 0.0, act, 1.0, m.n_layers, b * n)
    if shape.phase == "decode":
        ctx = float(shape.context_tokens)
        return Work(
            b * t.linear_flops_per_token,
            b * float(attention_flops_per_token(m, ctx)),
            float(weight_bytes_read(t, b, bpv, bpv)),
            b * float(kv_bytes_per_sequence(t, ctx, bpv)),
            act,
            1.0,
            m.n_layers,
            b,
        )
    if shape.phase == "train_step":
        tokens = b * n
        total = tokens * float(training_flops_per_token(m, n))
        lin = 3.0 * tokens * t.linear_flops_per_token
        params = t.quantized_params + t.kept_params
        return Work(
            lin, total - lin, 3.0 * params * bpv, 0.0, ADAMW_BYTES_PER_PARAM * params, 3.0, m.n_layers
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


def predict_work(w: Work, peak: float, bw: float, eff: Efficiencies) -> Prediction:
    """Return the predicted time of ``w`` (module formula) with peaks ``peak``/``bw`` and efficiencies."""
    gemm_c = w.gemm_flops / (peak * eff.eta_flops)
    attn_c = w.attention_flops / (peak * eff.eta_attention)
    w_m = w.weight_bytes / (bw * weight_eta(w, eff))
    kv_m = w.kv_bytes / (bw * eff.eta_stream)
    stream = w.stream_bytes / (bw * eff.eta_stream)
    over = w.steps * (eff.overhead_s_per_step + w.layers * eff.overhead_s_per_layer)
    if eff.overlap:
        total = max(gemm_c, w_m) + max(attn_c, kv_m) + stream + over
    else:
        total = gemm_c + w_m + attn_c + kv_m + stream + over
    return Prediction(gemm_c + attn_c, w_m + kv_m + stream, over, total)


def predict(m: ModelSpec, shape: Shape, profile: HardwareProfile, dtype: str = "fp32") -> Prediction:
    """Return flopbill's predicted time of ``shape`` for ``m`` on ``profile`` (s)."""
    return predict_work(
        work(m, shape, dtype),
        peak_for(profile, dtype),
        profile.memory_bandwidth_bytes_per_s.value,
        profile.efficiency,
    )
