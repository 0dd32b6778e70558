"""Multi-turn sessions in the kernel: a turn's last token schedules the session's next turn (closed loop).

A session's turn ``k + 1`` arrives ``think_s`` after turn ``k``'s last token (the user reads, then types);
its arrival is not known before, so the pending turns wait in a binary min-heap on their arrival time
(``State.pend_t_s`` / ``pend_x``), and the event loop takes the earliest of it with the other events.
A dropped turn (too long for a replica, or timed out in a queue) ends its session: the later turns never
arrive (counted in ``ints[I_CANCELLED]``, so the run still knows when every request is accounted for).
Plain traffic has no later turns: the heap stays empty and costs one comparison per event.
"""

from __future__ import annotations

import numpy as np

from flopbill.simulate._jit import jit
from flopbill.simulate.entities import I_CANCELLED, I_PENDING, Requests, State


@jit
def next_turn_s(st: State) -> float:
    """Return the arrival time of the earliest pending turn (∞ when none)."""
    return float(st.pend_t_s[0]) if st.ints[I_PENDING] > 0 else np.inf


@jit
def schedule_next(st: State, rq: Requests, x: int, now: float) -> None:
    """Request ``x`` finished at ``now``: its session's next turn (if any) arrives after the think time."""
    y = rq.next_turn[x]
    if y < 0:
        return
    t = now + rq.think_s[x]
    i = st.ints[I_PENDING]
    st.ints[I_PENDING] = i + 1
    while i > 0:  # sift up
        parent = (i - 1) // 2
        if st.pend_t_s[parent] <= t:
            break
        st.pend_t_s[i] = st.pend_t_s[parent]
        st.pend_x[i] = st.pend_x[parent]
        i = parent
    st.pend_t_s[i] = t
    st.pend_x[i] = y


@jit
def pop_next(st: State) -> int:
    """Remove and return the earliest pending turn (call only when one is pending)."""
    top = st.pend_x[0]
    n = st.ints[I_PENDING] - 1
    st.ints[I_PENDING] = n
    t, y = st.pend_t_s[n], st.pend_x[n]
    i = 0
    while True:  # sift the last element down from the root
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and st.pend_t_s[child + 1] < st.pend_t_s[child]:
            child += 1
        if st.pend_t_s[child] >= t:
            break
        st.pend_t_s[i] = st.pend_t_s[child]
        st.pend_x[i] = st.pend_x[child]
        i = child
    if n > 0:
        st.pend_t_s[i] = t
        st.pend_x[i] = y
    return int(top)


@jit
def end_session(st: State, rq: Requests, x: int) -> None:
    """Request ``x`` was dropped: the later turns of its session never arrive."""
    y = rq.next_turn[x]
    while y >= 0:
        st.ints[I_CANCELLED] += 1
        y = rq.next_turn[y]
