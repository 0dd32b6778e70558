"""Measure the fleet simulation: requests and engine steps simulated per second (a table, then one JSON line).

Chat traffic: Llama 3.1 8B on H100 SXM, 8 replicas, least-outstanding routing, Poisson arrivals at
100 requests/s (about 60 % of the fleet's saturated throughput), 1000 → 300 tokens, 1,000,000 requests.
A warm-up run loads the compiled kernel first (numba caches it on disk; the first run on a machine also
compiles it, ~100 s of CPU). Wall time covers the whole ``simulate`` call: traffic generation, step tables,
the event loop and the summary; CPU time (this process, one thread) is reported too, as it is less
disturbed when other work shares the cores. Not a test; run with
``python benchmarks/bench_simulate.py`` (add ``taskset -c 0,1`` to pin 2 cores). Figures measured on a
machine shared with other work are disturbed by it: say so when quoting them.
"""

from __future__ import annotations

import json
import sys
import time

from flopbill.simulate import simulate, spec_from_dict


def spec(requests: int, rate_rps: float = 100.0) -> dict[str, object]:
    """Return the benchmark's chat-traffic spec."""
    return {
        "deployment": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
        "fleet": {"replicas": 8, "router": "least_outstanding"},
        "traffic": {
            "rate_rps": rate_rps,
            "requests": requests,
            "input_tokens": {"kind": "fixed", "value": 1000},
            "output_tokens": {"kind": "fixed", "value": 300},
        },
    }


def main(requests: int = 1_000_000, repeats: int = 3) -> None:
    """Run the benchmark ``repeats`` times after a warm-up; report the best wall time."""
    simulate(spec_from_dict(spec(2000)))
    best, best_cpu = float("inf"), float("inf")
    result = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = simulate(spec_from_dict(spec(requests)))
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    assert result is not None
    rows = {
        "requests": requests,
        "wall_s": best,
        "cpu_s": best_cpu,
        "requests_per_s": requests / best,
        "requests_per_cpu_s": requests / best_cpu,
        "engine_steps": result.steps,
        "engine_steps_per_s": result.steps / best,
        "simulated_s": result.duration_s,
        "ttft_p50_s": result.ttft_s.p50,
        "tpot_p50_s": result.tpot_s.p50,
    }
    for key, value in rows.items():
        print(f"{key:>20}  {value:,.4g}" if isinstance(value, float) else f"{key:>20}  {value:,}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
