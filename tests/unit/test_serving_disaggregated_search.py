"""Disaggregated search: hand calculations, brute force over the cross product, the single-pair planner."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import ServingOptions
from flopbill.estimate.serving.disaggregated import disaggregated_fleet
from flopbill.estimate.serving.disaggregated_search import (
    DisaggregatedSearch,
    cheapest_disaggregated,
    compare_with_colocated,
    search_disaggregated,
    why_no_disaggregated,
)
from flopbill.estimate.serving.search import Candidate, SearchGrid, Slo, WorkloadOptions

PRICE = 3.0  # USD per GPU-hour, given (not the snapshot) so costs are hand-checkable
M70 = model("llama-3.1-70b")
VLLM = engine_profile("vllm")


def _cands(*gpus: str, price: float = PRICE) -> list[Candidate]:
    return [Candidate(accelerator(g), hardware_efficiency(g)[0], price) for g in gpus]


def _search(
    gpus: tuple[str, ...] = ("h100-sxm",),
    rps: float = 20.0,
    slo: Slo | None = None,
    grid: SearchGrid | None = None,
    workload: WorkloadOptions | None = None,
) -> DisaggregatedSearch:
    return search_disaggregated(
        M70,
        _cands(*gpus),
        VLLM,
        2000,
        250,
        rps,
        slo or Slo(2.0, 0.05),
        grid or SearchGrid(weights=(Dtype.FP8,), batches=(16, 64, 128)),
        workload=workload,
    )


def test_kv_transfer_hand_calculation() -> None:
    """Llama 3.1 70B bf16 KV: 80 layers · 8 KV heads · 128 · 2 (K, V) · 2 B = 327,680 B/token; 2000 tokens
    = 655.36 MB, sent by tp H100 NICs of 400 Gb/s (50 GB/s one way; DGX H100 User Guide: one ConnectX-7
    per GPU): 13.1 / 6.55 / 3.28 / 1.64 ms at TP1/2/4/8; fp8 KV halves it."""
    r = _search(grid=SearchGrid(weights=(Dtype.FP8,), kvs=(Dtype.BF16, Dtype.FP8), batches=(64,)))
    for i in range(r.prefill.n_evaluated):
        bpv = 2.0 if r.prefill.kv[i] == "bf16" else 1.0
        expected = 80 * 8 * 128 * 2 * bpv * 2000 / (int(r.prefill.tp[i]) * 50e9)
        assert r.kv_transfer_s[i] == pytest.approx(expected)


def test_pool_sizes_and_cost_hand_calculation() -> None:
    """Decode replicas = ceil(λ·O·TPOT/B) (no speculation, one sample); prefill replicas are at least
    ceil(λ·p) and one fewer would break the TTFT objective or the throughput; cost = GPUs · $3 / 3600 / λ
    (e.g. 8 GPUs at 20 req/s: 8·3/3600/20 = $0.000333 per request)."""
    r = _search()
    best = cheapest_disaggregated(r, 1)[0]
    i, j = best.prefill_index, best.decode_index
    d = r.decode
    assert d.replicas[j] == math.ceil(20 * 250 * d.tpot_s[j] / d.batch[j] - 1e-9)
    p = r.prefill
    p_s = float(p.utilization[i]) * float(p.replicas[i]) / 20.0  # ρ = λ·p / replicas
    assert p.replicas[i] >= math.ceil(20 * p_s)
    assert best.gpus == p.replicas[i] * p.tp[i] + d.replicas[j] * d.tp[j]
    assert best.cost_usd_per_request == pytest.approx(best.gpus * PRICE / 3600 / 20)
    assert best.ttft_s == pytest.approx(float(p.ttft_s[i]))
    assert best.ttft_s <= 2.0 and best.tpot_s <= 0.05
    assert best.e2e_latency_s == pytest.approx(best.ttft_s + 249 * best.tpot_s)


def _brute_force_costs(r: DisaggregatedSearch) -> list[float]:
    """Every pair of the cross product sharing (weights, KV), decode reduced to its cheapest batch per
    (accelerator, formats, TP) — built with plain loops, independent of the search's combination step."""
    p, d = r.prefill, r.decode
    dec: dict[tuple[str, str, str, int], float] = {}
    for j in range(d.n_evaluated):
        if d.feasible[j]:
            key = (str(d.accelerator[j]), str(d.weights[j]), str(d.kv[j]), int(d.tp[j]))
            dec[key] = min(dec.get(key, math.inf), float(d.cost_usd_per_request[j]))
    costs = []
    for i, (key, cost) in itertools.product(range(p.n_evaluated), dec.items()):
        if p.feasible[i] and (str(p.weights[i]), str(p.kv[i])) == key[1:3]:
            costs.append(float(p.cost_usd_per_request[i]) + cost)
    return sorted(costs)


def test_cheapest_pairs_equal_brute_force_over_the_cross_product() -> None:
    """A small grid (2 accelerators × 2 weight × 2 KV formats × TP 1/2/4/8 × 3 batches): the n cheapest
    deployments and the pair counts equal those of the full cross product enumerated by hand."""
    grid = SearchGrid(weights=(Dtype.FP8, Dtype.BF16), kvs=(Dtype.BF16, Dtype.FP8), batches=(16, 64, 256))
    r = _search(("h100-sxm", "h200"), grid=grid)
    brute = _brute_force_costs(r)
    picks = cheapest_disaggregated(r, 7)
    assert [x.cost_usd_per_request for x in picks] == pytest.approx(brute[:7])
    for x in picks:
        assert r.prefill.weights[x.prefill_index] == r.decode.weights[x.decode_index]
        assert r.prefill.kv[x.prefill_index] == r.decode.kv[x.decode_index]
    n_p, n_d = r.prefill.n_evaluated, r.decode.n_evaluated
    assert (n_p, n_d) == (2 * 2 * 2 * 4, 2 * 2 * 2 * 4 * 3)
    assert r.n_pairs == 4 * (n_p // 4) * (n_d // 4)  # 4 formats, each pairs its own prefill × decode share
    same = [
        (i, j)
        for i in range(n_p)
        for j in range(n_d)
        if r.prefill.feasible[i]
        and r.decode.feasible[j]
        and (r.prefill.weights[i], r.prefill.kv[i]) == (r.decode.weights[j], r.decode.kv[j])
    ]
    assert r.n_feasible_pairs == len(same) > 0


@settings(max_examples=8, deadline=None)
@given(
    rps=st.floats(0.5, 200.0),
    ttft=st.sampled_from([0.8, 2.0, math.inf]),
    tpot=st.sampled_from([0.03, 0.05, math.inf]),
)
def test_optimum_costs_at_least_its_pools_planned_alone(rps: float, ttft: float, tpot: float) -> None:
    """The optimum's pools, planned alone by ``disaggregated_fleet`` at the same rate (no queueing),
    cost no more: the search adds prefill replicas only for the TTFT wait; the decode pool is identical."""
    r = _search(rps=rps, slo=Slo(ttft, tpot))
    picks = cheapest_disaggregated(r, 1)
    if not picks:
        assert why_no_disaggregated(r, M70, Slo(ttft, tpot))
        return
    i, j = picks[0].prefill_index, picks[0].decode_index
    acc = accelerator("h100-sxm")
    fmt = Dtype(str(r.decode.weights[j]))
    kv = Dtype(str(r.decode.kv[j]))
    alone = disaggregated_fleet(
        M70,
        acc,
        hardware_efficiency(acc.id)[0],
        VLLM,
        2000,
        250,
        rps,
        ServingOptions(tp=int(r.prefill.tp[i]), weights=fmt, kv=kv),
        ServingOptions(tp=int(r.decode.tp[j]), weights=fmt, kv=kv, batch=int(r.decode.batch[j])),
        PRICE,
    )
    assert picks[0].cost_usd_per_request >= alone.cost_usd_per_request * (1 - 1e-12)
    assert r.decode.replicas[j] == alone.decode_replicas
    assert r.prefill.replicas[i] >= alone.prefill_replicas
    assert r.decode.tpot_s[j] == pytest.approx(alone.tpot_s)
    assert picks[0].ttft_s >= alone.ttft_s * (1 - 1e-12)


def test_filters_are_honoured() -> None:
    """Only the accelerators, weight and KV formats and TP degrees given appear, in both pools."""
    grid = SearchGrid(tps=(2, 4), weights=(Dtype.FP8, Dtype.INT8), kvs=(Dtype.FP8,), batches=(32, 64))
    r = _search(("h100-sxm", "h200"), grid=grid)
    for pool in (r.prefill, r.decode):
        assert set(pool.accelerator) <= {"h100-sxm", "h200"}
        assert set(pool.weights) <= {"fp8", "int8"} and set(pool.kv) == {"fp8"}
        assert set(pool.tp.tolist()) <= {2, 4}
    assert set(r.decode.batch.tolist()) <= {32, 64}
    only_tp1 = search_disaggregated(M70, _cands("h100-sxm"), VLLM, 2000, 250, 20.0, Slo(), grid, (1,))
    assert set(only_tp1.prefill.tp.tolist()) == {1} and set(only_tp1.decode.tp.tolist()) == {2, 4}


def test_reasoning_multiplier_needs_about_four_times_the_decode_pool() -> None:
    """4× the output tokens at a fixed batch: ≈ 4× the decode replica-seconds (a little more, the context
    is longer); the prefill pool does not change."""
    grid = SearchGrid(tps=(4,), weights=(Dtype.FP8,), batches=(64,))
    one = _search(rps=50.0, slo=Slo(), grid=grid)
    four = _search(rps=50.0, slo=Slo(), grid=grid, workload=WorkloadOptions(reasoning_multiplier=4.0))
    ratio = (
        four.decode.utilization[0]
        * four.decode.replicas[0]
        / (one.decode.utilization[0] * one.decode.replicas[0])
    )
    assert 4.0 <= ratio < 4.6
    assert four.prefill.replicas[0] == one.prefill.replicas[0]


def test_why_none_names_the_pool() -> None:
    """Nothing fits (405B bf16 on one H100), an unreachable TTFT, an unreachable TPOT, an unknown network."""
    grid = SearchGrid(tps=(1,), weights=(Dtype.BF16,), batches=(1,))
    r = search_disaggregated(model("llama-3.1-405b"), _cands("h100-sxm"), VLLM, 2000, 250, 1.0, Slo(), grid)
    assert why_no_disaggregated(r, model("llama-3.1-405b"), Slo()).startswith("prefill pool: nothing fits")
    slow = Slo(0.001, 0.05)
    assert "prefill pool" in why_no_disaggregated(_search(slo=slow), M70, slow)
    fast = Slo(2.0, 1e-5)
    assert why_no_disaggregated(_search(slo=fast), M70, fast).startswith("decode pool: ")
    mi = _search(("mi325x",))
    assert "network bandwidth of mi325x is unknown" in why_no_disaggregated(mi, M70, Slo(2.0, 0.05))
    assert cheapest_disaggregated(mi) == []
    assert why_no_disaggregated(_search(), M70, Slo(2.0, 0.05)) == ""


def test_budget_and_bad_inputs_are_refused() -> None:
    """The candidate budget counts both pools; rates and utilizations outside their ranges are errors."""
    huge = SearchGrid(batches=tuple(range(1, 200_001)))
    with pytest.raises(InputError, match="pool configurations"):
        _search(grid=huge)
    with pytest.raises(InputError):
        _search(rps=0.0)
    with pytest.raises(InputError, match="accelerator"):
        search_disaggregated(M70, [], VLLM, 2000, 250, 1.0, Slo(), SearchGrid())
    with pytest.raises(InputError):
        search_disaggregated(M70, _cands("h100-sxm"), VLLM, 2000, 250, 1.0, Slo(), SearchGrid(), None, 0.0)


def test_compare_with_colocated() -> None:
    """$1 vs $1.25: disaggregated wins, co-located costs 25 % more; a tie goes to co-located."""
    winner, dearer = compare_with_colocated(1.0, 1.25)
    assert winner == "disaggregated" and dearer == pytest.approx(0.25)
    assert compare_with_colocated(2.0, 1.0) == ("colocated", 1.0)
    assert compare_with_colocated(1.0, 1.0) == ("colocated", 0.0)
    assert compare_with_colocated(None, 1.0) == ("colocated", None)
    assert compare_with_colocated(None, None) == (None, None)
    assert np.isfinite(compare_with_colocated(3.0, 4.0)[1] or np.nan)


def test_price_scales_the_answer_by_hand() -> None:
    """The same H100 offered at $2 and at $3 per GPU-hour: feasibility does not depend on price and every
    pool cost is linear in it, so the optimum puts both pools on the $2 offer and costs exactly 2/3 of the
    $3-only optimum, with the same GPU count."""
    grid = SearchGrid(weights=(Dtype.FP8,), batches=(16, 64, 128))
    args = (VLLM, 2000, 250, 20.0, Slo(2.0, 0.05), grid)
    dear = cheapest_disaggregated(search_disaggregated(M70, _cands("h100-sxm"), *args), 1)[0]
    both = _cands("h100-sxm", price=2.0) + _cands("h100-sxm")
    r = search_disaggregated(M70, both, *args)
    best = cheapest_disaggregated(r, 1)[0]
    assert best.cost_usd_per_request == pytest.approx(dear.cost_usd_per_request * 2.0 / 3.0)
    assert best.gpus == dear.gpus
    assert best.cost_usd_per_request == pytest.approx(best.gpus * 2.0 / 3600 / 20)
