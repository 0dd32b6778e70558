"""Plan vs actual: the scenario projection (the plan) against the classified bill, month by month.

Matching, stated with the result: plan month 1 is the first bill month (or ``start``). An ``api``
option is compared with inference lines billed in tokens; a GPU-backed option (``self_hosted``,
``owned``) with inference lines not billed in tokens; any other kind with all inference lines. One-time
plan costs (training, fine-tuning) are compared with training + fine-tuning lines. Plan GPU-hours are the
option's GPUs × 24 h × days per month; actual GPU-hours are instance-hours × GPUs per instance of the
matched lines. Plan tokens (``api`` options) are model calls × expected input + output tokens per call;
actual tokens are the matched lines' token quantities (scaled by ``1K``/``1M`` units). Variance =
actual − plan, only when the bill is in USD (the plan is in USD; no currency is converted).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from flopbill.bills.report import _HOURS_UNIT, _TOKEN_UNIT, gpu_memtable
from flopbill.bills.schema import Phase
from flopbill.errors import InputError
from flopbill.scenario.result import OptionProjection, ScenarioResult

GPU_KINDS = ("self_hosted", "owned")


@dataclass(frozen=True)
class MonthVariance:
    """One month of one option: plan and actual dollars and GPU-hours."""

    month: str
    plan_month: int
    plan_usd: float
    actual: Decimal
    variance: Decimal | None
    plan_gpu_hours: float | None
    actual_gpu_hours: Decimal
    plan_tokens: float | None = None
    actual_tokens: Decimal = Decimal(0)

    @property
    def plan_gpu_hours_text(self) -> str:
        """Plan GPU-hours for a table ('—' when the option has no GPUs)."""
        return "—" if self.plan_gpu_hours is None else f"{self.plan_gpu_hours:,.1f}"


@dataclass(frozen=True)
class OptionVariance:
    """Plan vs actual of one plan option over the months the bill covers."""

    option: str
    kind: str
    matched_lines: str
    months: tuple[MonthVariance, ...]
    plan_total_usd: float
    actual_total: Decimal
    variance_total: Decimal | None


@dataclass(frozen=True)
class Driver:
    """A usage type (service: usage) and its actual AI spend over the compared months."""

    key: str
    phase: str
    billed_cost: Decimal


@dataclass(frozen=True)
class Reconciliation:
    """Plan vs actual for every option, the one-time (capital) comparison, and the drivers."""

    scenario: str
    currency: str | None
    start_month: str
    options: tuple[OptionVariance, ...]
    one_time: OptionVariance
    drivers: tuple[Driver, ...]
    policy: str


def _month_add(start: str, k: int) -> str:
    year, month = int(start[:4]), int(start[5:7]) - 1 + k
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


Actual = dict[str, tuple[Decimal, Decimal, Decimal]]


def _token_count(t: ir.Table) -> ir.NumericValue:
    """Tokens on a line: ConsumedQuantity scaled by its unit (``1K tokens`` × 1,000, ``1M`` × 10⁶), else 0."""
    scale = ibis.cases(
        (t.ConsumedUnit.re_search("(?i)1M|million"), 1_000_000),
        (t.ConsumedUnit.re_search("(?i)1K|thousand"), 1_000),
        else_=1,
    )
    return ibis.cases((_is_tokens(t), t.ConsumedQuantity * scale), else_=ibis.literal(0)).fill_null(0)


def _is_tokens(t: ir.Table) -> ir.BooleanValue:
    """True for lines billed in tokens (the unit or the usage type / meter / SKU says so)."""
    return (t.ConsumedUnit.re_search(_TOKEN_UNIT) | t.x_UsageType.re_search("(?i)tokens?")).fill_null(False)


def _actual_by_month(t: ir.Table) -> Actual:
    gpus = gpu_memtable()
    t = t.mutate(
        month=t.ChargePeriodStart.truncate("M").strftime("%Y-%m"),
        it=t.x_InstanceType.lower().re_replace("^ml\\.", ""),
    )
    joined = t.left_join(gpus, t.it == gpus.it)
    hours = ibis.cases(
        (
            joined.ConsumedUnit.re_search(_HOURS_UNIT),
            joined.ConsumedQuantity * joined.g,
        ),
        else_=ibis.literal(0),
    ).fill_null(0)
    rows = (
        joined.mutate(h=hours, n=_token_count(joined))
        .group_by("month")
        .aggregate(c=lambda x: x.BilledCost.sum(), h=lambda x: x.h.sum(), n=lambda x: x.n.sum())
    )
    return {
        str(r["month"]): (Decimal(str(r["c"] or 0)), Decimal(str(r["h"] or 0)), Decimal(str(r["n"] or 0)))
        for r in rows.to_pyarrow().to_pylist()
    }


def _matched(classified: ir.Table, kind: str) -> tuple[ir.Table, str]:
    infer = classified.filter(classified.phase == Phase.INFERENCE.value)
    tokens = _is_tokens(infer)
    if kind == "api":
        return infer.filter(tokens), "inference lines billed in tokens"
    if kind in GPU_KINDS:
        return infer.filter(~tokens), "inference lines not billed in tokens (GPU serving)"
    return infer, "all inference lines"


def _compare(
    name: str,
    kind: str,
    what: str,
    plan: list[float],
    gpu_plan: list[float] | None,
    actual: Actual,
    months: list[str],
    usd: bool,
    token_plan: list[float] | None = None,
) -> OptionVariance:
    rows = []
    for i, month in enumerate(months):
        a_cost, a_hours, a_tokens = actual.get(month, (Decimal(0), Decimal(0), Decimal(0)))
        p = plan[i]
        rows.append(
            MonthVariance(
                month,
                i + 1,
                p,
                a_cost,
                (a_cost - Decimal(str(round(p, 10)))) if usd else None,
                None if gpu_plan is None else gpu_plan[i],
                a_hours,
                None if token_plan is None else token_plan[i],
                a_tokens,
            )
        )
    plan_total = float(sum(plan[: len(months)]))
    actual_total = sum((r.actual for r in rows), Decimal(0))
    var = actual_total - Decimal(str(round(plan_total, 10))) if usd else None
    return OptionVariance(name, kind, what, tuple(rows), plan_total, actual_total, var)


def _plan_tokens(plan: ScenarioResult, opt: OptionProjection) -> list[float] | None:
    """Plan tokens of an ``api`` option: model calls × (expected input + output tokens per call)."""
    request = plan.resolved_scenario.get("request", {})
    try:
        per_call = float(request["input_tokens"]["expected"]) + float(request["output_tokens"]["expected"])
    except (KeyError, TypeError, ValueError):
        return None
    return [calls * per_call for calls in plan.traffic.model_calls] if opt.kind == "api" else None


def _plan_gpu_hours(plan: ScenarioResult, opt: OptionProjection) -> list[float] | None:
    if opt.gpus is None:
        return None
    return [float(g) * 24.0 * plan.traffic.days_per_month for g in opt.gpus]


def _drivers(classified: ir.Table, months: list[str]) -> tuple[Driver, ...]:
    ai = classified.filter(classified.phase.isin([p.value for p in Phase if p is not Phase.OTHER]))
    ai = ai.filter(ai.ChargePeriodStart.truncate("M").strftime("%Y-%m").isin(months))
    key = (
        ibis.coalesce(ai.ServiceName, ibis.literal("?"))
        + ": "
        + ibis.coalesce(ai.x_UsageType, ai.ChargeDescription, ibis.literal("?"))
    )
    rows = (
        ai.mutate(key=key)
        .group_by(["key", "phase"])
        .aggregate(c=lambda x: x.BilledCost.sum())
        .order_by([ibis.desc("c"), "key"])
        .limit(10)
        .to_pyarrow()
        .to_pylist()
    )
    return tuple(Driver(str(r["key"]), str(r["phase"]), Decimal(str(r["c"]))) for r in rows)


def reconcile(plan: ScenarioResult, classified: ir.Table, start: str | None = None) -> Reconciliation:
    """Return plan vs actual per month and option, the one-time comparison and the biggest drivers."""
    first = classified.ChargePeriodStart.min().to_pyarrow().as_py()
    if first is None:
        raise InputError("--db", "empty", "a bill database with imported lines")
    if start is not None and (len(start) != 7 or start[4] != "-" or not start.replace("-", "").isdigit()):
        raise InputError("--start", start, "a month as YYYY-MM")
    begin = start or f"{first.year:04d}-{first.month:02d}"
    last = classified.ChargePeriodStart.max().to_pyarrow().as_py()
    span = (last.year - int(begin[:4])) * 12 + last.month - int(begin[5:7]) + 1
    months = [_month_add(begin, k) for k in range(max(0, min(plan.horizon_months, span)))]
    currencies = (
        classified.BillingCurrency.cast("string")
        .name("c")
        .as_table()
        .distinct()
        .to_pyarrow()
        .column(0)
        .to_pylist()
    )
    currency = str(currencies[0]) if len(currencies) == 1 else None
    usd = currency == "USD"
    options = []
    for opt in plan.options:
        table, what = _matched(classified, opt.kind)
        options.append(
            _compare(
                opt.name,
                opt.kind,
                what,
                list(opt.recurring_cost_usd),
                _plan_gpu_hours(plan, opt),
                _actual_by_month(table),
                months,
                usd,
                _plan_tokens(plan, opt),
            )
        )
    one_time_plan = [0.0] * plan.horizon_months
    for cost in plan.one_time_costs:
        if 1 <= cost.month <= plan.horizon_months:
            one_time_plan[cost.month - 1] += cost.cost_usd
    capital = classified.filter(classified.phase.isin([Phase.TRAINING.value, Phase.FINE_TUNING.value]))
    one_time = _compare(
        "one-time (training, fine-tuning)",
        "one_time",
        "training and fine-tuning lines",
        one_time_plan,
        None,
        _actual_by_month(capital),
        months,
        usd,
    )
    return Reconciliation(
        scenario=plan.name,
        currency=currency,
        start_month=begin,
        options=tuple(options),
        one_time=one_time,
        drivers=_drivers(classified, months),
        policy=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    )
