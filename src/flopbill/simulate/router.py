"""Routing policies: which ready replica an arriving request goes to.

Each policy is a small class (name, code, docstring) in :data:`ROUTERS`; the kernel dispatches on the code
in :func:`route`. A new policy is one class, one registry line and one branch there.

* ``round_robin``: the next ready replica in turn.
* ``least_outstanding``: fewest requests running + waiting (llm-d / Envoy "least request").
* ``join_shortest_queue``: fewest waiting, ties broken by fewest running.
* ``prefix_affinity``: among replicas whose prefix cache holds the request's group
  (:mod:`flopbill.simulate.prefix`), the least outstanding, unless it has more than ``affinity_slack``
  requests above the least outstanding replica overall (then that one); requests without a group go
  least-outstanding.
* ``central_queue``: one fleet-wide FIFO; a replica pulls the next request whenever it has a free seat.
  With one seat per replica this is the M/M/c (or G/G/c) queue of textbooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from flopbill.errors import InputError
from flopbill.simulate._jit import jit
from flopbill.simulate.entities import I_RR, READY, Config, Requests, State
from flopbill.simulate.prefix import cached_blocks


@dataclass(frozen=True)
class RouterPolicy:
    """A routing policy: its name in specs and its code in the kernel."""

    name: str
    code: int


ROUND_ROBIN = RouterPolicy("round_robin", 0)
LEAST_OUTSTANDING = RouterPolicy("least_outstanding", 1)
JOIN_SHORTEST_QUEUE = RouterPolicy("join_shortest_queue", 2)
PREFIX_AFFINITY = RouterPolicy("prefix_affinity", 3)
CENTRAL_QUEUE = RouterPolicy("central_queue", 4)

ROUTERS: dict[str, RouterPolicy] = {
    p.name: p for p in (ROUND_ROBIN, LEAST_OUTSTANDING, JOIN_SHORTEST_QUEUE, PREFIX_AFFINITY, CENTRAL_QUEUE)
}


def router_code(name: str) -> int:
    """Return the kernel code of router ``name`` or raise :class:`InputError` naming the field."""
    if name not in ROUTERS:
        raise InputError("router", name, "one of " + ", ".join(ROUTERS))
    return ROUTERS[name].code


@jit
def _least_outstanding(st: State, cfg: Config) -> int:
    best, best_n = -1, 1 << 62
    for r in range(cfg.max_replicas):
        if st.r_state[r] == READY:
            n = st.r_n_run[r] + st.r_q_len[r]
            if n < best_n:
                best, best_n = r, n
    return best


@jit
def _shortest_queue(st: State, cfg: Config) -> int:
    best, best_key = -1, 1 << 62
    for r in range(cfg.max_replicas):
        if st.r_state[r] == READY:
            key = st.r_q_len[r] * (cfg.max_seqs + 1) + st.r_n_run[r]
            if key < best_key:
                best, best_key = r, key
    return best


@jit
def _round_robin(st: State, cfg: Config) -> int:
    for k in range(cfg.max_replicas):
        r = (st.ints[I_RR] + k) % cfg.max_replicas
        if st.r_state[r] == READY:
            st.ints[I_RR] = r + 1
            return int(r)
    return -1


@jit
def _prefix_affinity(st: State, rq: Requests, cfg: Config, x: int, now: float) -> int:
    fallback = _least_outstanding(st, cfg)
    g = rq.group[x]
    if g < 0 or fallback < 0:
        return fallback
    best, best_n = -1, 1 << 62
    blocks = rq.prefix_tokens[x] // cfg.block_tokens
    for r in range(cfg.max_replicas):
        if st.r_state[r] == READY and cached_blocks(st, cfg, r, g, blocks, now) > 0:
            n = st.r_n_run[r] + st.r_q_len[r]
            if n < best_n:
                best, best_n = r, n
    floor_n = st.r_n_run[fallback] + st.r_q_len[fallback]
    if best < 0 or best_n > floor_n + cfg.affinity_slack:
        return fallback
    return best


@jit
def route(st: State, rq: Requests, cfg: Config, x: int, now: float) -> int:
    """Return the replica request ``x`` goes to, or -1 for the fleet queue (none ready, or central)."""
    if cfg.router == 0:
        return _round_robin(st, cfg)
    if cfg.router == 1:
        return _least_outstanding(st, cfg)
    if cfg.router == 2:
        return _shortest_queue(st, cfg)
    if cfg.router == 3:
        return _prefix_affinity(st, rq, cfg, x, now)
    return -1
