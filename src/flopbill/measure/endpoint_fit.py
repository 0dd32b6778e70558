"""Calibration from ``flopbill measure endpoint`` runs: a serving engine's decode η_bw and per-step overhead.

A fixed-concurrency run of ``c`` clients keeps about ``c`` sequences decoding together, so its median
TPOT is the time of one decode step at batch ``c`` for prompts of the run's mean input length. The
serving estimator (:func:`flopbill.estimate.serving.deployment.estimate_serving`) predicts that TPOT from
the model, the accelerator, ``η_bw`` and the engine's per-step overhead ``o``. A decode step is
memory-bound, so the prediction is, to first order, ``C + M·θ + o`` with ``θ = η₀/η_bw``: ``M`` and
``C`` are read off the estimator itself (its TPOT at ``η₀`` and at ``η₀/2``, ``o = 0``), not re-derived
here. ``(θ, o)`` are fitted by non-negative least squares on the relative error over the fit runs; with
runs at a single concurrency only ``θ`` is fitted (``o`` keeps the engine's value: one batch size
cannot tell a fixed cost from a proportional one). Every ``holdout_every``-th run (fixed before
fitting) is held out, and the errors before and after are those of the real estimator, not of the
linearisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flopbill.catalog.efficiency import EngineProfile, HardwareEfficiency
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.dtypes import Dtype
from flopbill.errors import CatalogError, InputError
from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving
from flopbill.measure.calibrate import split


@dataclass(frozen=True)
class EndpointRun:
    """One fixed-concurrency endpoint run: mean request shape and median TPOT (s)."""

    label: str
    concurrency: int
    input_tokens: float
    output_tokens: float
    tpot_s: float


@dataclass(frozen=True)
class EndpointFit:
    """Fitted engine figures and mean |relative TPOT error| before/after, in-sample and held out."""

    eta_bw: float
    overhead_s_per_step: float
    fitted: tuple[str, ...]
    n_fit: int
    n_holdout: int
    fit_error_before: float
    fit_error_after: float
    holdout_error_before: float | None
    holdout_error_after: float | None
    method: str


def is_endpoint_summary(doc: Any) -> bool:
    """True for the summary JSON ``flopbill measure endpoint --out-summary`` (or ``--json``) writes."""
    return isinstance(doc, dict) and "config" in doc and "tpot_s" in doc and "completed" in doc


def endpoint_run(doc: dict[str, Any], label: str = "") -> EndpointRun:
    """Return the run of a summary; raise if it is not a fixed-concurrency run with completed requests."""
    try:
        conc = doc["config"].get("concurrency")
        done = int(doc["completed"])
        tpot = doc["tpot_s"].get("median")
        if conc is None or done < 1 or tpot is None:
            raise InputError(
                "MEASUREMENTS", label, "an endpoint summary of a --concurrency run with completed requests"
            )
        return EndpointRun(
            label,
            int(conc),
            float(doc["total_input_tokens"]) / done,
            float(doc["total_output_tokens"]) / done,
            float(tpot),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{label}: malformed endpoint summary ({exc})") from None


@dataclass(frozen=True)
class Deployment:
    """What the endpoint served: model, accelerator and its efficiencies, engine, weight format."""

    model: ModelSpec
    accelerator: Accelerator
    efficiency: HardwareEfficiency
    engine: EngineProfile
    weights: Dtype = Dtype.BF16


def predicted_tpot_s(dep: Deployment, run: EndpointRun, eta_bw: float, overhead_s: float) -> float:
    """Return the serving estimator's TPOT for ``run`` with ``η_bw`` and engine step overhead (s)."""
    bw = dep.efficiency.eta_bw.model_copy(update={"value": eta_bw})
    over = dep.engine.overhead_s_per_step.model_copy(update={"value": overhead_s})
    est = estimate_serving(
        dep.model,
        dep.accelerator,
        max(run.input_tokens, 1.0),
        max(run.output_tokens, 1.0),
        ServingOptions(batch=run.concurrency, weights=dep.weights),
        (dep.efficiency.model_copy(update={"eta_bw": bw}), True),
        dep.engine.model_copy(update={"overhead_s_per_step": over}),
    )
    return float(est.tpot_s)


def _mean_error(dep: Deployment, runs: Sequence[EndpointRun], eta_bw: float, overhead_s: float) -> float:
    errs = [abs(predicted_tpot_s(dep, r, eta_bw, overhead_s) / r.tpot_s - 1.0) for r in runs]
    return float(np.mean(errs)) if errs else float("nan")


def _solve(dep: Deployment, runs: Sequence[EndpointRun], eta0: float, o0: float) -> tuple[float, float, bool]:
    """Return (θ, o, whether o was fitted) minimising the squared relative error of ``C + M·θ + o``."""
    rows = []
    for r in runs:
        t0 = predicted_tpot_s(dep, r, eta0, 0.0)
        t_half = predicted_tpot_s(dep, r, eta0 / 2.0, 0.0)
        m = t_half - t0
        rows.append((m, t0 - m, r.tpot_s))
    a = np.array(rows)
    m, c, y = a[:, 0] / a[:, 2], a[:, 1] / a[:, 2], a[:, 2]
    with_o = len({r.concurrency for r in runs}) >= 2
    if with_o:
        sol, *_ = np.linalg.lstsq(np.column_stack([m, 1.0 / y]), 1.0 - c, rcond=None)
        if sol[1] >= 0 and sol[0] > 0:
            return float(sol[0]), float(sol[1]), True
    # θ alone (o fixed at the engine's value)
    rhs = 1.0 - c - o0 / y
    theta = float(m @ rhs / max(float(m @ m), 1e-30))
    return max(theta, 1e-3), o0, False


def fit_endpoint(
    dep: Deployment, runs: Sequence[EndpointRun], holdout_every: int = 3, sources: str = ""
) -> EndpointFit:
    """Fit the engine's decode ``η_bw`` and per-step overhead on the fit part of ``runs``."""
    if not runs:
        raise InputError("MEASUREMENTS", 0, "at least one endpoint summary")
    fit_runs, held = split(runs, holdout_every if len(runs) >= 3 else 0)
    eta0, o0 = dep.efficiency.eta_bw.value, dep.engine.overhead_s_per_step.value
    theta, over, with_o = _solve(dep, fit_runs, eta0, o0)
    eta = float(min(max(eta0 / theta, 1e-3), 2.0))
    fitted = ("serving_eta_bw", "serving_overhead_s_per_step") if with_o else ("serving_eta_bw",)
    before, after = _mean_error(dep, fit_runs, eta0, o0), _mean_error(dep, fit_runs, eta, over)
    hb = _mean_error(dep, held, eta0, o0) if held else None
    ha = _mean_error(dep, held, eta, over) if held else None
    held_txt = f"held-out {len(held)} runs: {hb:.1%} → {ha:.1%}" if held else "no hold-out"
    of = f" of {sources}" if sources else ""
    method = (
        f"least squares (relative TPOT error) on {len(fit_runs)} endpoint runs{of} of {dep.model.id} "
        f"({dep.weights.value} weights); fitted {', '.join(fitted)}; mean |error| in-sample "
        f"{before:.1%} → {after:.1%}, {held_txt}"
    )
    return EndpointFit(eta, over, fitted, len(fit_runs), len(held), before, after, hb, ha, method)
