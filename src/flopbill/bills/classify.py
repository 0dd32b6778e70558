"""Classify bill lines with the rules, written once as Ibis expressions (DuckDB or PySpark underneath).

Each line gets ``rule_id`` (the first rule that holds, else ``no-rule``), ``phase`` and ``confidence``
(looked up from the rule id in the engine, a CASE on a small constant table). Regular expressions are
case-insensitive (``(?i)``) and use only syntax RE2 (DuckDB) and Java (Spark) read the same way.
Totals per phase are summed in the engine as DECIMAL and must equal the input total to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from typing import Any

import ibis
import ibis.expr.types as ir

from flopbill.bills.rules import Condition, RuleSet
from flopbill.bills.schema import Phase

NO_RULE = "no-rule"
CENT = Decimal("0.01")


def _test(value: ir.StringValue, cond: Condition) -> ir.BooleanValue:
    if cond.matches is not None:
        return value.re_search("(?i)" + cond.matches)
    return value.lower() == str(cond.equals).lower()


def _either(tests: list[ir.BooleanValue]) -> ir.BooleanValue:
    return reduce(lambda a, b: a | b, tests)


def condition_expr(table: ir.Table, cond: Condition) -> ir.BooleanValue:
    """Return the Ibis boolean for one condition (NULL columns and missing tags never match)."""
    if cond.any_of:
        return _either([condition_expr(table, c) for c in cond.any_of])
    if cond.field:
        return _either([_test(table[name], cond) for name in cond.field])
    return _either([_test(table["Tags"].get(key.lower()), cond) for key in cond.tag])


def classify(table: ir.Table, rules: RuleSet) -> ir.Table:
    """Return ``table`` with ``rule_id``, ``phase`` and ``confidence`` added (one row per input row)."""
    branches: list[tuple[Any, str]] = []
    for rule in rules.rules:
        if not rule.when:
            branches.append((ibis.literal(True), rule.id))
            break
        cond = reduce(lambda a, b: a & b, [condition_expr(table, c) for c in rule.when])
        branches.append((cond, rule.id))
    rule_id = ibis.cases(*branches, else_=NO_RULE)
    with_rule = table.mutate(rule_id=rule_id)
    phases = {r.id: r.phase.value for r in rules.rules}
    confidences = {r.id: f"{r.confidence:.3f}" for r in rules.rules}
    return with_rule.mutate(
        phase=with_rule.rule_id.substitute(phases, else_=Phase.UNCLASSIFIED.value),
        confidence=with_rule.rule_id.substitute(confidences, else_="0").cast("decimal(4, 3)"),
    )


@dataclass(frozen=True)
class PhaseTotal:
    """Spend of one phase: lines, BilledCost and EffectiveCost (never added together), bill currency."""

    phase: str
    lines: int
    billed_cost: Decimal
    effective_cost: Decimal


@dataclass(frozen=True)
class ClassifyTotals:
    """Totals per phase and of the input; the phase sums equal the input totals exactly."""

    currency: str | None
    input_lines: int
    input_billed_cost: Decimal
    input_effective_cost: Decimal
    phases: tuple[PhaseTotal, ...]
    rules_version: int


def _dec(value: object) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def totals(classified: ir.Table, source: ir.Table, rules: RuleSet) -> ClassifyTotals:
    """Return spend per phase (summed in the engine) and the input total; raise if they differ by a cent.

    The check compares the exact DECIMAL sums, so it holds to the last stored digit, not only the cent.
    """
    grouped = (
        classified.group_by("phase")
        .aggregate(
            lines=classified.count(),
            billed=classified.BilledCost.sum(),
            effective=classified.EffectiveCost.sum(),
        )
        .to_pyarrow()
        .to_pylist()
    )
    whole = (
        source.aggregate(
            lines=source.count(), billed=source.BilledCost.sum(), effective=source.EffectiveCost.sum()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    currencies = (
        source.BillingCurrency.cast("string")
        .name("c")
        .as_table()
        .distinct()
        .to_pyarrow()
        .column(0)
        .to_pylist()
    )
    order = {p.value: i for i, p in enumerate(Phase)}
    phases = tuple(
        PhaseTotal(str(g["phase"]), int(g["lines"]), _dec(g["billed"]), _dec(g["effective"]))
        for g in sorted(grouped, key=lambda g: order.get(str(g["phase"]), 99))
    )
    result = ClassifyTotals(
        currency=str(currencies[0]) if len(currencies) == 1 and currencies[0] is not None else None,
        input_lines=int(whole["lines"]),
        input_billed_cost=_dec(whole["billed"]),
        input_effective_cost=_dec(whole["effective"]),
        phases=phases,
        rules_version=rules.version,
    )
    check_totals(result)
    return result


def check_totals(result: ClassifyTotals) -> None:
    """Raise RuntimeError unless lines, BilledCost and EffectiveCost per phase add up to the input's."""
    billed = sum((p.billed_cost for p in result.phases), Decimal(0))
    effective = sum((p.effective_cost for p in result.phases), Decimal(0))
    lines = sum(p.lines for p in result.phases)
    if (
        lines != result.input_lines
        or billed.quantize(CENT) != result.input_billed_cost.quantize(CENT)
        or effective.quantize(CENT) != result.input_effective_cost.quantize(CENT)
    ):
        raise RuntimeError(
            f"phase totals {billed}/{effective} ({lines} lines) differ from the input's: {result}"
        )
