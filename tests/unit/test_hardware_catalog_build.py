"""The shipped hardware catalog is exactly what its generator makes from Epoch AI's data + the overrides.

Runs where the source CSV is available (next to the repository, as in CI); skips elsewhere.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_hardware_catalog.py"
CSV = ROOT.parent / "shared" / "data" / "epoch_ml_hardware.csv"


@pytest.mark.skipif(not CSV.exists(), reason="Epoch AI CSV (../shared/data) not available here")
def test_generated_catalog_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("build_hardware_catalog", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = (ROOT / "src" / "flopbill" / "catalog" / "data" / "hardware.yaml").read_text(encoding="utf-8")
    assert module.build(CSV) == shipped, "run: python scripts/build_hardware_catalog.py"
