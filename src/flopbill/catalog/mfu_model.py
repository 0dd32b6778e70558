"""A fitted model of what drives MFU: per-generation ceiling, reduced by memory-bound work per layer.

Form (stated in ``training_defaults.yaml`` → ``mfu_model``)::

    MFU = m_gen / (1 + k · x),   x = (peak FLOP/s / memory bandwidth) / d_model

Why this feature: per token and layer, the matrix multiplies cost ≈ 24·d² FLOPs (Kaplan et al. 2020,
Table 1) while the memory-bound elementwise work (norms, activations, residuals, dropout, softmax; its
bytes scale with d: Korthikanti et al. 2022, §4, activation terms ∝ s·b·h) costs ∝ d bytes. At a machine
balance β = peak / bandwidth (FLOP per byte) the non-matmul share of the time grows ∝ β / d: a small model
on a fast chip (Llama 3.1 8B on H100: β/d ≈ 0.072) loses far more than a wide model on an A100 (LLaMA
65B: 0.019). ``m_gen`` absorbs what the feature does not (software era, interconnect, parallelism
overheads) per hardware generation.

Fit (pure, deterministic): observations are steady-state MFU (``effective`` ones, derived from published
GPU-hours, are divided by the expected goodput first). For each k on a grid, ``m_gen`` is the geometric
median ``exp(median(log(MFU·(1 + k·x))))`` of the generation's observations; k minimises the mean
|log residual|. The range is ``expected ×/÷ f`` with f the ``coverage_quantile`` of the fit residuals
(capped, see the YAML). Which runs are fitted and which are held out is decided in the YAML, before
fitting, and reported separately by ``flopbill validate training``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MfuPoint:
    """One fit observation: generation, feature x = balance / d_model, steady-state MFU."""

    run: str
    generation: str
    x: float
    mfu: float


@dataclass(frozen=True)
class FittedMfuModel:
    """The fitted k, per-generation ceilings, range factor and fit residuals (log, by run)."""

    k: float
    ceilings: dict[str, float]
    pooled_ceiling: float
    range_factor: float
    residuals: dict[str, float]

    def expected(self, generation: str | None, x: float) -> tuple[float, bool]:
        """Return (expected MFU, extrapolated?) for a generation and feature value."""
        known = generation in self.ceilings
        m = self.ceilings[generation] if known and generation is not None else self.pooled_ceiling
        return m / (1.0 + self.k * x), not known


def feature(balance_flop_per_byte: float, d_model: int) -> float:
    """Return ``x = balance / d_model``: machine balance (FLOP per byte of HBM traffic) per unit width."""
    return balance_flop_per_byte / d_model


def _ceilings(points: Sequence[MfuPoint], k: float) -> dict[str, float]:
    by_gen: dict[str, list[float]] = {}
    for p in points:
        by_gen.setdefault(p.generation, []).append(math.log(p.mfu * (1.0 + k * p.x)))
    return {g: math.exp(statistics.median(v)) for g, v in by_gen.items()}


def _residuals(points: Sequence[MfuPoint], k: float, ceilings: dict[str, float]) -> dict[str, float]:
    return {p.run: math.log(p.mfu) - math.log(ceilings[p.generation] / (1.0 + k * p.x)) for p in points}


def fit_mfu_model(
    points: Sequence[MfuPoint], k_grid: Sequence[float], coverage_quantile: float, range_factor_cap: float
) -> FittedMfuModel:
    """Fit k, ``m_gen`` and the range factor on ``points`` (see the module docstring)."""
    if not points:
        raise ValueError("no MFU observations to fit")
    score: Callable[[float], float] = lambda k: statistics.fmean(  # noqa: E731
        abs(r) for r in _residuals(points, k, _ceilings(points, k)).values()
    )
    k = min(k_grid, key=lambda v: (score(v), v))
    ceilings = _ceilings(points, k)
    residuals = _residuals(points, k, ceilings)
    magnitudes = sorted(abs(r) for r in residuals.values())
    q = statistics.quantiles(magnitudes, n=100, method="inclusive")[round(coverage_quantile * 100) - 1]
    pooled = math.exp(statistics.median(math.log(p.mfu * (1.0 + k * p.x)) for p in points))
    return FittedMfuModel(
        k=k,
        ceilings=ceilings,
        pooled_ceiling=pooled,
        range_factor=min(range_factor_cap, math.exp(q)),
        residuals=residuals,
    )
