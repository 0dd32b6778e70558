"""Serving golden cases: published inference throughput/latency vs flopbill's estimate.

Cases live in ``catalog/data/golden_serving.yaml``; each names its source, engine and split
(``fit`` cases chose the efficiency defaults, ``holdout`` cases did not).
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import CatalogError
from flopbill.estimate.serving import ServingEstimate, ServingOptions, estimate_serving

Metric = Literal["output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user", "e2e_latency_s"]


class GoldenServingCase(BaseModel):
    """One published measurement and the deployment it was measured on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    model: str
    accelerator: str
    engine: str
    tp: int = 1
    weights: Dtype
    kv: Dtype | None = None
    batch: int | Literal["max"] = "max"
    input_tokens: int
    output_tokens: int
    metric: Metric
    published: float
    source: str
    checked: dt.date
    split: Literal["fit", "holdout"]
    note: str = ""


class _GoldenFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    about: str
    cases: list[GoldenServingCase]


@dataclass(frozen=True)
class GoldenResult:
    """A case, flopbill's prediction for its metric and the signed error (predicted/published − 1)."""

    case: GoldenServingCase
    predicted: float
    error: float


@functools.cache
def golden_serving_cases() -> tuple[GoldenServingCase, ...]:
    """Return the built-in golden serving cases."""
    path = Path(str(resources.files("flopbill.catalog.data") / "golden_serving.yaml"))
    try:
        return tuple(_GoldenFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).cases)
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogError(f"{path}: invalid golden serving file: {exc}") from None


def predict(case: GoldenServingCase) -> ServingEstimate:
    """Return flopbill's estimate for the deployment of ``case``."""
    acc = accelerator(case.accelerator)
    opt = ServingOptions(
        tp=case.tp,
        weights=case.weights,
        kv=case.kv,
        batch=None if case.batch == "max" else case.batch,
    )
    return estimate_serving(
        model(case.model),
        acc,
        case.input_tokens,
        case.output_tokens,
        opt,
        hardware_efficiency(acc.id),
        engine_profile(case.engine),
    )


def evaluate(case: GoldenServingCase) -> GoldenResult:
    """Return the prediction and signed relative error of one case."""
    value = float(getattr(predict(case), case.metric))
    return GoldenResult(case, value, value / case.published - 1.0)


def evaluate_all() -> list[GoldenResult]:
    """Return results for every golden serving case."""
    return [evaluate(c) for c in golden_serving_cases()]


def median_abs_error(results: list[GoldenResult], split: str | None = None) -> float:
    """Return the median of |error| over results (optionally one split)."""
    errs = [abs(r.error) for r in results if split is None or r.case.split == split]
    return statistics.median(errs) if errs else float("nan")
