"""Sourced training defaults: MFU observations by hardware generation and scale, goodput, PUE, grid
carbon intensity, power draw, decode bandwidth utilisation, QLoRA storage and the scaling-law fits.

The data live in ``training_defaults.yaml``; every figure carries a reference and a checked date. This
module validates the file (pydantic, ``extra="forbid"``) and turns observations into ranges with one
stated rule (:meth:`TrainingDefaults.mfu_range`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import statistics
from importlib import resources
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from flopbill.catalog.loader import accelerator, describe_validation_error
from flopbill.catalog.mfu_model import FittedMfuModel, MfuPoint, feature, fit_mfu_model
from flopbill.catalog.schema import Accelerator, Sourced, Strict
from flopbill.errors import CatalogError

_DATA = "flopbill.catalog.data"


class SourcedRange(Strict):
    """A (low, expected, high) range whose bounds each carry a reference."""

    low: Sourced
    expected: Sourced
    high: Sourced
    unit: str

    @model_validator(mode="after")
    def _ordered(self) -> SourcedRange:
        if not self.low.value <= self.expected.value <= self.high.value:
            raise ValueError("range must satisfy low <= expected <= high")
        return self


class Generation(Strict):
    """A hardware generation and the accelerator ids (regular expression) that belong to it."""

    name: str
    id_pattern: str
    note: str = ""


class MfuObservation(Strict):
    """One published model-FLOPs utilisation (model FLOPs / dense peak of the training dtype)."""

    run: str
    generation: str
    n_accelerators: int = Field(gt=0)
    mfu: float = Field(gt=0, le=1)
    kind: str = Field(pattern="^(stated|effective)$")
    ref: str
    checked: dt.date
    note: str = ""
    accelerator: str | None = None
    d_model: int | None = Field(default=None, gt=0)
    golden_case: str | None = None
    excluded_from_fit: str = ""


class MfuModelSpec(Strict):
    """The fitted MFU model's form, split and fit settings (see :mod:`flopbill.catalog.mfu_model`)."""

    form: str
    ref: str
    checked: dt.date
    split: str
    k_grid_max: float = Field(gt=0)
    k_grid_step: float = Field(gt=0)
    coverage_quantile: float = Field(gt=0, lt=1)
    range_factor_cap: Sourced


class ScaleBucket(Strict):
    """A range of accelerator counts within which MFU observations are pooled."""

    name: str
    max_accelerators: int = Field(gt=0)


class MfuRange(Strict):
    """An MFU range and how it was obtained (which observations, which pooling)."""

    low: float
    expected: float
    high: float
    generation: str
    scale: str
    basis: str


class ScalingFit(Strict):
    """A fitted L(N, D) = E + A/N^alpha + B/D^beta (nats per token)."""

    e: float
    a: float
    b: float
    alpha: float
    beta: float
    ref: str
    checked: dt.date
    note: str = ""


class TrainingDefaults(Strict):
    """The validated contents of ``training_defaults.yaml``."""

    about: str
    generations: list[Generation]
    scale_buckets: list[ScaleBucket]
    mfu_min_relative_half_width: Sourced
    mfu_observations: list[MfuObservation]
    mfu_model: MfuModelSpec
    goodput: SourcedRange
    pue: SourcedRange
    carbon_kg_per_kwh: SourcedRange
    power_fraction_of_tdp: Sourced
    decode_bandwidth_utilisation: SourcedRange
    nf4_bytes_per_param: Sourced
    optimizer_bytes_per_param: dict[str, Sourced]
    scaling_fits: dict[str, ScalingFit]
    default_scaling_fit: str

    def generation_of(self, accelerator_id: str) -> str | None:
        """Return the generation whose ``id_pattern`` matches ``accelerator_id``, or ``None``."""
        for gen in self.generations:
            if re.search(gen.id_pattern, accelerator_id):
                return gen.name
        return None

    def scale_of(self, n_accelerators: int) -> str:
        """Return the name of the scale bucket holding ``n_accelerators``."""
        for bucket in sorted(self.scale_buckets, key=lambda b: b.max_accelerators):
            if n_accelerators <= bucket.max_accelerators:
                return bucket.name
        return max(self.scale_buckets, key=lambda b: b.max_accelerators).name

    def mfu_range(self, accelerator_id: str, n_accelerators: int) -> MfuRange:
        """Return the MFU range for an accelerator and count.

        Rule (stated, not fitted): pool the observations of the same generation and scale bucket; with
        fewer than two, the whole generation; with none, every observation (an extrapolation). Expected is
        the median; low/high are the min/max, widened to at least ± ``mfu_min_relative_half_width`` of the
        median.
        """
        gen = self.generation_of(accelerator_id)
        scale = self.scale_of(n_accelerators)
        pool = [
            o
            for o in self.mfu_observations
            if o.generation == gen and self.scale_of(o.n_accelerators) == scale
        ]
        basis = f"{gen} at {scale} scale"
        if len(pool) < 2:
            pool = [o for o in self.mfu_observations if o.generation == gen]
            basis = f"{gen}, all scales (fewer than two observations at {scale} scale)"
        if not pool:
            pool = list(self.mfu_observations)
            basis = "all generations pooled: no observation for this accelerator's generation (extrapolation)"
        values = [o.mfu for o in pool]
        median = statistics.median(values)
        width = self.mfu_min_relative_half_width.value
        runs = ", ".join(sorted({o.run for o in pool}))
        return MfuRange(
            low=min(min(values), median * (1 - width)),
            expected=median,
            high=min(1.0, max(max(values), median * (1 + width))),
            generation=gen or "unknown",
            scale=scale,
            basis=f"{basis}: median/min/max of {len(values)} published runs ({runs})",
        )

    @model_validator(mode="after")
    def _consistent(self) -> TrainingDefaults:
        names = {g.name for g in self.generations}
        unknown = sorted({o.generation for o in self.mfu_observations} - names)
        if unknown:
            raise ValueError(f"mfu_observations name unknown generations: {', '.join(unknown)}")
        if self.default_scaling_fit not in self.scaling_fits:
            raise ValueError(f"default_scaling_fit {self.default_scaling_fit!r} is not in scaling_fits")
        return self


def machine_balance(acc: Accelerator) -> float | None:
    """Return dense bf16 (else fp16, fp32) peak / memory bandwidth (FLOP per byte); None if unknown."""
    p = acc.peak_flops_per_s
    peak = p.bf16 or p.fp16 or p.fp32
    bw = acc.memory_bandwidth_bytes_per_s
    return None if not peak or not bw else peak / bw


def mfu_fit_points(d: TrainingDefaults) -> list[MfuPoint]:
    """Return the fit set: every observation with a catalogued accelerator and d_model, as steady MFU.

    ``effective`` observations (from published GPU-hours, lost time included) are divided by the
    expected goodput so that every point is steady-state MFU.
    """
    points = []
    goodput = d.goodput.expected.value
    for o in d.mfu_observations:
        if o.accelerator is None or o.d_model is None or o.excluded_from_fit:
            continue
        balance = machine_balance(accelerator(o.accelerator))
        if balance is None:
            continue
        mfu = o.mfu / goodput if o.kind == "effective" else o.mfu
        points.append(MfuPoint(o.run, o.generation, feature(balance, o.d_model), min(mfu, 1.0)))
    return points


@functools.cache
def fitted_mfu_model() -> FittedMfuModel:
    """Return the MFU model fitted on the built-in observations (deterministic; cached)."""
    d = training_defaults()
    spec = d.mfu_model
    steps = round(spec.k_grid_max / spec.k_grid_step)
    grid = [i * spec.k_grid_step for i in range(steps + 1)]
    return fit_mfu_model(mfu_fit_points(d), grid, spec.coverage_quantile, spec.range_factor_cap.value)


def mfu_model_range(acc: Accelerator, d_model: int) -> MfuRange | None:
    """Return the fitted model's MFU range for an accelerator and model width (None: no bandwidth/peak).

    expected = m_gen / (1 + k·x), x = balance / d_model; low/high = expected ÷/× the range factor.
    """
    balance = machine_balance(acc)
    if balance is None:
        return None
    d = training_defaults()
    fit = fitted_mfu_model()
    gen = d.generation_of(acc.id)
    x = feature(balance, d_model)
    expected, extrapolated = fit.expected(gen, x)
    f = fit.range_factor
    ceiling = fit.ceilings.get(gen or "", fit.pooled_ceiling)
    basis = (
        f"fitted MFU model: {ceiling:.3g} ({gen or 'no'} generation ceiling"
        + (", none fitted: all generations pooled, an extrapolation" if extrapolated else "")
        + f") / (1 + {fit.k:g} × x), x = {balance:.0f} FLOP/B / d_model {d_model} = {x:.4f};"
        f" range ×/÷ {f:.2f} ({d.mfu_model.coverage_quantile:g} quantile of the fit residuals)"
    )
    return MfuRange(
        low=expected / f,
        expected=expected,
        high=min(1.0, expected * f),
        generation=gen or "unknown",
        scale="any",
        basis=basis,
    )


def load_training_defaults(path: Path | str) -> TrainingDefaults:
    """Return validated training defaults read from a YAML file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML ({exc})") from None
    try:
        return TrainingDefaults.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc)) from None


@functools.cache
def training_defaults() -> TrainingDefaults:
    """Return the built-in training defaults (``catalog/data/training_defaults.yaml``)."""
    ref = resources.files(_DATA) / "training_defaults.yaml"
    return load_training_defaults(Path(str(ref)))
