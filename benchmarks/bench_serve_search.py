"""Measure the serving search: configurations evaluated per second (prints a table and one JSON line).

Grid: every priced accelerator in the catalog × 5 weight formats × TP 1/2/4/8 × batch 1..4096 for
Llama 3.1 70B, 1000 → 300 tokens, 20 requests/s, SLO TTFT 2 s / TPOT 50 ms; then a length distribution
(triangular 500..2000..8000 → 100..300..1000, 256 quantile points, P90 TTFT) over the same grid with batches
1, 2, 4 … 4096 (the full batch range × 256 points is over the search's candidate budget,
``flopbill.checks.MAX_SEARCH_CANDIDATES``); its rate counts setups × length points; then the disaggregated
search over the same accelerators and formats (prefill pool: TP 1/2/4/8; decode pool: TP × batch 1..4096),
counting pool configurations evaluated and the deployments (prefill × decode pairs sharing a format) they
cover, both per second, the co-located comparison not included; then the means search with a pipeline
list (``--pp 1,2,4``: TP 1/2/4/8 × PP 1/2/4 × batch 1..1024, the three depths within the candidate
budget), counting every (TP, PP) configuration. Not a test; run with
``OMP_NUM_THREADS=2 python benchmarks/bench_serve_search.py`` (add ``taskset -c 0,1`` to pin 2 cores).
"""

from __future__ import annotations

import json
import time

from flopbill.catalog import accelerators, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.catalog.prices import gpu_price
from flopbill.errors import FlopbillError
from flopbill.estimate.serving.disaggregated_search import cheapest_disaggregated, search_disaggregated
from flopbill.estimate.serving.search import (
    Candidate,
    SearchGrid,
    Slo,
    search_serving,
    search_serving_lengths,
)
from flopbill.estimate.serving.workload import sample_from_ranges


def main(repeats: int = 5) -> None:
    """Run the search ``repeats`` times and report the best configs/s."""
    cands = []
    for a in accelerators():
        try:
            cands.append(Candidate(a, hardware_efficiency(a.id)[0], gpu_price(a.id).price_usd_per_gpu_hour))
        except FlopbillError:
            continue
    grid = SearchGrid(batches=tuple(range(1, 4097)))
    grid_dist = SearchGrid(batches=tuple(2**i for i in range(13)))
    grid_pp = SearchGrid(batches=tuple(range(1, 1025)), pps=(1, 2, 4))
    m, eng = model("llama-3.1-70b"), engine_profile("vllm")
    lengths = sample_from_ranges((500, 2000, 8000), (100, 300, 1000))
    best = best_dist = best_dis = best_pp = float("inf")
    n = n_dist = n_dis = n_pairs = n_pp = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = search_serving(m, cands, eng, 1000, 300, 20.0, Slo(2.0, 0.05), grid)
        best = min(best, time.perf_counter() - t0)
        n = res.n_evaluated
        t0 = time.perf_counter()
        dist = search_serving_lengths(m, cands, eng, lengths, 20.0, Slo(2.0, 0.05), grid_dist)
        n_dist = dist.n_evaluated * lengths.n_points
        best_dist = min(best_dist, time.perf_counter() - t0)
        t0 = time.perf_counter()
        dis = search_disaggregated(m, cands, eng, 1000, 300, 20.0, Slo(2.0, 0.05), grid)
        cheapest_disaggregated(dis, 10)
        best_dis = min(best_dis, time.perf_counter() - t0)
        n_dis, n_pairs = dis.n_evaluated, dis.n_pairs
        t0 = time.perf_counter()
        n_pp = search_serving(m, cands, eng, 1000, 300, 20.0, Slo(2.0, 0.05), grid_pp).n_evaluated
        best_pp = min(best_pp, time.perf_counter() - t0)
    rate, rate_dist = n / best, n_dist / best_dist
    rate_dis, rate_pairs = n_dis / best_dis, n_pairs / best_dis
    rate_pp = n_pp / best_pp
    print(f"accelerators priced: {len(cands)}; configurations: {n:,}")
    print(f"means, best of {repeats}: {best:.3f} s → {rate:,.0f} configurations/s")
    print(
        f"{lengths.n_points}-point distribution, {n_dist // lengths.n_points:,} setups: {best_dist:.3f} s → "
        f"{rate_dist:,.0f} setup × length points/s"
    )
    print(
        f"disaggregated, {n_dis:,} pool configurations covering {n_pairs:,} deployments: {best_dis:.3f} s → "
        f"{rate_dis:,.0f} pool configurations/s, {rate_pairs:,.0f} deployments/s"
    )
    print(f"pipeline list 1,2,4: {n_pp:,} configurations: {best_pp:.3f} s → {rate_pp:,.0f} configurations/s")
    print(
        json.dumps(
            {
                "configs": n,
                "seconds": best,
                "configs_per_s": rate,
                "distribution_points": lengths.n_points,
                "distribution_setups": n_dist // lengths.n_points,
                "distribution_seconds": best_dist,
                "distribution_setup_points_per_s": rate_dist,
                "disaggregated_pool_configs": n_dis,
                "disaggregated_deployments": n_pairs,
                "disaggregated_seconds": best_dis,
                "disaggregated_pool_configs_per_s": rate_dis,
                "disaggregated_deployments_per_s": rate_pairs,
                "pipeline_configs": n_pp,
                "pipeline_seconds": best_pp,
                "pipeline_configs_per_s": rate_pp,
            }
        )
    )


if __name__ == "__main__":
    main()
