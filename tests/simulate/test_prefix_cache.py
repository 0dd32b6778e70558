"""The prefix cache evicts by capacity, least recently freed first (vLLM's free-block queue).

Hand case: a replica of 100 blocks of 16 tokens. Request 0 (group 0, an 800-token prefix = 50 blocks)
holds 63 blocks (1,000 tokens); 37 blocks are free. When it finishes, vLLM's free queue is: the 37
free blocks, then its 13 blocks beyond the prefix (freed tail first), then the 50 prefix blocks, last
one first. So the next 50 allocations leave the prefix whole; the 51st reuses its last block (49 still
hit), the 100th its first (none left). While a request of the group runs, the prefix is held: a full hit.
"""

from __future__ import annotations

import math

import numpy as np

from flopbill.simulate.entities import Config, Requests, new_state
from flopbill.simulate.prefix import allocated, cached_blocks, hold, release


def _config(ttl_s: float = math.inf) -> Config:
    return Config(
        block_tokens=16,
        kv_blocks=100,
        max_seqs=8,
        token_budget=2048,
        router=1,
        autoscaler=0,
        max_replicas=1,
        min_replicas=1,
        initial_replicas=1,
        eval_interval_s=30.0,
        autoscale_target=0.7,
        cooldown_s=300.0,
        cold_start_s=0.0,
        queue_timeout_s=math.inf,
        prefix_ttl_s=ttl_s,
        affinity_slack=8,
        max_sim_s=1e9,
        horizon_s=0.0,
    )


def _requests() -> Requests:
    return Requests(
        arrival_s=np.zeros(2),
        prompt_tokens=np.array([1000, 1000], np.int64),
        output_tokens=np.array([2, 2], np.int64),
        group=np.array([0, 0], np.int64),
        prefix_tokens=np.array([800, 800], np.int64),
        next_turn=np.array([-1, -1], np.int64),
        think_s=np.zeros(2),
    )


def test_lru_eviction_by_capacity() -> None:
    cfg, rq = _config(), _requests()
    st = new_state(2, cfg, 1, 4, 4)
    assert cached_blocks(st, cfg, 0, 0, 50, 0.0) == 0  # never prefilled here
    st.held_blocks[0] = 63
    st.r_free_blocks[0] = 37
    allocated(st, 0, 63)
    hold(st, rq, 0, 0, 1.0)
    assert cached_blocks(st, cfg, 0, 0, 50, 1.0) == 50  # in use: held
    release(st, cfg, rq, 0, 0)
    st.r_free_blocks[0] += 63
    st.held_blocks[0] = 0
    assert cached_blocks(st, cfg, 0, 0, 50, 2.0) == 50
    allocated(st, 0, 50)
    assert cached_blocks(st, cfg, 0, 0, 50, 3.0) == 50  # the 37 free and the 13 tail blocks went first
    allocated(st, 0, 1)
    assert cached_blocks(st, cfg, 0, 0, 50, 3.0) == 49
    allocated(st, 0, 48)
    assert cached_blocks(st, cfg, 0, 0, 50, 3.0) == 1
    allocated(st, 0, 1)
    assert cached_blocks(st, cfg, 0, 0, 50, 3.0) == 0
    assert cached_blocks(st, cfg, 0, -1, 50, 3.0) == 0  # no group, no hit


def test_an_optional_lifetime_also_ends_it() -> None:
    cfg, rq = _config(ttl_s=10.0), _requests()
    st = new_state(2, cfg, 1, 4, 4)
    st.held_blocks[0] = 63
    st.r_free_blocks[0] = 37
    hold(st, rq, 0, 0, 1.0)
    release(st, cfg, rq, 0, 0)
    assert cached_blocks(st, cfg, 0, 0, 50, 11.0) == 50
    assert cached_blocks(st, cfg, 0, 0, 50, 11.5) == 0
