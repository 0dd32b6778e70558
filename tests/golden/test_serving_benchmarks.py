"""Golden serving tests: flopbill vs published inference measurements.

Sources (each case in src/flopbill/catalog/data/golden_serving.yaml names its own): NVIDIA TensorRT-LLM
performance overview v1.0 (H100/H200/B200, FP8/FP4, Llama 3.1 8B / 3.3 70B / 3.1 405B, Qwen3 MoE);
Oracle Cloud blog "Serving Llama 3.1 405B with AMD MI300X GPUs" (vLLM, batch 1 and 256); llama.cpp
PR #4766 llama-bench on RTX 4090 (batch-1 decode, F16 and Q8_0); NVIDIA Technical Blog "Boosting Llama 3.1
405B Performance up to 1.44x with NVIDIA TensorRT Model Optimizer on NVIDIA H200 GPUs" (Table 1, 8x H200);
AMD ROCm performance results page (vLLM on 8x MI300X, Llama 3.1 70B/405B FP8, throughput and latency tables).
Tolerance: median absolute error ≤ 25 % over all cases and over the holdout half; no case off by more
than 2.5× (a physics error, not a tuning one).
"""

from __future__ import annotations

import pytest

from flopbill.validation.serving import evaluate_all, golden_serving_cases, median_abs_error


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    return evaluate_all()


def test_enough_diverse_cases() -> None:
    cases = golden_serving_cases()
    assert len(cases) >= 15
    assert len({c.accelerator for c in cases}) >= 3
    assert {"fp8", "bf16"} <= {c.weights.value for c in cases}
    assert any(c.batch == 1 for c in cases) and any(c.batch == "max" for c in cases)
    assert any(c.model.startswith(("qwen3-235b", "qwen3-30b", "mixtral", "deepseek")) for c in cases)
    fit = sum(c.split == "fit" for c in cases)
    assert fit <= len(cases) / 2


def test_median_error_within_25_percent(results) -> None:  # type: ignore[no-untyped-def]
    assert median_abs_error(results) <= 0.25
    assert median_abs_error(results, "holdout") <= 0.25


def test_no_case_off_by_more_than_2_5x(results) -> None:  # type: ignore[no-untyped-def]
    for r in results:
        assert 1 / 2.5 <= r.predicted / r.case.published <= 2.5, r.case.id


def test_reported_accuracy_band_covers_holdout_errors(results) -> None:  # type: ignore[no-untyped-def]
    """The ±band flopbill prints around serving figures must cover at least 80 % of the holdout cases.

    The band is data (serving_efficiency.yaml ``accuracy_band``); if the model or the cases change so that
    fewer than 80 % of held-out measurements fall inside it, this fails and the band must be widened.
    """
    from flopbill.catalog.efficiency import accuracy_band

    band = accuracy_band().value
    holdout = [r for r in results if r.case.split == "holdout"]
    inside = [abs(r.predicted / r.case.published - 1.0) <= band + 1e-9 for r in holdout]
    assert sum(inside) / len(inside) >= 0.8


def test_published_inside_reported_range_for_most_cases(results) -> None:  # type: ignore[no-untyped-def]
    """The published figure lies in the range flopbill reports for ≥ 80 % of cases.

    ServingEstimate.ranges: a rate (tokens/s) x is reported as [x/(1+e), x/(1−e)], a time x as
    [x·(1−e), x·(1+e)] (times scale with 1/throughput); e2e-latency cases are times.
    """
    from flopbill.catalog.efficiency import accuracy_band

    e = accuracy_band().value

    def inside(r) -> bool:  # type: ignore[no-untyped-def]
        x, published = r.predicted, r.case.published
        if r.case.metric == "e2e_latency_s":
            return bool(x * (1 - e) <= published <= x * (1 + e))
        return bool(x / (1 + e) <= published <= x / (1 - e))

    hits = [inside(r) for r in results]
    assert sum(hits) / len(hits) >= 0.8
