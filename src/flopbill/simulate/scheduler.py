"""The replica scheduler, as vLLM v1 runs it: one token budget per step, chunked prefill mixed with decode.

Each step (vLLM ``v1/core/sched/scheduler.py``, ``Scheduler.schedule``; Agrawal et al. 2024, Sarathi-Serve):

1. running requests first, oldest first: each gets ``min(tokens still to compute, budget left)`` tokens
   (1 for a decode, a chunk for a prompt); their KV blocks grow to ``ceil(computed + scheduled) / block``;
   when free blocks run out the newest running request is preempted (recompute: its blocks are freed,
   it goes back to the front of the queue and later recomputes prompt and generated tokens);
2. if nothing was preempted, waiting requests are admitted in order while seats (``max_num_seqs``),
   budget and blocks last; the first that does not fit stops admission (no skipping ahead). A request
   whose group's shared prefix is in this replica's prefix cache (:mod:`flopbill.simulate.prefix`: LRU
   eviction by capacity, as vLLM) starts with the prefix's full blocks computed (prefix-cache hit).
   Shared blocks are not de-duplicated in memory (each request holds its own copy: conservative on
   capacity).

When a step's scheduled tokens bring a request to ``prompt + generated`` computed tokens it samples one
token; a request ends when it has generated its output tokens.
Step time is :mod:`flopbill.simulate.physics`' tables: ``linear_s[T] + Σ attention``.
"""

from __future__ import annotations

import math

import numpy as np

from flopbill.simulate._jit import jit
from flopbill.simulate.entities import (
    DRAINING,
    I_DROPPED,
    I_FINISHED,
    I_G_HEAD,
    I_G_LEN,
    I_G_TAIL,
    I_PREEMPTIONS,
    I_STEPS,
    OFF,
    TIMED_OUT,
    Config,
    Requests,
    State,
    Tables,
)
from flopbill.simulate.itl import record_gaps
from flopbill.simulate.macro import finish_run, try_run
from flopbill.simulate.prefix import allocated, cached_blocks, hold, release
from flopbill.simulate.turns import end_session, schedule_next


@jit
def push_back(st: State, r: int, x: int) -> None:
    """Append request ``x`` to replica ``r``'s waiting queue."""
    st.next_in_queue[x] = -1
    if st.r_q_tail[r] < 0:
        st.r_q_head[r] = x
    else:
        st.next_in_queue[st.r_q_tail[r]] = x
    st.r_q_tail[r] = x
    st.r_q_len[r] += 1
    st.replica_of[x] = r


@jit
def push_front(st: State, r: int, x: int) -> None:
    """Put request ``x`` at the head of replica ``r``'s waiting queue (a preempted request)."""
    st.next_in_queue[x] = st.r_q_head[r]
    st.r_q_head[r] = x
    if st.r_q_tail[r] < 0:
        st.r_q_tail[r] = x
    st.r_q_len[r] += 1


@jit
def pop_front(st: State, r: int) -> int:
    """Remove and return the head of replica ``r``'s waiting queue."""
    x = st.r_q_head[r]
    st.r_q_head[r] = st.next_in_queue[x]
    if st.r_q_head[r] < 0:
        st.r_q_tail[r] = -1
    st.r_q_len[r] -= 1
    st.next_in_queue[x] = -1
    return int(x)


@jit
def global_push(st: State, x: int) -> None:
    """Append request ``x`` to the fleet's queue (no replica ready, or the central-queue router)."""
    st.next_in_queue[x] = -1
    if st.ints[I_G_TAIL] < 0 or st.ints[I_G_LEN] == 0:
        st.ints[I_G_HEAD] = x
    else:
        st.next_in_queue[st.ints[I_G_TAIL]] = x
    st.ints[I_G_TAIL] = x
    st.ints[I_G_LEN] += 1


@jit
def global_pop(st: State) -> int:
    """Remove and return the head of the fleet's queue."""
    x = st.ints[I_G_HEAD]
    st.ints[I_G_HEAD] = st.next_in_queue[x]
    st.ints[I_G_LEN] -= 1
    if st.ints[I_G_LEN] == 0:
        st.ints[I_G_HEAD] = -1
        st.ints[I_G_TAIL] = -1
    st.next_in_queue[x] = -1
    return int(x)


@jit
def _attention_s(tb: Tables, computed: int, tokens: int) -> float:
    """Return attention seconds of ``tokens`` new tokens after ``computed`` cached ones."""
    if tokens == 1:
        return float(tb.decode_attention_s[computed + 1])
    return float(tb.prefill_attention_s[computed + tokens] - tb.prefill_attention_s[computed])


@jit
def _preempt_newest(st: State, cfg: Config, rq: Requests, r: int) -> None:
    """Preempt the newest running request of ``r`` (recompute): free its blocks, requeue it first."""
    j = st.r_n_run[r] - 1
    v = st.r_run[r, j]
    release(st, cfg, rq, r, v)
    st.r_free_blocks[r] += st.held_blocks[v]
    st.held_blocks[v] = 0
    st.computed[v] = 0
    st.cached_tokens[v] = 0
    st.preemptions[v] += 1
    st.ints[I_PREEMPTIONS] += 1
    st.r_n_run[r] = j
    push_front(st, r, v)


@jit
def _blocks(tokens: int, block_tokens: int) -> int:
    return (tokens + block_tokens - 1) // block_tokens


@jit
def _schedule_running(st: State, rq: Requests, cfg: Config, tb: Tables, r: int) -> tuple[int, float, bool]:
    """Give running requests their tokens (oldest first); return (tokens, attention s, preempted?)."""
    budget = cfg.token_budget
    tokens = 0
    attn = 0.0
    preempted = False
    j = 0
    while j < st.r_n_run[r]:
        x = st.r_run[r, j]
        need = rq.prompt_tokens[x] + st.generated[x] - st.computed[x]
        s = min(need, budget)
        if s <= 0:
            st.r_sched[r, j] = 0
            j += 1
            continue
        nb = _blocks(st.computed[x] + s, cfg.block_tokens) - st.held_blocks[x]
        while nb > st.r_free_blocks[r] and j < st.r_n_run[r]:
            _preempt_newest(st, cfg, rq, r)
            preempted = True
        if j >= st.r_n_run[r]:
            break
        st.held_blocks[x] += nb
        st.r_free_blocks[r] -= nb
        allocated(st, r, nb)
        st.r_sched[r, j] = s
        budget -= s
        tokens += s
        attn += _attention_s(tb, st.computed[x], s)
        j += 1
    return tokens, attn, preempted


@jit
def _prefix_hit(st: State, rq: Requests, cfg: Config, r: int, x: int, now: float) -> None:
    """Start ``x`` with the blocks of its group's prefix that ``r`` has cached (:mod:`.prefix`)."""
    if st.computed[x] != 0:
        return
    blocks = cached_blocks(st, cfg, r, rq.group[x], rq.prefix_tokens[x] // cfg.block_tokens, now)
    hit = min(blocks * cfg.block_tokens, rq.prompt_tokens[x] - 1)
    if hit > 0:
        st.computed[x] = hit
        st.cached_tokens[x] = hit


@jit
def _admit_waiting(
    st: State, rq: Requests, cfg: Config, tb: Tables, r: int, now: float, budget: int
) -> tuple[int, float]:
    """Admit waiting requests in order while seats, budget and blocks last; return (tokens, attention s)."""
    tokens = 0
    attn = 0.0
    while st.r_n_run[r] < cfg.max_seqs and budget > 0 and st.r_q_len[r] > 0:
        x = st.r_q_head[r]
        if math.isnan(st.admit_s[x]) and now - rq.arrival_s[x] > cfg.queue_timeout_s:
            pop_front(st, r)
            st.dropped[x] = TIMED_OUT
            st.ints[I_DROPPED] += 1
            end_session(st, rq, x)
            continue
        _prefix_hit(st, rq, cfg, r, x, now)
        s = min(rq.prompt_tokens[x] + st.generated[x] - st.computed[x], budget)
        nb = _blocks(st.computed[x] + s, cfg.block_tokens)
        if nb > st.r_free_blocks[r]:
            st.computed[x] = 0
            st.cached_tokens[x] = 0
            break
        pop_front(st, r)
        j = st.r_n_run[r]
        st.r_run[r, j] = x
        st.r_sched[r, j] = s
        st.r_n_run[r] = j + 1
        st.held_blocks[x] = nb
        st.r_free_blocks[r] -= nb
        allocated(st, r, nb)
        if st.cached_tokens[x] > 0:
            hold(st, rq, r, x, now)
        budget -= s
        tokens += s
        attn += _attention_s(tb, st.computed[x], s)
        if math.isnan(st.admit_s[x]):
            st.admit_s[x] = now
    return tokens, attn


@jit
def start_step(st: State, rq: Requests, cfg: Config, tb: Tables, r: int, now: float) -> None:
    """Schedule replica ``r``'s next step at ``now`` if it has work; set its step end (∞ when idle).

    A decode-only batch with nothing waiting starts a decode run instead (:mod:`flopbill.simulate.macro`).
    """
    if try_run(st, rq, cfg, tb, r, now):
        return
    tokens, attn, preempted = _schedule_running(st, rq, cfg, tb, r)
    if not preempted:
        more, attn_more = _admit_waiting(st, rq, cfg, tb, r, now, cfg.token_budget - tokens)
        tokens += more
        attn += attn_more
    st.r_min_free_blocks[r] = min(st.r_min_free_blocks[r], st.r_free_blocks[r])
    if tokens == 0:
        st.r_step_end[r] = np.inf
        st.r_step_s[r] = 0.0
        return
    dt = tb.linear_s[tokens] + attn
    st.r_step_start_s[r] = now
    st.r_step_end[r] = now + dt
    st.r_step_s[r] = dt


@jit
def finish_step(st: State, rq: Requests, cfg: Config, tb: Tables, r: int, now: float) -> None:
    """Apply replica ``r``'s step ending at ``now``: advance KV, sample tokens, retire finished requests.

    Each token after a request's first counts its gap since the previous one (:mod:`flopbill.simulate.itl`).
    """
    st.r_busy_s[r] += st.r_step_s[r]
    st.r_busy_window_s[r] += st.r_step_s[r]
    st.ints[I_STEPS] += 1
    if st.r_macro_steps[r] > 0:
        finish_run(st, rq, cfg, tb, r, now)
        st.r_step_end[r] = np.inf
        st.r_step_s[r] = 0.0
        return
    keep = 0
    start = st.r_step_start_s[r]
    whole_step = 0  # gaps equal to this step (the token before came at its start): counted at once
    for j in range(st.r_n_run[r]):
        x = st.r_run[r, j]
        s = st.r_sched[r, j]
        st.computed[x] += s
        done = False
        if s > 0 and st.computed[x] == rq.prompt_tokens[x] + st.generated[x]:
            st.generated[x] += 1
            if st.generated[x] == 1:
                st.first_token_s[x] = now
                hold(st, rq, r, x, now)
            elif st.last_token_s[x] == start:
                whole_step += 1
            else:
                record_gaps(st, now - st.last_token_s[x], 1)
            st.last_token_s[x] = now
            if st.generated[x] >= rq.output_tokens[x]:
                st.finish_s[x] = now
                release(st, cfg, rq, r, x)
                st.r_free_blocks[r] += st.held_blocks[x]
                st.held_blocks[x] = 0
                st.ints[I_FINISHED] += 1
                schedule_next(st, rq, x, now)
                done = True
        if not done:
            st.r_run[r, keep] = x
            st.r_sched[r, keep] = s
            keep += 1
    st.r_n_run[r] = keep
    if whole_step > 0:
        record_gaps(st, now - start, whole_step)
    st.r_step_end[r] = np.inf
    st.r_step_s[r] = 0.0


@jit
def retire_if_drained(st: State, r: int, now: float) -> bool:
    """Turn a draining replica off once it has nothing running or waiting; return True if it did."""
    if st.r_state[r] != DRAINING or st.r_n_run[r] > 0 or st.r_q_len[r] > 0:
        return False
    st.r_state[r] = OFF
    return True
