"""MoE/MLA serving physics: absorbed MLA decode FLOPs, attention DP + EP, kernel floor, engine memory.

Hand calculations in each docstring; figures from the DeepSeek-V3 config (kv_lora_rank d_c = 512,
qk_rope_head_dim d_r = 64, 128 heads, 61 layers, 8 routed experts per token, d_model 7168).
"""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.estimate.serving.deployment import (
    ServingOptions,
    device_arrays,
    estimate_serving,
    precision_arrays,
)
from flopbill.estimate.serving.step import (
    ExpertImbalance,
    alltoall_time_s,
    decode_attention_flops_per_token,
    decode_step,
    expert_load_factor,
    kernel_floor_time_s,
    kv_shards,
    model_terms,
    moe_activation_bytes_per_gpu,
    prefill_time,
    routed_expert_flops_per_token,
    routed_expert_weight_bytes,
)


def test_absorbed_mla_decode_flops_hand_calculation() -> None:
    """2·h·L·(d_c + d_r + d_c) per layer: 2·128·1000·(512 + 64 + 512) · 61 = 16,990,208,000 FLOPs."""
    t = model_terms(model("deepseek-v3"))
    assert float(decode_attention_flops_per_token(t, 1000.0)) == pytest.approx(2 * 128 * 1000 * 1088 * 61)


def test_mla_latent_is_split_by_attention_dp_only() -> None:
    """TP keeps the MLA latent on every rank (1 shard); attention DP gives 8 ranks their own sequences."""
    t = model_terms(model("deepseek-v3"))
    assert float(kv_shards(t, 8)) == 1.0
    assert float(kv_shards(t, 8, 1.0)) == 8.0


def test_alltoall_hand_calculation() -> None:
    """T = 64 tokens on ep = 8 ranks, k = 8, d = 7168, 1 byte, link 900 GB/s bidirectional, latency 10 µs.

    Per all-to-all each rank sends 8·8·7168·1·7/8 = 401,408 B over 450 GB/s = 0.892 µs, + 10 µs; two per
    MoE layer, 58 MoE layers: 2·58·(10.892 µs) = 1.2635 ms.
    """
    t = model_terms(model("deepseek-v3"))
    assert t.n_moe_layers == 58
    got = float(alltoall_time_s(t, 64.0, 1.0, 8.0, 900e9, 10e-6))
    assert got == pytest.approx(2 * 58 * (401408 / 450e9 + 10e-6), rel=1e-9)
    assert float(alltoall_time_s(t, 64.0, 1.0, 1.0, 900e9, 10e-6)) == 0.0


def test_kernel_floor_hand_calculation() -> None:
    """Llama 3.1 8B: 32 layers · 9 kernels · 3 µs = 0.864 ms."""
    t = model_terms(model("llama-3.1-8b"))
    assert float(kernel_floor_time_s(t, 3e-6)) == pytest.approx(32 * 9 * 3e-6)


def _deepseek(attention_dp: bool, batch: int | None = None):  # type: ignore[no-untyped-def]
    acc = accelerator("h200")
    opt = ServingOptions(tp=8, weights=Dtype.FP8, attention_dp=attention_dp, batch=batch)
    return estimate_serving(
        model("deepseek-v3"), acc, 1000, 1000, opt, hardware_efficiency(acc.id), engine_profile("sglang")
    )


def test_attention_dp_raises_deepseek_max_batch_about_8x() -> None:
    """The latent held once per DP rank instead of on all 8: the KV room per sequence shrinks 8×.

    The replicated attention weights (~11 B params, fp8) take some of that room back, so the gain is a
    little under 8× but well above 4×.
    """
    tp_only, dp = _deepseek(False), _deepseek(True)
    assert 4.0 * tp_only.max_batch < dp.max_batch <= 8.0 * tp_only.max_batch or dp.max_batch >= 1024


def test_attention_dp_reads_replicated_weights_at_batch_one() -> None:
    """At batch 1 every DP rank reads the whole attention stack, so the step is slower than under TP."""
    assert _deepseek(True, 1).tpot_s > _deepseek(False, 1).tpot_s


def test_trtllm_kv_budget_is_a_fraction_of_what_weights_leave() -> None:
    """Llama 3.1 70B fp8 on one H200 (143,771 MiB = 150.76 GB), fp8 KV, 1000+1000 tokens.

    Weights ≈ 70.6 GB (blocks fp8, embeddings/head bf16), so ≈ 0.9 · (150.8 − 70.6 − ~1 GB activations)
    ≈ 71 GB go to the KV cache: 163,840 B per token (80 layers · 8 KV heads · 128 · 2 · 1 B) · 2000 tokens
    = 0.328 GB per sequence → about 217 sequences (a 10 %-of-device reserve on 141 GB would leave ~177).
    """
    acc = accelerator("h200")
    opt = ServingOptions(tp=1, weights=Dtype.FP8, kv=Dtype.FP8)
    est = estimate_serving(
        model("llama-3.1-70b"), acc, 1000, 1000, opt, hardware_efficiency(acc.id), engine_profile("trtllm")
    )
    assert est.memory_bytes_per_gpu == pytest.approx(143771 * 2**20)
    assert 200 <= est.max_batch <= 220
    assert np.isfinite(est.output_tokens_per_s_per_gpu)


def test_collectives_beyond_the_nvlink_domain_run_at_nic_speed() -> None:
    """H100: 8 GPUs per NVLink domain (900 GB/s bidirectional), one 400 Gb/s NIC per GPU beyond it.

    400 Gb/s each way = 50 GB/s, 100 GB/s bidirectional. TP8 stays on NVLink; TP16 runs at the NIC's.
    Llama 3.1 405B, batch 64, fp8 activations of 1 byte: one all-reduce of 64·16384 B = 1 MiB over 16 ranks
    takes 2·15/16·1,048,576 / 50e9 + 8 µs = 47.3 µs; 2 per layer · 126 layers = 11.9 ms per step.
    """
    from flopbill.estimate.serving.deployment import device_arrays
    from flopbill.estimate.serving.step import tp_comm_time_s

    acc = accelerator("h100-sxm")
    eff, _ = hardware_efficiency(acc.id)
    dev = device_arrays(acc, Dtype.FP8, eff, 16)
    assert float(dev.link_bidir_bytes_per_s(8)) == pytest.approx(900e9)
    assert float(dev.link_bidir_bytes_per_s(16)) == pytest.approx(100e9)
    t = model_terms(model("llama-3.1-405b"))
    got = float(tp_comm_time_s(t, 64.0, 1.0, 16.0, dev.link_bidir_bytes_per_s(16), 8e-6))
    assert got == pytest.approx(2 * 126 * (2 * 15 / 16 * 64 * 16384 / 50e9 + 8e-6))


def test_prefill_chunks_pay_the_kernel_floor() -> None:
    """Two chunks of Llama 3.1 8B with an (artificial) 1 ms kernel floor: at least 2 · 32 · 9 · 1 ms."""
    from flopbill.estimate.serving.deployment import device_arrays, precision_arrays
    from flopbill.estimate.serving.step import prefill_time

    acc = accelerator("h100-sxm")
    dev = device_arrays(acc, Dtype.BF16, hardware_efficiency(acc.id)[0], 1)
    prec = precision_arrays(Dtype.BF16, None, None)
    t = model_terms(model("llama-3.1-8b"))
    step = prefill_time(t, dev, prec, 1, 16, 0.0, 8, kernel_floor_s=1e-3)
    assert float(step.roofline_s) == pytest.approx(2 * 32 * 9 * 1e-3)


def test_vllm_budget_is_a_fraction_of_the_whole_device() -> None:
    """Llama 3.1 8B bf16 on one H100 under vLLM, 1000 + 1000 tokens, bf16 KV.

    0.9 · 81,559 MiB = 76.97 GB; weights 16.06 GB; activations of the 8192-token budget
    8192 · (4·4096 + 2·14336) · 2 B = 0.74 GB; 131,072 B of KV per token · 2000 = 0.262 GB per sequence:
    (76.97 − 16.06 − 0.74) / 0.262 ≈ 229 sequences (under vLLM's 256 cap).
    """
    acc = accelerator("h100-sxm")
    est = estimate_serving(
        model("llama-3.1-8b"),
        acc,
        1000,
        1000,
        ServingOptions(),
        hardware_efficiency(acc.id),
        engine_profile("vllm"),
    )
    assert 222 <= est.max_batch <= 234


def test_eager_mode_is_launch_bound_at_batch_one() -> None:
    """SGLang eager (no CUDA graph), Llama 3.1 8B, batch 1: the step is at least 32 · 9 · 32 µs = 9.2 ms.

    The source figure (SGLang PR #1401: 9.28 ms eager vs 7.06 ms with graphs, Llama 3 8B) is what the
    floor was derived from, so this checks the wiring, and that graphs are faster.
    """
    acc = accelerator("h100-sxm")

    def tpot(graphs: bool) -> float:
        return estimate_serving(
            model("llama-3.1-8b"),
            acc,
            128,
            8,
            ServingOptions(batch=1, cuda_graphs=graphs),
            hardware_efficiency(acc.id),
            engine_profile("sglang"),
        ).tpot_s

    assert tpot(False) >= 32 * 9 * 32e-6
    assert tpot(True) < tpot(False)


def test_moe_activation_bytes_hand_calculation() -> None:
    """Qwen3-30B-A3B: 48 MoE layers, k = 8, d = 2048, expert width f = 768, bf16 (2 bytes).

    One GPU (tp 1), 100 tokens: 100 · 48 · 8 · (4·2048 + 6·768) · 2 = 983,040,000 bytes. TP2 splits only
    the expert width, 4·2048 + 6·384 per pair; EP2 (attention DP) halves the pairs, (4·2048 + 6·768)/2.
    """
    t = model_terms(model("qwen3-30b-a3b"))
    assert float(moe_activation_bytes_per_gpu(t, 100.0, 2.0, 1.0, 0.0)) == pytest.approx(
        100 * 48 * 8 * (4 * 2048 + 6 * 768) * 2
    )
    assert float(moe_activation_bytes_per_gpu(t, 100.0, 2.0, 2.0, 0.0)) == pytest.approx(
        100 * 48 * 8 * (4 * 2048 + 6 * 384) * 2
    )
    assert float(moe_activation_bytes_per_gpu(t, 100.0, 2.0, 2.0, 1.0)) == pytest.approx(
        100 * 48 * 8 * (4 * 2048 + 6 * 768)
    )
    dense = model_terms(model("llama-3.1-8b"))
    assert float(moe_activation_bytes_per_gpu(dense, 100.0, 2.0, 1.0, 0.0)) == 0.0


def test_routed_expert_flops_and_weights_hand_calculation() -> None:
    """Qwen3-30B-A3B expert: 3·2048·768 = 4,718,592 params; per token 48·8·2·that = 3.62 GFLOPs.

    One token touches k = 8 experts per layer: 48·8·4,718,592 bytes at fp8 (1 byte).
    """
    t = model_terms(model("qwen3-30b-a3b"))
    assert t.expert_params == 3 * 2048 * 768
    assert routed_expert_flops_per_token(t) == pytest.approx(48 * 8 * 2 * 3 * 2048 * 768)
    assert float(routed_expert_weight_bytes(t, 1.0, 1.0)) == pytest.approx(48 * 8 * 3 * 2048 * 768)
    assert routed_expert_flops_per_token(model_terms(model("llama-3.1-8b"))) == 0.0


def test_dense_decode_step_unchanged_by_the_expert_kernel_group() -> None:
    """A dense model has no routed experts: the matmul roofline is max(FLOPs, weight bytes) as before."""
    t = model_terms(model("llama-3.1-8b"))
    acc = accelerator("h100-sxm")
    dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 1)
    prec = precision_arrays(Dtype.FP8, Dtype.FP8, None)
    step = decode_step(t, dev, prec, 1.0, 64.0, 0.0)
    assert float(step.roofline_s) == pytest.approx(max(float(step.compute_s), float(step.memory_s)))


def test_moe_expert_group_is_its_own_roofline() -> None:
    """Sum of the two matmul groups' rooflines ≥ the roofline of their sums (kernels run in turn).

    Qwen3-30B-A3B at batch 1,024, context 0, fp8 on one H100: the step is at least the max of all FLOPs
    and all bytes, and slower than that once the expert activations are counted.
    """
    t = model_terms(model("qwen3-30b-a3b"))
    acc = accelerator("h100-sxm")
    dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 1)
    prec = precision_arrays(Dtype.FP8, Dtype.FP8, None)
    step = decode_step(t, dev, prec, 1.0, 1024.0, 0.0)
    assert float(step.roofline_s) >= max(float(step.compute_s), float(step.memory_s))
    assert float(step.roofline_s) <= float(step.compute_s) + float(step.memory_s)
    act = float(moe_activation_bytes_per_gpu(t, 1024.0, 2.0, 1.0, 0.0))
    assert float(step.memory_s) >= act / (float(dev.bandwidth_bytes_per_s) * float(dev.eta_bw))


def test_expert_load_factor_reproduces_its_source_and_scales() -> None:
    """γ = 1 + r₀·√(n₀/n)·z(ep)/z(ep₀), r₀ = 1.564 at EP32 with 8 experts per rank (DeepSeek-R1, 256 experts).

    At the reference (DeepSeek-V3, EP32: n = 8) γ = 2.564 exactly. At EP8 (n = 32 experts per rank),
    z by Blom's approximation: z(8) = Φ⁻¹(7.625/8.25) = 1.4342, z(32) = Φ⁻¹(31.625/32.25) = 2.0667, so
    γ = 1 + 1.564·√(8/32)·1.4342/2.0667 = 1.5427. One rank or a dense model: 1.
    """
    from statistics import NormalDist

    imb = ExpertImbalance(1.564, 32, 8)
    t = model_terms(model("deepseek-v3"))
    assert float(expert_load_factor(t, 32.0, imb)) == pytest.approx(2.564, rel=1e-12)
    z8, z32 = NormalDist().inv_cdf(7.625 / 8.25), NormalDist().inv_cdf(31.625 / 32.25)
    assert z8 == pytest.approx(1.4342, abs=1e-4) and z32 == pytest.approx(2.0667, abs=1e-4)
    assert float(expert_load_factor(t, 8.0, imb)) == pytest.approx(1 + 1.564 * 0.5 * z8 / z32, rel=1e-12)
    got = np.asarray(expert_load_factor(t, np.array([1.0, 2.0, 4.0, 8.0, 16.0]), imb))
    assert got[0] == 1.0 and np.all(np.diff(got) > 0)
    assert float(expert_load_factor(model_terms(model("llama-3.1-70b")), 8.0, imb)) == 1.0
    assert float(expert_load_factor(t, 8.0, None)) == 1.0


def test_imbalance_slows_only_expert_parallel_steps() -> None:
    """The busiest EP rank sets the pace under attention DP + EP; plain TP splits every expert evenly."""
    t = model_terms(model("qwen3-235b-a22b"))
    acc = accelerator("h200")
    dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 8)
    prec = precision_arrays(Dtype.FP8, Dtype.FP8, None)
    imb = ExpertImbalance(1.564, 32, 8)
    ep = [decode_step(t, dev, prec, 8.0, 2048.0, 1000.0, 1.0, 0.0, 1.0, 0.0, i).total_s for i in (None, imb)]
    tp = [decode_step(t, dev, prec, 8.0, 2048.0, 1000.0, 1.0, 0.0, 0.0, 0.0, i).total_s for i in (None, imb)]
    assert float(ep[1]) > float(ep[0])
    assert float(tp[1]) == float(tp[0])


def test_prefill_batched_time_is_the_compute_for_dense_models() -> None:
    """Dense: batching amortizes the weight reads, leaving the compute; MoE adds the expert activations."""
    acc = accelerator("h100-sxm")
    dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 1)
    prec = precision_arrays(Dtype.FP8, Dtype.FP8, None)
    dense = prefill_time(model_terms(model("llama-3.1-8b")), dev, prec, 1.0, 2000.0, 0.0, 8192.0)
    assert float(dense.amortized_s) == pytest.approx(float(dense.compute_s), rel=1e-12)
    moe = prefill_time(model_terms(model("qwen3-30b-a3b")), dev, prec, 1.0, 2000.0, 0.0, 8192.0)
    assert float(moe.amortized_s) >= float(moe.compute_s)


def test_ep_imbalance_is_stated_next_to_the_numbers() -> None:
    """An attention-DP + EP estimate lists the load factor it used and where it comes from."""
    est = _deepseek(True, 64)
    names = {a.name: a for a in est.assumptions}
    assert names["ep_load_factor"].value == pytest.approx(1.543, abs=1e-3)
    assert "TensorRT-LLM tech blog 4" in names["ep_load_factor"].source
    assert "ep_load_factor" not in {a.name for a in _deepseek(False, 64).assumptions}


def test_batched_prefill_under_attention_dp_spreads_attention_over_the_ranks() -> None:
    """Alone, a prompt's attention runs on its one DP rank; batched, the tp ranks prefill tp prompts at once.

    So the replica-seconds per prompt (``amortized_s``) equal TP's, where each rank does 1/tp of it, while the
    lone prompt (``compute_s``, TTFT) is slower. Llama 3.1 70B (no experts, so only attention differs), 32K.
    """
    t = model_terms(model("llama-3.1-70b"))
    acc = accelerator("h200")
    dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 8)
    prec = precision_arrays(Dtype.FP8, Dtype.FP8, None)
    tp = prefill_time(t, dev, prec, 8.0, 32768.0, 0.0, 8192.0, 0.0, 0.0)
    dp = prefill_time(t, dev, prec, 8.0, 32768.0, 0.0, 8192.0, 0.0, 1.0)
    assert float(dp.amortized_s) == pytest.approx(float(tp.amortized_s), rel=1e-12)
    assert float(dp.compute_s) > float(tp.compute_s)
