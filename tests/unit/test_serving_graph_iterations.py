"""Decode iterations that admit a request run without a CUDA graph (TensorRT-LLM's PyTorch backend).

Hand calculations in each docstring. Qwen3-235B-A22B: 94 layers, all MoE, not MLA, so
``kernels_per_layer`` = 9 + 6 = 15 and the eager floor is 94 · 15 · 32 µs = 45.12 ms.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.estimate.serving.deployment import (
    ServingOptions,
    device_arrays,
    estimate_serving,
    precision_arrays,
    runtime_arrays,
)
from flopbill.estimate.serving.metrics import WorkloadArrays, serving_metrics
from flopbill.estimate.serving.step import (
    closed_run_prefill_iteration_fraction,
    graphs_decode_only_roofline_s,
    model_terms,
    prefill_iteration_fraction,
)

EAGER_S = 32e-6


def test_prefill_iteration_fraction_hand_calculation() -> None:
    """``1 − exp(−B·τ/G)``: B = 1000, τ = 1, G = 1000 → 1 − e⁻¹ = 0.63212; G = 32768 → 0.030055;
    B = 500, τ = 2, G = 1000 → 0.63212 again (each sequence lives G/τ = 500 iterations); B = 0 → 0."""
    assert float(prefill_iteration_fraction(1000.0, 1.0, 1000.0)) == pytest.approx(1 - math.exp(-1.0))
    assert float(prefill_iteration_fraction(1000.0, 1.0, 32768.0)) == pytest.approx(0.030055, rel=1e-4)
    assert float(prefill_iteration_fraction(500.0, 2.0, 1000.0)) == pytest.approx(1 - math.exp(-1.0))
    assert float(prefill_iteration_fraction(0.0, 1.0, 1000.0)) == 0.0


def test_closed_run_fraction_hand_calculation() -> None:
    """3000 prompts of 1024 tokens, budget 8192 per iteration: a = 375 admitting iterations; 1024 decode
    iterations: 375 / 1399 = 0.26805. Budget 8 · 8192 (attention DP over 8 ranks): a = 47, 47/1071."""
    assert float(closed_run_prefill_iteration_fraction(3000.0, 1024.0, 8192.0, 1024.0)) == pytest.approx(
        375 / 1399
    )
    assert float(closed_run_prefill_iteration_fraction(3000.0, 1024.0, 65536.0, 1024.0)) == pytest.approx(
        47 / 1071
    )


def test_closed_run_admits_once() -> None:
    """A closed run of 1500 requests (1000 → 2000 tokens, DEP8): far fewer eager iterations than the steady
    state, so its step lies between the graphed one and the steady-state mix."""
    graphed, steady = _metrics(0.0, 1500.0, 2000.0), _metrics(1.0, 1500.0, 2000.0)
    closed = _metrics(1.0, 1500.0, 2000.0, closed=True)
    assert float(graphed.step_s) <= float(closed.step_s) <= float(steady.step_s)


def test_graphs_decode_only_roofline_hand_calculation() -> None:
    """Qwen3-235B, eager floor 94 · 15 · 32 µs = 45.12 ms.

    R = 20 ms, p = 0.5: 0.5 · 20 + 0.5 · 45.12 = 32.56 ms. R = 50 ms: the launches hide behind the GPU
    work, 50 ms whatever p. p = 0: R.
    """
    t = model_terms(model("qwen3-235b-a22b"))
    assert t.n_layers == 94 and t.kernels_per_layer == pytest.approx(15.0)
    got = graphs_decode_only_roofline_s(
        t, np.array([20e-3, 50e-3, 20e-3]), np.array([0.5, 0.5, 0.0]), EAGER_S
    )
    assert np.allclose(got, [0.5 * 20e-3 + 0.5 * 94 * 15 * EAGER_S, 50e-3, 20e-3], rtol=1e-12)


def _metrics(graphs_decode_only: float, batch: float, output_tokens: float, closed: bool = False):  # type: ignore[no-untyped-def]
    m, acc = model("qwen3-235b-a22b"), accelerator("h200")
    eff, _ = hardware_efficiency(acc.id)
    rt = replace(
        runtime_arrays(engine_profile("trtllm"), attention_dp=True), graphs_decode_only=graphs_decode_only
    )
    return serving_metrics(
        model_terms(m),
        device_arrays(acc, Dtype.FP8, eff, 8),
        precision_arrays(Dtype.FP8, Dtype.FP8, None),
        rt,
        8,
        batch,
        WorkloadArrays(1000.0, output_tokens, closed_run=1.0 if closed else 0.0),
    )


def test_trtllm_step_is_the_mix_of_graphed_and_eager_iterations() -> None:
    """Qwen3-235B on 8× H200 (DEP8, fp8), batch 1500, 1000 → 2000 tokens: p = 1 − e^(−0.75) = 0.5276.

    With ``R`` the graphed roofline and ``g`` its launch gaps, the step is ``(1 − p)·(R + g) +
    p·max(R + g, 45.12 ms)`` (the eager floor gets no gaps on top); communication and overhead unchanged.
    """
    graphed, mixed = _metrics(0.0, 1500.0, 2000.0), _metrics(1.0, 1500.0, 2000.0)
    r, gaps = float(graphed.step.roofline_s), float(graphed.step.launch_s)
    assert gaps == pytest.approx(94 * 15 * 1.3e-6)  # launch gaps: 94 · 15 · 1.3 µs = 1.83 ms
    p = 1 - math.exp(-0.75)
    eager = max(r + gaps, 94 * 15 * EAGER_S)  # the eager floor gets no gaps on top
    assert float(mixed.step.roofline_s) + gaps == pytest.approx((1 - p) * (r + gaps) + p * eager)
    assert float(mixed.step.comm_s) == pytest.approx(float(graphed.step.comm_s))
    assert float(mixed.step.overhead_s) == pytest.approx(float(graphed.step.overhead_s))
    assert float(mixed.step_s) >= float(graphed.step_s)


def test_engine_data_turns_it_on_for_trtllm_only() -> None:
    """TensorRT-LLM's profile graphs only prefill-free iterations; vLLM's (piecewise graphs) does not."""
    assert engine_profile("trtllm").graphs_decode_only is not None
    assert engine_profile("vllm").graphs_decode_only is None
    assert runtime_arrays(engine_profile("trtllm")).graphs_decode_only == 1.0


def test_long_outputs_are_nearly_all_graphed() -> None:
    """Batch 80 at 32,768 output tokens: p = 1 − e^(−80/32768) = 0.24 %: TPOT within 0.5 % of graphed."""
    acc = accelerator("b200")

    def tpot(engine_id: str) -> float:
        profile = engine_profile("trtllm")
        if engine_id == "graphed":
            profile = profile.model_copy(update={"graphs_decode_only": None})
        return estimate_serving(
            model("qwen3-30b-a3b"),
            acc,
            1024,
            32768,
            ServingOptions(weights=Dtype.FP4, kv=Dtype.FP8, batch=80),
            hardware_efficiency(acc.id),
            profile,
        ).tpot_s

    assert tpot("trtllm") == pytest.approx(tpot("graphed"), rel=5e-3)


@settings(max_examples=30, deadline=None)
@given(
    b1=st.integers(min_value=1, max_value=3000),
    b2=st.integers(min_value=1, max_value=3000),
    out=st.sampled_from([128.0, 1024.0, 8192.0]),
)
def test_step_time_is_monotone_in_batch(b1: int, b2: int, out: float) -> None:
    """More sequences never make a decode step shorter: R(B) and p(B) grow with B and max(R, F) ≥ R,
    so ``(1 − p)·R + p·max(R, F)`` grows too; and it lies between the graphed and the all-eager step."""
    lo, hi = sorted((float(b1), float(b2)))
    small, large = _metrics(1.0, lo, out), _metrics(1.0, hi, out)
    assert float(large.step_s) >= float(small.step_s) * (1 - 1e-12)
    graphed = _metrics(0.0, hi, out)
    eager_cap = max(float(graphed.step.roofline_s), 94 * 15 * EAGER_S)
    assert (
        float(graphed.step.roofline_s) * (1 - 1e-12)
        <= float(large.step.roofline_s)
        <= eager_cap * (1 + 1e-12)
    )
