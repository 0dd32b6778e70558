"""The canonical bill line: FOCUS column names (FOCUS 1.0–1.2) plus a few ``x_`` columns.

Every provider format is mapped onto these columns on import. Money columns are ``DECIMAL(38, 18)``
(never floating point): BilledCost is what the invoice charges, EffectiveCost the amortised cost after
commitment discounts; the two are never added together. Column names follow the FOCUS specification
(https://focus.finops.org/focus-specification/, checked 2026-12-01); ``x_`` columns are flopbill's
extensions, as FOCUS allows for custom columns.
"""

from __future__ import annotations

import enum

MONEY_SQL = "DECIMAL(38, 18)"

#: Canonical columns in table order: (name, DuckDB type).
LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("x_LineId", "VARCHAR"),
    ("x_SourceFile", "VARCHAR"),
    ("x_SourceRow", "BIGINT"),
    ("x_SourceFormat", "VARCHAR"),
    ("ProviderName", "VARCHAR"),
    ("BillingAccountId", "VARCHAR"),
    ("SubAccountId", "VARCHAR"),
    ("ChargePeriodStart", "TIMESTAMP"),
    ("ChargePeriodEnd", "TIMESTAMP"),
    ("ChargeCategory", "VARCHAR"),
    ("BilledCost", MONEY_SQL),
    ("EffectiveCost", MONEY_SQL),
    ("BillingCurrency", "VARCHAR"),
    ("ServiceCategory", "VARCHAR"),
    ("ServiceName", "VARCHAR"),
    ("SkuId", "VARCHAR"),
    ("ChargeDescription", "VARCHAR"),
    ("ResourceId", "VARCHAR"),
    ("ResourceName", "VARCHAR"),
    ("RegionId", "VARCHAR"),
    ("ConsumedQuantity", MONEY_SQL),
    ("ConsumedUnit", "VARCHAR"),
    ("x_UsageType", "VARCHAR"),
    ("x_Operation", "VARCHAR"),
    ("x_InstanceType", "VARCHAR"),
    ("Tags", "MAP(VARCHAR, VARCHAR)"),
)

LINE_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in LINE_COLUMNS)

#: Columns a rule may test (string columns of the canonical line).
RULE_FIELDS: tuple[str, ...] = (
    "ProviderName",
    "ChargeCategory",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "ChargeDescription",
    "ResourceId",
    "ResourceName",
    "ConsumedUnit",
    "x_UsageType",
    "x_Operation",
    "x_InstanceType",
)


class Phase(enum.StrEnum):
    """Where a bill line's money went."""

    TRAINING = "training"
    FINE_TUNING = "fine_tuning"
    INFERENCE = "inference"
    OTHER = "other"
    UNCLASSIFIED = "unclassified"


class BillFormat(enum.StrEnum):
    """Input formats ``bill import`` understands."""

    FOCUS = "focus"
    CUR2 = "cur2"
    GCP = "gcp"
    AZURE = "azure"
