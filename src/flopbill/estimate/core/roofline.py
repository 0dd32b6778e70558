"""The roofline: time of a kernel (or a whole step) bounded by compute or by memory traffic.

``time = max(flops / (peak_flops · η_flops), bytes / (bandwidth · η_bw))`` (Williams, Waterman and
Patterson 2009, "Roofline: an insightful visual performance model for multicore architectures").
η are achievable fractions of the datasheet peaks (see ``catalog/data/serving_efficiency.yaml``).
Applied to a transformer step as a whole, as in Pope et al. 2022 ("Efficiently Scaling Transformer
Inference", §2): the step is as slow as the slower of its FLOPs and its bytes, with compute and memory
traffic assumed to overlap.

All functions are pure and broadcast over numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flopbill.estimate.core.arrays import ArrayLike, as_output

#: Names of the two bounds, indexed by ``is_compute_bound`` (False → memory, True → compute).
BOUND_NAMES = ("memory", "compute")


def compute_time_s(flops: ArrayLike, peak_flops_per_s: ArrayLike, eta_flops: ArrayLike) -> ArrayLike:
    """Return seconds to execute ``flops`` at ``η_flops`` of the peak: ``flops / (peak · η)``."""
    return as_output(np.asarray(flops) / (np.asarray(peak_flops_per_s) * eta_flops))


def memory_time_s(bytes_moved: ArrayLike, bandwidth_bytes_per_s: ArrayLike, eta_bw: ArrayLike) -> ArrayLike:
    """Return seconds to move ``bytes_moved`` at ``η_bw`` of the peak bandwidth: ``bytes / (bw · η)``."""
    return as_output(np.asarray(bytes_moved) / (np.asarray(bandwidth_bytes_per_s) * eta_bw))


def roofline_time_s(
    flops: ArrayLike,
    bytes_moved: ArrayLike,
    peak_flops_per_s: ArrayLike,
    bandwidth_bytes_per_s: ArrayLike,
    eta_flops: ArrayLike = 1.0,
    eta_bw: ArrayLike = 1.0,
) -> ArrayLike:
    """Return seconds for work of ``flops`` and ``bytes_moved``: the larger of the two bounds (s).

    ``max(flops / (peak · η_flops), bytes / (bw · η_bw))``; never less than either bound.
    """
    c = compute_time_s(flops, peak_flops_per_s, eta_flops)
    m = memory_time_s(bytes_moved, bandwidth_bytes_per_s, eta_bw)
    return as_output(np.maximum(c, m))


def is_compute_bound(compute_s: ArrayLike, memory_s: ArrayLike) -> Any:
    """Return True where the compute bound is the larger one (bool or bool array)."""
    result = np.asarray(compute_s) > np.asarray(memory_s)
    return bool(result) if result.ndim == 0 else result


def bound_name(compute_s: float, memory_s: float) -> str:
    """Return ``"compute"`` or ``"memory"``: which bound sets the time of a scalar step."""
    return BOUND_NAMES[int(bool(is_compute_bound(compute_s, memory_s)))]


def arithmetic_intensity(flops: ArrayLike, bytes_moved: ArrayLike) -> ArrayLike:
    """Return FLOPs per byte moved (FLOP/B); compare with the ridge point ``peak / bw``."""
    return as_output(np.asarray(flops) / np.asarray(bytes_moved))


def ridge_point_flops_per_byte(
    peak_flops_per_s: ArrayLike,
    bandwidth_bytes_per_s: ArrayLike,
    eta_flops: ArrayLike = 1.0,
    eta_bw: ArrayLike = 1.0,
) -> ArrayLike:
    """Return the arithmetic intensity above which work is compute-bound (FLOP/B)."""
    value = (np.asarray(peak_flops_per_s) * eta_flops) / (np.asarray(bandwidth_bytes_per_s) * eta_bw)
    return as_output(value)
