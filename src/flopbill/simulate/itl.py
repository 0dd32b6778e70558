"""Inter-token latency (ITL): every gap between two consecutive output tokens of a request, counted exactly.

A request's gap is ``t(token j) − t(token j − 1)`` for ``j ≥ 2`` (``vllm bench serve``'s ITL; the first
token is TTFT). The kernel does not keep per-token times: each gap goes into a histogram of
:data:`~flopbill.simulate.entities.ITL_BINS` logarithmic bins of ratio 1.001 between 10 µs and 10⁵ s
(counts exact; a gap's value known to 0.1 %), and into an exact running sum (the mean).

* A normal step ending at ``now`` adds ``now − last token`` for each request that samples a token other
  than its first (usually the step's length; longer for a request that got no token in the previous
  step: a prompt chunk took the budget, or it was preempted and recomputed).
* A decode run of ``K`` steps of a batch of ``n`` (:mod:`flopbill.simulate.macro`) has steps of
  ``d(k) = linear_s[n] + Σ_i decode_attention_s[c_i + k]`` (``c_i`` computed tokens at the start); its
  first step adds ``start + d(1) − last token`` per request, and steps ``2..K`` add ``n`` gaps of
  ``d(k)`` each. ``d`` never decreases with ``k``: a run whose first and last steps share a bin is
  counted at once; otherwise the last step of each bin crossed is found where a line through the run's
  known steps puts it, checked in one pass over the batch (``O(n)`` per bin crossed; a bisection when
  the guess is off), instead of ``O(n · K)``.

Percentiles (:func:`itl_distribution`) are the inverse of the counted distribution: the ``p``-th is the
smallest bin holding the ``⌈p·N/100⌉``-th gap, reported at its geometric centre (within 0.05 % of the
exact order statistic).
"""

from __future__ import annotations

import math

import numpy as np

from flopbill.simulate._jit import jit
from flopbill.simulate.entities import (
    F_ITL_SUM,
    I_ITL_N,
    ITL_BINS,
    ITL_LOW_S,
    ITL_RATIO,
    State,
    Tables,
)
from flopbill.simulate.metrics import PERCENTILES, Distribution

_LOG_RATIO = math.log(ITL_RATIO)


@jit
def itl_bin(gap_s: float) -> int:
    """Return the histogram bin of a gap (s): ``⌊ln(gap / low) / ln(ratio)⌋`` clipped to the bins."""
    if gap_s <= ITL_LOW_S:
        return 0
    b = int(math.log(gap_s / ITL_LOW_S) / _LOG_RATIO)
    return min(b, ITL_BINS - 1)


@jit
def record_gaps(st: State, gap_s: float, count: int) -> None:
    """Count ``count`` gaps of ``gap_s`` seconds."""
    st.itl_hist[itl_bin(gap_s)] += count
    st.ints[I_ITL_N] += count
    st.floats[F_ITL_SUM] += gap_s * count


@jit
def record_run(st: State, tb: Tables, r: int, k_all: int, start_s: float, run_s: float) -> None:
    """Count the gaps of a decode run of ``k_all`` steps of ``r`` that started at ``start_s`` and lasted
    ``run_s`` seconds (``Σ d(k)``). Call before the run's tokens are applied (``computed`` still at the
    run's start). One pass over the batch gives ``d(1)``, ``d(2)`` and ``d(K)``; only a run whose steps
    cross a bin boundary looks further (:func:`_last_in_bin`).
    """
    n = st.r_n_run[r]
    dec = tb.decode_attention_s
    d1 = d2 = dk = tb.linear_s[n]
    whole_step = 0  # the token before came at the run's start: a gap of the first step
    for j in range(n):
        x = st.r_run[r, j]
        c = st.r_ctx[r, j]
        d1 += dec[c + 1]
        d2 += dec[c + 2]
        dk += dec[c + k_all]
        whole_step += st.last_token_s[x] == start_s
    first_end = start_s + d1
    record_gaps(st, d1, whole_step)
    if whole_step < n:
        for j in range(n):
            last = st.last_token_s[st.r_run[r, j]]
            if last != start_s:
                record_gaps(st, first_end - last, 1)
    if k_all < 2:
        return
    st.floats[F_ITL_SUM] += n * (run_s - d1)  # Σ_{k=2..K} d(k), n gaps each
    st.ints[I_ITL_N] += (k_all - 1) * n
    b = itl_bin(d2)
    b_last = itl_bin(dk)
    if b_last == b:  # the usual case: every step of the run in one bin
        st.itl_hist[b] += (k_all - 1) * n
        return
    k, d_k = 2, d2  # steps k.. are left; d_k = d(k), in bin b
    while b < b_last:
        last, d_next = _last_in_bin(st, tb, r, b, k, d_k, k_all, dk)
        st.itl_hist[b] += (last - k + 1) * n
        k, d_k = last + 1, d_next
        b = itl_bin(d_k)
    st.itl_hist[b] += (k_all - k + 1) * n


@jit
def _last_in_bin(
    st: State, tb: Tables, r: int, b: int, k: int, d_k: float, k_all: int, d_all: float
) -> tuple[int, float]:
    """Return ``(j, d(j + 1))`` for the last step ``j ≥ k`` of the run whose length is in bin ``b``
    (``d(k)`` is in ``b``, ``d(k_all)`` above it).

    ``d`` grows nearly linearly with the step, so the crossing interpolated between ``(k, d(k))`` and
    ``(k_all, d(k_all))`` is checked first (one pass over the batch for ``d(g)`` and ``d(g + 1)``); a
    bisection over what is left covers the rest (the same ``j`` as a bisection over ``k..k_all − 1``).
    """
    upper = ITL_LOW_S * ITL_RATIO ** (b + 1)  # about where bin b + 1 starts
    g = k + int((upper - d_k) / (d_all - d_k) * (k_all - k))
    g = min(max(g, k), k_all - 1)
    d_g, d_g1 = _run_steps_s(st, tb, r, g, g + 1)
    lo, hi = k, k_all - 1  # the answer is in [lo, hi]
    if itl_bin(d_g) == b:
        if itl_bin(d_g1) != b:
            return g, d_g1
        lo = g + 1
    else:
        hi = g - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if itl_bin(_run_step_s(st, tb, r, mid)) == b:
            lo = mid
        else:
            hi = mid - 1
    return lo, _run_step_s(st, tb, r, lo + 1)


@jit
def _run_step_s(st: State, tb: Tables, r: int, k: int) -> float:
    """Return step ``k`` (1-based) of replica ``r``'s decode run, before its tokens are applied."""
    n = st.r_n_run[r]
    total = tb.linear_s[n]
    for j in range(n):
        total += tb.decode_attention_s[st.r_ctx[r, j] + k]
    return float(total)


@jit
def _run_steps_s(st: State, tb: Tables, r: int, ka: int, kb: int) -> tuple[float, float]:
    """Return steps ``ka`` and ``kb`` of the run in one pass (each summed as :func:`_run_step_s` sums it)."""
    n = st.r_n_run[r]
    dec = tb.decode_attention_s
    da = db = tb.linear_s[n]
    for j in range(n):
        c = st.r_ctx[r, j]
        da += dec[c + ka]
        db += dec[c + kb]
    return float(da), float(db)


def itl_distribution(hist: np.ndarray, n: int, total_s: float) -> Distribution:
    """Return mean (exact) and p50/p90/p95/p99 (to 0.05 %) of the counted gaps (s); None when no gap."""
    if n <= 0:
        return Distribution(None, None, None, None, None)
    cum = np.cumsum(hist)
    values = []
    for p in PERCENTILES:
        rank = max(math.ceil(p / 100.0 * n), 1)
        b = int(np.searchsorted(cum, rank))
        values.append(ITL_LOW_S * ITL_RATIO ** (b + 0.5))
    return Distribution(total_s / n, values[0], values[1], values[2], values[3])
