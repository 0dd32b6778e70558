"""Serving golden cases: published inference throughput/latency vs flopbill's estimate.

Cases live in ``catalog/data/golden_serving.yaml``; each names its source (``source_id``, one published
table) and engine. The split is by source and recorded in the file (``source_splits``), decided before
fitting: ``fit`` sources may choose the efficiency defaults, ``holdout`` sources never choose anything, so
their errors are the out-of-sample accuracy (:func:`error_quantile` gives the ±band from them).
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.catalog.schema import Sourced
from flopbill.dtypes import Dtype
from flopbill.errors import CatalogError
from flopbill.estimate.serving.deployment import ServingEstimate, ServingOptions, estimate_serving

Metric = Literal[
    "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user", "e2e_latency_s", "ttft_s", "tpot_s"
]
Split = Literal["fit", "holdout"]
#: Metrics that are times (s); the others are rates (tokens/s).
TIME_METRICS = frozenset({"e2e_latency_s", "ttft_s", "tpot_s"})


class GoldenServingCase(BaseModel):
    """One published measurement and the deployment it was measured on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source_id: str
    model: str
    accelerator: str
    engine: str
    tp: int = 1
    attention_dp: bool = False  # attention data parallel + expert parallel over the tp ranks
    weights: Dtype
    kv: Dtype | None = None
    batch: int | Literal["max"] = "max"
    input_tokens: int
    output_tokens: int
    metric: Metric
    published: float
    source: str
    checked: dt.date
    kv_free_fraction: float | None = None  # the benchmark's own KV-cache memory setting, where it differs
    max_concurrency: int | None = None  # requests the run could hold at once (its request count or limit)
    split: Split = "holdout"  # filled from the file's source_splits (a case cannot choose its own)
    note: str = ""

    @property
    def is_moe(self) -> bool:
        """True when the case's model is a mixture of experts."""
        return model(self.model).is_moe

    @property
    def batch_regime(self) -> str:
        """``b1`` (one sequence), ``low`` (2-32 sequences) or ``high`` (more, or the largest that fits)."""
        if self.batch == 1:
            return "b1"
        return "low" if self.batch != "max" and self.batch <= 32 else "high"


class _GoldenFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    about: str
    split_rule: str
    source_splits: dict[str, Split]
    cases: list[GoldenServingCase]

    @model_validator(mode="after")
    def _split_by_source(self) -> _GoldenFile:
        unknown = sorted({c.source_id for c in self.cases} - set(self.source_splits))
        if unknown:
            raise ValueError(f"cases name sources without a split in source_splits: {unknown}")
        if any("split" in c.model_fields_set for c in self.cases):
            raise ValueError("a case may not set its own split; the split is per source (source_splits)")
        return self


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
        data = _GoldenFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogError(f"{path}: invalid golden serving file: {exc}") from None
    return tuple(c.model_copy(update={"split": data.source_splits[c.source_id]}) for c in data.cases)


def predict(case: GoldenServingCase) -> ServingEstimate:
    """Return flopbill's estimate for the deployment of ``case``.

    ``batch: max`` is the largest batch that fits, but never more sequences than the run could hold at
    once (``max_concurrency``: e.g. trtllm-bench with N requests and no concurrency limit holds at most N).
    A batch that holds all ``max_concurrency`` requests is a closed run (``ServingOptions.closed_run``):
    every prompt is admitted at the start and no request joins later.
    """
    acc = accelerator(case.accelerator)
    opt = ServingOptions(
        tp=case.tp,
        weights=case.weights,
        kv=case.kv,
        batch=None if case.batch == "max" else case.batch,
        attention_dp=case.attention_dp,
    )
    engine = engine_profile(case.engine)
    if case.kv_free_fraction is not None:
        setting = Sourced(value=case.kv_free_fraction, ref=f"golden case {case.id}", checked=case.checked)
        engine = engine.model_copy(
            update={
                "kv_free_fraction": setting,
                "memory_reserve_fraction": setting.model_copy(update={"value": 0.0}),
            }
        )
    est = estimate_serving(
        model(case.model),
        acc,
        case.input_tokens,
        case.output_tokens,
        opt,
        hardware_efficiency(acc.id),
        engine,
    )
    if case.max_concurrency is not None and est.batch >= case.max_concurrency:
        # the batch holds every request of the run: all admitted at once, never refilled (a closed run)
        opt = replace(opt, batch=case.max_concurrency, closed_run=True)
        est = estimate_serving(
            model(case.model),
            acc,
            case.input_tokens,
            case.output_tokens,
            opt,
            hardware_efficiency(acc.id),
            engine,
        )
    return est


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


def error_quantile(results: list[GoldenResult], q: float, split: str | None = "holdout") -> float:
    """Return the ``q`` quantile (linear interpolation) of |error| over one split (default: holdout).

    ``numpy.quantile(..., method="linear")``: the value below which a fraction ``q`` of the errors lie.
    The reported ±band is this figure at ``q = 0.8`` on the held-out sources.
    """
    errs = sorted(abs(r.error) for r in results if split is None or r.case.split == split)
    if not errs:
        return float("nan")
    pos = q * (len(errs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(errs) - 1)
    return errs[lo] + (errs[hi] - errs[lo]) * (pos - lo)


def metric_kind(metric: str) -> str:
    """Return ``throughput`` for rates and ``ttft``/``tpot``/``latency`` for times."""
    return {"ttft_s": "ttft", "tpot_s": "tpot", "e2e_latency_s": "latency"}.get(metric, "throughput")


@dataclass(frozen=True)
class GroupStats:
    """|error| summary of one group of cases (fractions)."""

    key: tuple[str, ...]
    n: int
    median_abs_error: float
    p90_abs_error: float


def group_stats(results: list[GoldenResult], split: str | None = None) -> list[GroupStats]:
    """Return n, median and P90 |error| per engine × accelerator × dense/MoE × batch regime × metric kind."""
    groups: dict[tuple[str, ...], list[GoldenResult]] = {}
    for r in results:
        if split is not None and r.case.split != split:
            continue
        c = r.case
        key = (c.engine, c.accelerator, "moe" if c.is_moe else "dense", c.batch_regime, metric_kind(c.metric))
        groups.setdefault(key, []).append(r)
    return [
        GroupStats(k, len(v), median_abs_error(v), error_quantile(v, 0.9, None))
        for k, v in sorted(groups.items())
    ]


def summary_by_split(results: list[GoldenResult]) -> dict[str, dict[str, float]]:
    """Return median |error| per split (``all``, ``fit`` = in-sample, ``holdout`` = out-of-sample).

    Each split maps ``all`` and every metric kind present (throughput, ttft, tpot, latency) to a median.
    """
    out: dict[str, dict[str, float]] = {}
    for split in (None, "fit", "holdout"):
        chosen = [r for r in results if split is None or r.case.split == split]
        kinds = {"all": median_abs_error(chosen)}
        for kind in sorted({metric_kind(r.case.metric) for r in chosen}):
            kinds[kind] = median_abs_error([r for r in chosen if metric_kind(r.case.metric) == kind])
        out[split or "all"] = kinds
    return out
