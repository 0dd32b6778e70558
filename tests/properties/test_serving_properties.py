"""Invariants of the serving estimator (hypothesis over catalog models, accelerators and workloads)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flopbill.catalog import accelerator, accelerators, model, models
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import DoesNotFitError, InputError
from flopbill.estimate.serving.deployment import ServingEstimate, ServingOptions, estimate_serving, mtp_draft
from flopbill.estimate.serving.metrics import serving_metrics
from flopbill.estimate.serving.step import model_terms

GPUS = [a.id for a in accelerators() if a.memory_bytes and a.memory_bandwidth_bytes_per_s]
MODELS = [m.id for m in models()]


def _est(mid: str, gpu: str, i: float, o: float, **kw: object) -> ServingEstimate | None:
    """Return the estimate at the smallest TP that fits, or None (unknown figures / does not fit)."""
    acc = accelerator(gpu)
    for tp in (1, 2, 4, 8):
        try:
            return estimate_serving(
                model(mid),
                acc,
                i,
                o,
                ServingOptions(tp=tp, **kw),  # type: ignore[arg-type]
                hardware_efficiency(acc.id),
                engine_profile("vllm"),
                2.0,
            )
        except (DoesNotFitError, InputError):
            continue
    return None


@pytest.mark.parametrize("mid", MODELS)
def test_batch1_decode_is_memory_bound_everywhere(mid: str) -> None:
    """Every catalog model, every accelerator with known figures, batch 1: decode is bandwidth-bound."""
    for gpu in GPUS:
        e = _est(mid, gpu, 512, 128, batch=1)
        if e is not None:
            assert e.bound == "memory", (mid, gpu, e.tp)


@settings(max_examples=25)
@given(st.sampled_from(MODELS), st.sampled_from(GPUS), st.integers(16, 8000), st.integers(16, 4000))
def test_throughput_per_gpu_never_falls_with_batch(mid: str, gpu: str, i: int, o: int) -> None:
    e = _est(mid, gpu, i, o, batch=1)
    assume(e is not None and e.max_batch >= 2)
    assert e is not None
    acc = accelerator(gpu)
    from flopbill.estimate.serving.deployment import device_arrays, precision_arrays, runtime_arrays
    from flopbill.estimate.serving.metrics import WorkloadArrays

    dev = device_arrays(acc, Dtype.BF16, hardware_efficiency(gpu)[0], e.tp)
    batches = np.arange(1, e.max_batch + 1, dtype=np.float64)
    mt = serving_metrics(
        model_terms(model(mid)),
        dev,
        precision_arrays(Dtype.BF16, None, None),
        runtime_arrays(engine_profile("vllm")),
        e.tp,
        batches,
        WorkloadArrays(i, o),
    )
    for series in (mt.output_tokens_per_s_per_gpu, mt.decode_tokens_per_s_per_gpu):
        assert np.all(np.diff(series) >= -1e-9 * series[1:])


@settings(max_examples=25)
@given(st.sampled_from(MODELS), st.sampled_from([g for g in GPUS if accelerator(g).peak_flops_per_s.fp8]))
def test_fp8_weights_never_slower_than_bf16_at_batch1(mid: str, gpu: str) -> None:
    bf16 = _est(mid, gpu, 512, 128, batch=1, weights=Dtype.BF16)
    fp8 = _est(mid, gpu, 512, 128, batch=1, weights=Dtype.FP8)
    assume(bf16 is not None and fp8 is not None)
    assert fp8 is not None and bf16 is not None
    if fp8.tp == bf16.tp:
        assert fp8.tpot_s <= bf16.tpot_s


FULL_ATTENTION = [m.id for m in models() if m.sliding_window_layers < m.n_layers]


@settings(max_examples=25)
@given(
    st.sampled_from(FULL_ATTENTION),
    st.sampled_from(["h100-sxm", "h200", "mi300x", "l40s"]),
    st.integers(1, 4),
)
def test_ttft_grows_superlinearly_with_prompt(mid: str, gpu: str, chunks: int) -> None:
    """Causal attention FLOPs grow as P²: TTFT per prompt token rises with the prompt (whole 8k chunks)."""
    p = 8192 * chunks
    short = _est(mid, gpu, p, 16, batch=1)
    long = _est(mid, gpu, 2 * p, 16, batch=1)
    assume(short is not None and long is not None and short.tp == long.tp)
    assert short is not None and long is not None
    assert long.ttft_s / (2 * p) > short.ttft_s / p


@settings(max_examples=25)
@given(
    st.sampled_from(MODELS),
    st.sampled_from(GPUS),
    st.integers(1, 8),
    st.floats(0.0, 0.95),
    st.floats(0.01, 0.05),
)
def test_more_acceptance_never_costs_more(mid: str, gpu: str, k: int, alpha: float, delta: float) -> None:
    draft = mtp_draft(model(mid))  # an explicit one-layer draft: these models have no MTP head
    lo = _est(mid, gpu, 512, 256, batch=1, spec_k=k, spec_acceptance=alpha, draft=draft)
    hi = _est(mid, gpu, 512, 256, batch=1, spec_k=k, spec_acceptance=alpha + delta, draft=draft)
    assume(lo is not None and hi is not None and lo.tp == hi.tp)
    assert lo is not None and hi is not None
    assert hi.cost_usd_per_request is not None and lo.cost_usd_per_request is not None
    assert hi.cost_usd_per_request <= lo.cost_usd_per_request * (1 + 1e-12)


@settings(max_examples=25)
@given(st.sampled_from(MODELS), st.sampled_from(GPUS), st.floats(0.05, 0.9), st.floats(0.01, 0.1))
def test_cost_per_token_falls_with_utilization(mid: str, gpu: str, u: float, du: float) -> None:
    lo = _est(mid, gpu, 1000, 200, batch=1, utilization=u)
    hi = _est(mid, gpu, 1000, 200, batch=1, utilization=u + du)
    assume(lo is not None and hi is not None)
    assert lo is not None and hi is not None
    assert hi.cost_usd_per_mtok_output is not None and lo.cost_usd_per_mtok_output is not None
    assert hi.cost_usd_per_mtok_output < lo.cost_usd_per_mtok_output


def test_vectorized_search_matches_scalar_estimates() -> None:
    """One vectorized search call and per-configuration scalar calls give the same throughput.

    The search evaluates accelerator × weights × TP × batch as one broadcast; every configuration that fits
    must agree with :func:`estimate_serving` for the same inputs (rel. 1e-9). Its TPOT is the TPOT under
    load (prefill chunks of arriving requests share the steps), so it is never below the scalar TPOT.
    """
    from flopbill.catalog import accelerator, model
    from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
    from flopbill.dtypes import parse_dtype
    from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving
    from flopbill.estimate.serving.search import Candidate, SearchGrid, Slo, search_serving

    m, engine = model("llama-3.1-70b"), engine_profile("vllm")
    cands = [Candidate(accelerator(g), hardware_efficiency(g)[0], 2.0) for g in ("h100-sxm", "l40s")]
    grid = SearchGrid(tps=(2, 4, 8), weights=(Dtype.BF16, Dtype.FP8), batches=(1, 8, 64))
    res = search_serving(m, cands, engine, 1500, 300, 1.0, Slo(), grid)
    checked = 0
    for i in range(res.n_evaluated):
        if not res.feasible[i]:
            continue
        acc = accelerator(str(res.accelerator[i]))
        opt = ServingOptions(
            tp=int(res.tp[i]), weights=parse_dtype(str(res.weights[i])), batch=int(res.batch[i])
        )
        est = estimate_serving(m, acc, 1500, 300, opt, hardware_efficiency(acc.id), engine, 2.0)
        assert res.tpot_s[i] >= est.tpot_s * (1 - 1e-12)
        assert res.output_tokens_per_s_per_gpu[i] == pytest.approx(est.output_tokens_per_s_per_gpu, rel=1e-9)
        checked += 1
    assert checked >= 10


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["llama-3.1-8b", "qwen3-30b-a3b", "mistral-7b", "gemma-2-9b"]),
    st.sampled_from(["h100-sxm", "h200", "a100-80gb", "l40s"]),
    st.floats(1.5, 8.0),
    st.sampled_from([8, 16, 32]),
)
def test_capacity_scales_with_reasoning_multiplier(mid: str, gpu: str, r: float, batch: int) -> None:
    """At a fixed deployment and batch, r× the output tokens needs r× the decode steps.

    Replica-seconds per request ``S = prefill + O·r·T(r)/B``: with ``T(r)`` the step at the longer context,
    the decode part grows exactly ``r·T(r)/T(1)``, and a high request rate makes the fleet follow ``S``
    (whole replicas add at most one). Prompts of 64 tokens keep prefill small but present.
    """
    from flopbill.catalog.efficiency import engine_profile
    from flopbill.estimate.serving.search import (
        Candidate,
        SearchGrid,
        Slo,
        WorkloadOptions,
        search_serving,
    )

    acc = accelerator(gpu)
    cands = [Candidate(acc, hardware_efficiency(gpu)[0], 2.0)]
    grid = SearchGrid(tps=(1,), weights=(Dtype.BF16,), batches=(batch,))
    eng = engine_profile("vllm")

    def run(mult: float):  # type: ignore[no-untyped-def]
        return search_serving(
            model(mid),
            cands,
            eng,
            64,
            512,
            500.0,
            Slo(),
            grid,
            workload=WorkloadOptions(reasoning_multiplier=mult),
        )

    one, many = run(1.0), run(r)
    assume(bool(one.feasible[0]) and bool(many.feasible[0]))
    steps = r * float(many.tpot_s[0]) / float(one.tpot_s[0])
    ratio = float(many.gpus[0]) / float(one.gpus[0])
    assert ratio <= steps * (1 + 1e-9) + 1.0 / float(one.gpus[0])  # prefill does not grow with r
    assert ratio >= 0.8 * steps  # decode dominates: ≥ 80 % of the growth shows in the fleet
