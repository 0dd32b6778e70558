"""Build ``src/flopbill/catalog/data/hardware.yaml`` from Epoch AI's ML hardware CSV plus overrides.

Usage::

    python scripts/build_hardware_catalog.py [PATH_TO_EPOCH_CSV]

The CSV defaults to ``../shared/data/epoch_ml_hardware.csv`` relative to the repository root. The
hand-written ``hardware_overrides.yaml`` next to the output names, for each catalog id, the Epoch
row it derives from and the datasheet corrections (each with its source and checked date). The
output is deterministic: same inputs, same bytes. Only this script reads the Epoch CSV; the
package reads the generated YAML.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "src" / "flopbill" / "catalog" / "data"
DEFAULT_CSV = REPO.parent / "shared" / "data" / "epoch_ml_hardware.csv"
OVERRIDES = DATA / "hardware_overrides.yaml"
OUTPUT = DATA / "hardware.yaml"
CHECKED = dt.date(2026, 11, 22)  # date the selected Epoch rows were checked for this build

EPOCH_REF = "Epoch AI, Data on Machine Learning Hardware (epoch.ai/data/machine-learning-hardware), CC BY 4.0"
ATTRIBUTION = (
    "Accelerator figures derived from Epoch AI, 'Data on Machine Learning Hardware' "
    "(epoch.ai/data/machine-learning-hardware), licensed CC BY 4.0. Modified by flopbill: rows "
    "selected and renamed, values converted to dense per-device SI units, gaps and errors replaced "
    "from vendor documentation (each override cited in its entry's sources). See ATTRIBUTION.md."
)
ABOUT = (
    "flopbill accelerator catalog: dense peak FLOP/s per numeric format (no 2:4 sparsity), "
    "memory in bytes and bandwidths in bytes/s (decimal unless a note says the vendor means GiB), "
    "interconnect = aggregate bidirectional scale-up bandwidth per device, within a scale-up domain of "
    "scale_up_devices devices; scale_out_bidir_bytes_per_s = network per device beyond it (bidirectional, "
    "2 x the NIC line rate). null or absent = unknown."
)
HEADER = (
    "# GENERATED FILE - do not edit by hand.\n"
    "# Built by scripts/build_hardware_catalog.py from Epoch AI's 'Data on Machine Learning Hardware'\n"
    "# (CC BY 4.0) and src/flopbill/catalog/data/hardware_overrides.yaml. Edit those and rebuild.\n"
)

FLOPS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4")
SCALARS = ("memory_bytes", "memory_bandwidth_bytes_per_s", "interconnect_bidir_bytes_per_s", "tdp_w")
TOPOLOGY = ("scale_up_devices", "scale_out_bidir_bytes_per_s")  # not in Epoch's data: overrides only
INTEGERS = ("release_year", "scale_up_devices")
FIELDS = FLOPS + SCALARS + ("release_year",) + TOPOLOGY

# catalog field -> Epoch column (bf16 and fp16 both come from the tensor FP16/BF16 column)
EPOCH_COLUMNS = {
    "fp32": "FP32 (single precision) performance (FLOP/s)",
    "tf32": "TF32 (TensorFloat-32) performance (FLOP/s)",
    "bf16": "Tensor-FP16/BF16 performance (FLOP/s)",
    "fp16": "Tensor-FP16/BF16 performance (FLOP/s)",
    "fp8": "FP8 performance (FLOP/s)",
    "int8": "INT8 performance (OP/s)",
    "fp4": "FP4 performance (FLOP/s)",
    "memory_bytes": "Memory (bytes)",
    "memory_bandwidth_bytes_per_s": "Memory bandwidth (byte/s)",
    "interconnect_bidir_bytes_per_s": "Intranode bandwidth (byte/s)",
    "tdp_w": "TDP (W)",
}


def load_epoch(path: Path) -> dict[str, dict[str, str]]:
    """Epoch rows keyed by hardware name."""
    with path.open(newline="", encoding="utf-8") as f:
        return {row["Hardware name"]: row for row in csv.DictReader(f)}


def _num(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def _epoch_values(row: dict[str, str], extra: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {f: _num(row[col]) for f, col in EPOCH_COLUMNS.items()}
    values.update({f: _num(row[col]) for f, col in extra.items()})
    date = row["Release date"].strip()
    values["release_year"] = int(date[:4]) if date else None
    return values


def _clean(value: float | None) -> float | None:
    """Round away CSV float noise (e.g. 65129999999999.9) to 12 significant digits."""
    if value is None:
        return None
    return float(f"{value:.12g}")


def build_entry(
    spec: dict[str, Any], epoch: dict[str, dict[str, str]], sources: dict[str, Any]
) -> dict[str, Any]:
    """One catalog entry: Epoch values, then drops, then sourced overrides."""
    values: dict[str, Any] = dict.fromkeys(FIELDS)
    from_epoch: set[str] = set()
    name = spec.get("epoch_name")
    entry_sources: list[dict[str, Any]] = []
    row = None
    if name is not None:
        if name not in epoch:
            raise SystemExit(f"{spec['id']}: Epoch row {name!r} not found")
        row = epoch[name]
        values.update(_epoch_values(row, spec.get("from_epoch", {})))
        from_epoch = {f for f in FIELDS if values[f] is not None}
    for field in spec.get("drop", []):
        if field not in FIELDS:
            raise SystemExit(f"{spec['id']}: unknown field to drop {field!r}")
        values[field] = None
        from_epoch.discard(field)
    by_source: dict[str, list[str]] = {}
    for field, override in spec.get("set", {}).items():
        if field not in FIELDS:
            raise SystemExit(f"{spec['id']}: unknown field {field!r}")
        key = override["source"]
        if key not in sources:
            raise SystemExit(f"{spec['id']}: unknown source {key!r}")
        value = override["value"]
        values[field] = int(value) if field in INTEGERS else float(value)
        from_epoch.discard(field)
        by_source.setdefault(key, []).append(field)
    if row is not None:
        modified = row["Last modified"].strip()[:10]
        fields = [f for f in FIELDS if f in from_epoch]
        entry_sources.append(
            {
                "what": ", ".join(fields) if fields else "row identity only",
                "ref": f"{EPOCH_REF}; row '{name}' (last modified {modified})",
                "checked": CHECKED,
            }
        )
    for key in sorted(by_source):
        entry_sources.append(
            {
                "what": ", ".join(f for f in FIELDS if f in by_source[key]),
                "ref": sources[key]["ref"],
                "checked": sources[key]["checked"],
            }
        )
    if spec.get("measured"):
        entry_sources.append(
            {
                "what": "all figures (unknown until measured)",
                "ref": "flopbill measure tools, run on this machine; nothing is assumed",
                "checked": CHECKED,
            }
        )
    if not entry_sources:
        raise SystemExit(f"{spec['id']}: no source")
    peak = {f: _clean(values[f]) for f in FLOPS}
    return {
        "id": spec["id"],
        "name": spec["name"],
        "vendor": spec["vendor"],
        "kind": spec["kind"],
        "release_year": values["release_year"],
        "peak_flops_per_s": peak,
        "memory_bytes": _clean(values["memory_bytes"]),
        "memory_bandwidth_bytes_per_s": _clean(values["memory_bandwidth_bytes_per_s"]),
        "interconnect": spec.get("interconnect"),
        "interconnect_bidir_bytes_per_s": _clean(values["interconnect_bidir_bytes_per_s"]),
        **_topology(values),
        "tdp_w": _clean(values["tdp_w"]),
        "epoch_name": name,
        "sources": entry_sources,
        "notes": spec.get("notes", ""),
    }


def _topology(values: dict[str, Any]) -> dict[str, Any]:
    """The topology fields, written only where an override gives them (unknown stays absent = null)."""
    out: dict[str, Any] = {}
    if values["scale_up_devices"] is not None:
        out["scale_up_devices"] = values["scale_up_devices"]
    if values["scale_out_bidir_bytes_per_s"] is not None:
        out["scale_out_bidir_bytes_per_s"] = _clean(values["scale_out_bidir_bytes_per_s"])
    return out


class _NoAliasDumper(yaml.SafeDumper):
    """Safe dumper that writes repeated objects (e.g. shared dates) in full, without anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def build(csv_path: Path) -> str:
    """The YAML text of the catalog."""
    epoch = load_epoch(csv_path)
    overrides = yaml.safe_load(OVERRIDES.read_text(encoding="utf-8"))
    sources = overrides["sources"]
    entries = [build_entry(spec, epoch, sources) for spec in overrides["accelerators"]]
    doc = {"about": ABOUT, "attribution": ATTRIBUTION, "accelerators": entries}
    body = yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + body


def main(argv: list[str]) -> int:
    csv_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_CSV
    text = build(csv_path)
    # validate before writing
    sys.path.insert(0, str(REPO / "src"))
    from flopbill.catalog.schema import HardwareCatalog

    HardwareCatalog.model_validate(yaml.safe_load(text))
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
