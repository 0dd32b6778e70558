"""Golden training cases: published runs from ``catalog/data/golden_training.yaml`` against flopbill.

Used by ``tests/golden/test_training_runs.py`` and ``flopbill validate training``. Each case yields rows:

* ``flops``: model FLOPs against the published FLOPs (within the case tolerance);
* ``gpu_hours_given``: GPU-hours with the published MFU (and goodput where stated; else the default
  expected goodput), within the case tolerance;
* ``gpu_hours_in_default_range``: with flopbill's defaults (no MFU given), the published GPU-hours must lie
  in the reported [low, high]; the error column compares with the expected value.

Each row says whether its case was in the fitted MFU model's fit set (``in_sample``) or held out
(``out_of_sample``); :func:`default_range_summary` reports both samples separately.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from flopbill.catalog import accelerator, model
from flopbill.catalog.defaults import mfu_fit_points, training_defaults
from flopbill.catalog.schema import ModelSpec
from flopbill.dtypes import parse_dtype
from flopbill.estimate.training.cost import TrainingEstimate, default_training_dtype, estimate_training
from flopbill.estimate.training.inputs import resolve_training_setup
from flopbill.estimate.training.memory import ParallelPlan, Recompute
from flopbill.estimate.training.stages import StageConfig, parse_stage


@dataclass(frozen=True)
class GoldenRow:
    """One check of one golden case."""

    case: str
    check: str
    source: str
    published: float
    flopbill: float
    low: float
    high: float
    error_pct: float
    tolerance_pct: float
    passed: bool
    sample: str = ""

    @property
    def verdict(self) -> str:
        """``ok`` or ``FAIL``."""
        return "ok" if self.passed else "FAIL"


@functools.cache
def golden_training_data() -> dict[str, Any]:
    """Return the parsed golden file (cases and memory_cases)."""
    ref = resources.files("flopbill.catalog.data") / "golden_training.yaml"
    data: dict[str, Any] = yaml.safe_load(Path(str(ref)).read_text(encoding="utf-8"))
    return data


def case_model(spec: str | dict[str, Any]) -> ModelSpec:
    """Return the case's model: a catalog id, another case's inline model, or an inline spec."""
    if isinstance(spec, dict):
        return ModelSpec.model_validate(spec)
    for case in golden_training_data()["cases"]:
        inline = case["model"]
        if isinstance(inline, dict) and inline["id"] == spec:
            return ModelSpec.model_validate(inline)
    return model(spec)


def _triple(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return float(value[0]), float(value[1]), float(value[2])
    return float(value), float(value), float(value)


def run_case(case: dict[str, Any], use_given: bool) -> TrainingEstimate:
    """Return flopbill's estimate for a case, with its published MFU/goodput (``use_given``) or defaults."""
    acc = accelerator(case["accelerator"])
    given = case.get("given", {}) if use_given else {}
    dtype = parse_dtype(case["dtype"]) if "dtype" in case else default_training_dtype(acc)
    stage = StageConfig(
        stage=parse_stage(case.get("stage", "pretrain")),
        teacher=case_model(case["teacher"]) if "teacher" in case else None,
    )
    setup = resolve_training_setup(
        case_model(case["model"]),
        acc,
        n_gpus=int(case["n_accelerators"]),
        tokens=float(case["tokens"]),
        seq_len=int(case["seq_len"]),
        dtype=dtype,
        mfu=_triple(given.get("mfu")),
        goodput=_triple(given.get("goodput")),
        price=(1.0, 1.0, 1.0),
        stage=stage,
    )
    return estimate_training(setup)


def _row(
    case: dict[str, Any], check: str, published: float, value: float, low: float, high: float, ok: bool
) -> GoldenRow:
    tol = float(case.get("tolerance", 0.1)) * 100.0
    return GoldenRow(
        case=case["id"],
        check=check,
        source=" ".join(str(case["source"]).split()),
        published=published,
        flopbill=value,
        low=low,
        high=high,
        error_pct=(value / published - 1.0) * 100.0,
        tolerance_pct=tol,
        passed=ok,
        sample="in_sample" if case["id"] in fit_cases() else "out_of_sample",
    )


def case_rows(case: dict[str, Any]) -> list[GoldenRow]:
    """Return every check of one case."""
    pub = {k: float(v) for k, v in case["published"].items()}
    tol = float(case.get("tolerance", 0.1))
    rows = []
    default = run_case(case, use_given=False)
    if "flops" in pub:
        err = abs(default.flops / pub["flops"] - 1.0)
        rows.append(
            _row(case, "flops", pub["flops"], default.flops, default.flops, default.flops, err <= tol)
        )
    if "gpu_hours" in pub:
        hours = pub["gpu_hours"]
        if "given" in case and "mfu" in case["given"]:
            est = run_case(case, use_given=True).gpu_hours
            ok = abs(est.expected / hours - 1.0) <= tol
            rows.append(_row(case, "gpu_hours_given", hours, est.expected, est.low, est.high, ok))
        r = default.gpu_hours
        rows.append(
            _row(
                case, "gpu_hours_in_default_range", hours, r.expected, r.low, r.high, r.low <= hours <= r.high
            )
        )
    return rows


@dataclass(frozen=True)
class MemoryRow:
    """One memory golden case: does the published setup fit, and the fewest GPUs."""

    case: str
    source: str
    memory_per_gpu_bytes: float
    capacity_bytes: float
    fits: bool
    expect_fits: bool
    min_gpus: int | None
    expect_min_gpus: int | None

    @property
    def passed(self) -> bool:
        """True when fit (and the minimum GPU count, where published) match."""
        min_ok = self.expect_min_gpus is None or self.min_gpus == self.expect_min_gpus
        return self.fits == self.expect_fits and min_ok


def memory_row(case: dict[str, Any]) -> MemoryRow:
    """Return flopbill's memory verdict on one published setup."""
    acc = accelerator(case["accelerator"])
    plan_args = dict(case.get("plan", {}))
    plan_args["recompute"] = Recompute(plan_args.get("recompute", "selective"))
    tp = int(plan_args.get("tp", 1))
    plan = ParallelPlan(n_gpus=int(case["n_accelerators"]), sequence_parallel=tp > 1, **plan_args)
    stage = StageConfig(stage=parse_stage(case["stage"]), lora_rank=int(case.get("lora_rank", 16)))
    setup = resolve_training_setup(
        case_model(case["model"]),
        acc,
        n_gpus=plan.n_gpus,
        tokens=1e9,
        seq_len=int(case["seq_len"]),
        plan=plan,
        stage=stage,
        price=(1.0, 1.0, 1.0),
    )
    est = estimate_training(setup)
    return MemoryRow(
        case=case["id"],
        source=" ".join(str(case["source"]).split()),
        memory_per_gpu_bytes=est.memory.total_bytes,
        capacity_bytes=float(acc.memory_bytes or 0.0),
        fits=est.fits,
        expect_fits=bool(case["expect_fits"]),
        min_gpus=est.min_gpus,
        expect_min_gpus=case.get("expect_min_gpus"),
    )


@functools.cache
def fit_cases() -> frozenset[str]:
    """Golden case ids the fitted MFU model saw (the ``golden_case`` of every fitted observation)."""
    fitted = {p.run for p in mfu_fit_points(training_defaults())}
    return frozenset(
        o.golden_case for o in training_defaults().mfu_observations if o.golden_case and o.run in fitted
    )


@dataclass(frozen=True)
class RangeSummary:
    """How the default GPU-hours ranges do on one sample of golden runs.

    ``median_abs_error_pct``: median |expected / published − 1| (%); ``share_inside``: fraction of runs whose
    published GPU-hours lie in [low, high]; ``median_width``: median high / low.
    """

    sample: str
    n_runs: int
    median_abs_error_pct: float
    share_inside: float
    median_width: float
    cases: tuple[str, ...]


def default_range_summary(rows: list[GoldenRow] | None = None) -> list[RangeSummary]:
    """Return the summary of the ``gpu_hours_in_default_range`` rows: in-sample, out-of-sample, all."""
    rows = run_golden_training() if rows is None else rows
    ranged = [r for r in rows if r.check == "gpu_hours_in_default_range"]
    out = []
    for sample in ("in_sample", "out_of_sample", "all"):
        chosen = [r for r in ranged if sample == "all" or r.sample == sample]
        if not chosen:
            continue
        out.append(
            RangeSummary(
                sample=sample,
                n_runs=len(chosen),
                median_abs_error_pct=statistics.median(abs(r.error_pct) for r in chosen),
                share_inside=sum(r.passed for r in chosen) / len(chosen),
                median_width=statistics.median(r.high / r.low for r in chosen),
                cases=tuple(r.case for r in chosen),
            )
        )
    return out


def run_golden_training() -> list[GoldenRow]:
    """Return the rows of every golden case, memory cases included (as fits / min-GPU checks)."""
    rows = [row for case in golden_training_data()["cases"] for row in case_rows(case)]
    for case in golden_training_data().get("memory_cases", []):
        m = memory_row(case)
        value = float(m.min_gpus or 0) if m.expect_min_gpus else m.memory_per_gpu_bytes
        published = float(m.expect_min_gpus) if m.expect_min_gpus else m.capacity_bytes
        check = "min_gpus" if m.expect_min_gpus else ("fits" if m.expect_fits else "does_not_fit")
        rows.append(
            GoldenRow(
                m.case,
                check,
                m.source,
                published,
                value,
                value,
                value,
                (value / published - 1.0) * 100.0 if published else 0.0,
                0.0,
                m.passed,
            )
        )
    return rows


__all__ = [
    "GoldenRow",
    "MemoryRow",
    "RangeSummary",
    "case_rows",
    "default_range_summary",
    "dt",
    "fit_cases",
    "golden_training_data",
    "memory_row",
    "run_golden_training",
]
