"""Google Cloud billing export (BigQuery standard/detailed export as JSON, CSV or Parquet).

Field names as in the BigQuery export schema
(https://cloud.google.com/billing/docs/how-to/export-data-bigquery-tables/standard-usage, checked
2026-12-01): ``service.description``, ``sku.description``, ``usage_start_time``, ``cost``, ``currency``,
``usage.amount``/``usage.unit``, ``labels`` as ``ARRAY<STRUCT<key, value>>`` (JSON text in CSV) and
``credits`` as ``ARRAY<STRUCT<name, amount, ...>>``. Nested fields are read from structs (JSON, Parquet)
or from flattened ``a.b`` columns (CSV). BilledCost is ``cost`` as exported; EffectiveCost is ``cost``
plus the (negative) credits, so committed-use and sustained-use credits lower the effective cost only.
"""

from __future__ import annotations

from flopbill.bills.columns import Check, Columns, json_valid_check, money, normalized_tags

SIGNATURE = ("cost", "usage_start_time")
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("cost",),
    ("currency",),
    ("usage_start_time",),
    ("usage_end_time",),
    ("service.description",),
    ("sku.description",),
)
AI_SERVICES = ("Vertex AI", "Gemini API", "Cloud AI Platform", "AI Platform", "Generative Language API")
_KV = '[{"key": "VARCHAR", "value": "VARCHAR"}]'


def _labels(cols: Columns, name: str) -> str:
    """Return a key/value array column (struct list or JSON text) as a normalised tag MAP."""
    if not cols.has(name):
        return "MAP {}"
    ref = cols.ref(name)
    if cols.type_of(name).upper().startswith(("STRUCT", "LIST")) or "[]" in cols.type_of(name):
        entries = ref
    else:
        text = cols.text(name)
        entries = f"CASE WHEN trim({text}) IN ('', '[]') THEN NULL ELSE json_transform({text}, '{_KV}') END"
    return f"COALESCE({normalized_tags(f'map_from_entries({entries})')}, MAP {{}})"


def _credits(cols: Columns) -> str:
    if not cols.has("credits"):
        return "CAST(0 AS DECIMAL(38, 18))"
    if "[]" in cols.type_of("credits"):
        amounts = f"list_transform({cols.ref('credits')}, c -> {money('c.amount')})"
    else:
        text = cols.text("credits")
        amounts = (
            f"list_transform(CASE WHEN trim({text}) IN ('', '[]') THEN NULL "
            f'ELSE json_transform({text}, \'[{{"amount": "VARCHAR"}}]\') END, c -> {money("c.amount")})'
        )
    return f"COALESCE(list_sum({amounts}), CAST(0 AS DECIMAL(38, 18)))"


def expressions(cols: Columns) -> dict[str, str]:
    """Return canonical column → SQL over the raw GCP export relation."""
    service = cols.text("service.description")
    ai = ", ".join(f"'{s}'" for s in AI_SERVICES)
    cost = money(cols.ref("cost"))
    return {
        "ProviderName": "'Google Cloud'",
        "BillingAccountId": cols.text("billing_account_id"),
        "SubAccountId": cols.text("project.id"),
        "ChargePeriodStart": cols.ts("usage_start_time"),
        "ChargePeriodEnd": cols.ts("usage_end_time"),
        "ChargeCategory": (
            f"CASE {cols.text('cost_type')} WHEN 'tax' THEN 'Tax' WHEN 'adjustment' THEN 'Adjustment' "
            "WHEN 'rounding_error' THEN 'Adjustment' ELSE 'Usage' END"
        ),
        "BilledCost": cost,
        "EffectiveCost": f"CAST({cost} + {_credits(cols)} AS DECIMAL(38, 18))",
        "BillingCurrency": cols.text("currency"),
        "ServiceCategory": f"CASE WHEN {service} IN ({ai}) THEN 'AI and Machine Learning' END",
        "ServiceName": service,
        "SkuId": cols.text("sku.id"),
        "ChargeDescription": cols.text("sku.description"),
        "ResourceId": cols.text("resource.global_name"),
        "ResourceName": cols.text("resource.name"),
        "RegionId": cols.text("location.region"),
        "ConsumedQuantity": money(cols.ref("usage.amount")),
        "ConsumedUnit": cols.text("usage.unit"),
        "x_UsageType": cols.text("sku.description"),
        "x_Operation": "NULL",
        "x_InstanceType": f"{_labels(cols, 'system_labels')}['compute.googleapis.com/machine_spec']",
        "Tags": _labels(cols, "labels"),
    }


def checks(cols: Columns) -> list[Check]:
    """Return the typed columns to validate row by row."""
    out = [Check("cost", cols.ref("cost"), money(cols.ref("cost")), "a decimal number")]
    for name in ("usage_start_time", "usage_end_time"):
        out.append(Check(name, cols.ref(name), cols.ts(name), "an ISO 8601 date-time"))
    for name in ("labels", "credits"):
        if cols.has(name) and "[]" not in cols.type_of(name):
            out.append(json_valid_check(name, cols.text(name)))
    return out
