"""Kernel launch gaps (low-batch latency): hand calculations of ``step.kernel_launch_time_s`` and its use.

Figures: 1.3 µs per kernel on an H100 with CUDA graphs (Hazy Research, "Look Ma, No Bubbles!", 2025-05-27,
``kernel_launch_s`` in serving_efficiency.yaml); kernel counts from ``step.kernels_per_layer``.
"""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving, runtime_arrays
from flopbill.estimate.serving.step import (
    DeviceArrays,
    PrecisionArrays,
    decode_step,
    kernel_launch_time_s,
    model_terms,
    prefill_time,
)


def _dev() -> DeviceArrays:
    return DeviceArrays(
        peak_flops_per_s=1e15,
        attention_peak_flops_per_s=1e15,
        bandwidth_bytes_per_s=3e12,
        interconnect_bidir_bytes_per_s=900e9,
        memory_bytes=80e9,
        eta_flops=0.5,
        eta_bw=0.8,
        allreduce_latency_s=8e-6,
    )


def _prec() -> PrecisionArrays:
    return PrecisionArrays(weight_bpv=2.0, kept_bpv=2.0, kv_bpv=2.0, activation_bpv=2.0)


def test_launch_time_hand_calculation() -> None:
    """Llama 3.1 70B: 80 layers × 9 kernels × 1.3 µs = 0.936 ms.

    DeepSeek-V3: 61 layers × (9 + 3 MLA) + 58 MoE layers × 6 kernels, × 1.3 µs = 1.40 ms.
    """
    t70 = model_terms(model("llama-3.1-70b"))
    assert float(kernel_launch_time_s(t70, 1.3e-6)) == pytest.approx(80 * 9 * 1.3e-6, rel=1e-12)
    ds = model_terms(model("deepseek-v3"))
    assert float(kernel_launch_time_s(ds, 1.3e-6)) == pytest.approx((61 * 12 + 58 * 6) * 1.3e-6, rel=1e-12)
    grid = np.asarray(kernel_launch_time_s(t70, np.array([0.0, 1e-6, 2e-6])))
    assert grid.tolist() == pytest.approx([0.0, 720e-6, 1440e-6])


def test_launch_gaps_add_to_the_decode_step_whatever_the_batch() -> None:
    """The gap is per kernel, not per byte: the same 0.936 ms at batch 1 and at batch 256 (additive)."""
    t = model_terms(model("llama-3.1-70b"))
    for batch in (1.0, 256.0):
        base = decode_step(t, _dev(), _prec(), 4, batch, 1000.0, overhead_s=1e-3)
        gap = decode_step(t, _dev(), _prec(), 4, batch, 1000.0, overhead_s=1e-3, kernel_launch_s=1.3e-6)
        assert float(gap.launch_s) == pytest.approx(80 * 9 * 1.3e-6)
        assert float(gap.total_s - base.total_s) == pytest.approx(80 * 9 * 1.3e-6, rel=1e-9)
        assert float(gap.roofline_s) == float(base.roofline_s)


def test_prefill_pays_the_gaps_once_per_chunk() -> None:
    """A 20,000-token prompt in 8,192-token chunks runs 3 forward passes: 3 × 80 × 9 × 1.3 µs."""
    t = model_terms(model("llama-3.1-70b"))
    step = prefill_time(t, _dev(), _prec(), 4, 20_000.0, 0.0, 8192.0, kernel_launch_s=1.3e-6)
    assert float(step.launch_s) == pytest.approx(3 * 80 * 9 * 1.3e-6)


def test_eager_mode_adds_no_gap_on_top_of_its_launch_bound_floor() -> None:
    """The eager floor (32 µs per kernel) is a whole launch-bound kernel; graphs add 1.3 µs per kernel."""
    eng = engine_profile("sglang")
    assert runtime_arrays(eng, cuda_graphs=False).kernel_launch_s == 0.0
    assert runtime_arrays(eng).kernel_launch_s == pytest.approx(1.3e-6)


def test_tpot_of_a_small_model_at_batch_1_carries_the_gaps() -> None:
    """Llama 3.1 8B bf16 at batch 1 on an H100 (SGLang): TPOT − (roofline + comm + overhead) = 0.37 ms."""
    acc = accelerator("h100-sxm")
    est = estimate_serving(
        model("llama-3.1-8b"),
        acc,
        100,
        100,
        ServingOptions(batch=1, weights=Dtype.BF16),
        hardware_efficiency(acc.id),
        engine_profile("sglang"),
    )
    no_gap = estimate_serving(
        model("llama-3.1-8b"),
        acc,
        100,
        100,
        ServingOptions(batch=1, weights=Dtype.BF16),
        hardware_efficiency(acc.id),
        engine_profile("sglang").model_copy(update={"kernel_launch_s": None}),
    )
    assert est.tpot_s - no_gap.tpot_s == pytest.approx(32 * 9 * 1.3e-6, rel=1e-6)


def test_the_launch_gap_is_listed_with_its_source_next_to_the_numbers() -> None:
    """The assumption list names the 1.3 µs and its source; an eager run (no graphs) lists none."""
    acc = accelerator("h100-sxm")
    args = (model("llama-3.1-8b"), acc, 100, 100)
    eff, eng = hardware_efficiency(acc.id), engine_profile("vllm")
    names = {a.name: a for a in estimate_serving(*args, ServingOptions(batch=1), eff, eng).assumptions}
    assert names["kernel_launch_s"].value == pytest.approx(1.3e-6)
    assert "No Bubbles" in names["kernel_launch_s"].source
    eager = estimate_serving(*args, ServingOptions(batch=1, cuda_graphs=False), eff, eng)
    assert "kernel_launch_s" not in {a.name for a in eager.assumptions}
