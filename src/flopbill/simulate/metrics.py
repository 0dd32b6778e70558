"""Metrics of a run, named as ``vllm bench serve`` names them (see docs/simulation.md, "Glossary").

* TTFT ``= first token − arrival``; TPOT ``= (E2E − TTFT) / (output − 1)`` for requests with > 1 output
  token; E2E ``= finish − arrival``; queue wait ``= first admission − arrival``.
* goodput: finished requests meeting both the TTFT and the TPOT objective, per second of the run.
* busy GPU-seconds: ``Σ step seconds · tp``; billed GPU-seconds: whole instances from start (cold start
  included) to stop, each interval rounded up to the billing increment, at least the minimum charge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Distribution:
    """Mean and percentiles of a latency (s); ``None`` where no request had one."""

    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None


def distribution(values: np.ndarray) -> Distribution:
    """Return mean and p50/p90/p95/p99 (numpy's linear interpolation) of ``values`` (s)."""
    if values.size == 0:
        return Distribution(None, None, None, None, None)
    p = np.percentile(values, PERCENTILES)
    return Distribution(float(values.mean()), float(p[0]), float(p[1]), float(p[2]), float(p[3]))


class Latencies(NamedTuple):
    """Per-request latencies (s) of the requests that have them, and who met both objectives."""

    ttft_s: np.ndarray  # finished requests
    tpot_s: np.ndarray  # finished requests with more than one output token
    e2e_s: np.ndarray  # finished requests
    queue_wait_s: np.ndarray  # admitted requests
    meets_slo: np.ndarray  # bool per request: finished, TTFT ≤ slo.ttft_s and TPOT ≤ slo.tpot_s


def latencies(
    arrival_s: np.ndarray,
    admit_s: np.ndarray,
    first_token_s: np.ndarray,
    finish_s: np.ndarray,
    output_tokens: np.ndarray,
    slo: Any,
) -> Latencies:
    """Return TTFT, TPOT, E2E and queue wait (s) of per-request times (NaN where never reached).

    ``TPOT = (finish − first token) / (output − 1)`` (0 for one-token outputs in the objective test).
    ``slo`` has ``ttft_s`` and ``tpot_s``.
    """
    fin = ~np.isnan(finish_s)
    per_token = (finish_s - first_token_s) / np.maximum(output_tokens - 1, 1)
    ok = fin & ((first_token_s - arrival_s) <= slo.ttft_s)
    ok &= np.where(output_tokens > 1, per_token, 0.0) <= slo.tpot_s
    return Latencies(
        (first_token_s - arrival_s)[fin],
        per_token[fin & (output_tokens > 1)],
        (finish_s - arrival_s)[fin],
        (admit_s - arrival_s)[~np.isnan(admit_s)],
        ok,
    )


def billed_gpu_s(
    start_s: np.ndarray,
    end_s: np.ndarray,
    tp: int,
    gpus_per_instance: int,
    increment_s: float,
    minimum_s: float,
) -> float:
    """Return billed GPU-seconds of replica intervals ``[start, end]`` packed into whole instances.

    One replica per instance (``gpus_per_instance = tp``, the default): ``Σ max(minimum, ⌈d/inc⌉·inc) · gpi``.
    Several replicas per instance: ``∫ ⌈n(t)/rpi⌉ dt · gpi`` with ``rpi = gpi / tp`` replicas per instance,
    the integral rounded up to the increment once and at least one minimum charge per instance of the peak
    (packing replicas into the fewest running instances).
    """
    durations = np.maximum(end_s - start_s, 0.0)
    rpi = max(gpus_per_instance // tp, 1)
    if rpi == 1:
        rounded = np.maximum(np.ceil(durations / increment_s - 1e-9) * increment_s, minimum_s)
        return float(rounded.sum() * gpus_per_instance)
    times = np.concatenate([start_s, end_s])
    steps = np.concatenate([np.ones(start_s.size), -np.ones(end_s.size)])
    order = np.lexsort((steps, times))
    t, n = times[order], np.cumsum(steps[order])
    instances = np.ceil(n / rpi)
    instance_s = float(np.sum(instances[:-1] * np.diff(t)))
    rounded = math.ceil(instance_s / increment_s - 1e-9) * increment_s
    return max(rounded, minimum_s * float(instances.max(initial=0.0))) * gpus_per_instance


def percentile_dict(d: Distribution) -> dict[str, Any]:
    """Return ``{"mean": …, "p50": …, …}`` of a :class:`Distribution`."""
    return {"mean": d.mean, "p50": d.p50, "p90": d.p90, "p95": d.p95, "p99": d.p99}
