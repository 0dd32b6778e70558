"""Training memory against published figures and hand calculations (ZeRO, Korthikanti et al., QLoRA)."""

from __future__ import annotations

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.defaults import training_defaults
from flopbill.dtypes import Dtype
from flopbill.estimate.training import cost as tr
from flopbill.estimate.training.inputs import resolve_training_setup
from flopbill.estimate.training.memory import (
    MemoryRole,
    ParallelPlan,
    Recompute,
    activation_bytes,
    activation_bytes_per_layer,
    memory_per_gpu,
    min_gpus_to_fit,
)
from flopbill.estimate.training.stages import Stage, StageConfig, lora_params, stage_compute


@pytest.mark.parametrize(
    ("zero", "published_gb"), [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)], ids=["dp", "os", "os+g", "os+g+p"]
)
def test_zero_paper_figure_1(zero: int, published_gb: float) -> None:
    """Rajbhandari et al. 2020 (ZeRO), Figure 1: Ψ = 7.5B parameters, K = 12, N_d = 64 data-parallel GPUs.
    Baseline (2 + 2 + K)Ψ = 120 GB; P_os 2Ψ + 2Ψ + KΨ/N_d = 31.4 GB; P_os+g 2Ψ + (2 + K)Ψ/N_d = 16.6 GB;
    P_os+g+p (2 + 2 + K)Ψ/N_d = 1.9 GB (model states only, activations excluded)."""
    plan = ParallelPlan(n_gpus=64, zero=zero)
    role = MemoryRole("7.5B", 7.5e9, 2.0, 7.5e9)
    mem = memory_per_gpu(model("llama-2-7b"), 2048, plan, (role,))
    states_gb = (mem.total_bytes - mem.activations_bytes) / 1e9
    assert states_gb == pytest.approx(published_gb, abs=0.05)


def test_fp32_training_stores_four_byte_values() -> None:
    """Korthikanti et al. 2022 §4.1 counts 16-bit activations: sbh·34 = 32sbh of 2-byte values + 2sbh of
    1-byte dropout masks, and 5as²b = 4as²b (softmax and dropout outputs) + as²b (mask). In fp32 the
    2-byte values double, the masks do not: sbh·(64 + 2) + as²b·(8 + 1) = sbh·(66 + 9as/h).
    Full recomputation keeps each layer's input: 2sbh in bf16, 4sbh in fp32."""
    m = model("gpt-3-175b")
    s, b, h, a = 2048, 1, m.d_model, m.n_heads
    fp32 = activation_bytes_per_layer(m, s, b, 1, False, Recompute.NONE, Dtype.FP32)
    assert fp32 == pytest.approx(s * b * h * (66 + 9 * a * s / h))
    assert activation_bytes_per_layer(m, s, b, 1, False, Recompute.FULL, Dtype.TF32) == pytest.approx(
        4 * s * b * h
    )
    bf16 = activation_bytes_per_layer(m, s, b, 1, False, Recompute.NONE, Dtype.BF16)
    assert activation_bytes_per_layer(m, s, b, 1, False, Recompute.NONE, Dtype.FP8) == pytest.approx(bf16)


def test_fp32_adam_states_under_zero_1() -> None:
    """fp32 Adam (no mixed precision): 4 B weights + 4 B gradients + 8 B momentum and variance = 16 B, the
    same total as mixed-precision Adam (2 + 2 + 12) but split differently. Llama 2 7B (N = 6.738e9) on 8 GPUs,
    ZeRO-1: weights 4N = 26.95 GB, gradients 4N = 26.95 GB, optimizer 8N/8 = 6.74 GB per GPU."""
    m, acc = model("llama-2-7b"), accelerator("a100-80gb")
    plan = ParallelPlan(n_gpus=8, zero=1)
    setup = resolve_training_setup(m, acc, n_gpus=8, tokens=1e9, seq_len=2048, dtype=Dtype.FP32, plan=plan)
    mem = tr.estimate_training(setup).memory
    n = 6.738e9
    assert mem.weights_bytes == pytest.approx(4 * n, rel=1e-3)
    assert mem.gradients_bytes == pytest.approx(4 * n, rel=1e-3)
    assert mem.optimizer_bytes == pytest.approx(8 * n / 8, rel=1e-3)


def test_first_pipeline_stage_holds_all_layers_worth() -> None:
    """Korthikanti et al. 2022 §4.2.3: with 1F1B the first stage keeps p micro-batches of L/p layers in
    flight, i.e. L layers' worth of activations whatever p is."""
    m = model("llama-2-70b")
    one = activation_bytes(m, 4096, ParallelPlan(n_gpus=8, tp=8))
    four = activation_bytes(m, 4096, ParallelPlan(n_gpus=32, tp=8, pp=4))
    assert four == pytest.approx(one)


def test_min_gpus_llama_2_70b_tp8_zero1_by_hand() -> None:
    """Llama 2 70B (N = 68.98e9; h 8192, 64 heads of 128, 8 KV heads, SwiGLU f 28672, 80 layers, V 32000),
    seq 4096, micro-batch 1, TP 8 with sequence parallelism, selective recompute, ZeRO-1, A100 80 GB.
    Activations per layer: sb·(10h + 2(q + kv) + 2kv + 2q + 6f)/8 = 4096·(81920 + 18432 + 2048 + 16384
    + 172032)/8 = 148.9 MB; × 80 = 11.91 GB, + fp32 logits 4·4096·32000/8 = 0.066 GB → 11.98 GB.
    Unsharded: weights 2N/8 + gradients 2N/8 = 34.49 GB, + activations = 46.47 GB; sharded Adam states
    12N/8 = 103.46 GB over DP: DP = ceil(103.46 / (80 − 46.47)) = ceil(3.09) = 4 → 4 · 8 = 32 GPUs."""
    m, acc = model("llama-2-70b"), accelerator("a100-80gb")
    plan = ParallelPlan(n_gpus=64, tp=8, zero=1, sequence_parallel=True)
    setup = resolve_training_setup(m, acc, n_gpus=64, tokens=1e9, seq_len=4096, plan=plan)
    est = tr.estimate_training(setup)
    assert est.memory.activations_bytes == pytest.approx(11.98e9, rel=2e-3)
    assert est.min_gpus == 32
    roles = est.compute.memory_models
    assert min_gpus_to_fit(m, 4096, plan, roles, 80e9) == 32


def test_nf4_double_quantization_bytes_per_param() -> None:
    """Dettmers et al. 2023 (QLoRA) §3: NF4 4 bits + 8-bit block constants per 64 weights + 32-bit
    second-level constants per 256 blocks: 4 + 8/64 + 32/(64·256) = 4.127 bits = 0.51587 bytes."""
    expected = (4 + 8 / 64 + 32 / (64 * 256)) / 8
    assert training_defaults().nf4_bytes_per_param.value == pytest.approx(expected, abs=1e-4)


def test_moe_lora_adapters_stored_per_expert_computed_per_active_expert() -> None:
    """Mixtral 8x7B (d 4096, 32 heads of 128, 8 KV heads, 8 experts of f 14336 SwiGLU, top-2, 32 layers),
    rank 16 on all linear layers. Attention per layer (4096+4096) + 2·(4096+1024) + (4096+4096) = 26,624;
    one expert 3·(4096+14336) = 55,296. Stored (every expert): 16·32·(26,624 + 8·55,296) = 240.12M;
    per token (2 experts): 16·32·(26,624 + 2·55,296) = 70.25M, which sets the adapter FLOPs 6·N·T."""
    m = model("mixtral-8x7b")
    assert lora_params(m, 16) == 16 * 32 * (26_624 + 8 * 55_296)
    assert lora_params(m, 16, active=True) == 16 * 32 * (26_624 + 2 * 55_296)
    acc = accelerator("h100-sxm")
    lora = stage_compute(m, 1e9, 4096, StageConfig(stage=Stage.LORA), acc, Dtype.BF16)
    assert lora.model_flops == pytest.approx(2 * lora.trained_forward_flops + 6 * 70.254592e6 * 1e9)
    adapters = next(r for r in lora.memory_models if r.name == "adapters")
    assert adapters.trainable_params == pytest.approx(240.123904e6)
