"""The result of a simulation run: counts, latency distributions, throughput, GPU-hours and cost.

Frozen; carries the resolved configuration and the assumptions next to the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from flopbill.estimate.core.assumptions import Assumption
from flopbill.simulate.metrics import Distribution, percentile_dict


class Outcomes(NamedTuple):
    """Per-request outcome arrays (s; NaN where a request never reached that point)."""

    arrival_s: np.ndarray
    admit_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    generated_tokens: np.ndarray
    dropped: np.ndarray  # 0 kept, 1 too long for a replica's KV cache, 2 timed out in the queue
    preemptions: np.ndarray
    cached_tokens: np.ndarray
    pool: np.ndarray | None = None  # several pools: the pool index (spec order) of each request
    request: np.ndarray | None = None  # several pools: the fleet request each call serves


class Timeline(NamedTuple):
    """Fleet samples at each autoscaler evaluation (s, counts)."""

    t_s: np.ndarray
    ready: np.ndarray
    starting: np.ndarray
    waiting: np.ndarray
    running: np.ndarray


@dataclass(frozen=True)
class SimulationResult:
    """What one simulated fleet did under one traffic (SI units; GPU-hours and USD as named)."""

    resolved: dict[str, Any]
    arrived: int
    finished: int
    dropped: int
    dropped_too_long: int
    dropped_timed_out: int
    unfinished: int
    preemptions: int
    prefix_cached_tokens: int
    steps: int
    duration_s: float
    ttft_s: Distribution
    tpot_s: Distribution
    itl_s: Distribution  # inter-token gaps, every token after a request's first (flopbill.simulate.itl)
    e2e_s: Distribution
    queue_wait_s: Distribution
    goodput_rps: float
    goodput_fraction: float
    input_tokens: int
    output_tokens: int
    output_tokens_per_s: float
    gpu_hours_billed: float
    gpu_hours_busy: float
    kv_blocks_per_replica: int | None  # None for the totals of several pools (see each pool)
    kv_blocks_peak_used: int | None
    max_replicas_seen: int  # several pools: the sum of each pool's peak (≥ the fleet's simultaneous peak)
    price_usd_per_gpu_hour: float | None
    cost_usd: float | None
    idle_cost_usd: float | None
    usd_per_mtok_output: float | None
    usd_per_mtok_total: float | None
    usd_per_request: float | None
    outcomes: Outcomes
    timeline: Timeline
    assumptions: tuple[Assumption, ...] = field(default=())
    arrivals_truncated: bool = False  # the traffic had more than bounds.max_requests requests: cut there
    pools: tuple[PoolResult, ...] = ()  # several pools: each pool's own result (these fields: the totals)
    escalated: int = 0  # several pools, split by router: requests re-sent from the small pool to the large
    request_e2e_s: Distribution | None = None  # several pools: per traffic request, arrival → last answer

    def to_dict(self, timeline: bool = True) -> dict[str, Any]:
        """Return the JSON payload: stable keys, SI units; the resolved configuration first."""
        out: dict[str, Any] = {"resolved": self.resolved}
        for key in (
            "arrived",
            "finished",
            "arrivals_truncated",
            "dropped",
            "dropped_too_long",
            "dropped_timed_out",
            "unfinished",
            "preemptions",
            "prefix_cached_tokens",
            "steps",
            "duration_s",
        ):
            out[key] = getattr(self, key)
        for key in ("ttft_s", "tpot_s", "itl_s", "e2e_s", "queue_wait_s"):
            out[key] = percentile_dict(getattr(self, key))
        for key in (
            "goodput_rps",
            "goodput_fraction",
            "input_tokens",
            "output_tokens",
            "output_tokens_per_s",
            "gpu_hours_billed",
            "gpu_hours_busy",
            "kv_blocks_per_replica",
            "kv_blocks_peak_used",
            "max_replicas_seen",
            "price_usd_per_gpu_hour",
            "cost_usd",
            "idle_cost_usd",
            "usd_per_mtok_output",
            "usd_per_mtok_total",
            "usd_per_request",
        ):
            out[key] = getattr(self, key)
        if self.pools:
            out["escalated"] = self.escalated
            out["request_e2e_s"] = None if self.request_e2e_s is None else percentile_dict(self.request_e2e_s)
            out["pools"] = [
                {
                    "name": p.name,
                    "routed": p.routed,
                    "escalated_in": p.escalated_in,
                    **p.result.to_dict(timeline),
                }
                for p in self.pools
            ]
        elif timeline:
            tl = self.timeline
            out["timeline"] = {
                "t_s": tl.t_s.tolist(),
                "ready": tl.ready.tolist(),
                "starting": tl.starting.tolist(),
                "waiting": tl.waiting.tolist(),
                "running": tl.running.tolist(),
            }
        out["assumptions"] = [
            {"name": a.name, "value": a.value, "source": a.source} for a in self.assumptions
        ]
        return out


@dataclass(frozen=True)
class PoolResult:
    """One pool of a several-pool fleet: how much traffic it got and what it did with it."""

    name: str
    routed: int  # fleet requests the split sent to this pool
    escalated_in: int  # requests re-sent here by a router split after the small pool answered them
    result: SimulationResult  # the pool alone (its own resolved spec, timeline and assumptions)
