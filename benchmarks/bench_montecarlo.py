"""Time the scenario Monte Carlo: 100k samples of a 36-month scenario (target: under 1 second).

Run: ``.venv/bin/python benchmarks/bench_montecarlo.py [--samples 100000] [--repeat 5]``. Prints a table
for people and one JSON line for scripts. The scenario (examples/chatbot.yaml stretched to 36 months)
is resolved once (catalog and estimator look-ups); the timed part is sampling, the vectorised
(samples × months) projection of every option, and the percentiles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import yaml

from flopbill.scenario.inputs import resolve
from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.montecarlo import monte_carlo

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the benchmark and print the best and median of ``--repeat`` runs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "examples" / "chatbot.yaml"))
    args = parser.parse_args()
    data = yaml.safe_load(Path(args.scenario).read_text(encoding="utf-8"))
    data["horizon_months"] = 36
    resolved = resolve(scenario_from_dict(data), dt.date(2025, 1, 1))
    ranged = sum(1 for r in resolved.ranges.values() if r.high > r.low)
    times = []
    for i in range(args.repeat):
        start = time.perf_counter()
        monte_carlo(resolved, args.samples, np.random.default_rng(i), i)
        times.append(time.perf_counter() - start)
    best, median = min(times), float(np.median(times))
    options = len(resolved.scenario.options)
    print(f"scenario            {Path(args.scenario).name} (36 months, {options} options)")
    print(f"ranged inputs       {ranged}")
    print(f"samples             {args.samples:,}")
    print(f"best / median       {best:.3f} s / {median:.3f} s over {args.repeat} runs")
    print(f"target              < 1 s: {'met' if median < 1.0 else 'NOT met'}")
    print(
        json.dumps(
            {
                "benchmark": "montecarlo",
                "samples": args.samples,
                "months": 36,
                "ranged_inputs": ranged,
                "best_s": best,
                "median_s": median,
            }
        )
    )


if __name__ == "__main__":
    main()
