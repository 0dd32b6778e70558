"""What a classified bill says: spend by phase and month, training as capital, unit costs, top resources.

Every figure is summed in the engine (Ibis over DuckDB or Spark) as DECIMAL in the bill's currency;
Python only receives the small grouped tables. Policy, stated with the result: training and fine-tuning
spend is treated as capital and amortised straight-line over ``amortization_months`` starting in the
month it was billed; inference and other spend is operating cost in the month billed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, localcontext
from importlib.resources import files

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from flopbill.bills.schema import Phase

CAPITAL_PHASES = (Phase.TRAINING.value, Phase.FINE_TUNING.value)
_HOURS_UNIT = "(?i)^(hrs|hours?|instance[- ]hours?|1 hour)$"
_TOKEN_UNIT = "(?i)token"


@dataclass(frozen=True)
class MonthPhase:
    """BilledCost of one phase in one month (``month`` is ``YYYY-MM``)."""

    month: str
    phase: str
    billed_cost: Decimal


@dataclass(frozen=True)
class UnitCost:
    """A unit cost where usage carries units: ``usd_per_unit`` per ``unit`` (1M tokens or GPU-hour)."""

    phase: str
    service: str
    unit: str
    quantity: Decimal
    billed_cost: Decimal
    cost_per_unit: Decimal | None


@dataclass(frozen=True)
class TopItem:
    """A resource (or usage type) and its spend."""

    key: str
    phase: str
    rule_id: str
    lines: int
    billed_cost: Decimal


@dataclass(frozen=True)
class BillReport:
    """Spend by phase and month, amortised view, unit costs, top resources and spend to review."""

    currency: str | None
    months: tuple[str, ...]
    by_month: tuple[MonthPhase, ...]
    amortization_months: int
    amortized_capital_by_month: tuple[Decimal, ...]
    capital_deferred_after_last_month: Decimal
    operating_by_month: tuple[Decimal, ...]
    unit_costs: tuple[UnitCost, ...]
    top_resources: tuple[TopItem, ...]
    unclassified: tuple[TopItem, ...]
    policy: str


def _dec(value: object) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def gpu_table() -> list[dict[str, str]]:
    """Return the packaged accelerators-per-instance table (instance_type, accelerator, gpus, source)."""
    text = (
        files("flopbill.bills").joinpath("data").joinpath("gpus_per_instance.csv").read_text(encoding="utf-8")
    )
    return list(csv.DictReader(text.splitlines()))


def gpu_memtable() -> ir.Table:
    """Return the accelerators-per-instance table as a small in-engine table (``it``, ``g``)."""
    rows = gpu_table()
    data = pa.table(
        {"it": [r["instance_type"].lower() for r in rows], "g": [int(r["gpus_per_instance"]) for r in rows]}
    )
    return ibis.memtable(data)


def _monthly(t: ir.Table) -> list[MonthPhase]:
    month = t.ChargePeriodStart.truncate("M").strftime("%Y-%m")
    rows = (
        t.mutate(month=month)
        .group_by(["month", "phase"])
        .aggregate(billed=t.BilledCost.sum())
        .order_by(["month", "phase"])
        .to_pyarrow()
        .to_pylist()
    )
    return [MonthPhase(str(r["month"]), str(r["phase"]), _dec(r["billed"])) for r in rows]


def amortize(capital_by_month: list[Decimal], months: int) -> tuple[list[Decimal], Decimal]:
    """Spread each month's capital spend evenly over ``months`` months starting that month.

    Returns the amortised charge for each bill month and what falls after the last bill month. The two
    add up to the capital spend exactly (the last share of each month takes the rounding remainder).
    """
    with localcontext() as ctx:
        ctx.prec = 80
        return _amortize(capital_by_month, months)


def _amortize(capital_by_month: list[Decimal], months: int) -> tuple[list[Decimal], Decimal]:
    n = len(capital_by_month)
    out = [Decimal(0)] * n
    deferred = Decimal(0)
    for i, amount in enumerate(capital_by_month):
        share = (amount / months).quantize(Decimal("1e-18"))
        for k in range(months):
            part = share if k < months - 1 else amount - share * (months - 1)
            if i + k < n:
                out[i + k] += part
            else:
                deferred += part
    return out, deferred


def _unit_costs(t: ir.Table) -> list[UnitCost]:
    tokens = t.filter(t.ConsumedUnit.re_search(_TOKEN_UNIT) & t.ConsumedQuantity.notnull())
    scale = ibis.cases(
        (tokens.ConsumedUnit.re_search("(?i)1M|million"), 1_000_000),
        (tokens.ConsumedUnit.re_search("(?i)1K|thousand"), 1_000),
        else_=1,
    )
    tok = (
        tokens.mutate(n=tokens.ConsumedQuantity * scale)
        .group_by(["phase", "ServiceName"])
        .aggregate(q=lambda x: x.n.sum(), c=lambda x: x.BilledCost.sum())
        .to_pyarrow()
        .to_pylist()
    )
    out = [_unit(r, "1M tokens", Decimal(1_000_000)) for r in tok]
    gpus = gpu_memtable()
    hours = t.filter(t.ConsumedUnit.re_search(_HOURS_UNIT) & t.x_InstanceType.notnull())
    hours = hours.mutate(it=hours.x_InstanceType.lower().re_replace("^ml\\.", ""))
    joined = hours.join(gpus, hours.it == gpus.it)
    gh = (
        joined.mutate(n=joined.ConsumedQuantity * joined.g)
        .group_by(["phase", "ServiceName"])
        .aggregate(q=lambda x: x.n.sum(), c=lambda x: x.BilledCost.sum())
        .to_pyarrow()
        .to_pylist()
    )
    out += [_unit(r, "GPU-hour", Decimal(1)) for r in gh]
    return sorted(out, key=lambda u: (u.unit, u.phase, u.service))


def _unit(row: dict[str, object], unit: str, per: Decimal) -> UnitCost:
    q, c = _dec(row["q"]), _dec(row["c"])
    return UnitCost(str(row["phase"]), str(row["ServiceName"]), unit, q, c, (c / q * per) if q else None)


def _top(t: ir.Table, limit: int) -> list[TopItem]:
    key = ibis.coalesce(t.ResourceId, t.ResourceName, t.x_UsageType, t.ChargeDescription, t.ServiceName)
    rows = (
        t.mutate(key=key.fill_null("(none)"))
        .group_by(["key", "phase", "rule_id"])
        .aggregate(lines=lambda x: x.count(), billed=lambda x: x.BilledCost.sum())
        .order_by([ibis.desc("billed"), "key"])
        .limit(limit)
        .to_pyarrow()
        .to_pylist()
    )
    return [
        TopItem(str(r["key"]), str(r["phase"]), str(r["rule_id"]), int(r["lines"]), _dec(r["billed"]))
        for r in rows
    ]


def bill_report(
    classified: ir.Table, currency: str | None, amortization_months: int = 36, top: int = 10
) -> BillReport:
    """Return the report of a classified bill (see the module docstring for the capital policy)."""
    by_month = _monthly(classified)
    months = tuple(sorted({m.month for m in by_month}))
    capital = [
        sum((m.billed_cost for m in by_month if m.month == mo and m.phase in CAPITAL_PHASES), Decimal(0))
        for mo in months
    ]
    operating = tuple(
        sum((m.billed_cost for m in by_month if m.month == mo and m.phase not in CAPITAL_PHASES), Decimal(0))
        for mo in months
    )
    amortized, deferred = amortize(capital, amortization_months)
    unclassified = classified.filter(classified.phase == Phase.UNCLASSIFIED.value)
    return BillReport(
        currency=currency,
        months=months,
        by_month=tuple(by_month),
        amortization_months=amortization_months,
        amortized_capital_by_month=tuple(amortized),
        capital_deferred_after_last_month=deferred,
        operating_by_month=operating,
        unit_costs=tuple(_unit_costs(classified)),
        top_resources=tuple(_top(classified, top)),
        unclassified=tuple(_top(unclassified, 50)),
        policy=(
            "training and fine-tuning are capital, amortised straight-line over "
            f"{amortization_months} months from the month billed; "
            "inference and other are operating cost in the month billed"
        ),
    )
