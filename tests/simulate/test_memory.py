"""A simulated day's per-request memory: compact arrays where exact, and a summary without copies.

Per request the run holds its inputs (arrival time float64; prompt, output, prefix group and prefix
tokens int32: 8 + 4 × 4 = 24 bytes) and the kernel's state (admission, first-token, finish and last-token
times float64: 32 bytes; computed, generated, held blocks, queue link, preemptions, cached tokens,
replica int32: 28 bytes; drop reason and prefix hold int8: 2 bytes), 86 bytes in all (it was 144 with
every array 8 bytes wide). Times stay float64: at 86,400 s a float32 resolves only ~8 ms.

The summary's latency percentiles stay exact (numpy's linear interpolation over every request): they
are checked here against the textbook formulas applied to the per-request outcomes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.errors import InputError
from flopbill.simulate import simulate, spec_from_dict
from flopbill.simulate.entities import MAX_REQUEST_TOKENS, Config, new_state
from flopbill.simulate.metrics import distribution
from flopbill.simulate.spec import Traffic
from flopbill.simulate.traffic import workload

_PER_REQUEST_STATE = [
    *("computed", "generated", "held_blocks", "next_in_queue", "admit_s", "first_token_s", "finish_s"),
    *("dropped", "preemptions", "cached_tokens", "last_token_s", "holds_prefix", "replica_of"),
]


def _config() -> Config:
    return Config(16, 100, 8, 2048, 1, 0, 2, 2, 2, 30.0, 0.7, 300.0, 0.0, np.inf, np.inf, 8, 1e9, 0.0)


def test_per_request_arrays_take_86_bytes() -> None:
    n = 1000
    st_ = new_state(n, _config(), 1, 4, 4)
    state_bytes = sum(getattr(st_, f).nbytes for f in _PER_REQUEST_STATE) / n
    tr = Traffic.model_validate({"rate_rps": 10.0, "requests": n, "prefix": {"groups": 2, "tokens": 64}})
    wl = workload(tr, 0, n)
    input_bytes = sum(a.nbytes for a in wl[:5]) / n
    assert (state_bytes, input_bytes) == (62.0, 24.0)
    assert wl.arrival_s.dtype == np.float64 and st_.finish_s.dtype == np.float64  # times stay exact


def test_a_length_int32_cannot_hold_is_refused_naming_the_field() -> None:
    tr = Traffic.model_validate(
        {"rate_rps": 1.0, "requests": 3, "output_tokens": {"kind": "fixed", "value": MAX_REQUEST_TOKENS + 1}}
    )
    with pytest.raises(InputError, match=r"traffic\.output_tokens"):
        workload(tr, 0, 3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_percentiles_in_place_are_the_same_figures(values: list[float]) -> None:
    a = np.array(values)
    assert distribution(a.copy(), overwrite=True) == distribution(a)


def test_summary_latencies_are_the_formulas_over_every_request() -> None:
    """An overloaded replica with a queue timeout: some requests drop, some never get admitted, so the
    summary selects finished / admitted / multi-token requests (the copying path) — against numpy on
    the outcome arrays directly: TTFT = first − arrival, E2E = finish − arrival,
    TPOT = (finish − first) / (output − 1), queue wait = admit − arrival."""
    spec = {
        "deployment": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
        "fleet": {"replicas": 1},
        "queue_timeout_s": 5.0,
        "slo": {"ttft_s": 2.0, "tpot_s": 0.05},
        "traffic": {
            "arrivals": "gamma",
            "cv": 3.0,
            "rate_rps": 60.0,
            "requests": 3000,
            "input_tokens": {"kind": "fixed", "value": 2000},
            "output_tokens": {"kind": "uniform", "low": 1, "high": 600},
        },
    }
    r = simulate(spec_from_dict(spec))
    o = r.outcomes
    fin = ~np.isnan(o.finish_s)
    assert 0 < fin.sum() < fin.size and r.dropped > 0
    ttft = (o.first_token_s - o.arrival_s)[fin]
    multi = fin & (o.output_tokens > 1)
    tpot = (o.finish_s[multi] - o.first_token_s[multi]) / (o.output_tokens[multi] - 1.0)
    admitted = ~np.isnan(o.admit_s)
    for got, want in (
        (r.ttft_s, ttft),
        (r.e2e_s, (o.finish_s - o.arrival_s)[fin]),
        (r.tpot_s, tpot),
        (r.queue_wait_s, (o.admit_s - o.arrival_s)[admitted]),
    ):
        assert got.p50 == pytest.approx(np.percentile(want, 50), rel=1e-12)
        assert got.p99 == pytest.approx(np.percentile(want, 99), rel=1e-12)
        assert got.mean == pytest.approx(want.mean(), rel=1e-12)
    tpot_all = np.zeros(fin.size)
    tpot_all[multi] = tpot
    good = fin & ((o.first_token_s - o.arrival_s) <= 2.0) & (tpot_all <= 0.05)
    assert r.goodput_fraction == pytest.approx(good.sum() / o.arrival_s.size)
    assert r.input_tokens == int(o.prompt_tokens[fin].sum())
    assert r.output_tokens == int(o.output_tokens[fin].sum())


def test_step_tables_stop_at_what_a_replica_can_hold() -> None:
    """A request longer than one replica's KV cache is dropped on arrival, so the step tables (one entry
    per context token) need not reach it: one 500 M-token request among short ones would otherwise build
    tables of 5·10⁸ entries (GBs each). Hand rule: covered context = min(longest request, KV blocks ×
    block tokens); the run still drops that request as too long and serves the others."""
    from flopbill.simulate.api import table_context_tokens, tables_for

    spec = spec_from_dict(
        {
            "deployment": {"model": "llama-3.1-8b", "gpu": "h100-sxm"},
            "fleet": {"replicas": 1},
            "traffic": {"rate_rps": 1.0, "requests": 5, "output_tokens": {"kind": "fixed", "value": 10}},
        }
    )
    wl = workload(spec.traffic, 0, 5)
    wl = wl._replace(prompt_tokens=wl.prompt_tokens.copy())
    wl.prompt_tokens[2] = 500_000_000
    probe = tables_for(spec, 2)
    capacity = probe.kv_blocks * probe.block_tokens
    assert 100_000 < capacity < 500_000_000
    assert table_context_tokens(spec, wl) == capacity
    short = wl._replace(prompt_tokens=np.full(5, 1000, wl.prompt_tokens.dtype))
    assert table_context_tokens(spec, short) == 1010  # the longest request when it fits
