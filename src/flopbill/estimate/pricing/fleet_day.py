"""A GPU fleet over one day of hourly scaling slots, billed as clouds bill it: whole instances, per
billing increment, cold starts paid; demand it cannot serve within the latency target counted.

Pure and numpy-broadcastable; the last axis of ``calls_per_s`` is the time slot of the day (24 hourly
slots by default, :data:`SLOT_S` seconds each). Symbols, per slot ``h``:

* ``λ_h`` calls/s arriving; ``c`` calls/s one replica completes; ``u`` the planned utilization (the
  busy fraction at which the replica still meets the latency target);
* replicas running ``r_h = min(R_max, max(m, ⌈λ_h / (c·u)⌉))`` — whole replicas per scaling interval,
  floor ``m``, ceiling ``R_max`` (a fixed fleet passes ``m = R_max = replicas``);
* instances billed ``n_h = ⌈r_h · g / G⌉`` for ``g`` GPUs per replica and ``G`` per instance (an
  8-GPU node bills 8 GPUs even when one replica of 1 GPU runs on it);
* **scale to zero** (``m = 0``): the first instance stays up ``T`` seconds after the last request (the
  autoscaler's scale-down delay). With Poisson arrivals it is up a share ``1 − e^(−λT)`` of the time
  and starts cold ``λ·e^(−λT)`` times per second (arrivals that find no replica: P(gap > T) = e^(−λT)).
  Each start bills the cold start ``t_c`` on top and is rounded to the billing increment ``i`` (half an
  increment on average) with a minimum ``t_min``: billed share of the slot
  ``min(1, up + starts·max(t_min, t_c + i/2)/slot)`` where ``starts`` counts per slot; the requests that
  arrive while no replica is up (``starts·(1 + λ·t_c)`` per slot) wait up to ``t_c`` for it;
* **scale-up**: every instance added from one slot to the next (the day wraps around) is billed
  ``t_c`` more, started ahead of its slot (a predictive autoscaler; a reactive one would also delay
  requests);
* **unserved**: calls above ``r_h·c·u`` per slot are dropped or queue beyond the latency target
  (``max(0, λ_h − r_h·c·u)``).

Mean-field: the fleet is sized on each slot's mean rate, not on second-by-second bursts (queueing within
a slot is what ``u`` allows for).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flopbill.estimate.core.arrays import ArrayLike

FloatArray = npt.NDArray[np.float64]

#: Seconds per scaling slot: the autoscaler changes the replica count once an hour.
SLOT_S = 3600.0


@dataclass(frozen=True)
class DayFleet:
    """One day of a fleet, each reduced over the slot axis (per day unless the name says otherwise)."""

    instance_hours: FloatArray  # billed instance-hours (cold starts and billing rounding included)
    peak_instances: FloatArray  # most instances up in any slot
    served_calls: FloatArray
    unserved_calls: FloatArray  # above the capacity at the planned utilization
    cold_start_waits: FloatArray  # calls that arrived while no replica was up and waited for one
    cold_starts: FloatArray  # scale-from-zero starts per day


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _slot_sum(x: FloatArray, weights: FloatArray | None) -> FloatArray:
    """Return ``Σ_h w_h·x[..., h]`` (plain sum without weights): a matrix-vector product on the slot axis."""
    if weights is None:
        return np.asarray(x.sum(axis=-1), dtype=np.float64)
    flat = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    return np.asarray((flat @ weights).reshape(x.shape[:-1]), dtype=np.float64)


def replicas_running(
    calls_per_s: ArrayLike,
    capacity_calls_per_s: ArrayLike,
    utilization: ArrayLike,
    min_replicas: ArrayLike,
    max_replicas: ArrayLike = np.inf,
) -> FloatArray:
    """Return whole replicas per slot: ``min(R_max, max(m, ⌈λ/(c·u)⌉))`` (a replica count, unitless)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.ceil(_f(calls_per_s) / (_f(capacity_calls_per_s) * _f(utilization)) - 1e-9)
    need = np.where(np.isfinite(need), need, 0.0)
    return np.asarray(np.minimum(_f(max_replicas), np.maximum(_f(min_replicas), need)), dtype=np.float64)


def instances_for(
    replicas: ArrayLike, gpus_per_replica: ArrayLike, gpus_per_instance: ArrayLike
) -> FloatArray:
    """Return whole instances holding ``replicas``: ``⌈replicas · g / G⌉``."""
    return np.asarray(np.ceil(_f(replicas) * _f(gpus_per_replica) / _f(gpus_per_instance) - 1e-9))


def day_fleet(
    calls_per_s: ArrayLike,
    capacity_calls_per_s: ArrayLike,
    utilization: ArrayLike,
    min_replicas: ArrayLike,
    max_replicas: ArrayLike,
    gpus_per_replica: ArrayLike,
    gpus_per_instance: ArrayLike,
    billing_increment_s: ArrayLike,
    billing_minimum_s: ArrayLike,
    cold_start_s: ArrayLike,
    scale_down_delay_s: ArrayLike,
    slot_s: float = SLOT_S,
    unimodal: bool = False,
    slot_weights: ArrayLike | None = None,
) -> DayFleet:
    """Return one day of the fleet (see the module docstring for every formula); slots on the last axis.

    ``unimodal=True`` says each day's load rises once and falls once (as the raised-cosine day does), so
    the instances added over the day are ``max − min`` instead of a sum of positive steps.
    ``slot_weights`` (unimodal days only) counts slot ``h`` ``w_h`` times: a day symmetric about its
    busiest hour is billed from its distinct half (hours 0 … 12 of 24 with weights 1, 2, …, 2, 1), the
    same day at half the work.

    The scale-to-zero terms are evaluated only where the floor is 0, and the served share only where a
    ceiling can bind (this runs on samples × months × slots arrays in the Monte Carlo).
    """
    if slot_weights is not None and not unimodal:
        raise ValueError("slot_weights describe a unimodal day; pass unimodal=True")
    w = None if slot_weights is None else _f(slot_weights)
    lam = _f(calls_per_s)
    cap, u = _f(capacity_calls_per_s)[..., None], _f(utilization)[..., None]
    floor, ceiling = _f(min_replicas), _f(max_replicas)[..., None]
    cu = cap * u
    r = lam / cu
    r -= 1e-9
    np.ceil(r, out=r)
    np.maximum(r, floor, out=r)
    bounded = bool(np.any(np.isfinite(ceiling)))
    if bounded:
        r = np.minimum(r, ceiling)
    g, gi = _f(gpus_per_replica), _f(gpus_per_instance)
    n = r if np.all(g == gi) else instances_for(r, g[..., None], gi[..., None])
    t_c = _f(cold_start_s)[..., None]
    zeros = np.zeros(lam.shape[:-1])
    if bounded:
        served = np.minimum(lam, r * cu)
        served_calls = _slot_sum(served, w) * slot_s
        unserved_calls = _slot_sum(np.maximum(lam - served, 0.0), w) * slot_s
    else:  # r·c·u ≥ λ in every slot: everything is served
        served_calls, unserved_calls = _slot_sum(lam, w) * slot_s, zeros
    billed_slots = _slot_sum(n, w)
    waits = starts_day = zeros
    if np.any(floor <= 0):
        t = _f(scale_down_delay_s)[..., None]
        to_zero = (floor <= 0) & (n >= 1)  # scale-to-zero slots with traffic
        quiet = np.exp(-lam * t)  # P(no arrival within the scale-down delay)
        starts = np.where(to_zero, lam * quiet * slot_s, 0.0)
        per_start = np.maximum(_f(billing_minimum_s)[..., None], t_c + _f(billing_increment_s)[..., None] / 2)
        first = np.minimum(1.0, (1.0 - quiet) + starts * per_start / slot_s)
        billed_slots = _slot_sum(np.where(to_zero, n - 1.0 + first, n), w)
        waits = _slot_sum(starts * (1.0 + lam * t_c), w)
        starts_day = _slot_sum(starts, w)
    # instances added over a (wrapping) day: a unimodal day rises once, from its least to its most
    peak, least = n.max(axis=-1), n.min(axis=-1)
    added = peak - least if unimodal else np.maximum(np.diff(n, axis=-1, prepend=n[..., -1:]), 0.0).sum(-1)
    billed_h = (billed_slots * slot_s + added * t_c[..., 0]) / 3600.0
    return DayFleet(
        instance_hours=_f(billed_h),
        peak_instances=_f(peak),
        served_calls=_f(served_calls),
        unserved_calls=_f(unserved_calls),
        cold_start_waits=_f(waits),
        cold_starts=_f(starts_day),
    )


def serverless_day(
    calls_per_s: ArrayLike,
    capacity_calls_per_s: ArrayLike,
    utilization: ArrayLike,
    billing_increment_s: ArrayLike,
    billing_minimum_s: ArrayLike,
    cold_start_s: ArrayLike,
    idle_timeout_s: ArrayLike,
    max_replicas: ArrayLike = np.inf,
    slot_s: float = SLOT_S,
    slot_weights: ArrayLike | None = None,
) -> DayFleet:
    """Return one day of a serverless GPU endpoint: billed per second of replicas up, scaled per request.

    ``slot_weights`` counts slot ``h`` ``w_h`` times (as :func:`day_fleet`).

    Busy replica-seconds per slot are ``λ/(c·u)·slot`` (the provider adds replicas as load needs, so no
    whole-replica rounding per hour); the first replica also idles ``T`` (the provider's idle timeout)
    after the last request and bills each cold start: billed replica share
    ``max(λ/(c·u), min(1, 1 − e^(−λT) + starts·max(t_min, t_c + i/2)/slot))``, as :func:`day_fleet`.
    ``instance_hours`` are replica-hours (the caller multiplies by GPUs per replica and the price per
    GPU); calls above ``R_max·c·u`` are unserved.
    """
    lam = _f(calls_per_s)
    cap, u = _f(capacity_calls_per_s)[..., None], _f(utilization)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        busy = np.where(cap * u > 0, lam / np.where(cap * u > 0, cap * u, 1.0), 0.0)
    busy = np.minimum(busy, _f(max_replicas)[..., None])
    served = busy * cap * u
    t_c, t = _f(cold_start_s)[..., None], _f(idle_timeout_s)[..., None]
    quiet = np.exp(-lam * t)
    starts = lam * quiet * slot_s
    per_start = np.maximum(_f(billing_minimum_s)[..., None], t_c + _f(billing_increment_s)[..., None] / 2)
    billed = np.maximum(busy, np.minimum(1.0, (1.0 - quiet) + starts * per_start / slot_s))
    w = None if slot_weights is None else _f(slot_weights)
    return DayFleet(
        instance_hours=_slot_sum(billed, w) * slot_s / 3600.0,
        peak_instances=_f(np.ceil(busy.max(axis=-1) - 1e-9)),
        served_calls=_slot_sum(served, w) * slot_s,
        unserved_calls=_slot_sum(np.maximum(lam - served, 0.0), w) * slot_s,
        cold_start_waits=_slot_sum(starts * (1.0 + lam * t_c), w),
        cold_starts=_slot_sum(starts, w),
    )


#: Model load rate for a cold start, bytes/s: Llama 3 8B (8.03e9 parameters × 2 bytes = 16.1 GB, bf16)
#: loaded by vLLM's default safetensors loader from an AWS gp3 SSD in 47.99 s (NVIDIA Run:ai Model
#: Streamer benchmarks, Oct 2024, https://developer.nvidia.com/blog/reducing-cold-start-latency-for-llm-
#: inference-with-nvidia-runai-model-streamer, checked 2026-12-01): 16.06e9 / 47.99 ≈ 0.33 GB/s (decimal).
DEFAULT_LOAD_BYTES_PER_S = 16.06e9 / 47.99

#: Engine start after the weights are in memory, s: vLLM with its compile cache warm, Llama 3.1 8B on an
#: L40S — Dynamo transform 10 s + graph compilation 13 s + CUDA graph capture 7 s + engine init and imports
#: 34 s (Tensorfuse, "Reducing GPU cold start", 2025-09-01, https://tensorfuse.io/docs/blogs/
#: reducing_gpu_cold_start, checked 2026-12-01).
DEFAULT_ENGINE_START_S = 10.0 + 13.0 + 7.0 + 34.0


def cold_start_s(
    weight_bytes: ArrayLike,
    load_bytes_per_s: ArrayLike = DEFAULT_LOAD_BYTES_PER_S,
    engine_start_s: ArrayLike = DEFAULT_ENGINE_START_S,
) -> FloatArray:
    """Return seconds from a replica's start to serving: ``weight bytes ÷ load rate + engine start``."""
    return np.asarray(_f(weight_bytes) / _f(load_bytes_per_s) + _f(engine_start_s), dtype=np.float64)
