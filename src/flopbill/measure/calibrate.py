"""Calibration: fit a profile's efficiency factors to measured times by least squares.

Each measurement row carries its work (FLOPs and bytes by kind, steps, layers; :class:`Work`). With the
profile's measured peak ``P`` and bandwidth ``BW`` the prediction of :mod:`flopbill.measure.predict` is,
on a profile whose compute and memory do not overlap (CPUs), linear in
``θ = (1/η_flops, 1/η_attention, 1/η_bw, 1/η_bw_batched, 1/η_stream, o_step, o_layer)``::

    t ≈ θ₀·F_gemm/P + θ₁·F_attn/P + (θ₂ or θ₃)·B_w/BW + θ₄·((B_kv + B_stream)/BW + V_ew/R_ew)
        + θ₅·steps + θ₆·steps·L

(``V_ew`` the elementwise values, ``R_ew`` the profile's measured elementwise rate)

and the fit minimises the squared *relative* error ``Σ ((x_i·θ − t_i)/t_i)²`` (weighted least squares,
so short decode steps count as much as long training steps). On an overlapping profile (GPUs) the ``max``
of each roofline picks its bound term under the current θ and the linear fit is repeated until the
choice is stable. Coefficients that the data cannot separate (a column that is constant across rows
relative to another, or contributes under 2 % of every row) keep the profile's value; an optional
ridge (off by default) pulls each efficiency towards the profile's value (Tikhonov), and negative
coefficients are dropped and the fit is repeated (an active-set non-negative least squares, Lawson &
Hanson 1974, ch. 23).

The held-out split is decided before fitting: every ``holdout_every``-th row (1-based position
``k·holdout_every``) is held out; errors before and after are reported for both parts separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from flopbill.catalog.profile import Efficiencies, HardwareProfile
from flopbill.errors import InputError
from flopbill.measure.predict import Work, predict_work

T = TypeVar("T")
NAMES = (
    "eta_flops",
    "eta_attention",
    "eta_bw",
    "eta_bw_batched",
    "eta_stream",
    "overhead_s_per_step",
    "overhead_s_per_layer",
)
N_ETA = 5
#: A factor is fitted only where it makes up at least this share of some row's predicted time.
MIN_SHARE = 0.02
#: Weight of the optional pull of each efficiency towards its starting value (see :func:`_solve`); off
#: by default, since it biases the fit of clean data.
RIDGE = 0.0


@dataclass(frozen=True)
class Observation:
    """One measured time with the work it did and the peaks it is predicted against."""

    work: Work
    measured_s: float
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    label: str = ""
    elementwise_values_per_s: float | None = None
    rows_ratio: float = 1.0

    def predicted_s(self, eff: Efficiencies) -> float:
        """Return the predicted time of this row under ``eff`` (s)."""
        return predict_work(
            self.work,
            self.peak_flops_per_s,
            self.bandwidth_bytes_per_s,
            eff,
            self.elementwise_values_per_s,
            self.rows_ratio,
        ).total_s


@dataclass(frozen=True)
class CalibrationResult:
    """Fitted efficiencies and mean |relative error| before/after, in-sample and held out."""

    efficiencies: Efficiencies
    fitted: tuple[str, ...]
    n_fit: int
    n_holdout: int
    fit_error_before: float
    fit_error_after: float
    holdout_error_before: float | None
    holdout_error_after: float | None


def _features(o: Observation, theta: np.ndarray, overlap: bool) -> np.ndarray:
    """Return the row's regressors for θ = (1/η_flops, 1/η_attn, 1/η_bw, 1/η_bw_batched, 1/η_stream,
    o_step, o_layer)."""
    w = o.work
    p, bw = o.peak_flops_per_s, o.bandwidth_bytes_per_s
    gemm, attn = w.gemm_flops / p, w.attention_flops / p
    batched = w.tokens_per_step > 1.0
    wb1, wbn = (0.0, w.weight_bytes / (bw * o.rows_ratio)) if batched else (w.weight_bytes / bw, 0.0)
    kv = w.kv_bytes / bw
    st = w.stream_bytes / bw + w.elementwise_values / (o.elementwise_values_per_s or bw / 8.0)
    if overlap:  # keep only the bound term of each roofline under the current θ
        gemm_on = gemm * theta[0] >= wb1 * theta[2] + wbn * theta[3]
        attn_on = attn * theta[1] >= kv * theta[4]
        wb1, wbn = (0.0, 0.0) if gemm_on else (wb1, wbn)
        kv = 0.0 if attn_on else kv
        gemm, attn = (gemm if gemm_on else 0.0), (attn if attn_on else 0.0)
    return np.array([gemm, attn, wb1, wbn, kv + st, w.steps, w.steps * w.layers])


def _theta(eff: Efficiencies) -> np.ndarray:
    batched = eff.eta_bw_batched or eff.eta_bw
    return np.array(
        [
            1 / eff.eta_flops,
            1 / eff.eta_attention,
            1 / eff.eta_bw,
            1 / batched,
            1 / eff.eta_stream,
            eff.overhead_s_per_step,
            eff.overhead_s_per_layer,
        ]
    )


def _efficiencies(theta: np.ndarray, base: Efficiencies, method: str) -> Efficiencies:
    def eta(x: float) -> float:
        return float(min(max(1.0 / x, 1e-3), 2.0)) if x > 0 else 2.0

    return Efficiencies(
        eta_flops=eta(theta[0]),
        eta_attention=eta(theta[1]),
        eta_bw=eta(theta[2]),
        eta_bw_batched=eta(theta[3]),
        eta_stream=eta(theta[4]),
        overhead_s_per_step=float(max(theta[5], 0.0)),
        overhead_s_per_layer=float(max(theta[6], 0.0)),
        overlap=base.overlap,
        method=method,
        calibrated=True,
    )


def mean_abs_error(obs: Sequence[Observation], eff: Efficiencies) -> float:
    """Return mean ``|predicted/measured − 1|`` of ``obs`` under ``eff``."""
    errs = [abs(o.predicted_s(eff) / o.measured_s - 1) for o in obs]
    return float(np.mean(errs)) if errs else float("nan")


def _solve(x: np.ndarray, y: np.ndarray, theta0: np.ndarray, free: list[int], ridge: float) -> np.ndarray:
    """Weighted LS for the ``free`` columns (others fixed at ``theta0``), with a ridge pulling each
    efficiency towards its starting value (``ridge·(θ_j/θ0_j − 1)²``, Tikhonov regularisation, so a few
    noisy rows cannot send a weakly determined factor far away); drops negative coefficients."""
    theta = theta0.copy()
    free = list(free)
    while free:
        fixed = [j for j in range(len(theta)) if j not in free]
        rhs = y - x[:, fixed] @ theta[fixed]
        design = x[:, free]
        prior = [(k, j) for k, j in enumerate(free) if j < N_ETA and theta0[j] > 0 and ridge > 0]
        if prior:
            extra = np.zeros((len(prior), len(free)))
            for row, (k, j) in enumerate(prior):
                extra[row, k] = np.sqrt(ridge) / theta0[j]
            design = np.vstack([design, extra])
            rhs = np.concatenate([rhs, np.full(len(prior), np.sqrt(ridge))])
        sol, *_ = np.linalg.lstsq(design, rhs, rcond=None)
        if (sol >= 0).all():
            theta[free] = sol
            return theta
        worst = free[int(np.argmin(sol))]
        free.remove(worst)
        theta[worst] = 0.0 if worst >= N_ETA else theta0[worst]
    return theta


def _separable(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Return the columns, in order, that contribute ≥ ``MIN_SHARE`` of some row and are not a linear
    combination of the columns kept before them (numerical rank of the relative design; those cannot be
    told apart: with one model, the weight bytes of every step and the step count are proportional)."""
    rel = x / y[:, None]
    keep: list[int] = []
    for j in range(x.shape[1]):
        if rel[:, j].max() < MIN_SHARE:
            continue
        cols = rel[:, [*keep, j]]
        sv = np.linalg.svd(cols / np.linalg.norm(cols, axis=0), compute_uv=False)
        if sv.min() > 1e-6 * sv.max():
            keep.append(j)
    return keep


def loo_errors(rel: np.ndarray, theta0: np.ndarray, free: list[int], ridge: float = RIDGE) -> np.ndarray:
    """Return each row's leave-one-out |relative error| when fitting the ``free`` columns: each row predicted
    by the fit on all the others (``rel`` = features / measured time; the target is 1 for every row)."""
    n = rel.shape[0]
    errs = []
    for i in range(n):
        keep = np.arange(n) != i
        theta = _solve(rel[keep], np.ones(n - 1), theta0, free, ridge) if free else theta0
        errs.append(abs(float(rel[i] @ theta) - 1.0))
    return np.asarray(errs)


def loo_error(rel: np.ndarray, theta0: np.ndarray, free: list[int], ridge: float = RIDGE) -> float:
    """Return the leave-one-out mean |relative error| of fitting the ``free`` columns (:func:`loo_errors`)."""
    return float(np.mean(loo_errors(rel, theta0, free, ridge)))


def select(rel: np.ndarray, theta0: np.ndarray, candidates: list[int], ridge: float = RIDGE) -> list[int]:
    """Return the subset of ``candidates`` to fit, chosen by leave-one-out error on the fit rows with the
    one-standard-error rule: the fewest columns whose LOO error is within one standard error of the least
    (every subset is tried, the empty one meaning "keep the profile"; ties go to the lower error).

    A model choice made by cross-validation *inside* the fit part (Stone 1974, "Cross-validatory choice
    and assessment of statistical predictions", JRSS B 36): with a dozen noisy rows, fitting all seven
    factors follows the noise, and the held-out rows, never used here, show it. Taking the bare minimum
    over 2^k subsets still picks noise (the minimum of many noisy estimates is biased low); the 1-SE rule
    (Breiman et al. 1984, *Classification and Regression Trees* §3.4.3; Hastie, Tibshirani & Friedman,
    *The Elements of Statistical Learning* §7.10) keeps a subset only when the data clearly favour it.
    """
    n = rel.shape[0]
    if n < 3:
        return list(candidates)
    scored: list[tuple[float, float, list[int]]] = []
    for mask in range(2 ** len(candidates)):
        subset = [c for k, c in enumerate(candidates) if mask >> k & 1]
        if len(subset) > n - 2:
            continue
        errs = loo_errors(rel, theta0, subset, ridge)
        scored.append((float(errs.mean()), float(errs.std(ddof=1) / np.sqrt(n)), subset))
    best_err, best_se, _ = min(scored, key=lambda s: (s[0], len(s[2])))
    within = [s for s in scored if s[0] <= best_err + best_se + 1e-12]
    return min(within, key=lambda s: (len(s[2]), s[0]))[2]


def fit(
    obs: Sequence[Observation], base: Efficiencies, iterations: int = 10, ridge: float = RIDGE
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return the fitted θ and the names of the coefficients the data determined."""
    if not obs:
        raise InputError("measurements", 0, "at least one measured row to fit")
    theta = _theta(base)
    y = np.array([o.measured_s for o in obs])
    free: list[int] = []
    chosen: list[int] | None = None
    for _ in range(iterations):
        x = np.array([_features(o, theta, base.overlap) for o in obs])
        if chosen is None:
            chosen = select(x / y[:, None], _theta(base), _separable(x, y), ridge)
        free = chosen
        new = _solve(x / y[:, None], np.ones_like(y), _theta(base), free, ridge)
        if np.allclose(new, theta, rtol=1e-9):
            break
        theta = new
    return theta, tuple(NAMES[j] for j in free)


def split(obs: Sequence[T], holdout_every: int) -> tuple[list[T], list[T]]:
    """Return (fit, held-out): every ``holdout_every``-th row is held out (0: none)."""
    if holdout_every < 0 or holdout_every == 1:
        raise InputError("--holdout-every", holdout_every, "0 (no hold-out) or an integer ≥ 2")
    if holdout_every == 0:
        return list(obs), []
    fit_part = [o for i, o in enumerate(obs, 1) if i % holdout_every]
    held = [o for i, o in enumerate(obs, 1) if not i % holdout_every]
    return fit_part, held


def calibrate(
    obs: Sequence[Observation], profile: HardwareProfile, holdout_every: int = 3, sources: str = ""
) -> CalibrationResult:
    """Fit ``profile``'s efficiencies on the fit part of ``obs``; report errors on both parts."""
    fit_obs, held = split(obs, holdout_every)
    base = profile.efficiency
    theta, names = fit(fit_obs, base)
    tmp = _efficiencies(theta, base, "")
    before_h = mean_abs_error(held, base) if held else None
    after_h = mean_abs_error(held, tmp) if held else None
    held_txt = f"held-out {len(held)} rows: {before_h:.1%} → {after_h:.1%}" if held else "no hold-out"
    of = f" of {sources}" if sources else ""
    in_before, in_after = mean_abs_error(fit_obs, base), mean_abs_error(fit_obs, tmp)
    method = (
        f"least squares (relative error) on {len(fit_obs)} measured rows{of}; fitted "
        f"{', '.join(names) or 'nothing'}; mean |error| in-sample {in_before:.1%} → {in_after:.1%}, "
        f"{held_txt}"
    )
    eff = _efficiencies(theta, base, method)
    return CalibrationResult(
        efficiencies=eff,
        fitted=names,
        n_fit=len(fit_obs),
        n_holdout=len(held),
        fit_error_before=mean_abs_error(fit_obs, base),
        fit_error_after=mean_abs_error(fit_obs, eff),
        holdout_error_before=before_h,
        holdout_error_after=after_h,
    )
