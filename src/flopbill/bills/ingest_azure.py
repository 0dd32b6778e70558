"""Azure cost details (EA / MCA "actual cost" CSV) onto the canonical line.

Quirks handled (as in Microsoft's own sample, finops-toolkit ``EA_ActualCost_Small.csv``): a UTF-8 BOM,
``MM/DD/YYYY`` dates, ``Tags`` as JSON without the outer braces. Column names per
https://learn.microsoft.com/azure/cost-management-billing/automate/understand-usage-details-fields
(checked 2026-12-01): EA files carry ``Cost``/``BillingCurrency``, MCA files
``CostInBillingCurrency``/``BillingCurrencyCode``; either is read. An actual-cost file does not amortise
reservations, so EffectiveCost equals BilledCost (export the amortised dataset for amortised cost).
ServiceCategory comes from Microsoft's ConsumedService + ResourceType → FOCUS mapping, joined in the
engine.
"""

from __future__ import annotations

from flopbill.bills.columns import Check, Columns, literal, money, normalized_tags

SIGNATURE = ("MeterCategory", "MeterName")
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("Date", "UsageDate"),
    ("MeterCategory",),
    ("MeterName",),
    ("CostInBillingCurrency", "Cost", "PreTaxCost"),
    ("BillingCurrencyCode", "BillingCurrency", "Currency"),
)
_CATEGORY = {"Usage": "Usage", "Purchase": "Purchase", "Refund": "Credit", "Tax": "Tax"}


def date_sql(src: str) -> str:
    """Return an Azure date (``MM/DD/YYYY`` or ISO) as a TIMESTAMP, NULL where it does not parse."""
    text = f"CAST({src} AS VARCHAR)"
    return f"COALESCE(try_strptime({text}, '%m/%d/%Y'), TRY_CAST({text} AS TIMESTAMP))"


def _tags(cols: Columns) -> str:
    if not cols.has("Tags"):
        return "MAP {}"
    transformed = f"json_transform({_braced(cols)}, '\"MAP(VARCHAR, VARCHAR)\"')"
    return f"COALESCE({normalized_tags(transformed)}, MAP {{}})"


def _braced(cols: Columns) -> str:
    text = f"trim({cols.text('Tags')})"
    return (
        f"CASE WHEN {text} = '' THEN NULL WHEN left({text}, 1) = '{{' THEN {text} "
        f"ELSE '{{' || {text} || '}}' END"
    )


def expressions(cols: Columns) -> dict[str, str]:
    """Return canonical column → SQL over the raw Azure relation (``__category`` joined in by ingest)."""
    date = cols.first("Date", "UsageDate")
    category = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in _CATEGORY.items())
    return {
        "ProviderName": "'Microsoft'",
        "BillingAccountId": cols.text("BillingAccountId"),
        "SubAccountId": cols.first("SubscriptionId", "SubscriptionGuid"),
        "ChargePeriodStart": date_sql(date),
        "ChargePeriodEnd": f"{date_sql(date)} + INTERVAL 1 DAY",
        "ChargeCategory": f"CASE {cols.text('ChargeType')} {category} ELSE 'Usage' END",
        "BilledCost": money(cols.first("CostInBillingCurrency", "Cost", "PreTaxCost")),
        "EffectiveCost": money(cols.first("CostInBillingCurrency", "Cost", "PreTaxCost")),
        "BillingCurrency": cols.first("BillingCurrencyCode", "BillingCurrency", "Currency"),
        "ServiceCategory": "__category",
        "ServiceName": cols.text("MeterCategory"),
        "SkuId": cols.text("MeterId"),
        "ChargeDescription": cols.first("ProductName", "Product"),
        "ResourceId": cols.first("ResourceId", "InstanceId"),
        "ResourceName": cols.text("ResourceName"),
        "RegionId": cols.first("ResourceLocation", "MeterRegion"),
        "ConsumedQuantity": money(cols.ref("Quantity")),
        "ConsumedUnit": cols.text("UnitOfMeasure"),
        "x_UsageType": cols.text("MeterName"),
        "x_Operation": cols.text("MeterSubCategory"),
        "x_InstanceType": (
            f"CASE WHEN json_valid({cols.text('AdditionalInfo')}) "
            f"THEN json_extract_string({cols.text('AdditionalInfo')}, '$.ServiceType') END"
        ),
        "Tags": _tags(cols),
    }


def consumed_service(cols: Columns) -> tuple[str, str]:
    """Return SQL for (lower-case ConsumedService, lower-case resource type from ResourceId)."""
    resource = cols.first("ResourceId", "InstanceId")
    return (
        f"lower({cols.text('ConsumedService')})",
        f"lower(NULLIF(regexp_extract({resource}, '/providers/([^/]+/[^/]+)', 1), ''))",
    )


def checks(cols: Columns) -> list[Check]:
    """Return the typed columns to validate row by row."""
    cost = cols.first("CostInBillingCurrency", "Cost", "PreTaxCost")
    date = cols.first("Date", "UsageDate")
    out = [
        Check("Cost", cost, money(cost), "a decimal number"),
        Check("Date", date, date_sql(date), "a date (MM/DD/YYYY or ISO 8601)"),
    ]
    if cols.has("Quantity"):
        out.append(Check("Quantity", cols.ref("Quantity"), money(cols.ref("Quantity")), "a decimal number"))
    if cols.has("Tags"):
        out.append(
            Check(
                "Tags",
                f"NULLIF(trim({cols.text('Tags')}), '')",
                f"CASE WHEN json_valid({_braced(cols)}) THEN 1 END",
                "JSON",
            )
        )
    return out
