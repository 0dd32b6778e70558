"""Unit tests of serving physics with hand calculations (roofline, KV, all-reduce, speculative decoding)."""

from __future__ import annotations

import math

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.estimate.core.architecture import kv_bytes_per_token, weight_bytes
from flopbill.estimate.core.roofline import bound_name, roofline_time_s
from flopbill.estimate.serving.metrics import expected_tokens_per_step
from flopbill.estimate.serving.step import (
    DeviceArrays,
    PrecisionArrays,
    allreduce_time_s,
    kv_bytes_per_sequence,
    model_terms,
    prefill_flops,
    prefill_linear_flops,
    prefill_time,
    weight_bytes_read,
    weight_bytes_stored,
)


def test_roofline_takes_the_larger_bound() -> None:
    """1e12 FLOPs at 1e15·0.5 = 2 ms; 1e9 B at 1e12·0.5 = 2 ms → 2 ms; double the bytes → 4 ms."""
    assert roofline_time_s(1e12, 1e9, 1e15, 1e12, 0.5, 0.5) == pytest.approx(2e-3)
    assert roofline_time_s(1e12, 2e9, 1e15, 1e12, 0.5, 0.5) == pytest.approx(4e-3)
    assert bound_name(1.0, 2.0) == "memory" and bound_name(3.0, 2.0) == "compute"


def test_allreduce_ring_time() -> None:
    """tp=8, 1 MB, 900 GB/s bidir: 2·7/8·1e6/450e9 = 3.889 µs + 8 µs latency; tp=1 costs nothing."""
    assert allreduce_time_s(1e6, 8, 900e9, 8e-6) == pytest.approx(2 * 7 / 8 * 1e6 / 450e9 + 8e-6)
    assert allreduce_time_s(1e6, 1, 900e9, 8e-6) == 0.0


def test_speculative_expected_tokens() -> None:
    """Leviathan et al. 2023 eq. 1: α=0.7, k=4 → (1 − 0.7⁵)/0.3 = 2.7731; α=1 → k+1; k=0 → 1."""
    assert expected_tokens_per_step(4, 0.7) == pytest.approx((1 - 0.7**5) / 0.3)
    assert expected_tokens_per_step(4, 1.0) == pytest.approx(5.0)
    assert expected_tokens_per_step(0, 0.7) == pytest.approx(1.0)


def test_weights_and_kv_match_architecture() -> None:
    """Stored weights equal architecture.weight_bytes; KV of L tokens = L·kv_bytes_per_token."""
    m = model("llama-3.1-8b")
    t = model_terms(m)
    assert weight_bytes_stored(t, 2.0, 2.0) == pytest.approx(weight_bytes(m, "bf16"))
    assert weight_bytes_stored(t, 1.0, 2.0) == pytest.approx(weight_bytes(m, "fp8"))
    # Llama 3.1 8B: 32 layers × 2 × 8 KV heads × 128 × 2 B = 131,072 B per token
    assert kv_bytes_per_sequence(t, 1000.0, 2.0) == pytest.approx(1000 * 131_072)
    assert kv_bytes_per_token(m, "bf16") == 131_072


def test_moe_reads_more_experts_as_batch_grows() -> None:
    """Mixtral 8x7B (E=8, k=2): batch 1 reads 2 experts per layer, a large batch nearly all 8."""
    t = model_terms(model("mixtral-8x7b"))
    one = weight_bytes_read(t, 1.0, 2.0, 2.0)
    big = weight_bytes_read(t, 4096.0, 2.0, 2.0)
    expert_layer_bytes = t.n_moe_layers * t.expert_params * 2.0
    assert big - one == pytest.approx(6 * expert_layer_bytes, rel=1e-6)


def test_prefill_attention_grows_quadratically() -> None:
    """Attention part of prefill: P·attn_avg(P) ≈ 2·h·d_h·P²·layers; doubling P ~quadruples it."""
    t = model_terms(model("llama-3.1-8b"))

    def attn(p: float) -> float:
        return float(prefill_flops(t, p)) - float(prefill_linear_flops(t, p))

    assert attn(8000) / attn(4000) == pytest.approx(4.0, rel=0.01)
    assert float(prefill_flops(t, 1000, 500)) < float(prefill_flops(t, 1000, 0))


def test_batch1_decode_h100_is_weight_bandwidth_bound() -> None:
    """Llama 3.1 8B bf16, batch 1, H100: TPOT ≈ 16.06 GB / (3.35 TB/s · η_bw) + overhead + launch gaps.

    Hand calc: launch gaps 32 layers × 9 kernels × 1.3 µs (engine ``kernel_launch_s``) = 0.37 ms.
    """
    from flopbill.dtypes import Dtype
    from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving

    acc = accelerator("h100-sxm")
    eff = hardware_efficiency(acc.id)
    eng = engine_profile("vllm")
    e = estimate_serving(
        model("llama-3.1-8b"), acc, 100, 100, ServingOptions(batch=1, weights=Dtype.BF16), eff, eng
    )
    weights_read = 2 * (8.03e9 - 128256 * 4096)  # bf16, embedding table not read
    launch = 32 * 9 * 1.3e-6  # s
    expected = weights_read / (3.35e12 * eff[0].eta_bw.value) + eng.overhead_s_per_step.value + launch
    assert e.bound == "memory"
    assert e.tpot_s == pytest.approx(expected, rel=0.03)
    assert math.isclose(e.output_tokens_per_s_per_user, 1 / e.tpot_s)


def test_prefill_runs_the_output_head_for_the_last_prompt_token_only() -> None:
    """Llama 3.1 8B, 1000-token prompt, nothing cached (hand calculation).

    Matmul parameters per token N = 8,030,261,248 total − 525,336,576 embedding − 266,240 norms
    = 7,504,658,432 (the untied head H = 128,256 × 4,096 = 525,336,576 included). Engines compute logits
    only at the last prompt token, so linear FLOPs = 1000·2·N − 999·2·H
    = 15,009,316,864,000 − 1,049,622,478,848 = 13,959,694,385,152.
    Attention: 32 layers × 2·32 heads·(128 + 128) = 524,288 FLOPs per key, over 1000·1001/2 = 500,500
    causal keys = 262,406,144,000. Total 14,222,100,529,152 FLOPs.
    """
    t = model_terms(model("llama-3.1-8b"))
    assert float(prefill_linear_flops(t, 1000)) == pytest.approx(13_959_694_385_152, rel=1e-12)
    assert float(prefill_flops(t, 1000)) == pytest.approx(14_222_100_529_152, rel=1e-12)
    assert float(prefill_linear_flops(t, 0)) == 0.0


def test_prefill_tp_comm_counts_a_short_last_chunk_by_its_own_tokens() -> None:
    """Llama 3.1 70B (80 layers, d = 8192), tp 2, bf16 activations, 8,193-token prompt, 8,192-token chunks.

    Two chunks (8,192 + 1 tokens). Per layer 2 ring all-reduces; in all they carry 8,193·8,192·2 B
    = 134,234,112 B each, at 2·(2−1)/2 · bytes / (900e9/2 B/s) = 298.298 µs, plus 8 µs latency per
    all-reduce per chunk: 160 · 298.298 µs + 2 · 160 · 8 µs = 50.288 ms (not 2 full chunks = 98.0 ms).
    """
    t = model_terms(model("llama-3.1-70b"))
    dev = DeviceArrays(1e15, 1e15, 3.35e12, 900e9, 80e9, 1.0, 1.0, 8e-6)
    prec = PrecisionArrays(2.0, 2.0, 2.0, 2.0)
    step = prefill_time(t, dev, prec, 2, 8193, 0.0, 8192)
    assert float(step.comm_s) == pytest.approx(160 * 8193 * 8192 * 2 / 450e9 + 2 * 160 * 8e-6, rel=1e-9)
