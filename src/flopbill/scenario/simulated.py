"""Simulated fleets: a ``self_hosted`` option with ``fleet: {simulate: true}`` is billed from
:mod:`flopbill.simulate` instead of the analytic day of :mod:`flopbill.estimate.pricing.fleet_day`.

Only the point projection (expected inputs, one row) simulates; the tornado, the Monte Carlo and the
break-even volumes stay analytic. For each month the day's 24 hourly rates (the month's mean calls/s ×
the diurnal curve of :func:`flopbill.scenario.diurnal.hourly_curves`; spike days at the spike multiple)
become the simulator's traffic: Poisson arrivals at a rate that steps every hour (``traffic.spikes``, one
per hour), the scenario's expected input and output tokens, one day long. One simulation per distinct
day (months with the same rates reuse it). The simulated fleet is the option's:

* deployment: model × GPU × ``gpus_per_replica`` (TP) × ``weight_dtype``; ``max_seqs`` = the serving
  planner's batch at the scenario's SLO (as the fleet is planned); the option's price per GPU-hour and
  the catalog offer's GPUs per instance, billing increment and minimum;
* fixed: the replicas the analytic model sizes for the month's busiest hour (or ``replicas``), all day;
* autoscale: the simulator's ``request_rate`` autoscaler — ``⌈arrivals/s over the last 30 s ÷ (c·u)⌉``
  replicas, the analytic model's rule evaluated every 30 s instead of every hour, but reactive (a new
  replica serves after the cold start) — between ``min_replicas`` and ``max_replicas`` (default 4 × the
  analytic busiest-hour count + 4), cooldown ``scale_down_delay_s``, the option's cold start; it
  starts the day with the analytic count of hour 0. (A ``queue_length`` rule oscillates here: at the
  light batches of a lightly loaded fleet the outstanding count says one replica is enough.)

Bounded: a day with more than ``max_requests_per_day`` requests runs ``1/k`` of the traffic on ``1/k`` of
the fleet (``k = ⌈requests / max_requests_per_day⌉``; bounds divided by ``k``, rounded up) and scales
GPU-hours, served and unserved requests by ``k`` — a shard of a large fleet under a balancing router;
whole-replica rounding then happens at the shard's scale (stated in each month's note). ``k`` is at most
``⌊mean instances of the analytic day / MIN_INSTANCES_PER_SHARD⌋`` (each shard averages ≥ 100 whole
instances, so the rounding a shard adds, ≤ 1 instance, stays under 1 %; a fixed fleet's shards keep
≥ 100 instances too, so that requests queue as in the pooled fleet); where that cap binds the day
simulates more than ``max_requests_per_day`` requests. The simulation's own request bound is set above
the shard's traffic, so a day is never cut short (a cut day is an error).

Billed: GPU-hours as the simulation billed them (whole instances, billing increments, cold starts
included) ÷ GPUs per instance = instance-hours; unserved = dropped + unfinished at the end of the day
(+ 1 h drain); latency percentiles from the simulated requests, next to the planner's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flopbill.estimate.pricing.fleet_day import SLOT_S, replicas_running
from flopbill.scenario.diurnal import hourly_curves
from flopbill.scenario.inputs import Resolved
from flopbill.scenario.schema import FleetSettings, SelfHostedOption
from flopbill.simulate import SimulationResult, simulate, spec_from_dict

FloatArray = npt.NDArray[np.float64]

_DAY_S = 86400.0
_DRAIN_S = 3600.0
#: Whole instances a shard of an autoscaled fleet runs on average over the day, at least (see :func:`shards`).
MIN_INSTANCES_PER_SHARD = 100


@dataclass(frozen=True)
class SimulatedDay:
    """One simulated day of a fleet, scaled back to the whole fleet (per day)."""

    requests_per_day: float  # arrived, whole fleet
    simulated_requests: int  # what the simulation ran (one shard)
    shards: int  # k: the simulation ran 1/k of the traffic on 1/k of the fleet
    gpu_hours_billed: float
    gpu_hours_busy: float
    unserved_calls: float  # dropped + unfinished, whole fleet
    peak_replicas: int  # whole fleet (shard peak × k)
    ttft_p50_s: float | None
    ttft_p90_s: float | None
    ttft_p99_s: float | None
    tpot_p50_s: float | None
    tpot_p90_s: float | None
    tpot_p99_s: float | None
    goodput_fraction: float


@dataclass(frozen=True)
class SimulatedMonth:
    """A month billed from simulated days, next to the analytic bill of the same month."""

    month: int
    day: SimulatedDay  # the normal day of the month
    spike_day: SimulatedDay | None
    spike_days: float
    gpu_hours_billed: float  # the month, simulated
    analytic_gpu_hours_billed: float  # the month, analytic model (fleet_day)
    unserved_calls: float
    analytic_unserved_calls: float


@dataclass(frozen=True)
class FleetSimulation:
    """An option's simulated months and how they were run."""

    option: str
    months: tuple[SimulatedMonth, ...]
    distinct_days: int
    note: str


@dataclass(frozen=True)
class DayPlan:
    """What one simulated day needs from the option (expected inputs)."""

    model: str
    gpu: str
    tp: int
    weights: str
    batch: int  # planner's batch (0: throughput given, engine default seats)
    price_usd_per_gpu_hour: float
    gpus_per_instance: int  # the simulated instance: whole replicas (lcm of the offer's and tp)
    offer_gpus_per_instance: int  # the price offer's, as the analytic model bills instance-hours
    billing_increment_s: float
    billing_minimum_s: float
    capacity_calls_per_s: float
    utilization: float
    cold_start_s: float
    cooldown_s: float
    input_tokens: int
    output_tokens: int
    scaling: str
    min_replicas: int
    max_replicas: int | None
    fixed_replicas: int | None
    settings: FleetSettings


def _analytic_replicas(plan: DayPlan, rates: FloatArray) -> FloatArray:
    ceiling = np.inf if plan.max_replicas is None else float(plan.max_replicas)
    return replicas_running(rates, plan.capacity_calls_per_s, plan.utilization, 1.0, ceiling)


def shards(plan: DayPlan, rates_per_s: FloatArray, fixed_replicas: int) -> int:
    """Return ``k``: shards of the day's fleet to simulate one of (1 when the day is under the cap).

    ``k = ⌈requests / max_requests_per_day⌉``; for a fixed fleet the largest divisor of its instance
    count not above that nor above ``⌊instances / MIN_INSTANCES_PER_SHARD⌋`` (the shards add up to the
    fleet exactly, and each keeps ≥ 100 instances: a shard of one replica queues alone, not in the pooled
    fleet — the document-router example's 8-17 one-GPU instances, run as one-replica shards, showed a
    P90 TTFT of 3.8-9.2 s where the whole fleet shows 0.25-0.28 s, docs/simulation.md); for an
    autoscaled fleet at most
    ``⌊mean instances the analytic model runs over the day / MIN_INSTANCES_PER_SHARD⌋`` (each shard
    averages at least 100 whole instances, so a shard's rounding up, ≤ 1 instance at any time, adds
    ≤ 1 %; measured on the e-mail example, sharding raised the bill +2.7 % at 2 shards and +12.9 % at 24,
    docs/simulation.md). The cap is the day's mean, not its quietest hour:
    a diurnal curve whose night falls to zero calls would otherwise forbid sharding at any volume.
    """
    want = max(1, math.ceil(float(np.sum(rates_per_s)) * SLOT_S / plan.settings.max_requests_per_day))
    rpi = max(plan.gpus_per_instance // plan.tp, 1)
    if plan.scaling == "fixed":
        n = max(1, math.ceil(fixed_replicas / rpi))
        top = max(1, min(want, n // MIN_INSTANCES_PER_SHARD))
        return max(d for d in range(1, top + 1) if n % d == 0)
    mean = float(_analytic_replicas(plan, np.asarray(rates_per_s, dtype=np.float64)).mean())
    return max(1, min(want, int(mean / rpi // MIN_INSTANCES_PER_SHARD)))


def day_spec(plan: DayPlan, rates_per_s: FloatArray, fixed_replicas: int) -> tuple[dict[str, object], int]:
    """Return (simulation spec as a dict, shards ``k``) for one day of 24 hourly rates (calls/s)."""
    rates = np.asarray(rates_per_s, dtype=np.float64)
    k = shards(plan, rates, fixed_replicas)
    mean = max(float(rates.mean()), 1e-9)
    spikes = [
        {"start_s": h * SLOT_S, "duration_s": SLOT_S, "multiplier": float(r) / mean}
        for h, r in enumerate(rates)
    ]
    deployment: dict[str, object] = {
        "model": plan.model,
        "gpu": plan.gpu,
        "tp": plan.tp,
        "weights": plan.weights,
        "price_usd_per_gpu_hour": plan.price_usd_per_gpu_hour,
        "gpus_per_instance": plan.gpus_per_instance,
    }
    if plan.batch > 0:
        deployment["max_seqs"] = plan.batch
    fleet: dict[str, object] = {
        "billing_increment_s": plan.billing_increment_s,
        "minimum_billed_s": plan.billing_minimum_s,
    }
    if plan.scaling == "fixed":
        fleet["replicas"] = max(1, math.ceil(fixed_replicas / k))
    else:
        hour0 = int(_analytic_replicas(plan, rates[:1])[0])
        peak = int(_analytic_replicas(plan, rates).max())
        high = plan.max_replicas if plan.max_replicas is not None else 4 * peak + 4
        low = math.ceil(plan.min_replicas / k)
        high_k = max(math.ceil(high / k), low, 1)
        fleet["replicas"] = min(max(math.ceil(max(hour0, plan.min_replicas) / k), low), high_k)
        fleet["autoscaler"] = {
            "policy": "request_rate",
            "target": plan.capacity_calls_per_s * plan.utilization,
            "min_replicas": low,
            "max_replicas": high_k,
            "cooldown_s": plan.cooldown_s,
            "cold_start_s": plan.cold_start_s,
        }
    spec: dict[str, object] = {
        "deployment": deployment,
        "fleet": fleet,
        "traffic": {
            "arrivals": "poisson",
            "rate_rps": mean / k,
            "spikes": spikes,
            "duration_s": _DAY_S,
            "input_tokens": {"kind": "fixed", "value": plan.input_tokens},
            "output_tokens": {"kind": "fixed", "value": plan.output_tokens},
        },
        "bounds": {"max_sim_seconds": _DAY_S + _DRAIN_S, "max_requests": _request_bound(rates, k)},
        "seed": plan.settings.seed,
    }
    return spec, k


def _request_bound(rates_per_s: FloatArray, k: int) -> int:
    """Return a request bound above any Poisson count of one shard's day (mean + 10 σ + 1,000)."""
    mean = float(np.sum(rates_per_s)) * SLOT_S / k
    return int(mean + 10.0 * math.sqrt(mean) + 1000.0)


def simulate_day(
    plan: DayPlan,
    rates_per_s: FloatArray,
    fixed_replicas: int,
    run: Callable[..., SimulationResult] = simulate,
) -> SimulatedDay:
    """Return one simulated day of the plan's fleet under 24 hourly rates (calls/s), whole fleet."""
    spec, k = day_spec(plan, rates_per_s, fixed_replicas)
    r = run(spec_from_dict(spec, "fleet.simulate"))
    if r.arrivals_truncated:  # the bound is 10 σ above the day's count: only a bug gets here
        raise RuntimeError(f"the simulated day was cut at {r.arrived:,} requests: it would be billed short")
    return SimulatedDay(
        requests_per_day=float(r.arrived * k),
        simulated_requests=r.arrived,
        shards=k,
        gpu_hours_billed=r.gpu_hours_billed * k,
        gpu_hours_busy=r.gpu_hours_busy * k,
        unserved_calls=float((r.dropped + r.unfinished) * k),
        peak_replicas=r.max_replicas_seen * k,
        ttft_p50_s=r.ttft_s.p50,
        ttft_p90_s=r.ttft_s.p90,
        ttft_p99_s=r.ttft_s.p99,
        tpot_p50_s=r.tpot_s.p50,
        tpot_p90_s=r.tpot_s.p90,
        tpot_p99_s=r.tpot_s.p99,
        goodput_fraction=r.goodput_fraction,
    )


def simulate_months(
    plan: DayPlan,
    name: str,
    base_calls_per_s: FloatArray,
    peak_factor: float,
    spike_days: FloatArray,
    spike_multiplier: FloatArray,
    analytic_instance_hours: FloatArray,
    analytic_unserved_calls: FloatArray,
    days_per_month: float,
) -> FleetSimulation:
    """Return every month of the option billed from simulated days (1-D month arrays, expected row).

    A fixed fleet runs, all month, what the month's busiest hour needs (spike days included), as the
    analytic model sizes it, unless ``replicas`` is given.
    """
    curve = hourly_curves(peak_factor)
    cache: dict[tuple[float, ...], SimulatedDay] = {}

    def day(rates: FloatArray, fixed: int) -> SimulatedDay:
        key = (*np.round(rates, 9).tolist(), float(fixed))
        if key not in cache:
            cache[key] = simulate_day(plan, rates, fixed)
        return cache[key]

    months = []
    for m, base in enumerate(np.asarray(base_calls_per_s, dtype=np.float64)):
        normal = base * curve
        sd, mult = float(spike_days[m]), float(spike_multiplier[m])
        spiked = normal * mult if sd > 0 else None
        busiest = normal.max() * (max(mult, 1.0) if sd > 0 else 1.0)
        fixed = plan.fixed_replicas or max(1, int(_analytic_replicas(plan, np.array([busiest]))[0]))
        d = day(normal, fixed)
        s = day(spiked, fixed) if spiked is not None else None
        billed = (days_per_month - sd) * d.gpu_hours_billed + (sd * s.gpu_hours_billed if s else 0.0)
        unserved = (days_per_month - sd) * d.unserved_calls + (sd * s.unserved_calls if s else 0.0)
        months.append(
            SimulatedMonth(
                month=m + 1,
                day=d,
                spike_day=s,
                spike_days=sd,
                gpu_hours_billed=billed,
                analytic_gpu_hours_billed=float(analytic_instance_hours[m]) * plan.offer_gpus_per_instance,
                unserved_calls=unserved,
                analytic_unserved_calls=float(analytic_unserved_calls[m]),
            )
        )
    scaled = sorted({x.shards for x in cache.values() if x.shards > 1})
    note = (
        f"simulated {len(cache)} distinct day(s) ({plan.scaling} fleet"
        + (
            f", request_rate autoscaler at {plan.capacity_calls_per_s * plan.utilization:.3g} calls/s "
            "per replica"
            if plan.scaling != "fixed"
            else ""
        )
        + ")"
        + (
            f"; days above {plan.settings.max_requests_per_day:,} requests ran 1/k of the traffic on 1/k of "
            f"the fleet, scaled × k (k = {', '.join(map(str, scaled))})"
            if scaled
            else ""
        )
        + "; tornado, Monte Carlo and break-even stay analytic"
    )
    return FleetSimulation(name, tuple(months), len(cache), note)


def is_simulated(opt: object) -> bool:
    """True for a ``self_hosted`` option with ``fleet: {simulate: true}``."""
    return isinstance(opt, SelfHostedOption) and opt.simulation is not None


def plan_for(opt: SelfHostedOption, resolved: Resolved, capacity_calls_per_s: float) -> DayPlan:
    """Return the day plan of a simulated option at expected inputs."""
    settings = opt.simulation
    assert settings is not None  # callers check is_simulated
    key = f"options.{opt.name}"
    r = resolved.ranges
    terms = resolved.fleet[opt.name]
    lat = resolved.latency.get(opt.name)
    return DayPlan(
        model=opt.model,
        gpu=opt.gpu,
        tp=opt.gpus_per_replica,
        weights=opt.weight_dtype,
        batch=lat.batch if lat is not None else 0,
        price_usd_per_gpu_hour=r[f"{key}.price_usd_per_gpu_hour"].expected,
        gpus_per_instance=math.lcm(terms.gpus_per_instance, opt.gpus_per_replica),  # whole replicas
        offer_gpus_per_instance=terms.gpus_per_instance,
        billing_increment_s=terms.billing_increment_s,
        billing_minimum_s=terms.billing_minimum_s,
        capacity_calls_per_s=capacity_calls_per_s,
        utilization=r[f"{key}.target_utilization"].expected,
        cold_start_s=r[f"{key}.cold_start_s"].expected,
        cooldown_s=terms.scale_down_delay_s,
        input_tokens=max(1, round(r["request.input_tokens"].expected)),
        output_tokens=max(1, round(r["request.output_tokens"].expected)),
        scaling=opt.scaling,
        min_replicas=opt.min_replicas,
        max_replicas=opt.max_replicas,
        fixed_replicas=opt.replicas,
        settings=settings,
    )


def simulated_fleet_month(
    opt: SelfHostedOption,
    resolved: Resolved,
    capacity_calls_per_s: float,
    base_calls_per_s: FloatArray,
    peak_factor: float,
    spike_days: FloatArray,
    spike_multiplier: FloatArray,
    analytic_instance_hours: FloatArray,
    analytic_unserved_calls: FloatArray,
) -> FleetSimulation:
    """Return the option's months billed from simulated days (expected inputs; 1-D month arrays)."""
    return simulate_months(
        plan_for(opt, resolved, capacity_calls_per_s),
        opt.name,
        base_calls_per_s,
        peak_factor,
        spike_days,
        spike_multiplier,
        analytic_instance_hours,
        analytic_unserved_calls,
        resolved.scenario.days_per_month,
    )
