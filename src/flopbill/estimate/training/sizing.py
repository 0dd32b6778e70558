"""Model sizing: compute-optimal (Chinchilla) and inference-aware (Sardana et al. 2023) N and D.

Loss model (Hoffmann et al. 2022, approach 3): ``L(N, D) = E + A/N^α + B/D^β`` (nats/token), training
compute ``C = 6·N·D``. flopbill uses the refit of Besiroglu et al. 2024 ("Chinchilla Scaling: A
replication attempt": E = 1.82, A = 482.01, B = 2085.43, α = 0.3478, β = 0.3658), which agrees with
Hoffmann's approaches 1 and 2 (~20 tokens per parameter); Hoffmann's own fit (E = 1.69, A = 406.4,
B = 410.7, α = 0.34, β = 0.28) is available as ``hoffmann2022``. Both come from the catalog defaults.

Compute-optimal (minimise L at fixed C): ``N* = G·(C/6)^(β/(α+β))``, ``D* = (C/6)/N*`` with
``G = (α·A / (β·B))^(1/(α+β))`` (Hoffmann et al. 2022, appendix D.2).

Inference-aware (Sardana et al. 2023, "Beyond Chinchilla-Optimal", §2): for the same loss ``L*`` as the
compute-optimal model, choose N minimising ``6·N·D(N) + 2·N·D_inf`` where ``D(N)`` solves
``L(N, D) = L*`` and ``D_inf`` is the lifetime inference tokens. Solved on a log-spaced grid of N
(vectorised), refined once around the best point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flopbill.catalog.defaults import ScalingFit
from flopbill.errors import InputError
from flopbill.estimate.core.arrays import ArrayLike, as_output


def predicted_loss(fit: ScalingFit, params: ArrayLike, tokens: ArrayLike) -> ArrayLike:
    """Return ``E + A/N^α + B/D^β`` (nats per token) for N parameters and D training tokens."""
    n = np.asarray(params, dtype=np.float64)
    d = np.asarray(tokens, dtype=np.float64)
    result: ArrayLike = as_output(fit.e + fit.a / n**fit.alpha + fit.b / d**fit.beta)
    return result


def compute_optimal_params(fit: ScalingFit, flops: ArrayLike) -> ArrayLike:
    """Return N* = G·(C/6)^(β/(α+β)) (parameters) for a training budget of C FLOPs (Hoffmann et al. 2022)."""
    c = np.asarray(flops, dtype=np.float64)
    g = (fit.alpha * fit.a / (fit.beta * fit.b)) ** (1.0 / (fit.alpha + fit.beta))
    result: ArrayLike = as_output(g * (c / 6.0) ** (fit.beta / (fit.alpha + fit.beta)))
    return result


def tokens_for_loss(fit: ScalingFit, params: ArrayLike, loss: ArrayLike) -> ArrayLike:
    """Return D with L(N, D) = loss: ``(B / (loss − E − A/N^α))^(1/β)``; ``inf`` where unreachable."""
    n = np.asarray(params, dtype=np.float64)
    gap = np.asarray(loss, dtype=np.float64) - fit.e - fit.a / n**fit.alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(gap > 0, (fit.b / np.where(gap > 0, gap, 1.0)) ** (1.0 / fit.beta), np.inf)
    result: ArrayLike = as_output(d)
    return result


@dataclass(frozen=True)
class SizingResult:
    """A sized model: parameters, training tokens, FLOPs and predicted loss."""

    params: float
    tokens: float
    training_flops: float
    inference_flops: float
    predicted_loss: float
    tokens_per_param: float
    fit: str


def chinchilla_optimal(
    fit: ScalingFit, flops: float, fit_name: str = "", lifetime_tokens: float = 0.0
) -> SizingResult:
    """Return the compute-optimal N, D and predicted loss for ``flops`` of training (6·N·D).

    ``inference_flops`` is what serving ``lifetime_tokens`` with that model costs, ``2·N·D_inf``, so the
    result compares with :func:`inference_aware_optimal` on total compute.
    """
    if not flops > 0:
        raise InputError("budget_flops", flops, "a positive FLOP or dollar budget")
    n = float(compute_optimal_params(fit, flops))
    d = flops / 6.0 / n
    loss = float(predicted_loss(fit, n, d))
    return SizingResult(n, d, flops, 2.0 * n * lifetime_tokens, loss, d / n, fit_name)


def inference_aware_optimal(
    fit: ScalingFit, flops: float, lifetime_tokens: float, fit_name: str = ""
) -> SizingResult:
    """Return N, D reaching the Chinchilla-optimal loss for ``flops`` at least total compute
    ``6·N·D + 2·N·D_inf`` (Sardana et al. 2023); with ``D_inf = 0`` it is the Chinchilla point."""
    if lifetime_tokens < 0:
        raise InputError("lifetime_tokens", lifetime_tokens, "a non-negative token count such as 2T")
    base = chinchilla_optimal(fit, flops, fit_name)
    target = base.predicted_loss
    grid = base.params * np.logspace(-3, 0.5, 2001)
    for _ in range(2):
        d_grid = np.asarray(tokens_for_loss(fit, grid, target))
        total = 6.0 * grid * d_grid + 2.0 * grid * lifetime_tokens
        best = int(np.argmin(total))
        lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
        grid = np.linspace(lo, hi, 2001)
    totals = 6.0 * grid * np.asarray(tokens_for_loss(fit, grid, target)) + 2.0 * grid * lifetime_tokens
    n = float(grid[int(np.argmin(totals))])
    d = float(tokens_for_loss(fit, n, target))
    return SizingResult(n, d, 6.0 * n * d, 2.0 * n * lifetime_tokens, target, d / n, fit_name)
