"""Check the scenario projection's analytic fleet model against the simulation on every example scenario.

For each ``self_hosted`` option of ``examples/*.yaml`` and a few representative months (first, middle,
last, and the first spike month), the analytic day (:mod:`flopbill.estimate.pricing.fleet_day`, as ``flopbill
plan`` bills it) and a simulated day (:mod:`flopbill.scenario.simulated`, as ``fleet: {simulate: true}``
bills it) are compared in billed GPU-hours per month, at expected inputs.
Run: ``python scripts/simulation_vs_scenarios.py [--max-requests-per-day N] [--months 1,13] [FILE ...]``
(docs/simulation.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flopbill.estimate.core.uncertainty import expected_inputs
from flopbill.scenario.engine import evaluate
from flopbill.scenario.inputs import Resolved, resolve
from flopbill.scenario.loader import load_scenario
from flopbill.scenario.schema import FleetSettings, SelfHostedOption
from flopbill.scenario.simulated import plan_for, simulate_months

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    """One option-month: analytic and simulated billed GPU-hours, and the simulated day's detail."""

    scenario: str
    option: str
    scaling: str
    offer: str  # the instance both models bill (the option's chosen or given offer) and its billing
    month: int
    calls_per_day: float
    analytic_gpu_hours: float
    simulated_gpu_hours: float
    busy_gpu_hours: float
    shards: int
    unserved_share: float
    ttft_p90_s: float | None

    @property
    def difference(self) -> float:
        """Simulated ÷ analytic − 1."""
        return self.simulated_gpu_hours / self.analytic_gpu_hours - 1.0


def _months(horizon: int, spike_days: np.ndarray) -> list[int]:
    picks = {0, horizon // 2, horizon - 1}
    spiked = np.flatnonzero(spike_days > 0)
    if spiked.size:
        picks.add(int(spiked[0]))
    return sorted(picks)


def compare(path: Path, max_requests_per_day: int = 20_000, months: list[int] | None = None) -> list[Row]:
    """Return the comparison rows of one scenario file (0-month-horizon options skipped): the
    representative months, or the given 1-based ``months``."""
    scenario = load_scenario(path)
    resolved = resolve(scenario)
    v = expected_inputs(resolved.ranges)
    ev = evaluate(resolved, v)
    t = ev.traffic
    rows = []
    for opt in scenario.options:
        if not isinstance(opt, SelfHostedOption):
            continue
        sim_opt = opt.model_copy(
            update={
                "fleet": FleetSettings(
                    scaling=opt.scaling, simulate=True, max_requests_per_day=max_requests_per_day
                )
            }
        )
        cap = resolved.capacity_requests_per_s.get(opt.name)
        if opt.throughput_requests_per_s_per_replica is not None:
            cap = resolved.ranges[f"options.{opt.name}.throughput_requests_per_s_per_replica"].expected
        scale = resolved.ranges[f"options.{opt.name}.throughput_scale"].expected
        plan = plan_for(sim_opt, resolved, float(cap or 0.0) * scale)
        det = ev.details[opt.name]
        gpi = resolved.fleet[opt.name].gpus_per_instance
        recurring = ev.recurring_usd[opt.name][0]
        price = plan.price_usd_per_gpu_hour
        analytic_h = recurring / (price * gpi) if price > 0 else np.zeros_like(recurring)
        idx = _months(scenario.horizon_months, t.spike_days[0]) if months is None else [m - 1 for m in months]
        offer = offer_text(resolved, opt.name, plan.price_usd_per_gpu_hour)
        sim = simulate_months(
            plan,
            opt.name,
            t.base_calls_per_s[0][idx],
            float(v["traffic.peak_factor"][0]),
            t.spike_days[0][idx],
            t.spike_multiplier[0][idx],
            analytic_h[idx],
            det.unserved_calls[0][idx] if det.unserved_calls is not None else np.zeros(len(idx)),
            scenario.days_per_month,
        )
        for m, sm in zip(idx, sim.months, strict=True):
            demand = float(t.model_calls[0][m])
            rows.append(
                Row(
                    scenario=path.stem,
                    option=opt.name,
                    scaling=opt.scaling,
                    offer=offer,
                    month=m + 1,
                    calls_per_day=float(t.base_calls_per_s[0][m]) * 86400.0,
                    analytic_gpu_hours=sm.analytic_gpu_hours_billed,
                    simulated_gpu_hours=sm.gpu_hours_billed,
                    busy_gpu_hours=sm.day.gpu_hours_busy * scenario.days_per_month,
                    shards=sm.day.shards,
                    unserved_share=sm.unserved_calls / demand if demand > 0 else 0.0,
                    ttft_p90_s=sm.day.ttft_p90_s,
                )
            )
    return rows


def offer_text(resolved: Resolved, name: str, price_usd_per_gpu_hour: float) -> str:
    """Return the billed instance: provider and instance (or "given price"), GPUs, $/GPU-h, increment."""
    terms = resolved.fleet[name]
    chosen = resolved.offers.get(name)
    where = f"{chosen.provider} {chosen.instance}" if chosen is not None else "given price"
    billing = (
        "whole hours"
        if terms.billing_increment_s == 3600.0 and terms.billing_minimum_s == 3600.0
        else f"per {terms.billing_increment_s:g} s, {terms.billing_minimum_s:g} s min."
    )
    return f"{where}, {terms.gpus_per_instance} GPU, ${price_usd_per_gpu_hour:.2f}/GPU-h, {billing}"


def main(argv: list[str] | None = None) -> int:
    """Print the markdown table of every example's self-hosted options."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-requests-per-day", type=int, default=20_000)
    ap.add_argument("--months", help="comma-separated 1-based months (default: first, middle, last, spike)")
    ap.add_argument("examples", nargs="*", type=Path)
    args = ap.parse_args(argv)
    paths = args.examples or sorted((ROOT / "examples").glob("*.yaml"))
    print(
        "| scenario | option | fleet | offer billed (both models) | month | calls/day | analytic GPU-h "
        "| simulated GPU-h | difference ",
        end="",
    )
    print("| busy GPU-h (sim) | shards k | unserved (sim) | P90 TTFT (sim) |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        months = [int(m) for m in args.months.split(",")] if args.months else None
        for r in compare(path, args.max_requests_per_day, months):
            flag = " **>15 %**" if abs(r.difference) > 0.15 else ""
            ttft = "—" if r.ttft_p90_s is None else f"{r.ttft_p90_s * 1e3:,.0f} ms"
            print(
                f"| {r.scenario} | {r.option} | {r.scaling} | {r.offer} | {r.month} | {r.calls_per_day:,.0f} "
                f"| {r.analytic_gpu_hours:,.0f} | {r.simulated_gpu_hours:,.0f} "
                f"| {100 * r.difference:+.1f} %{flag} "
                f"| {r.busy_gpu_hours:,.0f} | {r.shards} | {100 * r.unserved_share:.2g} % | {ttft} |"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
