"""Invariants of transformer arithmetic over random architectures (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flopbill.catalog.schema import ModelSpec
from flopbill.dtypes import Dtype
from flopbill.estimate.core.architecture import (
    attention_flops_per_token,
    expected_experts_touched,
    forward_flops_per_token,
    kv_bytes_per_token,
    kv_cache_bytes,
    param_counts,
    training_flops_per_token,
    weight_bytes,
)

from strategies import model_specs

contexts = st.integers(1, 200_000)


@given(model_specs())
def test_parts_sum_to_total_and_active_within_total(m: ModelSpec) -> None:
    counts = param_counts(m)
    assert sum(counts.parts().values()) == pytest.approx(counts.total)
    assert all(v >= 0 for v in counts.parts().values())
    assert 0 < counts.active <= counts.total
    if not m.is_moe:
        assert counts.active == counts.total


@given(model_specs(), contexts, contexts)
def test_flops_and_kv_grow_monotonically_with_context(m: ModelSpec, a: int, b: int) -> None:
    short, long = sorted((a, b))
    assert forward_flops_per_token(m, short) <= forward_flops_per_token(m, long)
    assert forward_flops_per_token(m, short, causal_average=False) <= forward_flops_per_token(
        m, long, causal_average=False
    )
    assert kv_cache_bytes(m, short) <= kv_cache_bytes(m, long)


@given(model_specs(mla=False))
def test_gqa_kv_never_exceeds_mha(m: ModelSpec) -> None:
    mha = m.model_copy(update={"n_kv_heads": m.n_heads})
    assert kv_bytes_per_token(m) <= kv_bytes_per_token(mha)


@given(model_specs(), st.sampled_from([Dtype.FP8, Dtype.INT8, Dtype.INT4, Dtype.FP4]))
def test_quantized_weights_smaller_than_bf16(m: ModelSpec, dtype: Dtype) -> None:
    assert weight_bytes(m, dtype) < weight_bytes(m, Dtype.BF16) < weight_bytes(m, Dtype.FP32)


@given(model_specs(), st.lists(contexts, min_size=1, max_size=8))
def test_broadcasting_matches_scalar_calls(m: ModelSpec, ctx: list[int]) -> None:
    arr = np.array(ctx, dtype=float)
    np.testing.assert_allclose(forward_flops_per_token(m, arr), [forward_flops_per_token(m, c) for c in ctx])
    np.testing.assert_allclose(kv_cache_bytes(m, arr), [kv_cache_bytes(m, c) for c in ctx])
    np.testing.assert_allclose(
        attention_flops_per_token(m, arr, causal_average=False),
        [attention_flops_per_token(m, c, causal_average=False) for c in ctx],
    )


@given(model_specs(), contexts)
def test_training_is_three_forwards(m: ModelSpec, ctx: int) -> None:
    """Backward = 2 × forward (Kaplan et al. 2020), so training = 3 × forward per token."""
    assert training_flops_per_token(m, ctx) == pytest.approx(3 * forward_flops_per_token(m, ctx))


@given(model_specs(), contexts)
def test_causal_average_at_most_last_position(m: ModelSpec, ctx: int) -> None:
    """The mean attention cost over positions 1..L cannot exceed the cost at position L."""
    mean = attention_flops_per_token(m, ctx, causal_average=True)
    last = attention_flops_per_token(m, ctx, causal_average=False)
    assert mean <= last * (1 + 1e-12)


@given(
    st.integers(2, 512),
    st.integers(1, 16),
    st.lists(st.integers(1, 100_000), min_size=2, max_size=2),
)
def test_experts_touched_bounds_and_monotone(e: int, k: int, batches: list[int]) -> None:
    """k ≤ touched(B) ≤ min(E, k·B), non-decreasing in B; touched(1) = k exactly."""
    k = min(k, e)
    b1, b2 = sorted(batches)
    t1, t2 = expected_experts_touched(e, k, b1), expected_experts_touched(e, k, b2)
    assert k - 1e-9 <= t1 <= t2 + 1e-9
    assert t2 <= min(e, k * b2) + 1e-9
    assert math.isclose(expected_experts_touched(e, k, 1), k)
