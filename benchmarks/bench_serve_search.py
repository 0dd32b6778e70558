"""Measure the serving search: configurations evaluated per second (prints a table and one JSON line).

Grid: every priced accelerator in the catalog × 5 weight formats × TP 1/2/4/8 × batch 1..4096 for
Llama 3.1 70B, 1000 → 300 tokens, 20 requests/s, SLO TTFT 2 s / TPOT 50 ms; then a length distribution
(triangular 500..2000..8000 → 100..300..1000, 256 quantile points, P90 TTFT) over the same grid with batches
1, 2, 4 … 4096 (the full batch range × 256 points is over the search's candidate budget,
``flopbill.checks.MAX_SEARCH_CANDIDATES``); its rate counts setups × length points. Not a test; run with
``OMP_NUM_THREADS=2 python benchmarks/bench_serve_search.py`` (add ``taskset -c 0,1`` to pin 2 cores).
"""

from __future__ import annotations

import json
import time

from flopbill.catalog import accelerators, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.catalog.prices import gpu_price
from flopbill.errors import FlopbillError
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
    m, eng = model("llama-3.1-70b"), engine_profile("vllm")
    lengths = sample_from_ranges((500, 2000, 8000), (100, 300, 1000))
    best = best_dist = float("inf")
    n = n_dist = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = search_serving(m, cands, eng, 1000, 300, 20.0, Slo(2.0, 0.05), grid)
        best = min(best, time.perf_counter() - t0)
        n = res.n_evaluated
        t0 = time.perf_counter()
        dist = search_serving_lengths(m, cands, eng, lengths, 20.0, Slo(2.0, 0.05), grid_dist)
        n_dist = dist.n_evaluated * lengths.n_points
        best_dist = min(best_dist, time.perf_counter() - t0)
    rate, rate_dist = n / best, n_dist / best_dist
    print(f"accelerators priced: {len(cands)}; configurations: {n:,}")
    print(f"means, best of {repeats}: {best:.3f} s → {rate:,.0f} configurations/s")
    print(
        f"{lengths.n_points}-point distribution, {n_dist // lengths.n_points:,} setups: {best_dist:.3f} s → "
        f"{rate_dist:,.0f} setup × length points/s"
    )
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
            }
        )
    )


if __name__ == "__main__":
    main()
