"""Entities of the simulation as flat arrays: requests, replicas, the fleet's counters.

The kernel (:mod:`flopbill.simulate.events`) works on these in place; they are made fresh for each run
and never shared between runs. Scalars that change live in the ``ints`` / ``floats`` arrays at the
indices named below.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# replica states
OFF, PROVISIONING, READY, DRAINING = 0, 1, 2, 3
# drop reasons
KEPT, TOO_LONG, TIMED_OUT = 0, 1, 2
# ints[...] indices
I_NEXT_ARRIVAL, I_STEPS, I_PREEMPTIONS, I_FINISHED, I_DROPPED = 0, 1, 2, 3, 4
I_RR, I_G_HEAD, I_G_TAIL, I_G_LEN, I_N_INTERVALS, I_N_TIMELINE, I_STOPPED = 5, 6, 7, 8, 9, 10, 11
I_ITL_N = 12  # inter-token gaps recorded
# sessions (flopbill.simulate.turns): requests known up front (the first ones), later turns arrived so
# far, later turns waiting for their arrival (heap size), later turns that never come (a turn was dropped)
I_STATIC, I_LATE_ARRIVED, I_PENDING, I_CANCELLED = 13, 14, 15, 16
N_INTS = 17
# floats[...] indices; F_EVAL_ARRIVALS: arrivals counted at the last evaluation; F_ITL_SUM: Σ gaps (s)
F_NOW, F_NEXT_TICK, F_LAST_SCALE, F_END, F_EVAL_ARRIVALS, F_ITL_SUM = 0, 1, 2, 3, 4, 5
N_FLOATS = 6
# inter-token latency histogram: bin b holds gaps in [ITL_LOW_S·ITL_RATIO^b, ITL_LOW_S·ITL_RATIO^(b+1));
# gaps below ITL_LOW_S go to bin 0 and above ITL_LOW_S·ITL_RATIO^ITL_BINS to the last bin
ITL_LOW_S = 1e-5
ITL_RATIO = 1.001
ITL_BINS = 23_030  # up to 1e-5 · 1.001^23030 ≈ 1e5 s
# per-request arrays are compact where exact (a simulated day can hold tens of millions of requests):
# token and block counts, request indices and replica numbers int32, flags int8; times stay float64
COUNT_DTYPE = np.int32
FLAG_DTYPE = np.int8
#: A request's input (or output) tokens at most: their sum and every count derived from them fit int32.
MAX_REQUEST_TOKENS = 2**30
#: Requests of one run at most (request indices are int32).
MAX_REQUESTS = 2**31 - 1


class Config(NamedTuple):
    """Scalars of one run (inert). Policies are integer codes of the registries."""

    block_tokens: int
    kv_blocks: int
    max_seqs: int
    token_budget: int
    router: int
    autoscaler: int
    max_replicas: int
    min_replicas: int
    initial_replicas: int
    eval_interval_s: float
    autoscale_target: float
    cooldown_s: float
    cold_start_s: float
    queue_timeout_s: float
    prefix_ttl_s: float
    affinity_slack: int
    max_sim_s: float
    horizon_s: float  # the traffic's duration: the fleet runs (and bills) at least this long; 0 = none


class Requests(NamedTuple):
    """The requests of a run: the first ``ints[I_STATIC]`` sorted by arrival, then the later turns of
    sessions, whose arrival (NaN until then) the kernel writes when it happens; nothing else changes.

    Token counts and turn indices are :data:`COUNT_DTYPE` (int32, exact: a request's tokens are bounded by
    :data:`MAX_REQUEST_TOKENS`, a run's requests by 2³¹ − 1); the kernel's arithmetic on them is int64
    (numba widens).
    """

    arrival_s: np.ndarray  # float64
    prompt_tokens: np.ndarray  # COUNT_DTYPE
    output_tokens: np.ndarray  # COUNT_DTYPE
    group: np.ndarray  # COUNT_DTYPE, -1 = no shared prefix
    prefix_tokens: np.ndarray  # COUNT_DTYPE, tokens of the shared prefix
    next_turn: np.ndarray  # COUNT_DTYPE, the session's next turn (-1: none)
    think_s: np.ndarray  # float64, seconds from this turn's last token to the next turn's arrival


class Tables(NamedTuple):
    """Step-time tables (see :mod:`flopbill.simulate.physics`)."""

    linear_s: np.ndarray
    decode_attention_s: np.ndarray
    prefill_attention_s: np.ndarray
    decode_attention_cum_s: np.ndarray  # [j] = Σ decode_attention_s[:j]


class State(NamedTuple):
    """Mutable per-request and per-replica state of one run."""

    computed: np.ndarray  # tokens whose KV is computed
    generated: np.ndarray
    held_blocks: np.ndarray
    next_in_queue: np.ndarray
    admit_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    dropped: np.ndarray
    preemptions: np.ndarray
    cached_tokens: np.ndarray
    last_token_s: np.ndarray  # time of the request's latest output token
    holds_prefix: np.ndarray  # 1 while the request holds its group's prefix on its replica
    replica_of: np.ndarray
    r_state: np.ndarray
    r_ready_at: np.ndarray
    r_since: np.ndarray
    r_step_end: np.ndarray
    r_step_s: np.ndarray
    r_step_start_s: np.ndarray
    r_macro_steps: np.ndarray  # > 0: the replica runs this many decode-only steps as one event
    r_run: np.ndarray  # [R, max_seqs]
    r_sched: np.ndarray  # [R, max_seqs]
    r_ctx: np.ndarray  # [R, max_seqs] a decode run's computed tokens per batch slot (fixed while it runs)
    r_n_run: np.ndarray
    r_q_head: np.ndarray
    r_q_tail: np.ndarray
    r_q_len: np.ndarray
    r_free_blocks: np.ndarray
    r_min_free_blocks: np.ndarray
    r_busy_s: np.ndarray
    r_busy_window_s: np.ndarray
    r_prefix_seen_s: np.ndarray  # [R, groups] last use of the group's prefix
    r_prefix_users: np.ndarray  # [R, groups] running requests holding it
    r_prefix_evict_at: np.ndarray  # [R, groups] r_alloc_blocks at which its cached blocks are reused
    r_alloc_blocks: np.ndarray  # [R] blocks allocated so far (flopbill.simulate.prefix)
    iv_replica: np.ndarray  # billing intervals
    iv_start_s: np.ndarray
    iv_end_s: np.ndarray
    tl_t_s: np.ndarray  # timeline samples
    tl_ready: np.ndarray
    tl_provisioning: np.ndarray
    tl_waiting: np.ndarray
    tl_running: np.ndarray
    itl_hist: np.ndarray  # [ITL_BINS] counts of inter-token gaps
    pend_t_s: np.ndarray  # min-heap of the sessions' next turns: arrival time
    pend_x: np.ndarray  # and request
    ints: np.ndarray
    floats: np.ndarray


def new_state(
    n: int, cfg: Config, n_groups: int, n_intervals: int, n_timeline: int, static: int | None = None
) -> State:
    """Return a fresh state for ``n`` requests (the first ``static`` known up front: all by default)
    and ``cfg.max_replicas`` replica slots."""
    r = cfg.max_replicas
    ints = np.zeros(N_INTS, np.int64)
    ints[I_STATIC] = n if static is None else static
    return State(
        computed=np.zeros(n, COUNT_DTYPE),
        generated=np.zeros(n, COUNT_DTYPE),
        held_blocks=np.zeros(n, COUNT_DTYPE),
        next_in_queue=np.full(n, -1, COUNT_DTYPE),
        admit_s=np.full(n, np.nan),
        first_token_s=np.full(n, np.nan),
        finish_s=np.full(n, np.nan),
        dropped=np.zeros(n, FLAG_DTYPE),
        preemptions=np.zeros(n, COUNT_DTYPE),
        cached_tokens=np.zeros(n, COUNT_DTYPE),
        last_token_s=np.full(n, np.nan),
        holds_prefix=np.zeros(n, FLAG_DTYPE),
        replica_of=np.full(n, -1, COUNT_DTYPE),
        r_state=np.zeros(r, np.int64),
        r_ready_at=np.full(r, np.inf),
        r_since=np.zeros(r),
        r_step_end=np.full(r, np.inf),
        r_step_s=np.zeros(r),
        r_step_start_s=np.zeros(r),
        r_macro_steps=np.zeros(r, np.int64),
        r_run=np.full((r, cfg.max_seqs), -1, np.int64),
        r_sched=np.zeros((r, cfg.max_seqs), np.int64),
        r_ctx=np.zeros((r, cfg.max_seqs), np.int64),
        r_n_run=np.zeros(r, np.int64),
        r_q_head=np.full(r, -1, np.int64),
        r_q_tail=np.full(r, -1, np.int64),
        r_q_len=np.zeros(r, np.int64),
        r_free_blocks=np.full(r, cfg.kv_blocks, np.int64),
        r_min_free_blocks=np.full(r, cfg.kv_blocks, np.int64),
        r_busy_s=np.zeros(r),
        r_busy_window_s=np.zeros(r),
        r_prefix_seen_s=np.full((r, max(n_groups, 1)), -np.inf),
        r_prefix_users=np.zeros((r, max(n_groups, 1)), np.int64),
        r_prefix_evict_at=np.full((r, max(n_groups, 1)), -1, np.int64),
        r_alloc_blocks=np.zeros(r, np.int64),
        iv_replica=np.zeros(n_intervals, np.int64),
        iv_start_s=np.zeros(n_intervals),
        iv_end_s=np.zeros(n_intervals),
        tl_t_s=np.zeros(n_timeline),
        tl_ready=np.zeros(n_timeline, np.int64),
        tl_provisioning=np.zeros(n_timeline, np.int64),
        tl_waiting=np.zeros(n_timeline, np.int64),
        tl_running=np.zeros(n_timeline, np.int64),
        itl_hist=np.zeros(ITL_BINS, np.int64),
        pend_t_s=np.zeros(max(n - int(ints[I_STATIC]), 1)),
        pend_x=np.zeros(max(n - int(ints[I_STATIC]), 1), np.int64),
        ints=ints,
        floats=np.zeros(N_FLOATS),
    )
