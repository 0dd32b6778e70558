"""AWS Cost and Usage Report 2.0 (Parquet or CSV) onto the canonical line.

Column names as in the CUR 2.0 data dictionary
(https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html, checked 2026-12-01):
``line_item_usage_type`` (``USE1-Train:ml.p4d.24xlarge``), ``line_item_operation``,
``line_item_product_code``, ``product`` (a map; JSON text in CSV) and ``resource_tags`` (a map, user tags
prefixed ``user_``). EffectiveCost follows AWS's FOCUS mapping in simplified form: Savings-Plan- and
reservation-covered usage take their effective cost, Savings Plan negation lines count 0, anything else
its unblended cost.
"""

from __future__ import annotations

from flopbill.bills.columns import (
    Check,
    Columns,
    json_object_tags,
    json_valid_check,
    literal,
    money,
    normalized_tags,
)

SIGNATURE = ("line_item_usage_type", "line_item_unblended_cost")
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("line_item_usage_start_date",),
    ("line_item_usage_end_date",),
    ("line_item_unblended_cost",),
    ("line_item_currency_code",),
    ("line_item_usage_type",),
    ("line_item_product_code",),
)
AI_PRODUCT_CODES = ("AmazonSageMaker", "AmazonBedrock", "AmazonBedrockService", "AmazonQ")
_CATEGORY = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
}


def _map(cols: Columns, name: str) -> str:
    """Return a map column as a normalised tag MAP whether it is a MAP or JSON text."""
    if not cols.has(name):
        return "MAP {}"
    if cols.type_of(name).upper().startswith("MAP"):
        return f"COALESCE({normalized_tags(cols.ref(name))}, MAP {{}})"
    return json_object_tags(cols.text(name))


def _category(item_type: str) -> str:
    whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in _CATEGORY.items())
    return f"CASE {item_type} {whens} ELSE 'Adjustment' END"


def _effective(cols: Columns) -> str:
    unblended = money(cols.ref("line_item_unblended_cost"))
    item = cols.text("line_item_line_item_type")
    sp = money(cols.ref("savings_plan_savings_plan_effective_cost"))
    ri = money(cols.ref("reservation_effective_cost"))
    return (
        f"CASE {item} WHEN 'SavingsPlanCoveredUsage' THEN COALESCE({sp}, {unblended}) "
        f"WHEN 'DiscountedUsage' THEN COALESCE({ri}, {unblended}) "
        f"WHEN 'SavingsPlanNegation' THEN CAST(0 AS DECIMAL(38, 18)) ELSE {unblended} END"
    )


def expressions(cols: Columns) -> dict[str, str]:
    """Return canonical column → SQL over the raw CUR 2.0 relation."""
    product = _map(cols, "product")
    code = cols.text("line_item_product_code")
    usage_type = cols.text("line_item_usage_type")
    ai_codes = ", ".join(literal(c) for c in AI_PRODUCT_CODES)
    return {
        "ProviderName": "'AWS'",
        "BillingAccountId": cols.text("bill_payer_account_id"),
        "SubAccountId": cols.text("line_item_usage_account_id"),
        "ChargePeriodStart": cols.ts("line_item_usage_start_date"),
        "ChargePeriodEnd": cols.ts("line_item_usage_end_date"),
        "ChargeCategory": _category(cols.text("line_item_line_item_type")),
        "BilledCost": money(cols.ref("line_item_unblended_cost")),
        "EffectiveCost": _effective(cols),
        "BillingCurrency": cols.text("line_item_currency_code"),
        "ServiceCategory": f"CASE WHEN {code} IN ({ai_codes}) THEN 'AI and Machine Learning' END",
        "ServiceName": f"COALESCE({product}['product_name'], {cols.text('product_servicecode')}, {code})",
        "SkuId": cols.text("product_sku"),
        "ChargeDescription": cols.text("line_item_line_item_description"),
        "ResourceId": cols.text("line_item_resource_id"),
        "ResourceName": "NULL",
        "RegionId": cols.first("product_region_code", "product_region"),
        "ConsumedQuantity": money(cols.ref("line_item_usage_amount")),
        "ConsumedUnit": cols.text("pricing_unit"),
        "x_UsageType": usage_type,
        "x_Operation": cols.text("line_item_operation"),
        "x_InstanceType": (
            f"COALESCE({cols.text('product_instance_type')}, {product}['instance_type'], "
            f"NULLIF(regexp_extract({usage_type}, ':(?:ml\\.)?([a-z0-9-]+\\.[0-9]*x?large)', 1), ''))"
        ),
        "Tags": _map(cols, "resource_tags"),
    }


def checks(cols: Columns) -> list[Check]:
    """Return the typed columns to validate row by row."""
    out = []
    for name in ("line_item_unblended_cost", "line_item_usage_amount"):
        if cols.has(name):
            out.append(Check(name, cols.ref(name), money(cols.ref(name)), "a decimal number"))
    for name in ("line_item_usage_start_date", "line_item_usage_end_date"):
        out.append(Check(name, cols.ref(name), cols.ts(name), "an ISO 8601 date-time"))
    for name in ("product", "resource_tags"):
        if cols.has(name) and not cols.type_of(name).upper().startswith("MAP"):
            out.append(json_valid_check(name, cols.text(name)))
    return out
