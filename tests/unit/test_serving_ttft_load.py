"""TTFT under load: static batches (all prefills first) and chunked prefill in continuous batching."""

from __future__ import annotations

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving
from flopbill.estimate.serving.metrics import chunked_prefill_ttft_s, static_batch_ttft_s


def test_static_batch_hand_calculation() -> None:
    """4 prompts of 1000 tokens, 10 ms of prefill each, 8192-token chunks, 1 ms per chunk: 4·10 + 1 = 41 ms.

    20 prompts: 20,000 tokens = 3 chunks: 20·10 + 3·1 = 203 ms.
    """
    assert float(static_batch_ttft_s(0.01, 4, 1000, 8192, 1e-3)) == pytest.approx(0.041)
    assert float(static_batch_ttft_s(0.01, 20, 1000, 8192, 1e-3)) == pytest.approx(0.203)


def test_chunked_prefill_hand_calculation() -> None:
    """Budget 8192, 192 running: 8000 prompt tokens fit in one step → one 20 ms step + 10 ms of prefill.

    With 8000 running only 192 prompt tokens fit per step: ceil(1000/192) = 6 steps → 6·20 + 10 = 130 ms.
    """
    assert float(chunked_prefill_ttft_s(0.02, 0.01, 192, 1000, 8192)) == pytest.approx(0.03)
    assert float(chunked_prefill_ttft_s(0.02, 0.01, 8000, 1000, 8192)) == pytest.approx(0.13)


def _est(batch: int):  # type: ignore[no-untyped-def]
    acc = accelerator("h100-sxm")
    return estimate_serving(
        model("llama-3.1-8b"),
        acc,
        1000,
        250,
        ServingOptions(weights=Dtype.FP8, batch=batch),
        hardware_efficiency(acc.id),
        engine_profile("vllm"),
    )


def test_serve_batch_changes_ttft_under_load() -> None:
    """A lone request's TTFT does not depend on B; the static-batch one grows about linearly with B."""
    one, many = _est(1), _est(256)
    assert one.ttft_s == pytest.approx(many.ttft_s)
    assert many.ttft_static_batch_s > 100 * one.ttft_static_batch_s
    assert many.ttft_chunked_s >= many.tpot_s
