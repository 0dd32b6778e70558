"""Per-GPU training memory: weights, gradients, optimizer states and activations under DP (ZeRO-1/2/3,
FSDP), tensor (TP) and pipeline (PP) parallelism, with or without activation recomputation.

Model states (Rajbhandari et al. 2020, "ZeRO", §3.1 and §5): mixed-precision Adam holds 2 B of 16-bit
weights, 2 B of 16-bit gradients and K = 12 B of fp32 master weights, momentum and variance per trainable
parameter (16 B in all). ZeRO-1 shards the optimizer states over the data-parallel group, ZeRO-2 also the
gradients, ZeRO-3 (= FSDP full shard) also the weights. TP and PP split every model state by ``tp · pp``.

Activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
§4): per layer ``s·b·h·(34 + 5·a·s/h)`` bytes for a GPT block without parallelism; with TP ``t`` the
replicated part is ``10·s·b·h`` unless sequence parallelism splits it too; selective recomputation drops
the ``5·a·s²·b`` attention-score term (flash attention stores none either); full recomputation keeps only
each layer's input, ``2·s·b·h``. Here the 34 is generalised to grouped-query attention and gated FFNs
(:func:`activation_bytes_per_layer`). With 1F1B pipelining the first stage holds ``p`` micro-batches of
``L/p`` layers, i.e. ``L`` layers' worth (Korthikanti et al. 2022, §4.2.3).

The paper's byte counts assume 16-bit activations (2 B per value) and 1-byte dropout masks; training in
fp32 / tf32 stores 4-byte values (:func:`training_value_bytes`), the masks staying 1 byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from flopbill.catalog.schema import ModelSpec
from flopbill.dtypes import Dtype, bytes_per_value
from flopbill.errors import InputError


class Recompute(StrEnum):
    """Activation recomputation policy (Korthikanti et al. 2022)."""

    NONE = "none"
    SELECTIVE = "selective"
    FULL = "full"


@dataclass(frozen=True)
class MemoryRole:
    """One model held in GPU memory during a stage (policy, reference, reward, teacher, ...).

    ``weight_bytes_per_param`` is the storage format of its weights (2 for bf16, ~0.516 for NF4);
    ``trainable_params`` pay gradients and optimizer states (LoRA adapters, or every parameter).
    """

    name: str
    params: float
    weight_bytes_per_param: float
    trainable_params: float


@dataclass(frozen=True)
class ParallelPlan:
    """How the work is split (inert): GPU count, TP, PP, ZeRO stage, micro-batch, recompute, optimizer.

    ``optimizer_bytes_per_param`` is the total per trainable parameter (weights + gradients + states):
    16 for mixed-precision Adam (ZeRO §3.1).
    """

    n_gpus: int
    tp: int = 1
    pp: int = 1
    zero: int = 0
    micro_batch: int = 1
    recompute: Recompute = Recompute.SELECTIVE
    sequence_parallel: bool = True
    optimizer: str = "adam"
    optimizer_bytes_per_param: float = 16.0

    def __post_init__(self) -> None:
        for name, value in (("n_gpus", self.n_gpus), ("tp", self.tp), ("pp", self.pp)):
            if value < 1:
                raise InputError(name, value, "a positive integer")
        if self.micro_batch < 1:
            raise InputError("micro_batch", self.micro_batch, "a positive integer")
        if self.zero not in (0, 1, 2, 3):
            raise InputError("zero", self.zero, "0, 1, 2 or 3 (3 = FSDP full shard)")
        if self.n_gpus % (self.tp * self.pp):
            raise InputError("n_gpus", self.n_gpus, f"a multiple of tp·pp = {self.tp * self.pp}")

    @property
    def dp(self) -> int:
        """Data-parallel degree: ``n_gpus / (tp · pp)``."""
        return self.n_gpus // (self.tp * self.pp)


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes per GPU by component (decimal bytes); ``total_bytes`` is their sum."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        """Sum of the components (bytes)."""
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes


def training_value_bytes(dtype: Dtype) -> float:
    """Return bytes of one stored weight, gradient or activation value when training in ``dtype`` (bytes).

    4 for fp32 / tf32 (tf32 is a matmul mode on fp32 storage); 2 otherwise: 16-bit mixed precision
    (Micikevicius et al. 2018) and fp8 training, which keeps 16-bit weights and activations between matmuls.
    """
    return max(bytes_per_value(dtype), bytes_per_value(Dtype.BF16))


def _ffn_active_width(m: ModelSpec) -> float:
    if not m.is_moe:
        return float(m.d_ff)
    assert m.experts_per_token and m.d_ff_expert
    shared = m.n_shared_experts * (m.d_ff_shared_expert or m.d_ff_expert)
    return float(m.experts_per_token * m.d_ff_expert + shared)


def activation_bytes_per_layer(
    m: ModelSpec,
    seq_len: float,
    micro_batch: float,
    tp: int,
    sequence_parallel: bool,
    recompute: Recompute,
    dtype: Dtype = Dtype.BF16,
) -> float:
    """Return stored activation bytes of one transformer layer for one micro-batch (bytes).

    Korthikanti et al. 2022 §4.1 term by term, generalised: attention ``2sbh`` (QKV input) +
    ``2sb(q + kv)`` (Q, K) + ``2sb·kv`` (V) + ``2sb·q`` (projection input) + ``sbh`` (dropout mask);
    FFN ``2sbh`` + ``2sbf`` per stored intermediate (2 classic, 3 gated) + ``sbh``; norms ``4sbh``;
    scores ``5·a·s²·b`` unless recomputed. For MHA with f = 4h this is the paper's ``sbh(34 + 5as/h)``.
    Those are 16-bit figures; with ``v`` bytes per value (:func:`training_value_bytes`) every term but the
    1-byte dropout masks (``2sbh`` and ``a·s²·b``) scales by ``v/2``.
    """
    s, b, h = seq_len, micro_batch, float(m.d_model)
    k = training_value_bytes(dtype) / 2.0
    q = float(m.n_heads * m.head_size)
    kv = float(m.kv_heads * m.head_size)
    sbh = s * b * h
    if recompute == Recompute.FULL:
        return k * 2.0 * sbh / (tp if sequence_parallel else 1)
    f = _ffn_active_width(m)
    intermediates = 3.0 if m.gated_ffn else 2.0
    replicated = k * 8.0 * sbh + 2.0 * sbh  # norms 4sbh, attention and FFN inputs 2sbh each; masks 2sbh
    split = k * (2 * s * b * (q + kv) + 2 * s * b * kv + 2 * s * b * q + 2 * s * b * f * intermediates)
    scores = 0.0 if recompute == Recompute.SELECTIVE else (k * 4.0 + 1.0) * m.n_heads * s * s * b
    if sequence_parallel:
        return (replicated + split + scores) / tp
    return replicated + (split + scores) / tp


def activation_bytes(m: ModelSpec, seq_len: float, plan: ParallelPlan, dtype: Dtype = Dtype.BF16) -> float:
    """Return activation bytes on the busiest GPU (first pipeline stage): ``L`` layers' worth plus the
    fp32 logits of the loss, ``4·s·b·V / tp`` (Korthikanti et al. 2022 §4.3), counted conservatively."""
    per_layer = activation_bytes_per_layer(
        m, seq_len, plan.micro_batch, plan.tp, plan.sequence_parallel and plan.tp > 1, plan.recompute, dtype
    )
    layers = m.n_layers + (m.n_decoder_layers or 0)
    logits = 4.0 * seq_len * plan.micro_batch * m.vocab_size / plan.tp
    return layers * per_layer + logits


def _states(roles: tuple[MemoryRole, ...], plan: ParallelPlan) -> tuple[float, float, float]:
    """Weights, gradients and optimizer states (bytes) after TP·PP. A trainable parameter stored in
    ``w`` bytes has a ``w``-byte gradient and ``optimizer_bytes_per_param − 2w`` bytes of optimizer
    states: 12 for mixed-precision Adam (w = 2), 8 for fp32 Adam (w = 4, no separate master copy)."""
    split = float(plan.tp * plan.pp)
    weights = sum(r.params * r.weight_bytes_per_param for r in roles) / split
    grads = sum(r.trainable_params * r.weight_bytes_per_param for r in roles) / split
    optim = sum(
        r.trainable_params * (plan.optimizer_bytes_per_param - 2.0 * r.weight_bytes_per_param) for r in roles
    )
    return weights, grads, optim / split


def memory_per_gpu(
    m: ModelSpec, seq_len: float, plan: ParallelPlan, roles: tuple[MemoryRole, ...], dtype: Dtype = Dtype.BF16
) -> MemoryBreakdown:
    """Return per-GPU memory under ``plan`` for the models in ``roles`` (bytes).

    ZeRO stage ``z`` divides optimizer states (z ≥ 1), gradients (z ≥ 2) and weights (z = 3) by DP.
    Activations are those of the model being trained, ``m``, stored in the training ``dtype``.
    """
    weights, grads, optim = _states(roles, plan)
    dp = float(plan.dp)
    return MemoryBreakdown(
        weights_bytes=weights / (dp if plan.zero >= 3 else 1.0),
        gradients_bytes=grads / (dp if plan.zero >= 2 else 1.0),
        optimizer_bytes=optim / (dp if plan.zero >= 1 else 1.0),
        activations_bytes=activation_bytes(m, seq_len, plan, dtype),
    )


def min_gpus_to_fit(
    m: ModelSpec,
    seq_len: float,
    plan: ParallelPlan,
    roles: tuple[MemoryRole, ...],
    capacity_bytes: float,
    dtype: Dtype = Dtype.BF16,
) -> int | None:
    """Return the fewest GPUs (a multiple of ``tp · pp``) whose per-GPU memory fits ``capacity_bytes``.

    Per GPU, ``fixed + sharded / dp ≤ capacity`` where ``sharded`` holds the states ZeRO divides by DP, so
    ``dp = ceil(sharded / (capacity − fixed))``. ``None`` when even infinite DP does not fit (the
    unsharded part alone exceeds the capacity: raise ``--zero``, ``--tp`` or ``--pp``, or recompute).
    """
    weights, grads, optim = _states(roles, plan)
    sharded = optim * (plan.zero >= 1) + grads * (plan.zero >= 2) + weights * (plan.zero >= 3)
    fixed = weights + grads + optim - sharded + activation_bytes(m, seq_len, plan, dtype)
    room = capacity_bytes - fixed
    if room <= 0:
        return None
    dp = max(1, math.ceil(sharded / room)) if sharded > 0 else 1
    return dp * plan.tp * plan.pp
