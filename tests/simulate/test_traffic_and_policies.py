"""Traffic generators match their definitions; routers and autoscalers do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.simulate import simulate, spec_from_dict
from flopbill.simulate.spec import Traffic
from flopbill.simulate.traffic import arrival_times_s


def _gaps(**kw: object) -> np.ndarray:
    tr = Traffic.model_validate({"rate_rps": 10.0, "requests": 200_000} | kw)
    return np.diff(arrival_times_s(tr, np.random.default_rng(3), 10**9)[0])


@pytest.mark.parametrize("cv", [0.5, 1.0, 3.0])
def test_gamma_gaps_have_the_mean_and_cv(cv: float) -> None:
    """Gamma(shape 1/CV², scale CV²/λ): mean 1/λ = 0.1 s and CV as given (Poisson at CV = 1)."""
    gaps = _gaps(arrivals="gamma", cv=cv)
    assert gaps.mean() == pytest.approx(0.1, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.03)


def test_diurnal_peak_to_trough_and_spike() -> None:
    """Counts per hour follow λ(t): a 3:1 day has peak/trough rate ratio 3; a ×4 spike quadruples."""
    day = {"peak_to_trough": 3.0, "period_s": 86400.0, "peak_at_s": 43200.0}
    tr = Traffic.model_validate({"rate_rps": 2.0, "duration_s": 86400.0, "diurnal": day})
    t, _ = arrival_times_s(tr, np.random.default_rng(1), 10**9)
    hourly = np.histogram(t, bins=24, range=(0, 86400))[0]
    assert t.size == pytest.approx(2.0 * 86400, rel=0.02)
    assert hourly[11:13].mean() / hourly[[0, 23]].mean() == pytest.approx(3.0, rel=0.1)
    spike = {"start_s": 1000.0, "duration_s": 1000.0, "multiplier": 4.0}
    tr = Traffic.model_validate({"rate_rps": 5.0, "duration_s": 3000.0, "spikes": [spike]})
    t, _ = arrival_times_s(tr, np.random.default_rng(2), 10**9)
    inside, before = np.sum((t >= 1000) & (t < 2000)), np.sum(t < 1000)
    assert inside / before == pytest.approx(4.0, rel=0.08)


def _fleet(router: str, prefix: bool, **fleet: object) -> dict[str, object]:
    traffic: dict[str, object] = {
        "rate_rps": 20.0,
        "requests": 3000,
        "input_tokens": {"kind": "fixed", "value": 2000},
        "output_tokens": {"kind": "fixed", "value": 100},
    }
    if prefix:
        traffic["prefix"] = {"groups": 200, "tokens": 1500}
    return {
        "prefix_cache_ttl_s": 20.0,
        "deployment": {"model": "llama-3.1-8b"},
        "fleet": {"replicas": 4, "router": router} | fleet,
        "traffic": traffic,
    }


def test_prefix_affinity_hits_the_cache_more_than_round_robin() -> None:
    """200 groups at 20 req/s: a group comes back every ~10 s, to a given replica every ~40 s under
    round robin — past the 20 s cache lifetime — so only affinity routing keeps hitting."""
    rr = simulate(spec_from_dict(_fleet("round_robin", True)))
    aff = simulate(spec_from_dict(_fleet("prefix_affinity", True)))
    assert aff.prefix_cached_tokens > 1.5 * rr.prefix_cached_tokens
    assert aff.ttft_s.mean is not None and rr.ttft_s.mean is not None
    assert aff.ttft_s.mean < rr.ttft_s.mean


def test_autoscaler_scales_up_after_the_cold_start_and_down_to_zero() -> None:
    """A spike doubles the fleet; replicas are ready no sooner than the cold start; idle → zero."""
    auto = {
        "policy": "queue_length",
        "target": 8.0,
        "min_replicas": 0,
        "max_replicas": 6,
        "eval_interval_s": 5.0,
        "cooldown_s": 30.0,
        "cold_start_s": 90.0,
    }
    spec = {
        "deployment": {"model": "llama-3.1-8b"},
        "fleet": {"replicas": 1, "router": "least_outstanding", "autoscaler": auto},
        "traffic": {
            "rate_rps": 2.0,
            "duration_s": 1200.0,
            "spikes": [{"start_s": 300.0, "duration_s": 300.0, "multiplier": 15.0}],
            "output_tokens": {"kind": "fixed", "value": 400},
        },
    }
    r = simulate(spec_from_dict(spec))
    tl = r.timeline
    assert r.unfinished == 0 and r.dropped == 0
    assert tl.ready.max() > 1
    first_up = tl.t_s[np.argmax(tl.ready > 1)]
    first_start = tl.t_s[np.argmax(tl.starting > 0)]
    assert first_up - first_start >= 90.0 - 5.0
    fixed = simulate(spec_from_dict({**spec, "fleet": {"replicas": 6}}))
    assert r.gpu_hours_billed < fixed.gpu_hours_billed
    assert r.gpu_hours_billed >= r.gpu_hours_busy


def test_progress_reports_without_changing_the_result() -> None:
    spec = spec_from_dict(_fleet("least_outstanding", True))
    seen: list[float] = []
    with_progress = simulate(spec, seen.append)
    plain = simulate(spec)
    assert len(seen) > 10 and seen == sorted(seen) and seen[-1] == 1.0
    assert with_progress.steps == plain.steps
    assert np.array_equal(with_progress.outcomes.finish_s, plain.outcomes.finish_s)


def test_request_rate_autoscaler_holds_rate_over_target_replicas() -> None:
    """Flat 12 req/s with a target of 5 req/s per replica: ⌈12/5⌉ = 3 replicas once warmed up (Poisson
    counts over a 60 s window: 720 ± 27, so 2.4 ± 0.09 replicas' worth — always rounded up to 3)."""
    auto = {
        "policy": "request_rate",
        "target": 5.0,
        "min_replicas": 1,
        "max_replicas": 8,
        "eval_interval_s": 60.0,
        "cooldown_s": 120.0,
        "cold_start_s": 30.0,
    }
    spec = {
        "deployment": {"model": "llama-3.1-8b"},
        "fleet": {"replicas": 1, "autoscaler": auto},
        "traffic": {"rate_rps": 12.0, "duration_s": 1800.0, "output_tokens": {"kind": "fixed", "value": 100}},
    }
    r = simulate(spec_from_dict(spec))
    tl = r.timeline
    late = (tl.t_s > 300.0) & (tl.t_s < 1700.0)
    assert set(tl.ready[late].tolist()) == {3}
    assert r.gpu_hours_billed >= r.gpu_hours_busy


def test_a_fixed_fleet_bills_the_whole_duration_it_serves() -> None:
    """2 replicas for 600 s of traffic that stops at 300 s (a spike of multiplier 0): the fleet is up,
    and billed per second, for the whole 600 s — 2 × 600 s = 0.3333 GPU-hours — not only until its last
    request finished (the e-mail and enterprise scenario days end with a quiet night)."""
    spec = {
        "deployment": {"model": "llama-3.1-8b"},
        "fleet": {"replicas": 2},
        "traffic": {
            "rate_rps": 1.0,
            "duration_s": 600.0,
            "spikes": [{"start_s": 300.0, "duration_s": 300.0, "multiplier": 0.0}],
            "output_tokens": {"kind": "fixed", "value": 20},
        },
    }
    r = simulate(spec_from_dict(spec))
    assert r.outcomes.arrival_s[-1] < 300.0
    assert r.duration_s == pytest.approx(600.0)
    assert r.gpu_hours_billed == pytest.approx(2 * 600.0 / 3600.0)
