"""Conservation laws of a run, for random fleets and traffic (hypothesis).

* every arrived request finishes or is counted as dropped (no bounds: nothing is left in flight);
* a finished request generated exactly the output tokens it asked for;
* billed GPU-hours ≥ busy GPU-hours (a replica computes only while it is paid for);
* no replica ever holds more KV blocks than its capacity (the peak used ≤ capacity);
* time runs forward for every request: arrival ≤ admission ≤ first token ≤ finish;
* the inter-token gaps of a request add up to its finish − first token, so the mean ITL over all gaps is
  ``Σ (finish − first token) / Σ (output − 1)`` (the gaps are counted where tokens are made, in steps
  and in decode runs; this sum is taken from the per-request times).

KV capacity is capped small (``kv_tokens_limit``) in half the cases so that preemption happens.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.simulate import simulate, spec_from_dict
from flopbill.simulate.autoscaler import AUTOSCALERS
from flopbill.simulate.router import ROUTERS


@st.composite
def specs(draw: st.DrawFn) -> dict[str, object]:
    policy = draw(st.sampled_from(sorted(AUTOSCALERS)))
    replicas = draw(st.integers(1, 3))
    auto: dict[str, object] = {"policy": policy, "eval_interval_s": draw(st.sampled_from([0.5, 5.0]))}
    if policy != "fixed":
        auto |= {
            "min_replicas": draw(st.integers(0, 1)),
            "max_replicas": 3,
            "target": draw(st.sampled_from([0.5, 4.0])),
            "cold_start_s": draw(st.sampled_from([0.0, 2.0, 20.0])),
            "cooldown_s": draw(st.sampled_from([0.0, 10.0])),
        }
    lo = draw(st.integers(1, 600))
    prefix = draw(
        st.none()
        | st.builds(lambda g, t: {"groups": g, "tokens": t}, st.integers(1, 4), st.integers(16, 200))
    )
    traffic: dict[str, object] = {
        "arrivals": draw(st.sampled_from(["poisson", "gamma"])),
        "cv": draw(st.sampled_from([0.5, 1.0, 3.0])),
        "rate_rps": draw(st.floats(0.5, 80.0)),
        "requests": draw(st.integers(1, 300)),
        "input_tokens": {"kind": "uniform", "low": lo, "high": lo + draw(st.integers(0, 1500))},
        "output_tokens": {"kind": "exponential", "mean": draw(st.floats(1.0, 200.0))},
    }
    if prefix is not None:
        traffic["prefix"] = prefix
    deployment: dict[str, object] = {
        "model": "llama-3.1-8b",
        "max_seqs": draw(st.sampled_from([1, 4, 64, 256])),
        "token_budget": draw(st.sampled_from([256, 2048, 8192])),
    }
    if draw(st.booleans()):
        deployment["kv_tokens_limit"] = draw(st.integers(2500, 20000))
    return {
        "deployment": deployment,
        "fleet": {"replicas": replicas, "router": draw(st.sampled_from(sorted(ROUTERS))), "autoscaler": auto},
        "traffic": traffic,
        "seed": draw(st.integers(0, 1000)),
    }


@settings(max_examples=60)
@given(specs())
def test_conservation(spec: dict[str, object]) -> None:
    r = simulate(spec_from_dict(spec))
    o = r.outcomes
    assert r.arrived == o.arrival_s.size
    assert r.unfinished == 0
    assert r.arrived == r.finished + r.dropped
    done = ~np.isnan(o.finish_s)
    assert np.array_equal(o.generated_tokens[done], o.output_tokens[done])
    assert r.gpu_hours_billed >= r.gpu_hours_busy - 1e-12
    assert r.kv_blocks_peak_used is not None and r.kv_blocks_per_replica is not None
    assert 0 <= r.kv_blocks_peak_used <= r.kv_blocks_per_replica
    assert np.all(o.admit_s[done] >= o.arrival_s[done])
    assert np.all(o.first_token_s[done] >= o.admit_s[done])
    assert np.all(o.finish_s[done] >= o.first_token_s[done])
    gaps = int(np.sum(o.output_tokens[done] - 1))
    if gaps == 0:
        assert r.itl_s.mean is None
    else:
        total = float(np.sum(o.finish_s[done] - o.first_token_s[done]))
        assert r.itl_s.mean is not None
        assert abs(r.itl_s.mean * gaps - total) <= 1e-9 * max(total, 1.0)
        assert r.itl_s.p50 is not None and r.itl_s.p99 is not None and r.itl_s.p50 <= r.itl_s.p99
