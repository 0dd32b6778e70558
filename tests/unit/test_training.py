"""Unit tests of the training estimator: hand calculations in each docstring."""

from __future__ import annotations

import pytest

from flopbill.catalog import accelerator, model, model_from_shorthand
from flopbill.catalog.defaults import training_defaults
from flopbill.catalog.prices import gpu_price
from flopbill.errors import InputError, UnknownNameError
from flopbill.estimate.core.architecture import param_counts
from flopbill.estimate.training import cost as tr
from flopbill.estimate.training.inputs import resolve_training_setup
from flopbill.estimate.training.memory import ParallelPlan, Recompute, activation_bytes_per_layer
from flopbill.estimate.training.stages import Stage, StageConfig, lora_params


def test_pipeline_of_one_liners() -> None:
    """1e21 FLOPs at 1e15 FLOP/s × 0.5 MFU = 2e6 GPU-s; /0.8 goodput /3600 = 694.4 GPU-h; on 10 GPUs
    69.44 h; at $2 = $1388.9; 700 W × 1.0 × PUE 1.2 → 583.3 kWh; × 0.4 kg/kWh = 233.3 kg."""
    s = tr.gpu_seconds(1e21, 1e15, 0.5)
    assert s == pytest.approx(2e6)
    h = tr.billed_gpu_hours(s, 0.8)
    assert h == pytest.approx(694.444, rel=1e-5)
    assert tr.wall_clock_s(h, 10) == pytest.approx(2.5e5)
    assert tr.cost_usd(h, 2.0) == pytest.approx(1388.89, rel=1e-5)
    e = tr.energy_kwh(h, 700.0, 1.0, 1.2)
    assert e == pytest.approx(583.33, rel=1e-4)
    assert tr.co2e_kg(e, 0.4) == pytest.approx(233.33, rel=1e-4)


def test_mfu_defaults_are_ranges_with_sources() -> None:
    d = training_defaults()
    r = d.mfu_range("h100-sxm", 16384)
    assert 0 < r.low < r.expected < r.high <= 1
    assert "Llama 3" in r.basis
    assert d.generation_of("a100-80gb") == "ampere"
    assert "extrapolation" in d.mfu_range("some-new-chip", 8).basis


def test_given_mfu_and_price_give_exact_numbers() -> None:
    """Llama 3.1 8B, 1e12 tokens, seq 8192: F = training_flops; at MFU 0.5 on H100 (989.4e12) with goodput 1:
    GPU-h = F / (989.4e12·0.5) / 3600; cost at $2 = 2·GPU-h."""
    m, acc = model("llama-3.1-8b"), accelerator("h100-sxm")
    setup = resolve_training_setup(
        m,
        acc,
        n_gpus=8,
        tokens=1e12,
        seq_len=8192,
        mfu=(0.5, 0.5, 0.5),
        price=(2.0, 2.0, 2.0),
        goodput=(1.0, 1.0, 1.0),
    )
    est = tr.estimate_training(setup)
    hours = est.flops / (989.4e12 * 0.5) / 3600
    assert est.gpu_hours.expected == pytest.approx(hours)
    assert est.cost_usd is not None and est.cost_usd.expected == pytest.approx(2 * hours)
    assert est.wall_clock_days.expected == pytest.approx(hours / 8 / 24)
    assert est.flops == pytest.approx(6 * 8.03e9 * 1e12, rel=0.15)


def test_recompute_full_adds_one_forward() -> None:
    """Full recomputation: hardware FLOPs = model FLOPs × 4/3 (8·N·D vs 6·N·D)."""
    m, acc = model("llama-3.1-8b"), accelerator("h100-sxm")
    plan = ParallelPlan(n_gpus=8, recompute=Recompute.FULL)
    est = tr.estimate_training(resolve_training_setup(m, acc, n_gpus=8, tokens=1e9, seq_len=4096, plan=plan))
    assert est.hardware_flops == pytest.approx(est.flops * 4 / 3)


def test_korthikanti_activation_formula() -> None:
    """GPT-3-like MHA block, f = 4h, no parallelism, no recompute: s·b·h·(34 + 5·a·s/h) bytes."""
    m = model("gpt-3-175b")
    s, b, h, a = 2048, 1, m.d_model, m.n_heads
    got = activation_bytes_per_layer(m, s, b, 1, False, Recompute.NONE)
    assert got == pytest.approx(s * b * h * (34 + 5 * a * s / h))
    sp = activation_bytes_per_layer(m, s, b, 8, True, Recompute.SELECTIVE)
    assert sp == pytest.approx(s * b * h * 34 / 8)
    no_sp = activation_bytes_per_layer(m, s, b, 8, False, Recompute.NONE)
    assert no_sp == pytest.approx(s * b * h * (10 + 24 / 8 + 5 * a * s / (h * 8)))
    assert activation_bytes_per_layer(m, s, b, 1, False, Recompute.FULL) == pytest.approx(2 * s * b * h)


def test_zero_stages_shard_states() -> None:
    """7B-ish model, Adam 16 B/param, 8 GPUs: ZeRO-0 holds 16·N per GPU; ZeRO-3 holds 16·N/8."""
    m = model("llama-2-7b")
    n = param_counts(m).total
    acc = accelerator("a100-80gb")
    per = {}
    for z in (0, 1, 2, 3):
        plan = ParallelPlan(n_gpus=8, zero=z)
        est = tr.estimate_training(
            resolve_training_setup(m, acc, n_gpus=8, tokens=1e9, seq_len=2048, plan=plan)
        )
        mem = est.memory
        per[z] = mem.weights_bytes + mem.gradients_bytes + mem.optimizer_bytes
    assert per[0] == pytest.approx(16 * n)
    assert per[1] == pytest.approx(4 * n + 12 * n / 8)
    assert per[2] == pytest.approx(2 * n + 14 * n / 8)
    assert per[3] == pytest.approx(16 * n / 8)


def test_lora_params_by_hand() -> None:
    """Llama 2 7B (d 4096, f 11008, 32 layers, MHA), rank 8:
    8·32·(4·(4096+4096) + 3·(4096+11008)) = 19.99M."""
    assert lora_params(model("llama-2-7b"), 8) == 8 * 32 * (4 * 8192 + 3 * (4096 + 11008))


def test_stage_flops_ratios() -> None:
    """LoRA ≈ 2/3 of SFT; DPO = 4/3 of SFT on the same tokens; distillation adds the teacher forward."""
    m, acc = model("llama-2-7b"), accelerator("a100-80gb")

    def flops(stage: Stage, **kw: object) -> float:
        cfg = StageConfig(stage=stage, **kw)  # type: ignore[arg-type]
        return tr.estimate_training(
            resolve_training_setup(m, acc, n_gpus=8, tokens=1e9, seq_len=2048, stage=cfg)
        ).flops

    sft = flops(Stage.SFT)
    assert flops(Stage.LORA) / sft == pytest.approx(2 / 3, rel=0.02)
    assert flops(Stage.DPO) / sft == pytest.approx(4 / 3)
    assert flops(Stage.DISTILL, teacher=model("llama-2-70b")) > sft
    assert flops(Stage.PPO) > flops(Stage.GRPO) > sft


def test_rlhf_rollouts_cost_decode_time() -> None:
    """PPO rollouts add decode GPU-seconds: ≥ generated tokens × weight bytes / (BW · 0.8 · batch)."""
    m, acc = model("llama-3.1-8b"), accelerator("h100-sxm")
    cfg = StageConfig(stage=Stage.PPO, rollout_batch=64, generated_fraction=0.5)
    est = tr.estimate_training(resolve_training_setup(m, acc, n_gpus=8, tokens=1e9, seq_len=2048, stage=cfg))
    floor = 0.5e9 * param_counts(m).total * 2 / (3.35e12 * 0.8 * 64)
    assert est.compute.rollout_gpu_s.low >= floor * 0.999
    assert {r.name for r in est.compute.memory_models} >= {"reference", "reward", "value"}


def test_gpu_price_median_and_errors() -> None:
    p = gpu_price("h100-sxm")
    assert p.low_usd_per_gpu_hour <= p.price_usd_per_gpu_hour <= p.high_usd_per_gpu_hour
    price, date, source = p
    assert price > 0 and "median" in str(source) and date.year >= 2024
    with pytest.raises(UnknownNameError):
        gpu_price("h1000")
    with pytest.raises(InputError):
        gpu_price("h100-sxm", "forever")


def test_bad_inputs_raise_clear_errors() -> None:
    m, acc = model_from_shorthand(1e9, 16, 2048), accelerator("h100-sxm")
    with pytest.raises(InputError, match="tokens"):
        resolve_training_setup(m, acc, n_gpus=8, tokens=-1, seq_len=2048)
    with pytest.raises(InputError, match="mfu"):
        resolve_training_setup(m, acc, n_gpus=8, tokens=1e9, seq_len=2048, mfu=(1.5, 1.5, 1.5))
    with pytest.raises(InputError, match="gpus"):
        ParallelPlan(n_gpus=6, tp=4)
    with pytest.raises(InputError, match="dtype"):
        tr.peak_flops(accelerator("v100"), tr.Dtype.BF16)
