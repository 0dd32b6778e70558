"""The JSON documents ``flopbill measure model --json`` writes and ``flopbill calibrate`` reads.

``{"kind": "flopbill-model-measurement/1", "model": {...ModelSpec}, "dtype", "device", "profile":
{...HardwareProfile}, "rows": [{"phase", "batch", "tokens", "context_tokens", "measured_s",
"predicted_s", "error", "work": {...}}]}`` (SI units; ``error`` = predicted/measured − 1).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flopbill.catalog.profile import HardwareProfile
from flopbill.catalog.schema import ModelSpec
from flopbill.errors import CatalogError, InputError
from flopbill.measure.calibrate import Observation
from flopbill.measure.predict import Shape, Work, elementwise_rate, peak_for, weight_read_rows_ratio, work
from flopbill.measure.timing import clock_name

KIND = "flopbill-model-measurement/1"


def measurement_document(
    m: ModelSpec, profile: HardwareProfile, dtype: str, device: str, rows: list[Any], threads: int
) -> dict[str, Any]:
    """Return the measurement document of timed rows (:class:`~flopbill.measure.model_timing.TimedRow`)."""
    out_rows = []
    for r in rows:
        shape = Shape(r.phase, r.batch, r.tokens, r.context_tokens)
        out_rows.append(
            {
                "phase": r.phase,
                "batch": r.batch,
                "tokens": r.tokens,
                "context_tokens": r.context_tokens,
                "measured_s": r.measured_s,
                "predicted_s": r.predicted_s,
                "error": r.error,
                "work": asdict(work(m, shape, dtype, profile.device)),
            }
        )
    return {
        "kind": KIND,
        "model": m.model_dump(mode="json"),
        "dtype": dtype,
        "device": device,
        "threads": threads,
        "clock": clock_name(),
        "profile": profile.model_dump(mode="json"),
        "rows": out_rows,
    }


def read_json(path: Path | str) -> Any:
    """Return the JSON in ``path``: a model measurement or an endpoint summary."""
    p = Path(path)
    if not p.is_file():
        raise InputError(
            "MEASUREMENTS",
            str(path),
            "an existing JSON file written by `flopbill measure model --json` or `measure endpoint --json`",
        )
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: not valid JSON ({exc})") from None


def check_document(doc: Any, path: Path | str) -> dict[str, Any]:
    """Return ``doc`` if it is a model measurement document, else raise :class:`CatalogError`."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise CatalogError(f"{path}: not a flopbill model measurement (kind {KIND!r} expected)")
    return doc


def read_document(path: Path | str) -> dict[str, Any]:
    """Return a measurement document read from ``path`` (checked for its kind)."""
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise CatalogError(f"{path}: not a flopbill model measurement (kind {KIND!r} expected)")
    return doc


def document_profile(doc: dict[str, Any], path: Path | str = "") -> HardwareProfile:
    """Return the hardware profile a document was predicted with."""
    try:
        return HardwareProfile.model_validate(doc["profile"])
    except (KeyError, ValidationError) as exc:
        raise CatalogError(f"{path}: the measurement's profile is not valid ({exc})") from None


def observations(doc: dict[str, Any], path: Path | str = "") -> list[Observation]:
    """Return the document's rows as calibration observations (peaks from its own profile)."""
    prof = document_profile(doc, path)
    peak = peak_for(prof, str(doc.get("dtype", "fp32")))
    bw = prof.memory_bandwidth_bytes_per_s.value
    rate = elementwise_rate(prof)
    out = []
    try:
        for r in doc["rows"]:
            label = f"{r['phase']} b={r['batch']} n={r['tokens']} ctx={r['context_tokens']}"
            w = Work(**r["work"])
            ratio = weight_read_rows_ratio(prof, w.tokens_per_step)
            out.append(Observation(w, float(r["measured_s"]), peak, bw, label, rate, ratio))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"{path}: malformed measurement row ({exc})") from None
    return out
