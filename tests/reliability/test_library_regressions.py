"""Library boundary: public estimators refuse negative, NaN, infinite or non-numeric sizes with a
flopbill error naming the argument (issue #9), never a numpy or ZeroDivision error, never NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flopbill.catalog import model
from flopbill.checks import array, integer, number
from flopbill.errors import FlopbillError, InputError
from flopbill.estimate.core.architecture import (
    attention_flops_per_token,
    expected_experts_touched,
    forward_flops_per_token,
    kv_cache_bytes,
)
from flopbill.estimate.pricing.api import api_price, api_request_cost_usd
from flopbill.estimate.pricing.economics import crossover_month
from flopbill.estimate.serving.search import Slo
from flopbill.safeio import DocumentError, load_json, load_yaml
from flopbill.units import parse_bytes, parse_count, parse_price_usd

M = model("llama-3.1-8b")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: kv_cache_bytes(M, np.array([-1.0])), "context_tokens"),
        (lambda: kv_cache_bytes(M, np.full(240, np.nan)), "context_tokens"),
        (lambda: forward_flops_per_token(M, [math.nan]), "context_tokens"),  # type: ignore[arg-type]
        (lambda: forward_flops_per_token(M, math.inf), "context_tokens"),
        (lambda: attention_flops_per_token(M, "4096"), "context_tokens"),  # type: ignore[arg-type]
        (lambda: expected_experts_touched(0, 2, 16), "n_experts"),
        (lambda: expected_experts_touched(8, 9, 16), "experts_per_token"),
        (lambda: expected_experts_touched(8, 2, -1), "batch_tokens"),
        (lambda: crossover_month(math.nan, [1.0, 2.0]), "one_time_usd"),
        (lambda: crossover_month(1.0, [math.inf, 1.0]), "monthly_inference_usd"),
        (lambda: api_request_cost_usd(api_price("gpt-4o"), -1.0, 10.0), "input_tokens"),
        (lambda: api_request_cost_usd(api_price("gpt-4o"), 10.0, math.nan), "output_tokens"),
        (lambda: Slo(ttft_s=math.nan), "slo_ttft"),
        (lambda: Slo(tpot_s=0.0), "slo_tpot"),
        (lambda: parse_count("1e999", "tokens"), "tokens"),
        (lambda: parse_count(True, "tokens"), "tokens"),
        (lambda: parse_bytes(math.inf, "memory"), "memory"),
        (lambda: parse_price_usd("-2", "price"), "price"),
        (lambda: number(True, "x"), "x"),
        (lambda: integer(2.5, "n"), "n"),
        (lambda: array(np.array(["a"]), "a"), "a"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_library_input_names_the_argument(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        call()
    assert info.value.field == field
    assert len(str(info.value)) < 400  # a long array is summarised, not printed


def test_valid_arrays_pass_through_unchanged() -> None:
    """kv_cache_bytes is linear in context for a model without sliding windows: 2 × tokens → 2 × bytes."""
    one, two = np.asarray(kv_cache_bytes(M, np.array([1000.0, 2000.0])))
    assert two == pytest.approx(2 * one)
    assert expected_experts_touched(8, 2, 1) == pytest.approx(2.0)  # one token touches k experts


@pytest.mark.parametrize(
    "text",
    ["a: 1\na: 2\n", "[" * 40 + "]" * 40, "a: &x [*x]\n", "x: !!python/object:os.system {}\n", "\x00"],
    ids=["duplicate", "deep", "recursive", "python-tag", "nul"],
)
def test_yaml_limits(text: str) -> None:
    with pytest.raises(DocumentError):
        load_yaml(text, "doc.yaml")


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', "[" * 40 + "]" * 40, '{"a": Infinity}', "[1,"])
def test_json_limits(text: str) -> None:
    with pytest.raises(FlopbillError):
        load_json(text, "config.json")


def test_merge_keys_and_plain_anchors_still_load() -> None:
    data, _ = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "doc.yaml")
    assert data == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}
