"""Writing classified lines and the stable JSON payloads of ``bill classify`` and ``bill report``.

Money goes out as decimal strings (``"12.3400000000"``), never floats, so no cent is lost on the way.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from flopbill.bills.classify import ClassifyTotals
from flopbill.bills.report import BillReport
from flopbill.errors import InputError


def write_lines(classified: ir.Table, out: Path) -> None:
    """Write every classified line (all columns + phase, rule_id, confidence) to ``.csv`` or ``.parquet``."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError("--out", str(out), "a .csv or .parquet file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    table = classified.order_by(["x_SourceFile", "x_SourceRow"])
    if suffix == ".parquet":
        table.to_parquet(out)
    else:
        table.mutate(Tags=table.Tags.cast("string")).to_csv(out)


def totals_json(result: ClassifyTotals) -> dict[str, Any]:
    """Return the ``bill classify --json`` payload (stable keys, money as decimal strings)."""
    return {
        "currency": result.currency,
        "rules_version": result.rules_version,
        "input": {
            "lines": result.input_lines,
            "billed_cost": str(result.input_billed_cost),
            "effective_cost": str(result.input_effective_cost),
        },
        "phases": [
            {
                "phase": p.phase,
                "lines": p.lines,
                "billed_cost": str(p.billed_cost),
                "effective_cost": str(p.effective_cost),
            }
            for p in result.phases
        ],
    }


def report_json(rep: BillReport) -> dict[str, Any]:
    """Return the ``bill report --json`` payload."""
    return {
        "currency": rep.currency,
        "months": list(rep.months),
        "by_month": [
            {"month": m.month, "phase": m.phase, "billed_cost": str(m.billed_cost)} for m in rep.by_month
        ],
        "amortization_months": rep.amortization_months,
        "amortized_capital_by_month": [str(v) for v in rep.amortized_capital_by_month],
        "capital_deferred_after_last_month": str(rep.capital_deferred_after_last_month),
        "operating_by_month": [str(v) for v in rep.operating_by_month],
        "unit_costs": [
            {
                "phase": u.phase,
                "service": u.service,
                "unit": u.unit,
                "quantity": str(u.quantity),
                "billed_cost": str(u.billed_cost),
                "cost_per_unit": None if u.cost_per_unit is None else str(u.cost_per_unit),
            }
            for u in rep.unit_costs
        ],
        "top_resources": [_item(t) for t in rep.top_resources],
        "unclassified": [_item(t) for t in rep.unclassified],
        "policy": rep.policy,
    }


def _item(t: Any) -> dict[str, Any]:
    return {
        "key": t.key,
        "phase": t.phase,
        "rule_id": t.rule_id,
        "lines": t.lines,
        "billed_cost": str(t.billed_cost),
    }


def plain(value: Any) -> Any:
    """Return dataclasses/tuples/dicts as JSON types with every Decimal as a decimal string."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
