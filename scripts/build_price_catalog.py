"""Build ``src/flopbill/catalog/data/gpu_prices.csv`` from a pinned SkyPilot catalog extract + transcriptions.

Usage::

    python scripts/build_price_catalog.py

Inputs (both in ``scripts/data/``):

- ``skypilot_catalog_extract.csv``: rows of SkyPilot's public catalog (``skypilot-org/skypilot-catalog``,
  Apache-2.0, generated from the providers' pricing APIs) at :data:`COMMIT`, and for the providers not
  stored at that commit here, at the commit named in the row (:data:`OTHER_COMMITS`). One line per
  instance type in the provider's reference region (:data:`REFERENCE_REGIONS`): the on-demand ``Price``
  and the ``SpotPrice`` of each availability zone of that region (``;``-joined, empty = none listed).
  GCP prices a GPU VM as two rows (the host machine type and the attached GPUs); ``host_price`` and
  ``host_spot_prices`` carry the host row, and the instance price is their sum.
- ``gpu_prices_transcribed.csv``: rows for providers or offers that extract lacks, each citing the public
  transcription it came from (already in the output format).

Accelerator names are mapped to hardware-catalog ids by :data:`ACCELERATOR_IDS` (an instance-name rule
first, for names SkyPilot shares between SKUs); rows whose accelerator the hardware catalog lacks are left
out and listed by :func:`dropped`; rows where a zone's spot price exceeds the on-demand price (a
sign of a mismatched SKU in the source) are left out and listed by :func:`inconsistent`. Spot = median
over the zones (even counts: mean of the two middle values). Billing increments per provider come from
:data:`BILLING` (sources in ATTRIBUTION.md). The output is deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from flopbill.catalog.prices import COLUMNS

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "src" / "flopbill" / "catalog" / "data"
INPUTS = REPO / "scripts" / "data"
EXTRACT = INPUTS / "skypilot_catalog_extract.csv"
TRANSCRIBED = INPUTS / "gpu_prices_transcribed.csv"
OUTPUT = DATA / "gpu_prices.csv"

COMMIT = "2c3d7ea7d76bf84cf80d382e946c1609571485fd"
DATE_CHECKED = "2026-11-22"  # first read of this commit's files: prices captured on or before this day
# Providers whose files are not stored at COMMIT in the copy available here come from the one stored
# version of their file (the extract's ``commit`` column; empty = COMMIT), first read on these days.
OTHER_COMMITS = {
    "d9bf3aa4d21f5c1e1f3d8fde27adf0204c46fbc8": "2026-12-01",  # cudo, nebius
    "a5be53865774cac59df537ba1842e45ffc8be722": "2026-12-01",  # ibm, vast
}
# One reference region per provider; None: a marketplace whose rows are single hosts (Vast.ai), kept as
# listed (one row per instance type and GPU memory in the extract).
REFERENCE_REGIONS: dict[str, str | None] = {
    "aws": "us-east-1",
    "gcp": "us-central1",
    "lambda": "us-east-1",
    "fluidstack": "FINLAND",
    "nebius": "eu-north1",
    "cudo": "no-kristiansand-1",
    "ibm": "us-south",
    "vast": None,
}

# SkyPilot accelerator name -> flopbill hardware id (the mapping table; see ATTRIBUTION.md).
ACCELERATOR_IDS: dict[str, str] = {
    "A100": "a100-40gb",
    "A100-80GB": "a100-80gb",
    "A10G": "a10g",
    "B200": "b200",
    "H100": "h100-sxm",
    "H100-NVLINK": "h100-sxm",
    "H100-SXM": "h100-sxm",
    "H200": "h200",
    "L4": "l4",
    "L40S": "l40s",
    "RTX4090": "rtx-4090",
    "T4": "t4",
    "Trainium": "trainium1",
    "V100": "v100",
    "tpu-v5litepod": "tpu-v5e",
    "tpu-v5p": "tpu-v5p",
    "tpu-v6e": "tpu-v6e",
}
# Instance-name rules that override the accelerator name (SkyPilot calls Lambda's PCIe H100 "H100" too).
# Vast.ai calls its H100 NVL "H100" too.
INSTANCE_IDS: dict[str, str] = {"gpu_1x_h100_pcie": "h100-pcie", "1x-H100_NVL-32-65536": "h100-nvl"}
# TPU slice names count chips (v5e, v6e) or TensorCores, 2 per chip (v5p): Cloud TPU docs, "TPU versions".
TPU_UNITS_PER_CHIP = {"tpu-v5litepod": 1, "tpu-v5p": 2, "tpu-v6e": 1}

# provider -> (billing_increment_s, billing_minimum_s); "" = not known here (flopbill bills whole hours).
BILLING: dict[str, tuple[str, str]] = {
    "aws": ("1", "60"),
    "gcp_gpu": ("1", "60"),
    "gcp_tpu": ("", ""),
    "lambda": ("60", ""),
    "fluidstack": ("", ""),
    "nebius": ("", ""),
    "cudo": ("", ""),
    "ibm": ("", ""),
    "vast": ("1", ""),
}


def _number(value: float) -> str:
    """Format a price without float noise (6 decimals, trailing zeros dropped)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _family(name: str) -> str:
    """TPU slice name -> family (``tpu-v6e-8`` -> ``tpu-v6e``); GPU names unchanged."""
    return name.rsplit("-", 1)[0] if name.startswith("tpu-") else name


def _accelerator(row: dict[str, str]) -> tuple[str | None, int]:
    """Return (hardware id or None when the hardware catalog lacks it, accelerators per instance)."""
    name = row["accelerator_name"]
    if name.startswith("tpu-"):
        family = _family(name)
        units = int(name.rsplit("-", 1)[1])
        return ACCELERATOR_IDS.get(family), units // TPU_UNITS_PER_CHIP[family]
    hw = INSTANCE_IDS.get(row["instance_type"], ACCELERATOR_IDS.get(name))
    return hw, int(row["accelerator_count"])


def _billing(cloud: str, accelerator_name: str) -> tuple[str, str]:
    if cloud == "gcp":
        return BILLING["gcp_tpu" if accelerator_name.startswith("tpu-") else "gcp_gpu"]
    return BILLING[cloud]


def _spots(text: str) -> list[float]:
    return [float(v) for v in text.split(";") if v]


def _inconsistent(row: dict[str, str]) -> bool:
    """True when a zone's spot price exceeds the on-demand price of the same row (accelerator or host)."""
    pairs = [
        (row["price"], row["spot_prices"]),
        (row.get("host_price") or "", row.get("host_spot_prices") or ""),
    ]
    return any(price and any(s > float(price) for s in _spots(spot)) for price, spot in pairs)


def _prices(row: dict[str, str]) -> list[tuple[str, float]]:
    """On-demand and (median-zone) spot price per instance-hour; GCP GPU VMs add host and accelerator rows."""
    host = float(row.get("host_price") or 0.0)
    prices = [("on_demand", float(row["price"]) + host)]
    spots, host_spots = _spots(row["spot_prices"]), _spots(row.get("host_spot_prices") or "")
    if spots and (host_spots or not host):
        prices.append(("spot", statistics.median(spots) + (statistics.median(host_spots) if host else 0.0)))
    return prices


def _rows_from_extract(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for row in rows:
        hw, count = _accelerator(row)
        region = REFERENCE_REGIONS[row["cloud"]]
        if hw is None or _inconsistent(row) or (region is not None and row["region"] != region):
            continue
        increment, minimum = _billing(row["cloud"], row["accelerator_name"])
        commit = row.get("commit") or COMMIT
        url = f"https://github.com/skypilot-org/skypilot-catalog/blob/{commit}/{row['source_path']}"
        prices = _prices(row)
        for pricing, instance_price in prices:
            out.append(
                {
                    "provider": row["cloud"],
                    "instance": row["instance_type"],
                    "accelerator_id": hw,
                    "gpus_per_instance": str(count),
                    "region": row["region"],
                    "pricing": pricing,
                    "price_usd_per_instance_hour": _number(instance_price),
                    "price_usd_per_gpu_hour": _number(instance_price / count),
                    "billing_increment_s": increment,
                    "billing_minimum_s": minimum,
                    "date_checked": DATE_CHECKED if commit == COMMIT else OTHER_COMMITS[commit],
                    "source_url": url,
                }
            )
    return out


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def dropped(extract: Path = EXTRACT) -> list[tuple[str, str, str]]:
    """(cloud, instance, SkyPilot name) of the extract rows left out: accelerator not in the catalog."""
    return [
        (r["cloud"], r["instance_type"], r["accelerator_name"])
        for r in _read(extract)
        if _accelerator(r)[0] is None
    ]


def inconsistent(extract: Path = EXTRACT) -> list[tuple[str, str, str]]:
    """(cloud, instance, SkyPilot name) of the extract rows left out: a spot price exceeds on-demand."""
    return [
        (r["cloud"], r["instance_type"], r["accelerator_name"]) for r in _read(extract) if _inconsistent(r)
    ]


def _sort_key(row: dict[str, str]) -> tuple[str, str, int, str, str]:
    return (
        row["provider"],
        row["accelerator_id"],
        int(row["gpus_per_instance"]),
        row["instance"],
        row["pricing"],
    )


def build(extract: Path = EXTRACT, transcribed: Path = TRANSCRIBED) -> str:
    """Return the CSV text of the price snapshot."""
    rows = _rows_from_extract(_read(extract)) + _read(transcribed)
    rows.sort(key=_sort_key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main() -> None:
    OUTPUT.write_text(build(), encoding="utf-8")
    left_out = dropped()
    print(f"wrote {OUTPUT.relative_to(REPO)}; left out {len(left_out)} rows (accelerator not in the catalog)")
    for cloud, instance, name in left_out:
        print(f"  {cloud} {instance} ({name})")
    bad = inconsistent()
    print(f"left out {len(bad)} rows whose spot price exceeds the on-demand price (inconsistent source rows)")
    for cloud, instance, name in bad:
        print(f"  {cloud} {instance} ({name})")


if __name__ == "__main__":
    main()
