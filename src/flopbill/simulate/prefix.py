"""The prefix cache of a replica, as vLLM's automatic prefix caching evicts it: by capacity, LRU.

vLLM (``v1/core/block_pool.py``, ``FreeKVCacheBlockQueue``) keeps a freed block's contents and hash in
the free queue; a new allocation takes the block at the head of the queue (least recently freed) and
only then loses what it held. A request frees its blocks tail first, so its prefix blocks queue behind
its own later blocks, last prefix block first. Per replica and prefix group, here:

* the prefix is *resident* while a running request of the group holds it (from its first token, or from
  admission with a hit);
* when the last such request leaves (finishes or is preempted), ``ahead = free blocks then + that
  request's blocks beyond the prefix`` blocks queue in front of the prefix; after ``a`` more allocations
  ``max(0, a − ahead)`` prefix blocks (from its end) are reused, and a request of the group then hits the
  ``prefix blocks − max(0, a − ahead)`` blocks still cached (a partial hit, as vLLM's hash chain gives);
* optionally also a lifetime (``prefix_cache_ttl_s``; none by default): a prefix not used for that long
  is gone whatever the capacity.

A session (:mod:`flopbill.simulate.turns`) is a group of its own whose prefix is the previous turn's
whole context: a turn leaving keeps ``prompt + output`` tokens cached for the next (its
``prefix_tokens``), not only its own prefix.

Blocks are not de-duplicated across requests of a group (each holds its own copy), so capacity is
counted conservatively; the cached copy is part of the free pool, as in vLLM.
"""

from __future__ import annotations

from flopbill.simulate._jit import jit
from flopbill.simulate.entities import Config, Requests, State


@jit
def allocated(st: State, r: int, blocks: int) -> None:
    """Count ``blocks`` taken from (positive) or returned unused to (negative) replica ``r``'s free pool."""
    st.r_alloc_blocks[r] += blocks


@jit
def cached_blocks(st: State, cfg: Config, r: int, g: int, prefix_blocks: int, now: float) -> int:
    """Return how many of group ``g``'s ``prefix_blocks`` blocks replica ``r`` has cached at ``now``."""
    if g < 0 or now - st.r_prefix_seen_s[r, g] > cfg.prefix_ttl_s:
        return 0
    if st.r_prefix_users[r, g] > 0:
        return prefix_blocks
    if st.r_prefix_evict_at[r, g] < 0:
        return 0  # never cached on this replica (since it started)
    lost = max(st.r_alloc_blocks[r] - st.r_prefix_evict_at[r, g], 0)
    return int(max(prefix_blocks - lost, 0))


@jit
def hold(st: State, rq: Requests, r: int, x: int, now: float) -> None:
    """Request ``x`` now holds its group's prefix on ``r`` (first token, or admitted with a hit)."""
    g = rq.group[x]
    if g < 0 or st.holds_prefix[x]:
        return
    st.holds_prefix[x] = 1
    st.r_prefix_users[r, g] += 1
    st.r_prefix_seen_s[r, g] = now


@jit
def release(st: State, cfg: Config, rq: Requests, r: int, x: int) -> None:
    """Request ``x`` leaves ``r`` (finished or preempted): call before its blocks are freed."""
    if not st.holds_prefix[x]:
        return
    g = rq.group[x]
    st.holds_prefix[x] = 0
    st.r_prefix_users[r, g] -= 1
    if st.r_prefix_users[r, g] == 0:
        y = rq.next_turn[x]  # a session's next turn reuses this turn's whole context
        keep = rq.prefix_tokens[x] if y < 0 else rq.prefix_tokens[y]
        prefix_blocks = min(keep // cfg.block_tokens, st.held_blocks[x])
        ahead = st.r_free_blocks[r] + st.held_blocks[x] - prefix_blocks
        st.r_prefix_evict_at[r, g] = st.r_alloc_blocks[r] + ahead  # its blocks go after this count
