"""Project a scenario: month-by-month costs per option at expected inputs, unit economics, break-evens,
crossover months, router savings, idle cost, tornado and Monte Carlo → :class:`ScenarioResult`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

from flopbill.checks import MAX_MONTE_CARLO_CELLS, MAX_MONTE_CARLO_SAMPLES, budget, integer
from flopbill.estimate.core.uncertainty import expected_inputs
from flopbill.estimate.pricing.economics import SECONDS_PER_DAY, crossover_month_array
from flopbill.scenario.breakeven import break_evens, cost_curves
from flopbill.scenario.costs import OptionArrays
from flopbill.scenario.engine import Evaluation, evaluate
from flopbill.scenario.inputs import Resolved, resolve
from flopbill.scenario.montecarlo import monte_carlo, tornado
from flopbill.scenario.result import (
    CostComponent,
    Crossover,
    IdleCost,
    OneTimeCost,
    OptionProjection,
    Payback,
    PricedLatency,
    RoutedLatency,
    RouterSavings,
    ScenarioResult,
    TrafficProjection,
)
from flopbill.scenario.schema import OwnedOption, RouterOption, Scenario, SelfHostedOption

FloatArray = npt.NDArray[np.float64]


def _s(row: FloatArray) -> tuple[float, ...]:
    return tuple(float(x) for x in row)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _option(resolved: Resolved, ev: Evaluation, name: str, kind: str, label: str) -> OptionProjection:
    det = ev.details[name]
    recurring, one_time = ev.recurring_usd[name][0], ev.one_time_usd[name][0]
    monthly = recurring + one_time
    components = [CostComponent(kind_, lbl, _s(usd[0])) for lbl, (kind_, usd) in det.components.items()]
    if np.any(one_time):
        components.append(CostComponent("one_time", "one-time costs", _s(one_time), one_time=True))
    ai = ev.traffic.ai_requests[0]
    dau = ev.traffic.daily_active_users
    revenue = ev.revenue_usd[0] if ev.revenue_usd is not None else None
    total_ai = float(ai.sum())
    unserved = _unserved_requests(ev, det)
    served = ai - unserved if unserved is not None else ai
    share = float(unserved.sum()) / total_ai if unserved is not None and total_ai > 0 else 0.0
    share = share if share > 1e-9 else 0.0  # rounding noise of served = min(demand, capacity)
    notes = []
    if unserved is not None and share > 0:
        months = [i + 1 for i, x in enumerate(unserved) if x > 1e-6 * max(ai[i], 1.0)]
        notes.append(
            f"{100 * share:.3g}% of AI requests are dropped or queue beyond the slo "
            f"({_fmt_count(float(unserved.sum()))} over the horizon, {_month_list(months)}): "
            "the fleet is below the demand; $/served request leaves them out"
        )
    lat = resolved.latency.get(name)
    if lat is not None and lat.batch > 0:
        used = resolved.ranges[f"options.{name}.target_utilization"].expected
        if used > lat.utilization * (1 + 1e-6):
            notes.append(
                f"target_utilization {used:.2g} is above the {lat.utilization:.3g} at which the slo holds: "
                "the busiest hours run slower than the slo"
            )
    waits = det.cold_start_waits[0] if det.cold_start_waits is not None else None
    if waits is not None and float(waits.sum()) >= 0.5:
        cold = resolved.ranges[f"options.{name}.cold_start_s"].expected
        notes.append(
            f"{_fmt_count(float(waits.sum()))} requests wait up to {cold:.0f} s for a cold start "
            "(scale from zero) over the horizon"
        )
    if det.simulation is not None:
        notes.append("fleet simulated: " + det.simulation.note)
    return OptionProjection(
        name=name,
        kind=kind,
        label=label or name,
        components=tuple(components),
        monthly_cost_usd=_s(monthly),
        recurring_cost_usd=_s(recurring),
        cumulative_cost_usd=_s(np.cumsum(monthly)),
        cost_per_request_usd=_s(_ratio(recurring, ai)),
        cost_per_user_usd_per_month=_s(_ratio(recurring, dau[0])) if dau is not None else None,
        gross_margin=_s(_ratio(revenue - recurring, revenue)) if revenue is not None else None,
        gross_profit_usd=_s(revenue - recurring) if revenue is not None else None,
        total_cost_usd=float(monthly.sum()),
        total_one_time_usd=float(one_time.sum()),
        total_recurring_usd=float(recurring.sum()),
        lifetime_cost_per_request_usd=float(monthly.sum()) / total_ai if total_ai > 0 else float("nan"),
        gpus=_s(det.gpus[0]) if det.gpus is not None else None,
        gpu_utilization=_s(det.utilization[0]) if det.utilization is not None else None,
        notes=tuple(notes),
        unserved_requests=_s(unserved) if unserved is not None else None,
        unserved_share=share,
        cost_per_served_request_usd=_s(_ratio(recurring, served)),
        cold_start_waits=_s(waits / _calls_per_request(ev)) if waits is not None else None,
        latency=_latency(resolved, name),
        cash_monthly_usd=_s(det.cash_usd[0] + one_time) if det.cash_usd is not None else None,
        simulation=det.simulation,
        offer=resolved.offers.get(name),
        routed=_routed(resolved, name),
    )


def _calls_per_request(ev: Evaluation) -> FloatArray:
    t = ev.traffic
    return np.asarray(_ratio(t.model_calls[0], t.ai_requests[0]), dtype=np.float64)


def _unserved_requests(ev: Evaluation, det: OptionArrays) -> FloatArray | None:
    """Return AI requests per month the option does not serve within the slo (calls ÷ calls per request)."""
    if det.unserved_calls is None:
        return None
    per = _calls_per_request(ev)
    return np.asarray(np.nan_to_num(det.unserved_calls[0] / np.where(per > 0, per, 1.0)), dtype=np.float64)


def _latency(resolved: Resolved, name: str, row: str | None = None) -> PricedLatency | None:
    lat = resolved.latency.get(name)
    if lat is None:
        return None
    plan = resolved.routed.get((row, name)) if row is not None else None
    given = getattr(next(o for o in resolved.scenario.options if o.name == name), "target_utilization", None)
    util = resolved.ranges[f"options.{name}.target_utilization"].expected
    if plan is not None:
        lat = plan.latency
        util = util if given is not None else lat.utilization
    slo = resolved.scenario.slo
    cold = resolved.ranges[f"options.{name}.cold_start_s"].expected
    per_user = 1.0 / lat.tpot_s if lat.tpot_s > 0 else float("nan")
    return PricedLatency(
        lat.ttft_s,
        lat.tpot_s,
        per_user,
        lat.batch,
        util,
        slo.ttft_s,
        slo.tpot_s,
        slo.percentile,
        cold,
    )


def _routed(resolved: Resolved, row: str) -> tuple[RoutedLatency, ...]:
    out = []
    for (at, name), plan in resolved.routed.items():
        lat = _latency(resolved, name, at)
        if at == row and lat is not None:
            out.append(RoutedLatency(name, plan.share, plan.requests_per_s, lat))
    return tuple(out)


def _fmt_count(x: float) -> str:
    return f"{x:,.0f}"


def _month_list(months: list[int]) -> str:
    if len(months) == 1:
        return f"month {months[0]}"
    if len(months) <= 6:
        return "months " + ", ".join(map(str, months))
    return f"months {months[0]}–{months[-1]} ({len(months)} months)"


def _paybacks(options: tuple[OptionProjection, ...]) -> tuple[Payback, ...]:
    """Return, for every non-API option and API option, the first month cumulative costs cross."""
    apis = [o for o in options if o.kind == "api"]
    out = []
    for opt in options:
        if opt.kind == "api":
            continue
        mine = np.asarray(opt.cumulative_cost_usd)
        for api in apis:
            theirs = np.asarray(api.cumulative_cost_usd)
            below = mine <= theirs
            if not np.any(below):
                out.append(Payback(opt.name, api.name, None, None, None, "never within the horizon"))
                continue
            i = int(np.argmax(below))
            note = "cheaper from month 1" if i == 0 else ""
            if not np.all(below[i:]):
                last = int(np.flatnonzero(~below[i:])[-1]) + i + 1
                note = (note + "; " if note else "") + f"behind {api.name} again in month {last}"
            out.append(Payback(opt.name, api.name, i + 1, float(mine[i]), float(theirs[i]), note))
    return tuple(out)


def _traffic(scenario: Scenario, ev: Evaluation, peak_factor: float) -> TrafficProjection:
    t = ev.traffic
    return TrafficProjection(
        months=tuple(range(1, scenario.horizon_months + 1)),
        days_per_month=scenario.days_per_month,
        requests=_s(t.requests[0]),
        ai_requests=_s(t.ai_requests[0]),
        model_calls=_s(t.model_calls[0]),
        daily_active_users=_s(t.daily_active_users[0]) if t.daily_active_users is not None else None,
        mean_requests_per_s=_s(t.mean_calls_per_s[0]),
        peak_requests_per_s=_s(t.base_calls_per_s[0] * peak_factor * t.peak_multiplier[0]),
        spike_multiplier=_s(t.peak_multiplier[0]),
    )


def _crossovers(options: tuple[OptionProjection, ...]) -> tuple[Crossover, ...]:
    out = []
    for opt in options:
        if opt.total_one_time_usd <= 0:
            continue
        recurring = np.asarray(opt.recurring_cost_usd)
        month = crossover_month_array(opt.total_one_time_usd, recurring)
        m = None if np.isnan(month) else int(month)
        at = float(np.cumsum(recurring)[m - 1]) if m is not None else None
        note = "" if m is not None else "cumulative inference spend stays below the one-time spend"
        out.append(Crossover(opt.name, opt.total_one_time_usd, m, at, note))
    return tuple(out)


def _router_savings(resolved: Resolved, ev: Evaluation) -> tuple[RouterSavings, ...]:
    out = []
    for opt in resolved.scenario.options:
        if not isinstance(opt, RouterOption):
            continue
        base = ev.recurring_usd[opt.large][0]
        mine = ev.recurring_usd[opt.name][0]
        saved = base - mine
        total_base = float(base.sum())
        out.append(
            RouterSavings(
                router_option=opt.name,
                baseline_label=f"all calls to {opt.large}",
                baseline_total_usd=total_base,
                router_total_usd=float(mine.sum()),
                savings_usd=float(saved.sum()),
                savings_fraction=float(saved.sum()) / total_base if total_base > 0 else float("nan"),
                monthly_savings_usd=_s(saved),
            )
        )
    return tuple(out)


def _idle(resolved: Resolved, ev: Evaluation) -> tuple[IdleCost, ...]:
    out = []
    for opt in resolved.scenario.options:
        det = ev.details[opt.name]
        if det.idle_usd is None or not isinstance(opt, SelfHostedOption | OwnedOption):
            continue
        idle = det.idle_usd[0]
        total = float(ev.recurring_usd[opt.name][0].sum())
        out.append(
            IdleCost(opt.name, float(idle.sum()), float(idle.sum()) / total if total > 0 else 0.0, _s(idle))
        )
    return tuple(out)


def _notes(resolved: Resolved) -> tuple[str, ...]:
    s = resolved.scenario
    notes = []
    gpu = any(isinstance(o, SelfHostedOption | OwnedOption) for o in s.options)
    if (
        gpu
        and "traffic.peak_factor" in resolved.ranges
        and resolved.ranges["traffic.peak_factor"].high == 1.0
    ):
        notes.append("traffic.peak_factor is 1 (flat traffic): GPU fleets are sized for the daily mean")
    if s.horizon_months > 36:
        notes.append(f"{s.horizon_months}-month horizon: prices and traffic far out are an extrapolation")
    return tuple(notes)


def project(
    scenario: Scenario | Resolved,
    *,
    samples: int | None = None,
    seed: int | None = None,
    today: dt.date | None = None,
) -> ScenarioResult:
    """Return the full projection of ``scenario``.

    ``samples`` / ``seed`` override the scenario's Monte Carlo settings (0 samples: no Monte Carlo).
    ``today`` dates API prices when the scenario has no ``prices_as_of``.
    """
    s = scenario.scenario if isinstance(scenario, Resolved) else scenario
    n = s.monte_carlo.samples if samples is None else integer(samples, "samples", lower=0)
    seed_ = s.monte_carlo.seed if seed is None else integer(seed, "seed", lower=0, upper=2**63 - 1)
    where = "samples" if samples is not None else "monte_carlo.samples"  # the argument or the file
    budget(n, MAX_MONTE_CARLO_SAMPLES, where, n, "Monte Carlo samples")  # checked before any work
    cells = n * s.horizon_months * len(s.options)
    budget(cells, MAX_MONTE_CARLO_CELLS, where, n, "Monte Carlo cells (samples × months × options)")
    resolved = scenario if isinstance(scenario, Resolved) else resolve(scenario, today)
    s = resolved.scenario
    ev = evaluate(resolved, expected_inputs(resolved.ranges), simulate=True)
    options = tuple(_option(resolved, ev, o.name, o.kind, o.label) for o in s.options)
    cheapest = min(options, key=lambda o: o.total_cost_usd).name
    mc = (
        monte_carlo(resolved, n, np.random.default_rng(seed_), seed_)
        if n > 0 and (_ranged(resolved) or samples is not None)
        else None
    )
    one_time = tuple(
        OneTimeCost(
            name=item.name,
            cost_usd=float(ev.one_time_items[item.name][0]),
            month=item.month,
            source=(
                f"training estimator ({item.training.stage} stage)" if item.training is not None else "given"
            ),
            gpu_hours=resolved.training_gpu_hours.get(item.name),
            accelerator=item.training.gpu if item.training is not None else None,
        )
        for item in s.one_time
    )
    evens = break_evens(resolved, ev)
    return ScenarioResult(
        paybacks=_paybacks(options),
        prices_as_of=resolved.prices_as_of.isoformat(),
        name=s.name,
        description=s.description,
        horizon_months=s.horizon_months,
        traffic=_traffic(s, ev, resolved.ranges["traffic.peak_factor"].expected),
        revenue_usd=_s(ev.revenue_usd[0]) if ev.revenue_usd is not None else None,
        options=options,
        one_time_costs=one_time,
        cheapest_option=cheapest,
        break_evens=evens,
        cost_curves=cost_curves(resolved, ev, evens),
        crossovers=_crossovers(options),
        router_savings=_router_savings(resolved, ev),
        idle_costs=_idle(resolved, ev),
        tornado=tornado(resolved),
        monte_carlo=mc,
        assumptions=resolved.assumptions,
        resolved_scenario=s.model_dump(mode="json"),
        notes=_notes(resolved),
    )


def _ranged(resolved: Resolved) -> bool:
    return any(r.high > r.low for r in resolved.ranges.values())


__all__ = ["SECONDS_PER_DAY", "project"]
