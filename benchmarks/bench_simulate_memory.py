"""Measure the memory of a simulated day: peak resident memory (RSS) and bytes per simulated request.

The traffic is a scenario's simulated day (:mod:`flopbill.scenario.simulated`): Poisson arrivals over
86,400 s whose rate steps every hour (24 ``spikes``), 1000 → 300 tokens, Llama 3.1 8B on H100 SXM, a
fixed fleet of ``⌈rate / 15⌉`` replicas (about 60-70 % busy). A small warm-up run loads the compiled
kernel first; the resident memory after it is the baseline, and ``(peak − baseline) / requests`` is the
memory a request costs (per-request inputs, kernel state and the summary's temporaries together).
Peak from ``getrusage`` (``ru_maxrss``, KiB on Linux; the same figure as ``/usr/bin/time -v``'s
"Maximum resident set size"). Not a test; run with
``python benchmarks/bench_simulate_memory.py [REQUESTS]`` (default 2,000,000). The figures do not
depend on other work on the machine; the run time does.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from pathlib import Path

from flopbill.simulate import simulate, spec_from_dict

_DAY_S = 86400.0
# relative hourly rates of a chat day (peak 2× the mean in the evening, a quiet night)
_CURVE = (0.5, 0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.7, 0.9, 1.1, 1.2, 1.25)
_CURVE_DAY = _CURVE + tuple(reversed(_CURVE))


def spec(requests: int) -> dict[str, object]:
    """Return one simulated day of about ``requests`` requests (hourly rate steps, a fixed fleet)."""
    mean = sum(_CURVE_DAY) / len(_CURVE_DAY)
    rate = requests / _DAY_S
    return {
        "deployment": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
        "fleet": {"replicas": max(1, math.ceil(rate * max(_CURVE_DAY) / mean / 15.0))},
        "traffic": {
            "arrivals": "poisson",
            "rate_rps": rate,
            "duration_s": _DAY_S,
            "spikes": [
                {"start_s": h * 3600.0, "duration_s": 3600.0, "multiplier": c / mean}
                for h, c in enumerate(_CURVE_DAY)
            ],
            "input_tokens": {"kind": "fixed", "value": 1000},
            "output_tokens": {"kind": "fixed", "value": 300},
        },
        "bounds": {"max_requests": int(requests * 1.01 + 10 * math.sqrt(requests) + 1000)},
    }


def _rss_kib() -> int:
    """Return this process's resident memory now (KiB)."""
    fields = Path("/proc/self/statm").read_text(encoding="ascii").split()
    return int(fields[1]) * resource.getpagesize() // 1024


def main(requests: int = 2_000_000) -> None:
    """Run one simulated day of ``requests`` requests after a warm-up; print memory and time."""
    simulate(spec_from_dict(spec(2000)))
    base_kib = _rss_kib()
    t0, c0 = time.perf_counter(), time.process_time()
    r = simulate(spec_from_dict(spec(requests)))
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = {
        "requests": r.arrived,
        "baseline_rss_mib": base_kib / 1024,
        "peak_rss_mib": peak_kib / 1024,
        "bytes_per_request": (peak_kib - base_kib) * 1024 / r.arrived,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "ttft_p90_s": r.ttft_s.p90,
        "gpu_hours_billed": r.gpu_hours_billed,
    }
    for key, value in rows.items():
        print(f"{key:>20}  {value:,.4g}" if isinstance(value, float) else f"{key:>20}  {value:,}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)
