"""Unit tests of the request-level serving estimate, cost split, capacity search and errors."""

from __future__ import annotations

import itertools

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import DoesNotFitError, InputError
from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving
from flopbill.estimate.serving.search import (
    Candidate,
    SearchGrid,
    Slo,
    cheapest,
    pareto_front,
    search_serving,
)


def _est(
    mid: str = "llama-3.1-8b",
    gpu: str = "h100-sxm",
    i: float = 1000,
    o: float = 200,
    price: float = 2.0,
    **kw,
):  # type: ignore[no-untyped-def]
    acc = accelerator(gpu)
    return estimate_serving(
        model(mid),
        acc,
        i,
        o,
        ServingOptions(**kw),
        hardware_efficiency(acc.id),
        engine_profile("vllm"),
        price,
    )


def test_cost_split_adds_up() -> None:
    """Cost per request = input $/M · I/1e6 + output $/M · O/1e6 (GPU-time split of prefill vs decode)."""
    e = _est(batch=64)
    total = e.cost_usd_per_mtok_input * 1000 / 1e6 + e.cost_usd_per_mtok_output * 200 / 1e6
    assert e.cost_usd_per_request == pytest.approx(total)


def test_cost_scales_with_price_and_utilization() -> None:
    """Half the utilization doubles cost; double the price doubles cost."""
    a, b, c = _est(batch=32), _est(batch=32, utilization=0.5), _est(batch=32, price=4.0)
    assert b.cost_usd_per_request == pytest.approx(2 * a.cost_usd_per_request)
    assert c.cost_usd_per_request == pytest.approx(2 * a.cost_usd_per_request)


def test_batch_too_large_does_not_fit() -> None:
    """The library names its own fields (in backticks, for each interface to spell), never CLI flags."""
    with pytest.raises(DoesNotFitError, match="`batch` 100000 does not fit") as info:
        _est(batch=100_000)
    assert "--" not in str(info.value)


def test_model_too_large_does_not_fit() -> None:
    with pytest.raises(DoesNotFitError, match="does not fit"):
        _est("llama-3.1-405b", batch=1)


def test_tp_must_divide_heads() -> None:
    with pytest.raises(InputError, match="tp"):
        _est(tp=3)


def test_unknown_peak_is_an_error_not_a_guess() -> None:
    """A10G has no bf16 peak in the catalog: the estimate refuses rather than guessing."""
    if accelerator("a10g").peak_flops_per_s.bf16 is not None:
        pytest.skip("a10g bf16 peak now known")
    with pytest.raises(InputError, match="unknown for a10g"):
        _est(gpu="a10g", batch=1)


def test_fp8_kv_doubles_max_batch() -> None:
    a, b = _est(weights=Dtype.FP8), _est(weights=Dtype.FP8, kv=Dtype.FP8)
    assert b.max_batch >= min(2 * a.max_batch - 1, 256)


def test_speculation_and_prefix_caching_help() -> None:
    base = _est(batch=1)
    spec = _est(batch=1, spec_k=4, spec_acceptance=0.8, draft=model("llama-3.2-1b"))
    assert spec.tpot_s < base.tpot_s
    cached = _est(batch=1, prefix_hit_rate=0.9)
    assert cached.ttft_s < base.ttft_s


def test_search_finds_cheapest_meeting_slo() -> None:
    """Every returned configuration meets the SLO; the Pareto front is sorted by cost with falling TPOT."""
    cands = [
        Candidate(accelerator(g), hardware_efficiency(g)[0], p) for g, p in (("h100-sxm", 3.0), ("l4", 0.8))
    ]
    res = search_serving(
        model("llama-3.1-8b"), cands, engine_profile("vllm"), 1000, 200, 5.0, Slo(2.0, 0.05), SearchGrid()
    )
    assert res.n_evaluated == 2 * 5 * 4 * 12
    best = cheapest(res, 5)
    assert len(best) > 0
    assert all(res.tpot_s[i] <= 0.05 and res.ttft_s[i] <= 2.0 for i in best)
    front = pareto_front(res.cost_usd_per_request, res.tpot_s, res.feasible)
    costs, tpots = res.cost_usd_per_request[front], res.tpot_s[front]
    assert list(costs) == sorted(costs) and all(x > y for x, y in itertools.pairwise(tpots))


def test_speculation_without_mtp_head_needs_a_draft() -> None:
    """Llama 3.1 8B has no MTP head (config.json has no num_nextn_predict_layers): no default draft."""
    with pytest.raises(InputError, match="no MTP head"):
        _est(batch=1, spec_k=2, spec_acceptance=0.7)
    assert _est("deepseek-v3", "h200", batch=1, tp=8, weights=Dtype.FP8, spec_k=1, spec_acceptance=0.8)
