"""The shipped GPU price snapshot is exactly what its generator makes from the pinned SkyPilot extract.

The pinned input (``scripts/data/skypilot_catalog_extract.csv``, an Apache-2.0 extract of
skypilot-org/skypilot-catalog at one commit) ships with the repository, so this runs everywhere; it
skips only where the scripts folder is absent (an installed package).
"""

from __future__ import annotations

import csv
import importlib.util
import statistics
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_price_catalog.py"
EXTRACT = ROOT / "scripts" / "data" / "skypilot_catalog_extract.csv"
DATA = ROOT / "src" / "flopbill" / "catalog" / "data"

pytestmark = pytest.mark.skipif(not EXTRACT.exists(), reason="pinned SkyPilot extract not available here")


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_price_catalog", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shipped() -> list[dict[str, str]]:
    with (DATA / "gpu_prices.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_generated_prices_are_up_to_date() -> None:
    shipped = (DATA / "gpu_prices.csv").read_text(encoding="utf-8")
    assert _module().build() == shipped, "run: python scripts/build_price_catalog.py"


def test_skypilot_rows_cite_a_pinned_commit_and_the_exact_file() -> None:
    """aws, gcp, lambda, fluidstack at COMMIT; cudo, nebius, ibm, vast at the commit named for them."""
    module = _module()
    rows = [r for r in _shipped() if "skypilot-catalog" in r["source_url"]]
    assert {r["provider"] for r in rows} >= {
        "aws",
        "gcp",
        "lambda",
        "fluidstack",
        "cudo",
        "nebius",
        "ibm",
        "vast",
    }
    pinned = {module.COMMIT, *module.OTHER_COMMITS}
    for r in rows:
        commit = r["source_url"].split("/blob/")[1].split("/")[0]
        assert commit in pinned
        assert r["source_url"].endswith(f"/{commit}/catalogs/v9/{r['provider']}/vms.csv")
        assert r["date_checked"] == (
            module.DATE_CHECKED if commit == module.COMMIT else module.OTHER_COMMITS[commit]
        )
        if r["provider"] in {"aws", "gcp", "lambda", "fluidstack"}:
            assert commit == module.COMMIT
        region = module.REFERENCE_REGIONS[r["provider"]]
        assert region is None or r["region"] == region


def test_hand_checked_rows_of_the_other_providers() -> None:
    """From the extract (copied from the catalog files): Nebius gpu-h100-sxm_8gpu-128vcpu-1600gb $23.60/h
    on demand, $10.00 spot → $2.95 and $1.25 per GPU-hour; Cudo sapphire-rapids-h100_4x32v64gb
    $7.6624/h / 4 = $1.9156; Vast 8x-H100_SXM $14.94 / 8 = $1.8675, billed per second (vast.ai billing
    docs); Vast's 1x H100 NVL maps to h100-nvl by instance name; IBM gx2-8x64x1v100 $2.497."""
    rows = {(r["provider"], r["instance"], r["accelerator_id"], r["pricing"]): r for r in _shipped()}
    neb = rows[("nebius", "gpu-h100-sxm_8gpu-128vcpu-1600gb", "h100-sxm", "on_demand")]
    assert float(neb["price_usd_per_gpu_hour"]) == pytest.approx(2.95)
    spot = rows[("nebius", "gpu-h100-sxm_8gpu-128vcpu-1600gb", "h100-sxm", "spot")]
    assert float(spot["price_usd_per_gpu_hour"]) == pytest.approx(1.25)
    cudo = rows[("cudo", "sapphire-rapids-h100_4x32v64gb", "h100-sxm", "on_demand")]
    assert float(cudo["price_usd_per_gpu_hour"]) == pytest.approx(7.6624 / 4)
    vast = rows[("vast", "8x-H100_SXM-32-65536", "h100-sxm", "on_demand")]
    assert float(vast["price_usd_per_gpu_hour"]) == pytest.approx(1.8675)
    assert vast["billing_increment_s"] == "1"
    assert ("vast", "1x-H100_NVL-32-65536", "h100-nvl", "on_demand") in rows
    assert float(rows[("ibm", "gx2-8x64x1v100", "v100", "on_demand")]["price_usd_per_gpu_hour"]) == 2.497


def test_gcp_l4_vm_is_host_plus_gpu() -> None:
    """g2-standard-4 in us-central1 = host $0.14679 + L4 × 1 $0.56004 = $0.70683/h on demand; spot
    $0.07502 + $0.2862 = $0.36122 (every zone lists the same); g2-standard-48 = $1.7615 + 4 × $0.56004."""
    rows = {(r["provider"], r["instance"], r["pricing"]): r for r in _shipped()}
    assert float(rows[("gcp", "g2-standard-4", "on_demand")]["price_usd_per_instance_hour"]) == pytest.approx(
        0.14679 + 0.56004
    )
    assert float(rows[("gcp", "g2-standard-4", "spot")]["price_usd_per_gpu_hour"]) == pytest.approx(0.36122)
    big = rows[("gcp", "g2-standard-48", "on_demand")]
    assert (big["accelerator_id"], big["gpus_per_instance"]) == ("l4", "4")
    assert float(big["price_usd_per_instance_hour"]) == pytest.approx(1.7615 + 2.24016)


def test_dropped_accelerators_are_counted_in_attribution() -> None:
    """Rows whose accelerator the hardware catalog lacks are left out, and ATTRIBUTION.md names them."""
    left_out = _module().dropped()
    assert {name for _, _, name in left_out} == {"A10", "A6000", "GH200", "RTX6000"}  # others: not extracted
    text = (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert f"{len(left_out)} rows" in text
    for _, instance, _ in left_out:
        assert instance in text


def test_hand_checked_rows() -> None:
    """Independent checks against the extract's figures.

    - AWS p5.48xlarge Spot: zones 55.04/18.734/18.1597/55.04/18.6838/16.9508 → sorted middle pair
      18.6838 and 18.734 → median 18.7089 per instance, / 8 GPUs = 2.3386 per GPU-hour.
    - GCP tpu-v5p-8 is 8 TensorCores = 4 chips (2 TensorCores per v5p chip): $16.80 / 4 = $4.20 per
      chip-hour, Google's published v5p on-demand rate; tpu-v6e-8 $21.60 / 8 = $2.70 per chip-hour.
    - Lambda gpu_4x_h100_sxm5 $16.36 / 4 = $4.09 per GPU-hour; billed per minute (60 s).
    """
    rows = {(r["provider"], r["instance"], r["pricing"]): r for r in _shipped()}
    p5 = rows[("aws", "p5.48xlarge", "spot")]
    zones = [55.04, 18.734, 18.1597, 55.04, 18.6838, 16.9508]
    assert float(p5["price_usd_per_instance_hour"]) == pytest.approx(statistics.median(zones))
    assert float(p5["price_usd_per_gpu_hour"]) == pytest.approx(18.7089 / 8, abs=1e-6)
    v5p = rows[("gcp", "tpu-v5p-8", "on_demand")]
    assert (v5p["accelerator_id"], v5p["gpus_per_instance"]) == ("tpu-v5p", "4")
    assert float(v5p["price_usd_per_gpu_hour"]) == pytest.approx(4.20)
    assert float(rows[("gcp", "tpu-v6e-8", "on_demand")]["price_usd_per_gpu_hour"]) == pytest.approx(2.70)
    h100 = rows[("lambda", "gpu_4x_h100_sxm5", "on_demand")]
    assert float(h100["price_usd_per_gpu_hour"]) == pytest.approx(4.09)
    assert h100["billing_increment_s"] == "60"
    assert rows[("lambda", "gpu_1x_h100_pcie", "on_demand")]["accelerator_id"] == "h100-pcie"


def test_gcp_gpu_vm_is_host_plus_gpus_and_inconsistent_rows_are_left_out() -> None:
    """a2-highgpu-1g in us-central1 = host $0.73948 + A100 × 1 $2.93391 = $3.67339/h (GCP lists $3.67);
    a2-highgpu-8g = $5.91582 + $23.47126 = $29.38708/h = $3.673385 per GPU. Rows whose zone spot price
    exceeds on-demand (GCP H100 in us-central1: $5.3387 spot vs $4.20076) are left out and listed."""
    module = _module()
    rows = {(r["provider"], r["instance"], r["pricing"]): r for r in _shipped()}
    assert float(rows[("gcp", "a2-highgpu-1g", "on_demand")]["price_usd_per_instance_hour"]) == pytest.approx(
        0.73948 + 2.93391
    )
    eight = rows[("gcp", "a2-highgpu-8g", "on_demand")]
    assert float(eight["price_usd_per_gpu_hour"]) == pytest.approx((5.91582 + 23.47126) / 8)
    assert float(rows[("gcp", "a2-highgpu-8g", "spot")]["price_usd_per_instance_hour"]) == pytest.approx(
        3.10496 + 12.3192
    )
    bad = {instance for _, instance, _ in module.inconsistent()}
    assert bad == {"a3-highgpu-1g", "a2-ultragpu-1g"}
    assert not any(
        r["provider"] == "gcp" and "skypilot" in r["source_url"] and r["instance"] in bad for r in _shipped()
    )
    text = (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert all(instance in text for instance in bad)
