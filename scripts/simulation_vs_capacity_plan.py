"""Check the analytic capacity planner (``flopbill serve --search``) against the simulation.

For each request rate the planner picks the cheapest H100 bf16 TP1 fleet (replicas × batch) that meets
TTFT ≤ 2 s at P90 (M/M/c queueing) and TPOT ≤ 50 ms for 1000 → 250-token requests; the simulation then
runs that fleet (``max_seqs`` = the planned batch) under Poisson traffic at that rate for one hour and
reports the P90 TTFT and TPOT it sees, and the fewest replicas (same batch) that meet both objectives in
simulation — the GPU-hours a fixed fleet bills scale with it.
Run: ``python scripts/simulation_vs_capacity_plan.py`` (docs/simulation.md).
"""

from __future__ import annotations

import numpy as np

from flopbill.catalog import accelerator, resolve_model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.estimate.serving.queueing import wait_quantile_s
from flopbill.estimate.serving.search import Candidate, SearchGrid, Slo, cheapest, search_serving
from flopbill.simulate import SimulationResult, simulate, spec_from_dict

SLO = Slo(ttft_s=2.0, tpot_s=0.05, ttft_percentile=90.0)


def _run(rps: float, replicas: int, batch: int) -> SimulationResult:
    traffic = {"rate_rps": rps, "duration_s": 3600.0, "output_tokens": {"kind": "fixed", "value": 250}}
    spec = {
        "deployment": {"model": "llama-3.1-8b", "max_seqs": batch},
        "fleet": {"replicas": replicas},
        "traffic": traffic,
        "bounds": {"max_sim_seconds": 4 * 3600.0},
    }
    return simulate(spec_from_dict(spec))


def _meets(r: SimulationResult) -> bool:
    ttft, tpot = r.ttft_s.p90, r.tpot_s.p90
    return (
        r.unfinished == 0
        and ttft is not None
        and tpot is not None
        and ttft <= SLO.ttft_s
        and tpot <= SLO.tpot_s
    )


def _hold_s(r: SimulationResult) -> float:
    """Return the mean seconds a simulated request holds a seat: admission to finish (Little's law)."""
    o = r.outcomes
    done = ~np.isnan(o.finish_s)
    return float(np.mean(o.finish_s[done] - o.admit_s[done]))


def main() -> None:
    """Print a markdown table: planned fleet, predicted vs simulated P90 TTFT and TPOT, fewest replicas.

    The planner's P90 TTFT (``SearchResult.ttft_s``) already includes its M/M/c wait. Next to it: the
    seat-holding time the planner assumes (``B·s``, a full batch) and the one the simulation shows, and
    the Erlang C P90 wait recomputed with the simulated holding time (same queue, measured service).
    """
    m, acc = resolve_model("llama-3.1-8b"), accelerator("h100-sxm")
    cand = [Candidate(acc, hardware_efficiency(acc.id)[0], 4.0)]
    grid = SearchGrid(tps=(1,), weights=(Dtype.BF16,))
    print(
        "| rps | planned replicas × batch | planned P90 TTFT (of it P90 wait) | simulated P90 TTFT (wait) "
        "| seat held: planned / simulated | Erlang C P90 wait at the simulated hold | planned TPOT",
        end="",
    )
    print(" | simulated P90 TPOT | fewest replicas meeting the SLO in simulation |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for rps in (2.0, 10.0, 40.0, 100.0):
        res = search_serving(m, cand, engine_profile("vllm"), 1000, 250, rps, SLO, grid)
        i = int(cheapest(res, 1)[0])
        reps, batch = int(res.replicas[i]), int(res.batch[i])
        r = _run(rps, reps, batch)
        fewest = next((n for n in range(1, reps + 1) if _meets(_run(rps, n, batch))), None)
        planned, wait = float(res.ttft_s[i]), float(np.nan_to_num(res.queue_wait_s[i]))
        planned_hold = batch * float(res.utilization[i]) * reps / rps  # B·s, s = ρ·replicas/λ
        hold = _hold_s(r)
        erlang = float(wait_quantile_s(reps * batch, rps, hold, SLO.ttft_percentile / 100.0))
        sim_ttft, sim_tpot = (r.ttft_s.p90 or 0.0) * 1e3, (r.tpot_s.p90 or 0.0) * 1e3
        sim_wait = (r.queue_wait_s.p90 or 0.0) * 1e3
        print(f"| {rps:g} | {reps} × {batch} | {planned * 1e3:,.0f} ms ({wait * 1e3:,.0f} ms) ", end="")
        print(f"| {sim_ttft:,.0f} ms ({sim_wait:,.0f} ms) | {planned_hold:.2f} s / {hold:.2f} s ", end="")
        print(f"| {erlang * 1e3:,.0f} ms ", end="")
        print(f"| {float(res.tpot_s[i]) * 1e3:.1f} ms | {sim_tpot:.1f} ms | {fewest} |")


if __name__ == "__main__":
    main()
