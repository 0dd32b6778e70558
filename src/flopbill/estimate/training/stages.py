"""Training stages, each costed on its own: FLOPs, rollout (decode) time and the models held in memory.

``tokens`` always means the tokens of the sequences a stage processes (prompt + response for RLHF,
chosen + rejected for DPO). ``F(m)`` below is forward FLOPs per token at the sequence length
(:func:`~flopbill.estimate.core.architecture.forward_flops_per_token`): 2·N plus causal attention.

* pretrain / continued_pretrain / sft: ``3·F·T`` (backward = 2 × forward; Kaplan et al. 2020, Table 1).
* lora / qlora: ``2·F·T + 6·N_lora·T`` (``N_lora``: the adapters one token runs through, for MoE those of
  its ``k`` experts; memory holds every expert's): the frozen base still runs the forward and the backward
  pass for activation gradients, but no weight gradients, so ≈ 2/3 of full fine-tuning (Hu et al. 2021, §4.2
  measured a 25 % speed-up on GPT-3 175B against the 33 % this implies). QLoRA (Dettmers et al. 2023)
  has the same FLOPs plus NF4 dequantisation, which is not counted (use a lower MFU).
* ppo (Ouyang et al. 2022, InstructGPT, appendix C; Schulman et al. 2017): rollouts by the policy, then
  forward passes of reference, reward and value models, then ``ppo_epochs`` of policy and value training.
* grpo (Shao et al. 2024, DeepSeekMath, §4.1): PPO without the value model; the reward model is optional
  (rule-based rewards).
* dpo (Rafailov et al. 2023, §4): policy forward + backward on chosen and rejected, reference forward.
* distill (Hinton et al. 2015; Sanh et al. 2019, DistilBERT): teacher forward + student training.

Rollout decode is memory-bound (Pope et al. 2022): each decode step reads every weight once for a batch
of ``B`` sequences, so GPU-seconds per generated token ``= max(W / (BW·η_bw·B), 2·N / (peak·η_bw))``
where ``W`` is weight bytes, ``BW`` memory bandwidth and ``η_bw`` the decode bandwidth utilisation
(the compute-bound branch is charged at the same fraction of peak; KV-cache reads are not counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.checks import integer, positive
from flopbill.dtypes import Dtype, bytes_per_value
from flopbill.errors import InputError
from flopbill.estimate.core.architecture import (
    attention_flops_per_token,
    forward_flops_per_token,
    param_counts,
)
from flopbill.estimate.core.assumptions import Assumption, Range
from flopbill.estimate.training.memory import MemoryRole, Recompute, training_value_bytes


class Stage(StrEnum):
    """A training stage."""

    PRETRAIN = "pretrain"
    CONTINUED_PRETRAIN = "continued_pretrain"
    SFT = "sft"
    LORA = "lora"
    QLORA = "qlora"
    PPO = "ppo"
    GRPO = "grpo"
    DPO = "dpo"
    DISTILL = "distill"


RLHF_STAGES = frozenset({Stage.PPO, Stage.GRPO})


def parse_stage(text: str) -> Stage:
    """Return the :class:`Stage` named by ``text`` (``cpt`` = continued_pretrain), or raise."""
    key = text.strip().lower().replace("-", "_")
    key = {"cpt": "continued_pretrain", "pretraining": "pretrain", "distillation": "distill"}.get(key, key)
    try:
        return Stage(key)
    except ValueError:
        raise InputError("stage", text, "one of " + ", ".join(s.value for s in Stage)) from None


@dataclass(frozen=True)
class StageConfig:
    """Stage-specific inputs (inert). Unused fields are ignored by stages that do not need them."""

    stage: Stage = Stage.PRETRAIN
    lora_rank: int = 16
    nf4_bytes_per_param: float = 0.5159
    reward_model: ModelSpec | None = None
    value_model: ModelSpec | None = None
    teacher: ModelSpec | None = None
    generated_fraction: float = 0.5
    rollout_batch: int = 64
    ppo_epochs: int = 1
    decode_bandwidth_utilisation: Range = field(default_factory=lambda: Range(0.5, 0.6, 0.8))

    def __post_init__(self) -> None:
        if self.lora_rank < 1:
            raise InputError("lora_rank", self.lora_rank, "a positive integer")
        if not 0.0 < self.generated_fraction <= 1.0:
            raise InputError("generated_fraction", self.generated_fraction, "a fraction in (0, 1]")
        if self.rollout_batch < 1 or self.ppo_epochs < 1:
            raise InputError("rollout_batch/ppo_epochs", self.rollout_batch, "positive integers")
        if self.stage == Stage.DISTILL and self.teacher is None:
            raise InputError("teacher", None, "a teacher model (catalog id or file) for --stage distill")


@dataclass(frozen=True)
class StageCompute:
    """FLOPs and time of one stage before MFU is applied.

    ``model_flops`` are charged at the training MFU; ``rollout_gpu_s`` is decode time (RLHF only);
    ``trained_forward_flops`` and ``trained_attention_flops`` are what recomputation repeats.
    """

    model_flops: float
    trained_forward_flops: float
    trained_attention_flops: float
    rollout_gpu_s: Range
    memory_models: tuple[MemoryRole, ...]
    assumptions: tuple[Assumption, ...] = ()

    def hardware_flops(self, recompute: Recompute) -> float:
        """Return FLOPs executed with ``recompute``: + one forward (full) or attention scores (selective)."""
        if recompute == Recompute.FULL:
            return self.model_flops + self.trained_forward_flops
        if recompute == Recompute.SELECTIVE:
            return self.model_flops + self.trained_attention_flops
        return self.model_flops


def lora_params(m: ModelSpec, rank: int, active: bool = False) -> float:
    """Return LoRA adapter parameters on every linear layer of every block: ``r·Σ(d_in + d_out)`` (count).

    Attention q, k, v, o and the FFN matrices (Dettmers et al. 2023 adapt all linear layers; Hu et al.
    2021 only q and v, which gives fewer). In MoE layers every routed and shared expert holds adapters
    (what memory stores); with ``active`` only the ``k`` routed experts a token uses are counted (what
    one token computes, for FLOPs). Dense models give the same number either way.
    """
    d, q, kv = m.d_model, m.n_heads * m.head_size, m.kv_heads * m.head_size
    mats = 3 if m.gated_ffn else 2
    attention = (d + q) + 2 * (d + kv) + (q + d)
    layers = m.n_layers + (m.n_decoder_layers or 0)
    if not m.is_moe:
        return float(rank * (attention + mats * (d + m.d_ff)) * layers)
    assert m.n_experts and m.experts_per_token and m.d_ff_expert
    routed = m.experts_per_token if active else m.n_experts
    shared_f = m.d_ff_shared_expert or m.d_ff_expert
    moe_ffn = mats * ((d + m.d_ff_expert) * routed + (d + shared_f) * m.n_shared_experts)
    dense_ffn = mats * (d + m.d_ff)
    return float(rank * (attention * layers + dense_ffn * m.n_dense_ffn_layers + moe_ffn * m.n_moe_layers))


def _forward_flops(m: ModelSpec, tokens: float, seq_len: int) -> float:
    return float(forward_flops_per_token(m, seq_len)) * tokens


def _full(m: ModelSpec, dtype: Dtype, name: str = "") -> MemoryRole:
    n = param_counts(m).total
    return MemoryRole(name or m.id, n, training_value_bytes(dtype), n)


def _frozen(name: str, m: ModelSpec, dtype: Dtype) -> MemoryRole:
    return MemoryRole(name, param_counts(m).total, training_value_bytes(dtype), 0.0)


def _rollout_gpu_s(m: ModelSpec, generated: float, cfg: StageConfig, acc: Accelerator, dtype: Dtype) -> Range:
    bw = acc.memory_bandwidth_bytes_per_s
    peak = getattr(acc.peak_flops_per_s, dtype.value, None)
    if bw is None or peak is None:
        raise InputError(
            "gpu", acc.id, "an accelerator with known memory bandwidth and peak FLOP/s for rollouts"
        )
    weights = param_counts(m).total * bytes_per_value(
        dtype if dtype in (Dtype.BF16, Dtype.FP8) else Dtype.BF16
    )
    flops = 2.0 * param_counts(m).active
    eta = cfg.decode_bandwidth_utilisation

    def per_token(e: float) -> float:
        return float(max(weights / (bw * e * cfg.rollout_batch), flops / (peak * e)))

    return Range(
        generated * per_token(eta.high), generated * per_token(eta.expected), generated * per_token(eta.low)
    )


def _rlhf(
    m: ModelSpec, tokens: float, seq_len: int, cfg: StageConfig, acc: Accelerator, dtype: Dtype
) -> StageCompute:
    """PPO (Ouyang et al. 2022) or GRPO (Shao et al. 2024): see the module docstring."""
    ppo = cfg.stage == Stage.PPO
    fwd = _forward_flops(m, tokens, seq_len)
    value = cfg.value_model or m
    reward = cfg.reward_model if cfg.reward_model is not None else (m if ppo else None)
    prompt_prefill = fwd * (1.0 - cfg.generated_fraction)
    flops = prompt_prefill + fwd  # prefill for generation + reference forward
    flops += 3.0 * fwd * cfg.ppo_epochs
    roles = [_full(m, dtype), _frozen("reference", m, dtype)]
    if reward is not None:
        flops += _forward_flops(reward, tokens, seq_len)
        roles.append(_frozen("reward", reward, dtype))
    if ppo:
        v_fwd = _forward_flops(value, tokens, seq_len)
        flops += v_fwd + 3.0 * v_fwd * cfg.ppo_epochs
        roles.append(_full(value, dtype, "value"))
    generated = tokens * cfg.generated_fraction
    notes = (
        Assumption(
            "generated_fraction", cfg.generated_fraction, "given or default", "share of tokens decoded"
        ),
        Assumption(
            "rollout_batch_sequences", cfg.rollout_batch, "given or default", "sequences per decode step"
        ),
        Assumption(
            "rollout_model",
            "memory-bound decode roofline",
            "Pope et al. 2022",
            "GPU-s per token = max(weight bytes/(BW·η·B), 2N/(peak·η)); KV reads not counted",
        ),
        Assumption(
            "rlhf_models",
            ", ".join(r.name for r in roles),
            "Ouyang et al. 2022 (PPO); Shao et al. 2024 (GRPO: no value model)",
            "reward/value default to the policy's architecture" if ppo else "",
        ),
    )
    return StageCompute(
        model_flops=flops,
        trained_forward_flops=fwd * cfg.ppo_epochs,
        trained_attention_flops=float(attention_flops_per_token(m, seq_len, True)) * tokens * cfg.ppo_epochs,
        rollout_gpu_s=_rollout_gpu_s(m, generated, cfg, acc, dtype),
        memory_models=tuple(roles),
        assumptions=notes,
    )


def stage_compute(
    m: ModelSpec, tokens: float, seq_len: int, cfg: StageConfig, acc: Accelerator, dtype: Dtype
) -> StageCompute:
    """Return the FLOPs, rollout time and memory roles of one stage on ``tokens`` tokens (see module doc)."""
    positive(tokens, "tokens", "a positive number of tokens such as 2T or 1e9")
    integer(seq_len, "seq_len", lower=1)
    if cfg.stage in RLHF_STAGES:
        return _rlhf(m, tokens, seq_len, cfg, acc, dtype)
    fwd = _forward_flops(m, tokens, seq_len)
    attn = float(attention_flops_per_token(m, seq_len, True)) * tokens
    zero = Range.point(0.0)
    if cfg.stage in (Stage.LORA, Stage.QLORA):
        n_lora = lora_params(m, cfg.lora_rank)
        counts = param_counts(m)
        kept = counts.embedding + counts.position + counts.output_head + counts.norms
        v = training_value_bytes(dtype)
        base_bytes = v
        if cfg.stage == Stage.QLORA:
            base_bytes = ((counts.total - kept) * cfg.nf4_bytes_per_param + v * kept) / counts.total
        roles = (MemoryRole("base", counts.total, base_bytes, 0.0), MemoryRole("adapters", n_lora, v, n_lora))
        note = Assumption(
            "lora_trainable_params",
            n_lora,
            "Hu et al. 2021; Dettmers et al. 2023",
            f"rank {cfg.lora_rank} on all linear layers; FLOPs = 2·F·T + 6·N_lora,active·T",
        )
        lora_flops = 6.0 * lora_params(m, cfg.lora_rank, active=True) * tokens
        return StageCompute(2.0 * fwd + lora_flops, fwd, attn, zero, roles, (note,))
    if cfg.stage == Stage.DPO:
        roles = (_full(m, dtype), _frozen("reference", m, dtype))
        note = Assumption("dpo_flops", "4·F·T", "Rafailov et al. 2023", "policy fwd+bwd + reference fwd")
        return StageCompute(4.0 * fwd, fwd, attn, zero, roles, (note,))
    if cfg.stage == Stage.DISTILL:
        assert cfg.teacher is not None
        teacher_fwd = _forward_flops(cfg.teacher, tokens, seq_len)
        roles = (_full(m, dtype), _frozen("teacher", cfg.teacher, dtype))
        note = Assumption(
            "distill_flops", "3·F_student·T + F_teacher·T", "Hinton et al. 2015", cfg.teacher.id
        )
        return StageCompute(3.0 * fwd + teacher_fwd, fwd, attn, zero, roles, (note,))
    return StageCompute(3.0 * fwd, fwd, attn, zero, (_full(m, dtype),))
