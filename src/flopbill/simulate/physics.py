"""The one adapter between the simulation and the serving estimator's per-step physics.

The simulator never computes a step time itself: it reads tables built here, once per run, from the public
functions of :mod:`flopbill.estimate.serving.step` and :mod:`flopbill.estimate.serving.metrics` (and the
option handling of :mod:`flopbill.estimate.serving.deployment`). A change of those signatures is fixed in this
module only.

A mixed engine step (vLLM v1: decodes and prefill chunks in one forward pass) is split the way the
estimator splits a step into kernel groups (Pope et al. 2022 §2-3; ``decode_step``):

* ``linear_s[T]``: matmuls + TP all-reduces + the engine's fixed overhead of a step of ``T`` tokens —
  ``decode_step(batch=T, context=0).total_s`` (attention is zero at context 0), the roofline
  ``max(T·2·N/(tp·peak·η), weights_read(T)/(bw·η))``, MoE expert reads included;
* ``decode_attention_s[L]``: one decoded token attending over ``L`` positions —
  ``decode_step(1, L).roofline − decode_step(1, 0).roofline = max(attn FLOPs, KV bytes)`` of that sequence;
* ``prefill_attention_s[L]``: causal attention of prefilling positions ``1..L`` at the bf16 peak
  (``prefill_flops − prefill_linear_flops``; FlashAttention is compute-bound), so a chunk from ``c`` to
  ``c + n`` costs ``prefill_attention_s[c + n] − prefill_attention_s[c]``.

A step of ``T`` scheduled tokens then takes ``linear_s[T] + Σ_decodes decode_attention_s[L_i] +
Σ_chunks Δprefill_attention_s``. KV capacity in blocks comes from the estimator's memory model
(``memory_limited_batch``: usable memory ``M·(1 − reserve) − weights/tp − activations``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from flopbill.catalog.efficiency import EngineProfile, HardwareEfficiency
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.dtypes import Dtype
from flopbill.errors import DoesNotFitError
from flopbill.estimate.core.roofline import compute_time_s
from flopbill.estimate.serving.deployment import (
    ServingOptions,
    compute_dtype,
    device_arrays,
    precision_arrays,
    runtime_arrays,
    validate_options,
)
from flopbill.estimate.serving.metrics import RuntimeArrays, SpecArrays, memory_limited_batch
from flopbill.estimate.serving.step import (
    DeviceArrays,
    ModelTerms,
    PrecisionArrays,
    decode_step,
    model_terms,
    prefill_flops,
    prefill_linear_flops,
    weight_bytes_stored,
)


@dataclass(frozen=True)
class StepTables:
    """Step-time tables of one replica and its KV capacity (s, tokens, blocks; per replica of ``tp`` GPUs)."""

    linear_s: np.ndarray  # [T] for T = 0..token_budget + max_seqs
    decode_attention_s: np.ndarray  # [L] for L = 0..max_context
    prefill_attention_s: np.ndarray  # [L] cumulative, L = 0..max_context
    kv_blocks: int
    block_tokens: int
    max_seqs: int
    token_budget: int
    weights_bytes: float  # all weights of the model copy (bytes), for the cold start
    usable_kv_bytes_per_gpu: float


def step_tables(
    m: ModelSpec,
    acc: Accelerator,
    opt: ServingOptions,
    eff: HardwareEfficiency,
    engine: EngineProfile,
    max_context_tokens: int,
    block_tokens: int,
    max_seqs: int | None = None,
    token_budget: int | None = None,
) -> StepTables:
    """Return the step tables of ``m`` on ``acc`` with ``opt`` (tp, precisions) under ``engine``.

    ``max_seqs`` / ``token_budget`` default to the engine's ``max_num_seqs`` / ``max_num_batched_tokens``.
    Raises :class:`DoesNotFitError` when the weights and activations leave no room for one KV block.
    """
    validate_options(m, acc, opt)
    comp = compute_dtype(opt.weights, opt.activations)
    dev = device_arrays(acc, comp, eff, opt.tp)
    prec = precision_arrays(opt.weights, opt.kv, opt.activations)
    rt = runtime_arrays(engine)
    t = model_terms(m)
    seqs = int(max_seqs if max_seqs is not None else engine.max_batch_sequences.value)
    budget = int(token_budget if token_budget is not None else engine.prefill_chunk_tokens.value)
    tokens = np.arange(budget + seqs + 1, dtype=np.float64)
    overhead = rt.overhead_s_per_step
    lin = np.asarray(decode_step(t, dev, prec, opt.tp, tokens, 0.0, 1.0, overhead).total_s, dtype=np.float64)
    lin = lin.copy()
    lin[0] = 0.0
    ctx = np.arange(max_context_tokens + 2, dtype=np.float64)
    with_ctx = decode_step(t, dev, prec, opt.tp, 1.0, ctx, 1.0, 0.0).roofline_s
    no_ctx = decode_step(t, dev, prec, opt.tp, 1.0, 0.0, 1.0, 0.0).roofline_s
    dec = np.maximum(np.asarray(with_ctx, dtype=np.float64) - float(np.asarray(no_ctx)), 0.0)
    attn_flops = np.asarray(prefill_flops(t, ctx, 0.0)) - np.asarray(prefill_linear_flops(t, ctx))
    pre = np.asarray(compute_time_s(attn_flops / opt.tp, dev.attention_peak_flops_per_s, dev.eta_flops))
    blocks, usable = _kv_blocks(m, acc, opt, t, dev, prec, rt, block_tokens)
    weights = float(np.asarray(weight_bytes_stored(t, prec.weight_bpv, prec.kept_bpv)))
    return StepTables(
        linear_s=lin,
        decode_attention_s=dec,
        prefill_attention_s=np.maximum(pre.astype(np.float64), 0.0),
        kv_blocks=blocks,
        block_tokens=block_tokens,
        max_seqs=seqs,
        token_budget=budget,
        weights_bytes=weights,
        usable_kv_bytes_per_gpu=usable,
    )


def _kv_blocks(
    m: ModelSpec,
    acc: Accelerator,
    opt: ServingOptions,
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    rt: RuntimeArrays,
    block_tokens: int,
) -> tuple[int, float]:
    """Return (KV blocks per replica, usable KV bytes per GPU) from the estimator's memory model

    ``memory_limited_batch`` with a context of one block and no batch cap gives the weights, activations and
    KV bytes of one block per GPU; blocks ``= floor((M·(1 − reserve) − W − A) / KV_block)``.
    """
    rt_uncapped = dataclasses.replace(rt, max_batch_sequences=math.inf)
    fit, w_gpu, kv_block, act = memory_limited_batch(
        t, dev, prec, rt_uncapped, opt.tp, float(block_tokens), SpecArrays()
    )
    blocks = int(np.asarray(fit))
    usable = blocks * float(np.asarray(kv_block))
    if blocks < 1:
        raise DoesNotFitError(
            f"{m.id} does not fit on {acc.id} with tp {opt.tp} and {opt.weights.value} weights: weights "
            f"{float(np.asarray(w_gpu)) / 1e9:.1f} GB + activations "
            f"{float(np.asarray(act)) / 1e9:.1f} GB per GPU leave no room for the KV cache"
        )
    return blocks, usable


def serving_options(tp: int, weights: Dtype, kv: Dtype | None) -> ServingOptions:
    """Return the estimator's options for one replica (tp, weight and KV formats)."""
    return ServingOptions(tp=tp, weights=weights, kv=kv)
