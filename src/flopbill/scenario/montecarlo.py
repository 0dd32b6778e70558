"""Tornado (one-at-a-time swings) and Monte Carlo (P10/P50/P90) over a scenario's ranged inputs.

Both reuse :func:`flopbill.scenario.engine.evaluate` on many input rows at once. Randomness comes only
from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np

from flopbill.estimate.core.uncertainty import percentiles, sample_inputs, tornado_design, tornado_swings
from flopbill.scenario.engine import evaluate
from flopbill.scenario.inputs import Resolved
from flopbill.scenario.result import MonteCarloSummary, OptionUncertainty, Percentiles, Tornado, TornadoRow

#: The output the tornado ranks inputs by.
TORNADO_METRIC = "total_cost_usd"


def tornado(resolved: Resolved) -> tuple[Tornado, ...]:
    """Return, per option, each ranged input's swing of the horizon total cost (largest first)."""
    swung, design = tornado_design(resolved.ranges)
    if not swung:
        return ()
    ev = evaluate(resolved, design)
    out = []
    for opt in resolved.scenario.options:
        totals = ev.total_usd(opt.name)
        rows = tuple(
            TornadoRow(
                input_name=name,
                low=resolved.ranges[name].low,
                expected=resolved.ranges[name].expected,
                high=resolved.ranges[name].high,
                output_low=lo,
                output_high=hi,
                swing=swing,
            )
            for name, lo, hi, swing in tornado_swings(totals, swung)
            if swing > 0
        )
        out.append(Tornado(opt.name, TORNADO_METRIC, float(totals[0]), rows))
    return tuple(out)


def _series(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in values)


#: Rows evaluated at once: GPU-backed options work on (rows × months × 24 hourly slots) float64 arrays, which
#: at 512 rows and 36 months (3.5 MB) stay near the CPU cache; larger chunks measured slower.
CHUNK_ROWS = 512


def _evaluate_in_chunks(
    resolved: Resolved, draws: dict[str, np.ndarray], names: list[str], samples: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Return per option the (months, samples) monthly cost, the (options, samples) totals and the
    (samples,) AI requests over the horizon, evaluating ``CHUNK_ROWS`` draws at a time."""
    months = resolved.scenario.horizon_months
    monthly_t = [np.empty((months, samples)) for _ in names]
    totals = np.empty((len(names), samples))
    ai_requests = np.empty(samples)
    for start in range(0, samples, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, samples)
        ev = evaluate(resolved, {k: d[start:stop] for k, d in draws.items()})
        for i, name in enumerate(names):
            m = ev.recurring_usd[name] + ev.one_time_usd[name]
            monthly_t[i][:, start:stop] = m.T
            totals[i, start:stop] = m.sum(axis=1)
        ai_requests[start:stop] = ev.traffic.ai_requests.sum(axis=1)
    return monthly_t, totals, ai_requests


def monte_carlo(resolved: Resolved, samples: int, rng: np.random.Generator, seed: int) -> MonteCarloSummary:
    """Return P10/P50/P90 of every option's monthly, cumulative and total cost over ``samples`` draws.

    Inputs are independent triangular(low, expected, high) draws. ``probability_cheapest`` is the share
    of draws in which the option has the lowest total cost.
    """
    draws = sample_inputs(rng, resolved.ranges, samples)
    names = [o.name for o in resolved.scenario.options]
    monthly_t, totals, ai_requests = _evaluate_in_chunks(resolved, draws, names, samples)
    winner = np.argmin(totals, axis=0)
    options = []
    done = []
    for m in monthly_t:  # (months, samples) per option; cumulative first, then select in place
        cumulative = np.empty_like(m)
        cumulative[0] = m[0]
        for month in range(1, m.shape[0]):  # row adds on contiguous rows beat cumsum along axis 0
            np.add(cumulative[month - 1], m[month], out=cumulative[month])
        done += [
            percentiles(m, axis=1, overwrite_input=True),
            percentiles(cumulative, axis=1, overwrite_input=True),
        ]
    for i, name in enumerate(names):
        pm, pc = done[2 * i], done[2 * i + 1]
        pt = percentiles(totals[i])
        with np.errstate(divide="ignore", invalid="ignore"):
            per_request = percentiles(totals[i] / ai_requests)
        options.append(
            OptionUncertainty(
                option=name,
                monthly_cost_p10_usd=_series(pm[0]),
                monthly_cost_p50_usd=_series(pm[1]),
                monthly_cost_p90_usd=_series(pm[2]),
                cumulative_cost_p10_usd=_series(pc[0]),
                cumulative_cost_p50_usd=_series(pc[1]),
                cumulative_cost_p90_usd=_series(pc[2]),
                total_cost_usd=Percentiles(float(pt[0]), float(pt[1]), float(pt[2])),
                lifetime_cost_per_request_usd=Percentiles(*(float(x) for x in per_request)),
                probability_cheapest=float(np.mean(winner == i)),
            )
        )
    ranged = tuple(sorted(n for n, r in resolved.ranges.items() if r.high > r.low))
    return MonteCarloSummary(
        samples, seed, "triangular(low, expected, high), independent", ranged, tuple(options)
    )
