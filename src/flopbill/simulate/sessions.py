"""Multi-turn session traffic: session starts from the arrival process, turns that grow the context.

``traffic.sessions`` makes the arrivals (Poisson, Gamma, diurnal, spikes; ``requests`` / ``rate_rps``
count sessions) session starts. Session ``s`` has ``N_s`` turns (``sessions.turns``). Turn 1's prompt is
``P_1`` (``input_tokens``); turn ``k ≥ 2`` has the prompt

    ``P_k = P_{k−1} + O_{k−1} + U_k``    (previous context + ``U_k`` new user tokens, ``user_tokens``)

with ``O_k`` output tokens (``output_tokens``), and arrives ``think_k−1`` seconds after turn ``k − 1``'s
last token (closed loop; the kernel schedules it, :mod:`flopbill.simulate.turns`). Each session is a
prefix group of its own: turn ``k``'s shared prefix is turn ``k − 1``'s whole context
``P_{k−1} + O_{k−1}``, so ``prefix_affinity`` routing sends it back to the replica that holds it.

Layout: the first turns, sorted by arrival, come first (known up front); the later turns follow with
their arrival NaN until the kernel writes it. At most ``max_requests`` turns: whole sessions are kept
in arrival order and the rest cut (``truncated``).
"""

from __future__ import annotations

import numpy as np

from flopbill.errors import InputError
from flopbill.simulate.entities import COUNT_DTYPE, MAX_REQUEST_TOKENS
from flopbill.simulate.spec import Traffic
from flopbill.simulate.traffic import Workload, arrival_times_s, lengths


def session_workload(tr: Traffic, rng: np.random.Generator, max_requests: int) -> Workload:
    """Return the turns of ``tr.sessions`` as a :class:`~flopbill.simulate.traffic.Workload`."""
    ss = tr.sessions
    assert ss is not None
    if tr.arrivals == "trace":
        raise InputError("traffic.sessions", "with a trace", "sessions with poisson or gamma arrivals")
    if tr.prefix is not None:
        raise InputError("traffic.sessions", "with prefix groups", "sessions without traffic.prefix")
    start, truncated = arrival_times_s(tr, rng, max_requests)
    if start.size == 0:
        raise InputError("traffic", tr.duration_s, "traffic with at least one session in the duration")
    turns = lengths(ss.turns, start.size, rng, "traffic.sessions.turns")
    keep = int(np.searchsorted(np.cumsum(turns), max_requests, side="right"))
    if keep == 0:
        raise InputError("bounds.max_requests", max_requests, f"≥ the first session's {int(turns[0])} turns")
    truncated = truncated or keep < start.size
    start, turns = start[:keep], turns[:keep]
    n_sessions, n = keep, int(turns.sum())
    first = np.concatenate([[0], np.cumsum(turns)[:-1]])  # turn 1 of each session, in session order
    sid = np.repeat(np.arange(n_sessions), turns)
    k = np.arange(n) - first[sid]  # 0-based turn number
    out = lengths(tr.output_tokens, n, rng, "traffic.output_tokens")
    user = np.where(k > 0, lengths(ss.user_tokens, n, rng, "traffic.sessions.user_tokens"), 0)
    base = lengths(tr.input_tokens, n_sessions, rng, "traffic.input_tokens")
    grow = user + np.where(k > 0, np.roll(out, 1), 0)  # U_k + O_{k−1}
    cum = np.cumsum(grow)
    prompt = base[sid] + cum - cum[first[sid]]
    context_before = np.where(k > 0, np.roll(prompt + out, 1), 0)  # P_{k−1} + O_{k−1}
    if prompt.size and int(prompt.max()) > MAX_REQUEST_TOKENS:  # the kernel's counts are int32
        raise InputError(
            "traffic.sessions", f"a turn of {int(prompt.max())} prompt tokens", f"≤ {MAX_REQUEST_TOKENS}"
        )
    if ss.think == "fixed":
        think = np.full(n, ss.think_time_s)
    else:
        think = rng.exponential(ss.think_time_s, n) if ss.think_time_s > 0 else np.zeros(n)
    # request index of each turn: first turns 0..S−1 (sorted by start), later turns S.. in session order
    later = k > 0
    index = np.empty(n, np.int64)
    index[~later] = np.arange(n_sessions)
    index[later] = n_sessions + np.arange(n - n_sessions)
    last = np.concatenate([first[1:] - 1, [n - 1]])
    nxt = np.full(n, -1, np.int64)
    has_next = np.ones(n, bool)
    has_next[last] = False
    nxt[has_next] = index[np.flatnonzero(has_next) + 1]
    arrival = np.full(n, np.nan)
    arrival[index[~later]] = start

    def placed(values: np.ndarray, dtype: type | np.dtype) -> np.ndarray:
        res: np.ndarray = np.empty(n, dtype)
        res[index] = values
        return res

    return Workload(
        arrival,
        placed(prompt, COUNT_DTYPE),
        placed(out, COUNT_DTYPE),
        placed(sid, COUNT_DTYPE),
        placed(context_before, COUNT_DTYPE),
        truncated,
        placed(nxt, COUNT_DTYPE),
        placed(np.where(has_next, think, 0.0), np.float64),
    )
