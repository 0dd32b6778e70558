"""The daily load curve and what an autoscaling fleet pays under it.

The curve is a raised cosine to a power, ``f(θ) ∝ (1 + cos θ)^k`` over the day (θ ∈ [0, 2π)),
normalised to mean 1. Its peak-to-mean ratio is ``p(k) = √π · Γ(k + 1) / Γ(k + ½)`` (the mean of
``(1 + cos θ)^k`` is ``2^k Γ(k + ½) / (√π Γ(k + 1))``): ``k = 0`` is flat (p = 1), ``k = 1`` the plain
cosine (p = 2, as :func:`flopbill.estimate.pricing.fleet.diurnal_load_profile` at p = 2), ``k = 2`` gives
p = 8/3. One family for every peak factor ≥ 1; a modelling choice, not a measurement — a real
traffic profile is better where you have one.

An autoscaling fleet with a floor of ``m`` replicas serving mean demand ``D`` replica-equivalents
runs ``E_θ[max(m, D·f(θ))] = D · G(m / D, p)`` replicas on average, with
``G(x, p) = E_θ[max(x, f(θ))]``. ``G`` is tabulated once (numerical quadrature) and interpolated
bilinearly, so the Monte Carlo needs no time axis.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Largest peak factor tabulated; larger ones are clipped (and flagged by the projection).
MAX_PEAK_FACTOR = 12.0
_THETA = np.linspace(0.0, 2.0 * np.pi, 4096, endpoint=False)
_P_GRID = np.linspace(1.0, MAX_PEAK_FACTOR, 221)
_U_GRID = np.linspace(0.0, 1.0, 257)  # x / p


def peak_factor_of_exponent(k: float) -> float:
    """Return the peak-to-mean ratio of ``(1 + cos θ)^k``: ``√π Γ(k + 1) / Γ(k + ½)``."""
    return math.exp(0.5 * math.log(math.pi) + math.lgamma(k + 1.0) - math.lgamma(k + 0.5))


def exponent_for_peak_factor(peak_factor: float) -> float:
    """Return ``k`` with ``peak_factor_of_exponent(k) = peak_factor`` (bisection; p ≥ 1)."""
    lo, hi = 0.0, 1.0
    while peak_factor_of_exponent(hi) < peak_factor:
        hi *= 2.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if peak_factor_of_exponent(mid) < peak_factor else (lo, mid)
    return 0.5 * (lo + hi)


def load_curve(peak_factor: float, slices: int = 24) -> FloatArray:
    """Return relative load at ``slices`` evenly spaced times of day (mean 1 over a fine grid)."""
    k = exponent_for_peak_factor(peak_factor)
    theta = np.linspace(-np.pi, np.pi, slices, endpoint=False)
    norm = np.mean((1.0 + np.cos(_THETA)) ** k)
    return np.asarray((1.0 + np.cos(theta)) ** k / norm, dtype=np.float64)


@functools.lru_cache(maxsize=1)
def _table() -> FloatArray:
    rows = []
    for p in _P_GRID:
        k = exponent_for_peak_factor(float(p))
        f = (1.0 + np.cos(_THETA)) ** k
        f = f / f.mean()
        x = _U_GRID * p
        rows.append(np.maximum(x[:, None], f[None, :]).mean(axis=1))
    return np.asarray(rows, dtype=np.float64)


def mean_of_floor_max(floor_ratio: FloatArray | float, peak_factor: FloatArray | float) -> FloatArray:
    """Return ``G(x, p) = E_θ[max(x, f(θ))]`` for mean-1 load ``f`` with peak ``p`` (broadcasts).

    ``G ≥ max(x, 1)``; ``G = x`` for ``x ≥ p``; ``G(0, p) = 1``. ``p`` is clipped to
    [1, :data:`MAX_PEAK_FACTOR`].
    """
    shape = np.broadcast_shapes(np.shape(floor_ratio), np.shape(peak_factor))
    x = np.atleast_1d(np.asarray(floor_ratio, dtype=np.float64))
    p = np.clip(np.atleast_1d(np.asarray(peak_factor, dtype=np.float64)), 1.0, MAX_PEAK_FACTOR)
    table = _table().ravel()
    ncol = len(_U_GRID)
    # the peak-factor index is computed on p's own (usually small) shape, then broadcast
    pi = (p - 1.0) / (_P_GRID[1] - _P_GRID[0])
    i0 = np.clip(np.floor(pi), 0, len(_P_GRID) - 2)
    wp = pi - i0
    wu = np.clip(x / p, 0.0, 1.0)  # in-place arithmetic below: this runs on (samples × months) arrays
    wu *= ncol - 1
    j0 = np.minimum(np.floor(wu), ncol - 2)
    wu -= j0
    flat = np.add((i0 * ncol).astype(np.int64), j0.astype(np.int64))
    low, low_next = table.take(flat), table.take(flat + 1)
    flat += ncol
    high, high_next = table.take(flat), table.take(flat + 1)
    low_next -= low
    low_next *= wu
    low += low_next
    high_next -= high
    high_next *= wu
    high += high_next
    high -= low
    high *= wp
    low += high
    # G(x, p) = x for x ≥ p, and G ≥ max(x, 1) everywhere (the tabulated values are ≥ 1)
    return np.asarray(np.maximum(low, x, out=low).reshape(shape), dtype=np.float64)


#: Scaling slots per day of :func:`hourly_curves`.
SLOTS_PER_DAY = 24


@functools.lru_cache(maxsize=1)
def _hourly_table() -> FloatArray:
    theta = np.linspace(-np.pi, np.pi, SLOTS_PER_DAY, endpoint=False)
    rows = []
    for p in _P_GRID:
        k = exponent_for_peak_factor(float(p))
        f = (1.0 + np.cos(theta)) ** k if p > 1.0 else np.ones(SLOTS_PER_DAY)
        rows.append(f / f.mean())
    return np.asarray(rows, dtype=np.float64)


def hourly_curves(peak_factor: FloatArray | float) -> FloatArray:
    """Return relative load per hour of the day, shape ``shape(peak_factor) + (24,)``, mean exactly 1.

    The curve ``(1 + cos θ)^k`` sampled at 24 hours (busiest hour at θ = 0) and normalised over those
    hours, interpolated linearly between tabulated peak factors (a mix of mean-1 curves keeps mean 1).
    Its busiest hour is the peak factor within the sampling (≤ 1 % off for p ≤ 4).
    """
    p = np.clip(np.asarray(peak_factor, dtype=np.float64), 1.0, MAX_PEAK_FACTOR)
    pi = (p - 1.0) / (_P_GRID[1] - _P_GRID[0])
    i0 = np.clip(np.floor(pi), 0, len(_P_GRID) - 2).astype(np.int64)
    w = (pi - i0)[..., None]
    table = _hourly_table()
    return np.asarray(table[i0] * (1.0 - w) + table[i0 + 1] * w, dtype=np.float64)


#: The hourly curve is symmetric about its busiest hour (θ_h = −θ_{24−h}): hours 0 … 12 hold every
#: distinct value, hours 1 … 11 twice each. Billing the half day with these weights bills the whole day.
HALF_DAY_WEIGHTS = np.array([1.0] + [2.0] * 11 + [1.0])


def half_day_curves(peak_factor: FloatArray | float) -> FloatArray:
    """Return hours 0 … 12 of :func:`hourly_curves` (trough to busiest hour), shape ``+ (13,)``; with
    :data:`HALF_DAY_WEIGHTS` they stand for all 24 hours."""
    return hourly_curves(peak_factor)[..., : len(HALF_DAY_WEIGHTS)]
