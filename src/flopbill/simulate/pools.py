"""Several pools in one fleet: split the traffic (:mod:`flopbill.simulate.split`), run each pool on its
share with the same kernel as a one-pool spec, and total the results.

Pools are independent once routed: no request moves between pools and no router balances load across
them (a router split's escalation is a new request to the large pool, sent when the small pool's answer
is done). The totals are computed from the union of the pools' per-request outcomes (percentiles of the
merged latencies, never averages of percentiles; ITL from the pools' summed histograms), GPU-hours and
costs are sums, and the fleet's simulated time is the longest pool's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flopbill.errors import FlopbillError, InputError, UnknownNameError
from flopbill.estimate.core.assumptions import Assumption
from flopbill.simulate.api import run_pool
from flopbill.simulate.entities import F_ITL_SUM, I_ITL_N
from flopbill.simulate.itl import itl_distribution
from flopbill.simulate.metrics import distribution, latencies
from flopbill.simulate.result import Outcomes, PoolResult, SimulationResult, Timeline
from flopbill.simulate.spec import Pool, PoolsSpec, SimulationSpec, Split, check_pools
from flopbill.simulate.split import assign, escalated, sub_seed
from flopbill.simulate.traffic import Workload, workload

_FIELD_OF_KIND = {"model": "model", "accelerator": "gpu", "priced accelerator": "gpu", "engine": "engine"}
_FIELD_OF_CODE = {"router": "fleet.router", "autoscaler.policy": "fleet.autoscaler.policy"}


@dataclass(frozen=True)
class _Run:
    """One pool's run: its result, its ITL histogram and the fleet request behind each of its calls."""

    pool: Pool
    request: np.ndarray
    resent: np.ndarray  # per call: a router's escalation (re-sent from the small pool)
    routed: int
    result: SimulationResult
    itl: tuple[np.ndarray, int, float]  # the kernel's ITL histogram, gap count and sum of gaps (s)


def pool_spec(spec: PoolsSpec, pool: Pool) -> SimulationSpec:
    """Return the one-pool spec a pool runs as: its deployment and fleet, the fleet's shared settings.

    Its ``seed`` is derived from ``(seed, pool name)`` (:func:`flopbill.simulate.split.sub_seed`).
    """
    return SimulationSpec(
        deployment=pool.deployment,
        fleet=pool.fleet,
        traffic=spec.traffic,
        slo=spec.slo,
        bounds=spec.bounds,
        queue_timeout_s=spec.queue_timeout_s,
        prefix_cache_ttl_s=spec.prefix_cache_ttl_s,
        affinity_slack=spec.affinity_slack,
        seed=sub_seed(spec.seed, pool.name),
    )


def simulate_pools(spec: PoolsSpec, progress: Callable[[float], None] | None = None) -> SimulationResult:
    """Return the fleet's totals with each pool's own result in ``pools`` (seeded, deterministic).

    A pool the split happened to send no request runs last, idle, for as long as the busiest pool ran
    (its replicas are up and billed, serving nothing).
    """
    check_pools(spec)
    if spec.traffic.sessions is not None:  # a later turn's arrival is made in its pool's kernel run
        raise InputError("traffic.sessions", "with pools", "sessions in a one-pool spec")
    wl = workload(spec.traffic, spec.seed, spec.bounds.max_requests)
    where = assign(spec, wl)
    names = [p.name for p in spec.pools]
    runs: dict[int, _Run] = {}
    resent: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    idle: list[int] = []
    order = _order(spec.split, names)
    for i in order:
        calls = _share(wl, np.flatnonzero(where == i), *resent.get(i, (np.zeros(0, np.int64), np.zeros(0))))
        if calls[1].size == 0:
            idle.append(i)
            continue
        runs[i] = _run(spec, i, calls, _scaled(progress, len(runs), len(order)), 0.0)
        sp = spec.split
        if sp is not None and sp.by == "router" and names[i] == sp.small:
            esc = escalated(spec, runs[i].result.outcomes.finish_s)
            resent[names.index(str(sp.large))] = (runs[i].request[esc], runs[i].result.outcomes.finish_s[esc])
    busiest_s = max(r.result.duration_s for r in runs.values())
    for i in idle:
        calls = _share(wl, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        runs[i] = _run(spec, i, calls, _scaled(progress, len(runs), len(order)), busiest_s)
    return merge(spec, wl, [runs[i] for i in range(len(names))])


def _run(
    spec: PoolsSpec,
    i: int,
    calls: tuple[Workload, np.ndarray, np.ndarray],
    progress: Callable[[float], None] | None,
    horizon_s: float,
) -> _Run:
    """Return pool ``i``'s run on ``calls`` (its workload, fleet request per call, re-sent per call)."""
    pool = spec.pools[i]
    sub, request, again = calls
    try:
        res, st = run_pool(pool_spec(spec, pool), sub, progress, horizon_s)
    except FlopbillError as exc:
        raise in_pool(exc, i, pool.name) from None
    itl = (st.itl_hist.copy(), int(st.ints[I_ITL_N]), float(st.floats[F_ITL_SUM]))
    return _Run(pool, request, again, int((~again).sum()), res, itl)


def _order(sp: Split | None, names: list[str]) -> list[int]:
    """Return the order pools run in: spec order, a router's large pool last (it gets escalations)."""
    order = list(range(len(names)))
    if sp is not None and sp.by == "router":
        order.remove(names.index(str(sp.large)))
        order.append(names.index(str(sp.large)))
    return order


def _share(
    wl: Workload, direct: np.ndarray, resent: np.ndarray, resent_s: np.ndarray
) -> tuple[Workload, np.ndarray, np.ndarray]:
    """Return a pool's requests (its direct ones and re-sent ones arriving at ``resent_s``), sorted by
    arrival (stable: a direct request first on a tie), the fleet request of each and which are re-sent."""
    arrival = np.concatenate([wl.arrival_s[direct], resent_s])
    idx = np.concatenate([direct, resent]).astype(np.int64)
    order = np.argsort(arrival, kind="stable")
    req = idx[order]
    sub = Workload(
        arrival[order], wl.prompt_tokens[req], wl.output_tokens[req], wl.group[req], wl.prefix_tokens[req]
    )
    return sub, req, order >= direct.size


def _scaled(
    progress: Callable[[float], None] | None, step: int, steps: int
) -> Callable[[float], None] | None:
    if progress is None:
        return None
    report = progress
    return lambda done: report((step + done) / steps)


def in_pool(exc: FlopbillError, i: int, name: str) -> FlopbillError:
    """Return ``exc`` naming the pool's field (``pools[1].deployment.gpu``), or the pool in its text."""
    at = f"pools[{i}]"
    if isinstance(exc, InputError):
        field = _FIELD_OF_CODE.get(exc.field, exc.field)
        if field.startswith(("deployment.", "fleet.")):
            return InputError(f"{at}.{field}", exc.value, exc.allowed)
        return InputError(exc.field, exc.value, f"{exc.allowed} in pool {name!r} ({at})")
    if isinstance(exc, UnknownNameError):
        key = _FIELD_OF_KIND.get(exc.kind, "instance" if "instance" in exc.kind else "")
        hint = f"; did you mean {', '.join(exc.close)}?" if exc.close else ""
        where = f"{at}.deployment.{key}" if key else at
        return InputError(where, exc.name, f"a known {exc.kind}{hint}")
    return FlopbillError(f"{at} ({name}): {exc}")


def merge(spec: PoolsSpec, wl: Workload, runs: list[_Run]) -> SimulationResult:
    """Return the fleet's totals over ``runs`` (spec order), each pool's result kept in ``pools``."""
    rs = [r.result for r in runs]
    o = _outcomes(runs)
    end = max(r.duration_s for r in rs)
    lat = latencies(o.arrival_s, o.admit_s, o.first_token_s, o.finish_s, o.output_tokens, spec.slo)
    met = int(lat.meets_slo.sum())
    seen = sum(int(np.sum(r.outcomes.arrival_s <= r.duration_s)) for r in rs)
    hist = np.sum([r.itl[0] for r in runs], axis=0)
    gaps = sum(r.itl[1] for r in runs)
    gap_sum_s = sum(r.itl[2] for r in runs)
    cost = _total([r.cost_usd for r in rs])
    out_tokens = sum(r.output_tokens for r in rs)
    in_tokens = sum(r.input_tokens for r in rs)
    n_fin = sum(r.finished for r in rs)
    return SimulationResult(
        resolved=_resolved(spec, runs),
        arrived=sum(r.arrived for r in rs),
        finished=n_fin,
        dropped=sum(r.dropped for r in rs),
        dropped_too_long=sum(r.dropped_too_long for r in rs),
        dropped_timed_out=sum(r.dropped_timed_out for r in rs),
        unfinished=sum(r.unfinished for r in rs),
        preemptions=sum(r.preemptions for r in rs),
        prefix_cached_tokens=sum(r.prefix_cached_tokens for r in rs),
        steps=sum(r.steps for r in rs),
        duration_s=end,
        ttft_s=distribution(lat.ttft_s),
        tpot_s=distribution(lat.tpot_s),
        itl_s=itl_distribution(hist, gaps, gap_sum_s),
        e2e_s=distribution(lat.e2e_s),
        queue_wait_s=distribution(lat.queue_wait_s),
        goodput_rps=met / end if end > 0 else 0.0,
        goodput_fraction=met / max(seen, 1),
        input_tokens=in_tokens,
        output_tokens=out_tokens,
        output_tokens_per_s=out_tokens / end if end > 0 else 0.0,
        gpu_hours_billed=sum(r.gpu_hours_billed for r in rs),
        gpu_hours_busy=sum(r.gpu_hours_busy for r in rs),
        kv_blocks_per_replica=None,
        kv_blocks_peak_used=None,
        max_replicas_seen=sum(r.max_replicas_seen for r in rs),
        price_usd_per_gpu_hour=None,
        cost_usd=cost,
        idle_cost_usd=_total([r.idle_cost_usd for r in rs]),
        usd_per_mtok_output=None if cost is None or not out_tokens else cost / out_tokens * 1e6,
        usd_per_mtok_total=None
        if cost is None or not out_tokens + in_tokens
        else cost / (out_tokens + in_tokens) * 1e6,
        usd_per_request=None if cost is None or not n_fin else cost / n_fin,
        outcomes=o,
        timeline=Timeline(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)),
        assumptions=_assumptions(spec, wl, runs),
        arrivals_truncated=wl.truncated,
        pools=tuple(
            PoolResult(r.pool.name, r.routed, int(r.request.size) - r.routed, r.result) for r in runs
        ),
        escalated=sum(int(r.request.size) - r.routed for r in runs),
        request_e2e_s=distribution(request_e2e_s(wl, runs)),
    )


def request_e2e_s(wl: Workload, runs: list[_Run]) -> np.ndarray:
    """Return, per finished traffic request, its arrival to its last answer (s): an escalated request's
    last answer is the large pool's (not finished while that call is not)."""
    finish = np.full(wl.arrival_s.size, np.nan)
    for resent in (False, True):
        for r in runs:
            sel = r.resent == resent
            finish[r.request[sel]] = r.result.outcomes.finish_s[sel]
    done = ~np.isnan(finish)
    out: np.ndarray = (finish - wl.arrival_s)[done]
    return out


def _total(values: list[float | None]) -> float | None:
    """Return the sum, or None when any pool's value is unknown (an unpriced pool)."""
    known = [v for v in values if v is not None]
    return sum(known) if len(known) == len(values) else None


def _outcomes(runs: list[_Run]) -> Outcomes:
    """Return the pools' per-request outcomes one after the other (spec order), with pool and request."""
    cols = [np.concatenate([getattr(r.result.outcomes, f) for r in runs]) for f in Outcomes._fields[:10]]
    pool = np.concatenate([np.full(r.request.size, i, np.int64) for i, r in enumerate(runs)])
    return Outcomes(*cols)._replace(pool=pool, request=np.concatenate([r.request for r in runs]))


def _resolved(spec: PoolsSpec, runs: list[_Run]) -> dict[str, object]:
    dump = spec.model_dump(mode="json", by_alias=True)
    out: dict[str, object] = {"pools": dump.pop("pools"), "split": dump.pop("split"), **dump}
    out["derived"] = {
        "pools": {
            r.pool.name: {"seed": sub_seed(spec.seed, r.pool.name), **r.result.resolved["derived"]}
            for r in runs
        }
    }
    return out


def split_text(sp: Split | None, names: list[str]) -> str:
    """Return the split in words (the ``split`` assumption)."""
    if sp is None:
        return f"all traffic to {names[0]}"
    if sp.by == "weights":
        w = sp.weights or {}
        shares = ", ".join(f"{k} {v / sum(w.values()):.3g}" for k, v in w.items())
        return f"by weights ({sp.draw}): {shares}"
    if sp.by == "router":
        return (
            f"router: {sp.small_share:g} to {sp.small}, the rest to {sp.large}; {sp.escalation_rate:g} of "
            f"{sp.small}'s finished requests re-sent to {sp.large}"
        )
    return f"by rules ({len(sp.rules)}), the rest to {sp.default or 'no pool (every request matched)'}"


def _assumptions(spec: PoolsSpec, wl: Workload, runs: list[_Run]) -> tuple[Assumption, ...]:
    names = [p.name for p in spec.pools]
    items = [
        Assumption("split", split_text(spec.split, names), "given"),
        Assumption(
            "pools",
            "independent once routed: no request moves between pools, no load balancing across pools",
            "flopbill.simulate.pools",
        ),
    ]
    items += _pool_assumptions(runs)
    if wl.truncated:
        items.append(
            Assumption(
                "traffic_truncated",
                f"first {wl.arrival_s.size:,} requests (last arrival at {float(wl.arrival_s[-1]):,.0f} s)",
                "bounds.max_requests: the traffic had more requests; later arrivals are not simulated",
            )
        )
    return tuple(items)


def _pool_assumptions(runs: list[_Run]) -> list[Assumption]:
    """Return the pools' assumptions: once where all pools share it, else one per pool (``pool.name``)."""
    per_pool = [{a.name: a for a in r.result.assumptions} for r in runs]
    out: list[Assumption] = []
    for name in dict.fromkeys(a.name for r in runs for a in r.result.assumptions):
        mine = [d.get(name) for d in per_pool]
        first = mine[0]
        if first is not None and all(
            a is not None and (a.value, a.source) == (first.value, first.source) for a in mine
        ):
            out.append(first)
            continue
        out += [
            Assumption(f"{r.pool.name}.{a.name}", a.value, a.source)
            for r, a in zip(runs, mine, strict=True)
            if a
        ]
    return out
