"""Decode runs: many decode-only steps of one replica handled as one event (exact, not an approximation).

When a replica can admit nobody (nothing waiting, or every seat taken) and every running request is
decoding, its next steps are known in
advance: the batch stays the same until the first request finishes, and step ``k`` takes
``linear_s[B] + Σ_i decode_attention_s[c_i + 1 + k]``. So ``K = min remaining output tokens`` steps
(also stopping at the next autoscaler evaluation) are one event of length
``T(K) = K·linear_s[B] + Σ_i (cum[c_i + 1 + K] − cum[c_i + 1])`` with the cumulative attention table.
Their KV blocks are allocated up front (so capacity is never exceeded). If a request is routed to the
replica meanwhile, the run is cut at the end of the step in progress (the first ``k`` with
``start + T(k) ≥ now``) and the blocks of the steps not run are returned — the same schedule the
step-by-step loop gives, at a cost per run of ``O(B·log K)`` instead of ``O(B·K)``.
"""

from __future__ import annotations

import numpy as np

from flopbill.simulate._jit import jit
from flopbill.simulate.entities import (
    F_NEXT_TICK,
    I_FINISHED,
    I_G_LEN,
    I_STEPS,
    Config,
    Requests,
    State,
    Tables,
)
from flopbill.simulate.itl import record_run
from flopbill.simulate.prefix import allocated, release
from flopbill.simulate.turns import schedule_next


@jit
def run_time_s(st: State, tb: Tables, r: int, k: int) -> float:
    """Return seconds of ``k`` decode steps of replica ``r``'s current batch."""
    n = st.r_n_run[r]
    total = k * tb.linear_s[n]
    for j in range(n):
        c = st.r_ctx[r, j]
        total += tb.decode_attention_cum_s[c + 1 + k] - tb.decode_attention_cum_s[c + 1]
    return float(total)


@jit
def run_times_s(st: State, tb: Tables, r: int, ka: int, kb: int) -> tuple[float, float]:
    """Return ``(T(ka), T(kb))`` in one pass over the batch (each summed as :func:`run_time_s` sums it)."""
    n = st.r_n_run[r]
    cum = tb.decode_attention_cum_s
    ta = ka * tb.linear_s[n]
    tb_ = kb * tb.linear_s[n]
    for j in range(n):
        c = st.r_ctx[r, j]
        ta += cum[c + 1 + ka] - cum[c + 1]
        tb_ += cum[c + 1 + kb] - cum[c + 1]
    return float(ta), float(tb_)


@jit
def steps_until(
    st: State, tb: Tables, r: int, start_s: float, target_s: float, k_max: int
) -> tuple[int, float]:
    """Return ``(k, T(k))``: the fewest steps ``k ≤ k_max`` whose end ``start + T(k)`` is at or after
    ``target_s`` (``k_max`` if none).

    ``T`` never decreases with ``k`` and ``T(k) ≥ k·T(1)`` (steps only grow longer), so the answer is
    almost always ``g`` or ``g + 1`` for ``g = ⌊(target − start) / T(1)⌋``: those two are evaluated in one
    pass, and a bisection over what is left covers the rest (the same ``k`` as a bisection over
    ``1..k_max``, in 3 passes over the batch instead of ``2 + log₂ k_max``).
    """
    per_step = run_time_s(st, tb, r, 1)
    if k_max <= 1 or start_s + per_step >= target_s:
        return 1, per_step
    g = min(max(int((target_s - start_s) / per_step), 2), k_max)
    g1 = min(g + 1, k_max)
    t_g, t_g1 = run_times_s(st, tb, r, g, g1)
    lo, hi, t_hi = 2, g, t_g  # the answer is in [lo, hi] and t_hi = T(hi) (or -1: not evaluated)
    if start_s + t_g < target_s:
        if g == k_max:
            return g, t_g
        lo, hi, t_hi = g + 1, g1, t_g1
        if start_s + t_g1 < target_s and g1 < k_max:
            lo, hi, t_hi = g1 + 1, k_max, -1.0
    while lo < hi:
        mid = (lo + hi) // 2
        t_mid = run_time_s(st, tb, r, mid)
        if start_s + t_mid >= target_s:
            hi, t_hi = mid, t_mid
        else:
            lo = mid + 1
    if t_hi < 0.0:
        t_hi = run_time_s(st, tb, r, hi)
    return hi, t_hi


@jit
def _extra_blocks(st: State, cfg: Config, r: int, k: int) -> int:
    bs = cfg.block_tokens
    need = 0
    for j in range(st.r_n_run[r]):
        x = st.r_run[r, j]
        need += (st.computed[x] + k + bs - 1) // bs - st.held_blocks[x]
    return need


@jit
def try_run(st: State, rq: Requests, cfg: Config, tb: Tables, r: int, now: float) -> bool:
    """Start a decode run on ``r`` if nothing waits and all running requests decode; True if started."""
    n = st.r_n_run[r]
    if n == 0:
        return False
    if n < cfg.max_seqs and (st.r_q_len[r] > 0 or (cfg.router == 4 and st.ints[I_G_LEN] > 0)):
        return False  # someone could be admitted at the next step
    if st.r_q_len[r] > 0 and cfg.queue_timeout_s != np.inf:
        return False  # the head may time out at the next step
    k = 1 << 62
    for j in range(n):
        x = st.r_run[r, j]
        if st.generated[x] == 0 or rq.prompt_tokens[x] + st.generated[x] - st.computed[x] != 1:
            return False  # not decoding (a prompt's last token samples the first token: a normal step)
        k = min(k, rq.output_tokens[x] - st.generated[x])
        st.r_ctx[r, j] = st.computed[x]  # the batch's contexts, read contiguously while the run lasts
    if k < 2:
        return False
    dt = run_time_s(st, tb, r, k)
    if now + dt > st.floats[F_NEXT_TICK]:
        k, dt = steps_until(st, tb, r, now, st.floats[F_NEXT_TICK], k)
    k_time = k  # dt = T(k_time)
    while k >= 2 and _extra_blocks(st, cfg, r, k) > st.r_free_blocks[r]:
        k //= 2
    if k < 2:
        return False
    bs = cfg.block_tokens
    for j in range(n):
        x = st.r_run[r, j]
        new_held = (st.computed[x] + k + bs - 1) // bs
        st.r_free_blocks[r] -= new_held - st.held_blocks[x]
        allocated(st, r, new_held - st.held_blocks[x])
        st.held_blocks[x] = new_held
        st.r_sched[r, j] = 1
    st.r_min_free_blocks[r] = min(st.r_min_free_blocks[r], st.r_free_blocks[r])
    if k != k_time:
        dt = run_time_s(st, tb, r, k)
    st.r_macro_steps[r] = k
    st.r_step_start_s[r] = now
    st.r_step_s[r] = dt
    st.r_step_end[r] = now + dt
    return True


@jit
def cut_run(st: State, cfg: Config, tb: Tables, r: int, now: float) -> None:
    """Cut ``r``'s decode run at the end of the step in progress at ``now``; return unused blocks."""
    k_all = st.r_macro_steps[r]
    if k_all == 0:
        return
    k, dt = steps_until(st, tb, r, st.r_step_start_s[r], now, k_all)
    if k >= k_all:
        return
    bs = cfg.block_tokens
    for j in range(st.r_n_run[r]):
        x = st.r_run[r, j]
        new_held = (st.computed[x] + k + bs - 1) // bs
        st.r_free_blocks[r] += st.held_blocks[x] - new_held
        allocated(st, r, new_held - st.held_blocks[x])  # blocks of the steps not run: never used
        st.held_blocks[x] = new_held
    st.r_macro_steps[r] = k
    st.r_step_s[r] = dt
    st.r_step_end[r] = st.r_step_start_s[r] + dt


@jit
def finish_run(st: State, rq: Requests, cfg: Config, tb: Tables, r: int, now: float) -> None:
    """Apply a finished decode run of ``K`` steps: every request gains ``K`` tokens; retire finished ones."""
    k = st.r_macro_steps[r]
    st.ints[I_STEPS] += k - 1  # finish_step counts one
    record_run(st, tb, r, k, st.r_step_start_s[r], st.r_step_s[r])
    keep = 0
    for j in range(st.r_n_run[r]):
        x = st.r_run[r, j]
        st.computed[x] += k
        st.generated[x] += k
        st.last_token_s[x] = now
        if st.generated[x] >= rq.output_tokens[x]:
            st.finish_s[x] = now
            release(st, cfg, rq, r, x)
            st.r_free_blocks[r] += st.held_blocks[x]
            st.held_blocks[x] = 0
            st.ints[I_FINISHED] += 1
            schedule_next(st, rq, x, now)
        else:
            st.r_run[r, keep] = x
            st.r_sched[r, keep] = 1
            keep += 1
    st.r_n_run[r] = keep
    st.r_macro_steps[r] = 0
