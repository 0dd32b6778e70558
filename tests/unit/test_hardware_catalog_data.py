"""Checks of the shipped accelerator catalog and GPU price snapshot against independent figures.

Expected values are written here from vendor pages, not read from the catalog's inputs:
- H100 SXM: NVIDIA H100 datasheet / Hopper whitepaper — BF16 989.4 TFLOPS dense (1,979 sparse),
  FP8 1,978.9 dense (3,958 sparse), 80 GB HBM3, 3.35 TB/s, NVLink 900 GB/s.
- A100 80GB SXM: NVIDIA A100 datasheet — BF16 312 TFLOPS dense (624 sparse), TF32 156, 2,039 GB/s.
- MI300X: AMD Instinct MI300X data sheet — BF16 1,307.4 TFLOPS dense, 192 GB HBM3, 5.3 TB/s.
- TPU v5e: https://docs.cloud.google.com/tpu/docs/v5e — 197 TFLOPS bf16 per chip.
- L4: NVIDIA L4 datasheet — BF16 121 TFLOPS dense (242 sparse), 24 GB, 300 GB/s.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from flopbill.catalog.schema import Accelerator, HardwareCatalog

DATA = Path(__file__).resolve().parents[2] / "src" / "flopbill" / "catalog" / "data"

REQUIRED_IDS = {
    "h100-sxm", "h100-pcie", "h100-nvl", "h200", "b200", "gb200", "a100-40gb", "a100-80gb",
    "a10g", "l4", "l40s", "t4", "v100", "p100", "rtx-4090", "mi300x", "mi325x", "gaudi3",
    "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "trainium2", "inferentia2", "h800", "this-machine",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> HardwareCatalog:
    text = (DATA / "hardware.yaml").read_text(encoding="utf-8")
    assert text.startswith("# GENERATED FILE")
    return HardwareCatalog.model_validate(yaml.safe_load(text))


@pytest.fixture(scope="module")
def by_id(catalog: HardwareCatalog) -> dict[str, Accelerator]:
    return {a.id: a for a in catalog.accelerators}


def _close(value: float | None, expected: float, rel: float = 0.01) -> bool:
    return value is not None and value == pytest.approx(expected, rel=rel)


def test_required_ids_present(by_id: dict[str, Accelerator]) -> None:
    missing = REQUIRED_IDS - set(by_id)
    assert not missing, sorted(missing)


def test_attribution_credits_epoch(catalog: HardwareCatalog) -> None:
    assert "Epoch AI" in catalog.attribution
    assert "CC BY 4.0" in catalog.attribution


@pytest.mark.parametrize(
    ("acc_id", "field", "expected"),
    [
        ("h100-sxm", "bf16", 989e12),
        ("h100-sxm", "fp8", 1979e12),
        ("h100-sxm", "tf32", 494.7e12),
        ("a100-80gb", "bf16", 312e12),
        ("a100-80gb", "tf32", 156e12),
        ("a100-40gb", "bf16", 312e12),
        ("mi300x", "bf16", 1307.4e12),
        ("tpu-v5e", "bf16", 197e12),
        ("l4", "bf16", 121e12),
    ],
)
def test_dense_peaks_match_datasheets(
    by_id: dict[str, Accelerator], acc_id: str, field: str, expected: float
) -> None:
    assert _close(getattr(by_id[acc_id].peak_flops_per_s, field), expected)


@pytest.mark.parametrize(
    ("acc_id", "field", "expected"),
    [
        ("h100-sxm", "memory_bandwidth_bytes_per_s", 3.35e12),
        ("h100-sxm", "memory_bytes", 80e9),
        ("h100-sxm", "interconnect_bidir_bytes_per_s", 900e9),
        ("a100-80gb", "memory_bandwidth_bytes_per_s", 2.039e12),
        ("mi300x", "memory_bytes", 192e9),
        ("mi300x", "memory_bandwidth_bytes_per_s", 5.3e12),
        ("l4", "memory_bytes", 24e9),
        ("l4", "memory_bandwidth_bytes_per_s", 300e9),
        ("h800", "interconnect_bidir_bytes_per_s", 400e9),
    ],
)
def test_memory_and_links_match_datasheets(
    by_id: dict[str, Accelerator], acc_id: str, field: str, expected: float
) -> None:
    assert _close(getattr(by_id[acc_id], field), expected)


def test_dense_convention_ordering(catalog: HardwareCatalog) -> None:
    """Lower precision never has a lower peak (a sparse figure mixed in would break this)."""
    for acc in catalog.accelerators:
        p = acc.peak_flops_per_s
        chain = [v for v in (p.bf16, p.fp8, p.fp4) if v is not None]
        assert chain == sorted(chain), acc.id
        if p.fp32 is not None and p.bf16 is not None:
            assert p.fp32 <= p.bf16, acc.id


@pytest.mark.parametrize("acc_id", ["a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200"])
def test_tf32_is_half_bf16_on_ampere_hopper(by_id: dict[str, Accelerator], acc_id: str) -> None:
    p = by_id[acc_id].peak_flops_per_s
    assert p.tf32 is not None and p.bf16 is not None
    assert p.tf32 == pytest.approx(p.bf16 / 2, rel=0.02)


def test_formats_the_chip_lacks_are_null(by_id: dict[str, Accelerator]) -> None:
    for acc_id in ("t4", "v100", "p100"):
        assert by_id[acc_id].peak_flops_per_s.bf16 is None, acc_id
    for acc_id in ("tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e"):
        assert by_id[acc_id].peak_flops_per_s.fp16 is None, acc_id


def test_this_machine_is_unknown_until_measured(by_id: dict[str, Accelerator]) -> None:
    acc = by_id["this-machine"]
    assert acc.kind == "measured"
    assert all(v is None for v in acc.peak_flops_per_s.model_dump().values())
    assert acc.memory_bytes is None and acc.memory_bandwidth_bytes_per_s is None


def test_every_entry_is_sourced(catalog: HardwareCatalog) -> None:
    for acc in catalog.accelerators:
        assert acc.sources, acc.id
        if acc.epoch_name is not None:
            assert any("Epoch AI" in s.ref for s in acc.sources), acc.id


def _price_rows() -> list[dict[str, str]]:
    with (DATA / "gpu_prices.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_price_rows_are_consistent(by_id: dict[str, Accelerator]) -> None:
    rows = _price_rows()
    assert len(rows) >= 20
    for row in rows:
        assert row["accelerator_id"] in by_id, row
        assert row["pricing"] in {"on_demand", "reserved_1y", "reserved_3y", "spot"}, row
        gpus = int(row["gpus_per_instance"])
        instance = float(row["price_usd_per_instance_hour"])
        per_gpu = float(row["price_usd_per_gpu_hour"])
        assert gpus > 0 and instance > 0
        assert per_gpu == pytest.approx(instance / gpus, rel=0.01), row
        assert row["date_checked"] and row["source_url"].startswith("https://"), row


def test_billing_increments_are_read_and_unknown_means_whole_hours() -> None:
    """AWS bills per second after a 60 s minimum (EC2 on-demand pricing page, "Per Second Billing").

    A row whose increment the snapshot does not know is billed in whole hours: 3600 s increment and
    3600 s minimum (the conservative reading the loader documents).
    """
    from flopbill.catalog.prices import price_offers

    offers = price_offers()
    aws = [o for o in offers if o.provider == "aws"]
    assert aws and all(o.billing_increment_s == 1 and o.billing_minimum_s == 60 for o in aws)
    assert {o.gpus_per_instance for o in aws if o.instance == "p5.48xlarge"} == {8}
    unknown = [o for o in offers if o.billing_increment_known_s is None]
    assert all(o.billing_increment_s == 3600 and o.billing_minimum_s == 3600 for o in unknown)
