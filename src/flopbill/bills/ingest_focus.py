"""FOCUS 1.0–1.2 (CSV or Parquet) onto the canonical line: the names already match.

FOCUS 1.2 renames ProviderName to ServiceProviderName; either is read. ``x_UsageType`` and
``x_Operation`` are read where a provider's FOCUS export carries them (AWS's does). The instance type is
taken from ``x_InstanceType`` if present, else from an AWS-style name (``p5.48xlarge``) in
ChargeDescription. Spec: https://focus.finops.org/focus-specification/ (checked 2026-12-01).
"""

from __future__ import annotations

from flopbill.bills.columns import Check, Columns, json_object_tags, json_valid_check, money

SIGNATURE = ("BilledCost", "ChargePeriodStart")
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("BilledCost",),
    ("EffectiveCost",),
    ("BillingCurrency",),
    ("ChargePeriodStart",),
    ("ChargePeriodEnd",),
    ("ServiceName",),
)
_INSTANCE_RE = r"([a-z][a-z0-9-]*\.[0-9]*x?large|Standard_[A-Za-z0-9_]+)"


def expressions(cols: Columns) -> dict[str, str]:
    """Return canonical column → SQL over the raw FOCUS relation."""
    tags = cols.text("Tags")
    desc = cols.text("ChargeDescription")
    return {
        "ProviderName": cols.first("ServiceProviderName", "ProviderName"),
        "BillingAccountId": cols.text("BillingAccountId"),
        "SubAccountId": cols.text("SubAccountId"),
        "ChargePeriodStart": cols.ts("ChargePeriodStart"),
        "ChargePeriodEnd": cols.ts("ChargePeriodEnd"),
        "ChargeCategory": cols.text("ChargeCategory"),
        "BilledCost": money(cols.ref("BilledCost")),
        "EffectiveCost": money(cols.ref("EffectiveCost")),
        "BillingCurrency": cols.text("BillingCurrency"),
        "ServiceCategory": cols.text("ServiceCategory"),
        "ServiceName": cols.text("ServiceName"),
        "SkuId": cols.text("SkuId"),
        "ChargeDescription": desc,
        "ResourceId": cols.text("ResourceId"),
        "ResourceName": cols.text("ResourceName"),
        "RegionId": cols.text("RegionId"),
        "ConsumedQuantity": money(cols.ref("ConsumedQuantity")),
        "ConsumedUnit": cols.text("ConsumedUnit"),
        "x_UsageType": cols.text("x_UsageType"),
        "x_Operation": cols.text("x_Operation"),
        "x_InstanceType": (
            cols.text("x_InstanceType")
            if cols.has("x_InstanceType")
            else f"NULLIF(regexp_extract({desc}, '{_INSTANCE_RE}', 1), '')"
        ),
        "Tags": json_object_tags(tags) if tags != "NULL" else "MAP {}",
    }


def checks(cols: Columns) -> list[Check]:
    """Return the typed columns to validate row by row."""
    out = [
        Check("BilledCost", cols.ref("BilledCost"), money(cols.ref("BilledCost")), "a decimal number"),
        Check(
            "EffectiveCost", cols.ref("EffectiveCost"), money(cols.ref("EffectiveCost")), "a decimal number"
        ),
        Check(
            "ChargePeriodStart",
            cols.ref("ChargePeriodStart"),
            cols.ts("ChargePeriodStart"),
            "an ISO 8601 date-time",
        ),
        Check(
            "ChargePeriodEnd",
            cols.ref("ChargePeriodEnd"),
            cols.ts("ChargePeriodEnd"),
            "an ISO 8601 date-time",
        ),
    ]
    if cols.has("ConsumedQuantity"):
        ref = cols.ref("ConsumedQuantity")
        out.append(Check("ConsumedQuantity", ref, money(ref), "a decimal number"))
    if cols.has("Tags"):
        out.append(json_valid_check("Tags", cols.text("Tags")))
    return out
