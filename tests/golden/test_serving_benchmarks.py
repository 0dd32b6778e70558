"""Golden serving tests: flopbill vs published inference measurements.

Sources (each case in src/flopbill/catalog/data/golden_serving.yaml names its own ``source`` and
``source_id``): NVIDIA TensorRT-LLM performance overview v1.0 (H100/H200/B200/GB200, FP8/FP4, Llama 3.1 8B /
3.3 70B / 3.1 405B, Qwen3 MoE) and the older v0.6.1 performance page (Llama 2 7B/70B throughput at stated
batch sizes, batch-1 first-token latency, H100/L40S/A100); Oracle Cloud blog "Serving Llama 3.1 405B with
AMD MI300X GPUs" (vLLM, batch 1 and 256); llama.cpp PR #4766 (RTX 4090 batch-1 decode); NVIDIA Technical
Blog on Llama 3.1 405B with Model Optimizer on H200; AMD ROCm performance results (vLLM on 8x MI300X);
SGLang PR #2643 (DeepSeek-V3 on 8x H200, batch 1/8/32).

The split is by source and recorded in the file before fitting (``source_splits``).
Tolerances: in-sample median |error| ≤ 15 %, out-of-sample ≤ 30 % (27.1 % with the kernel launch gaps; was
35 % when it stood at 29–30 %); no dense case off by more
than 3× (a physics error, not a tuning one; the worst today is TensorRT-LLM v0.6.1's Llama 2 70B
TP4 batch 480 row, 2.6× optimistic). MoE rows are far off today (see the group table of
``flopbill validate serving``); they are bounded at 8× so a regression cannot hide.
"""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.validation.serving import (
    TIME_METRICS,
    error_quantile,
    evaluate_all,
    golden_serving_cases,
    group_stats,
    median_abs_error,
)


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    return evaluate_all()


def test_enough_diverse_cases() -> None:
    cases = golden_serving_cases()
    assert len(cases) >= 100
    assert len({c.accelerator for c in cases}) >= 5
    assert {"fp8", "bf16", "fp4"} <= {c.weights.value for c in cases}
    assert any(c.batch == 1 for c in cases) and any(c.batch == "max" for c in cases)
    assert any(c.metric == "ttft_s" for c in cases)
    assert {"trtllm", "vllm", "sglang"} <= {c.engine for c in cases}
    assert any(c.model == "deepseek-v3" for c in cases), "an MLA model"
    assert any(c.model.startswith(("qwen3-235b", "qwen3-30b")) for c in cases), "MoE models"
    fit = sum(c.split == "fit" for c in cases)
    assert fit <= len(cases) / 2


def test_split_is_by_source() -> None:
    """Every row of one source shares its split (a case cannot choose its own), and both splits exist."""
    by_source: dict[str, set[str]] = {}
    for c in golden_serving_cases():
        by_source.setdefault(c.source_id, set()).add(c.split)
    assert all(len(s) == 1 for s in by_source.values())
    assert {"fit", "holdout"} == set().union(*by_source.values())


def test_in_and_out_of_sample_errors(results) -> None:  # type: ignore[no-untyped-def]
    assert median_abs_error(results, "fit") <= 0.15
    assert median_abs_error(results, "holdout") <= 0.30


def test_no_dense_case_off_by_more_than_3x(results) -> None:  # type: ignore[no-untyped-def]
    for r in results:
        bound = 8.0 if r.case.is_moe else 3.0
        assert 1 / bound <= r.predicted / r.case.published <= bound, r.case.id


@pytest.mark.parametrize("moe", [False, True])
def test_reported_band_is_the_out_of_sample_p80(results, moe: bool) -> None:  # type: ignore[no-untyped-def]
    """The ±band flopbill prints is the 80th percentile of |error| over the holdout sources, recomputed here.

    Dense and MoE models apart. Recomputed with numpy's linear-interpolation quantile (independent of
    flopbill's own helper); the data value may round it up by at most 0.01.
    """
    from flopbill.catalog.efficiency import accuracy_band

    held = [r for r in results if r.case.split == "holdout" and r.case.is_moe == moe]
    p80 = float(np.quantile([abs(r.error) for r in held], 0.8))
    assert p80 == pytest.approx(error_quantile(held, 0.8), abs=1e-12)
    assert 0.0 <= accuracy_band(moe).value - p80 <= 0.01


def test_published_inside_reported_range_for_most_holdout_cases(results) -> None:  # type: ignore[no-untyped-def]
    """The published figure lies in the range flopbill reports for ≥ 75 % of holdout cases.

    ServingEstimate.ranges: a rate x is reported as [x/(1+e), x/(1−e)], a time x as [x·(1−e), x·(1+e)].
    """
    from flopbill.catalog.efficiency import accuracy_band

    def inside(r) -> bool:  # type: ignore[no-untyped-def]
        e = accuracy_band(r.case.is_moe).value
        x, published = r.predicted, r.case.published
        if r.case.metric in TIME_METRICS:  # no lower bound when e ≥ 1 (ServingEstimate.ranges)
            return bool(x * max(1 - e, 0.0) <= published <= x * (1 + e))
        return bool(x / (1 + e) <= published <= (x / (1 - e) if e < 1 else float("inf")))

    hits = [inside(r) for r in results if r.case.split == "holdout"]
    assert sum(hits) / len(hits) >= 0.75


def test_group_table_counts_every_case(results) -> None:  # type: ignore[no-untyped-def]
    groups = group_stats(results)
    assert sum(g.n for g in groups) == len(results)
    assert all(g.p90_abs_error >= g.median_abs_error - 1e-12 for g in groups)
