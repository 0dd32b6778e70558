"""Pipeline parallelism for serving: stage split, micro-batches, bubble, transfers (hand calculations).

Schedule (vLLM virtual engines, TensorRT-LLM in-flight micro-batches): ``M = min(pp, B)`` micro-batches;
one decode iteration of every sequence is ``pp`` stage steps plus ``pp − 1`` transfers; a prompt of ``n``
chunks takes ``(n + pp − 1)/n`` of one stage's prefill (GPipe, Huang et al. 2019, §2.2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import (
    ServingOptions,
    device_arrays,
    estimate_serving,
    precision_arrays,
    runtime_arrays,
)
from flopbill.estimate.serving.metrics import WorkloadArrays, serving_metrics
from flopbill.estimate.serving.pipeline import (
    microbatches,
    pipeline_fill_factor,
    pipeline_metrics,
    pipeline_tpot_s,
    stage_model,
    stage_transfer_time_s,
)
from flopbill.estimate.serving.step import model_terms


def test_stage_split() -> None:
    """Llama 3.1 70B (80 layers) over 4 stages: 20 layers each. DeepSeek-V3 (61 layers, 3 dense first)
    over 4: ceil(61/4) = 16 layers in the last stage, whose layers 46..61 are all MoE. Gemma 2 9B
    (42 layers, 21 windowed) over 2: 21 layers, ceil(21·21/42) = 11 windowed."""
    assert stage_model(model("llama-3.1-70b"), 4).n_layers == 20
    ds = stage_model(model("deepseek-v3"), 4)
    assert (ds.n_layers, ds.n_dense_layers, ds.n_moe_layers) == (16, 0, 16)
    g = stage_model(model("gemma-2-9b"), 2)
    assert (g.n_layers, g.sliding_window_layers) == (21, 11)
    assert stage_model(model("llama-3.1-8b"), 1) == model("llama-3.1-8b")
    with pytest.raises(InputError):
        stage_model(model("llama-3.1-8b"), 33)


def test_microbatches_and_bubble() -> None:
    """A lone sequence is one micro-batch (3 of 4 stages idle); 64 sequences fill 4 stages."""
    assert np.asarray(microbatches(np.array([1.0, 3.0, 64.0]), 4)).tolist() == [1.0, 3.0, 4.0]


def test_tpot_and_fill_by_hand() -> None:
    """pp = 4, stage step 10 ms, transfer 0.1 ms: 4·10 + 3·0.1 = 40.3 ms; with τ = 2 tokens per step
    (speculative decoding) 20.15 ms. Fill factor: 1 chunk over 4 stages = 4; 8 chunks = 11/8."""
    assert float(pipeline_tpot_s(0.010, 0.0001, 4)) == pytest.approx(0.0403)
    assert float(pipeline_tpot_s(0.010, 0.0001, 4, 2.0)) == pytest.approx(0.02015)
    # a 2 ms draft step runs once per iteration, not once per stage: (40.3 + 2) / 2
    assert float(pipeline_tpot_s(0.010, 0.0001, 4, 2.0, 0.002)) == pytest.approx(0.02115)
    assert float(pipeline_fill_factor(1, 4)) == 4.0
    assert float(pipeline_fill_factor(8, 4)) == pytest.approx(11 / 8)


def test_transfer_by_hand() -> None:
    """32 tokens of d = 8192 at 1 byte over NVLink 4 (900 GB/s bidirectional, 450 GB/s one way) + 8 µs:
    262,144 B / 450e9 + 8e-6 = 8.5825 µs; over a 400 Gb/s NIC (50 GB/s one way): 13.243 µs."""
    assert float(stage_transfer_time_s(32, 8192, 1.0, 900e9, 8e-6)) == pytest.approx(262144 / 450e9 + 8e-6)
    assert float(stage_transfer_time_s(32, 8192, 1.0, 100e9, 8e-6)) == pytest.approx(262144 / 50e9 + 8e-6)


def _setup(acc_id: str, tp: int, pp: int):  # type: ignore[no-untyped-def]
    acc = accelerator(acc_id)
    eff = hardware_efficiency(acc.id)[0]
    dev = device_arrays(acc, Dtype.FP8, eff, tp)
    prec = precision_arrays(Dtype.FP8, None, None)
    rt = runtime_arrays(engine_profile("vllm"), False, True)
    return acc, dev, prec, rt


def test_pipeline_metrics_compose_the_stage() -> None:
    """Llama 3.1 70B fp8, TP2 × PP2 on H100 (4 GPUs, inside the 8-GPU NVLink domain), B = 64:
    M = 2 micro-batches of 32; TPOT = 2·s(32) + x with x = 32·8192·2 B / 450e9 + 8 µs (activations
    travel in bf16, 2 bytes, unless --activations says otherwise).
    Decode throughput per GPU = 64 / (TPOT · 4)."""
    _, dev, prec, rt = _setup("h100-sxm", 2, 2)
    t = model_terms(stage_model(model("llama-3.1-70b"), 2))
    wl = WorkloadArrays(1000.0, 200.0)
    stage = serving_metrics(t, dev, prec, rt, 2, 32.0, wl)
    mt = pipeline_metrics(stage, t, dev, rt, wl, prec.activation_bpv, 2, 2, 64.0)
    assert float(prec.activation_bpv) == 2.0
    x = 32 * 8192 * 2.0 / 450e9 + 8e-6
    assert float(stage.step_s) == float(stage.step.total_s)  # no speculative draft here
    assert float(mt.tpot_s) == pytest.approx(2 * float(stage.step_s) + x)
    assert float(mt.decode_tokens_per_s_per_gpu) == pytest.approx(64 / (float(mt.tpot_s) * 4))


def test_pipeline_beyond_the_domain_uses_the_network() -> None:
    """TP8 × PP2 on H100 spans 16 GPUs, more than one 8-GPU NVLink domain: the stage hand-off runs at
    the 400 Gb/s NIC (100 GB/s bidirectional); on MI355X (network unknown) it cannot be priced."""
    _, dev, _, _ = _setup("h100-sxm", 8, 2)
    assert float(dev.link_bidir_bytes_per_s(16)) == pytest.approx(100e9)
    m = model("llama-3.1-405b")
    acc = accelerator("mi355x")
    opt = ServingOptions(tp=8, pp=2, weights=Dtype.FP8, batch=8)
    with pytest.raises(InputError, match="scale-up domain"):
        estimate_serving(m, acc, 1000, 100, opt, hardware_efficiency(acc.id), engine_profile("vllm"))


def _est(pp: int, batch: int | None, input_tokens: float = 1000):  # type: ignore[no-untyped-def]
    acc = accelerator("h100-sxm")
    opt = ServingOptions(tp=2, pp=pp, weights=Dtype.FP8, batch=batch)
    m = model("llama-3.1-70b")
    return estimate_serving(
        m, acc, input_tokens, 200, opt, hardware_efficiency(acc.id), engine_profile("vllm")
    )


def test_pipeline_properties() -> None:
    """Invariants of the schedule, whatever the efficiencies:
    - a lone sequence gains no speed (its token passes every stage in turn): TPOT(pp) ≥ TPOT(1);
    - splitting the weights frees memory: max batch at PP2 ≥ 2 × at PP1;
    - a one-chunk prompt's TTFT is the whole model's prefill, no faster than at PP1;
    - a long prompt of many chunks overlaps across stages: PP4 more than halves the TTFT;
    - a replica is tp·pp GPUs."""
    one, two = _est(1, 1), _est(2, 1)
    assert two.tpot_s >= one.tpot_s and two.gpus == 4 and two.pp == 2
    assert _est(2, None).max_batch >= 2 * _est(1, None).max_batch
    assert two.ttft_s >= one.ttft_s
    long1, long4 = _est(1, 1, 60_000), _est(4, 1, 60_000)
    assert long4.ttft_s < long1.ttft_s / 2
    assert math.isfinite(long4.ttft_static_batch_s) and math.isfinite(long4.ttft_chunked_s)


def test_pp_option_checked() -> None:
    with pytest.raises(InputError, match="pp"):
        _est(0, 1)
