"""Queueing under load: Erlang C, M/M/c waits and fleet sizing in the serving search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.estimate.serving.queueing import (
    erlang_c,
    log_erlang_b,
    mean_wait_s,
    replicas_for_wait,
    wait_quantile_s,
)
from flopbill.estimate.serving.search import Candidate, SearchGrid, SearchResult, Slo, search_serving


def _erlang_b_recursion(c: int, a: float) -> float:
    """Reference: ``B(0) = 1``, ``B(k) = a·B(k−1) / (k + a·B(k−1))`` (the standard stable recursion)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


@pytest.mark.parametrize("rho", [0.01, 0.3, 0.5, 0.9, 0.999])
def test_erlang_c_one_server_is_rho(rho: float) -> None:
    """M/M/1: an arrival waits iff the server is busy, probability ρ (Kleinrock 1975, §3.2): C(1, ρ) = ρ."""
    assert erlang_c(1, rho) == pytest.approx(rho, rel=1e-12)


@pytest.mark.parametrize("rho", [0.01, 0.3, 0.5, 0.9, 0.999])
def test_erlang_c_two_servers_closed_form(rho: float) -> None:
    """M/M/2, a = 2ρ: B = (a²/2)/(1 + a + a²/2) = 2ρ²/(1 + 2ρ + 2ρ²); C = B/(1 − ρ(1 − B)) = 2ρ²/(1 + ρ).

    E.g. ρ = 0.5: 2·0.25/1.5 = 1/3.
    """
    assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-12)


def test_erlang_c_half_load_two_servers_by_hand() -> None:
    """ρ = 0.5, c = 2 (a = 1): 2·0.25/1.5 = 1/3."""
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=1e-12)


@pytest.mark.parametrize("c", [3, 10, 63, 64, 200, 1000, 10_000, 100_000])
@pytest.mark.parametrize("rho", [0.1, 0.7, 0.95, 0.999, 1.3])
def test_erlang_b_matches_the_recursion(c: int, rho: float) -> None:
    """Jagerman's integral by quadrature agrees with the Erlang B recursion (rel. 1e-8) up to c = 1e5."""
    ref = _erlang_b_recursion(c, rho * c)
    if ref < 1e-300:  # the reference underflows; the log stays finite
        assert np.isfinite(log_erlang_b(c, rho * c)) and log_erlang_b(c, rho * c) < -600
        return
    assert math.exp(log_erlang_b(c, rho * c)) == pytest.approx(ref, rel=1e-8)


def test_erlang_c_is_stable_at_large_c() -> None:
    """c = 1e5: C lies in (0, 1) near ρ → 1 and tends to 1 as ρ → 1, with no overflow or NaN."""
    c = 100_000.0
    values = erlang_c(c, c * np.array([0.99, 0.999, 0.9999, 0.99999]))
    assert np.all((values > 0) & (values < 1)) and np.all(np.diff(values) > 0)
    assert erlang_c(c, 1.5 * c) == 1.0  # overloaded: everybody waits


def test_mm1_mean_wait_by_hand() -> None:
    """M/M/1 with λ = 0.5/s, S = 1 s (μ = 1/s): W = ρ/(μ − λ) = 0.5/0.5 = 1 s."""
    assert mean_wait_s(1, 0.5, 1.0) == pytest.approx(1.0, rel=1e-12)
    assert mean_wait_s(1, 1.0, 1.0) == math.inf  # ρ = 1


def test_mm1_wait_quantile_by_hand() -> None:
    """M/M/1, λ = 0.5/s, S = 1 s: P(wait > t) = ρ·e^(−(μ−λ)t), so t_90 = ln(0.5/0.1)/0.5 = 3.2189 s.

    P50: ln(0.5/0.5) = 0 → no wait (half the arrivals find the server idle).
    """
    assert wait_quantile_s(1, 0.5, 1.0, 0.9) == pytest.approx(2 * math.log(5), rel=1e-12)
    assert wait_quantile_s(1, 0.5, 1.0, 0.5) == pytest.approx(0.0, abs=1e-12)


def test_wait_vanishes_as_load_vanishes() -> None:
    """λ → 0 at c = 64 slots of S = 10 s: the mean wait and the P99 wait go to 0."""
    lam = np.array([1e-1, 1e-3, 1e-6, 0.0])
    w = mean_wait_s(64, lam, 10.0)
    assert np.all(np.diff(w) <= 0) and w[-1] == 0.0 and w[-2] < 1e-100
    assert np.all(wait_quantile_s(64, lam, 10.0, 0.99) == 0.0)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5000),
    st.floats(0.01, 100.0),
    st.floats(0.0, 0.999),
    st.floats(0.5, 0.999),
)
def test_wait_never_falls_as_arrivals_rise(c: int, service_s: float, rho: float, p: float) -> None:
    """At fixed slots and service time, more arrivals never shorten the mean or the p-quantile wait."""
    lam = np.linspace(0.0, rho, 17) * c / service_s
    mean = mean_wait_s(c, lam, service_s)
    quant = wait_quantile_s(c, lam, service_s, p)
    assert np.all(np.diff(mean) >= -1e-12 * mean[1:])
    assert np.all(np.diff(quant) >= -1e-12 * quant[1:])


def test_replicas_for_wait_by_hand() -> None:
    """λ = 0.5/s, one slot per replica, s = 1 s, P90 wait budget 1 s.

    1 replica: M/M/1 at ρ = 0.5, t_90 = ln(0.5/0.1)/0.5 = 3.22 s > 1 s. 2 replicas: a = 0.5, ρ = 0.25,
    C = 2ρ²/(1 + ρ) = 0.125/1.25 = 0.1 = 1 − p, so t_90 = ln(1) / (2 − 0.5) = 0 ≤ 1 s → 2 replicas.
    With a 4 s budget one replica is enough (wait 3.22 s).
    """
    r, w = replicas_for_wait(0.5, 1.0, 1.0, 1.0, np.array([1.0, 4.0]), 0.9)
    assert list(r) == [2.0, 1.0]
    assert w == pytest.approx([0.0, 2 * math.log(5)], abs=1e-9)


def test_replicas_for_wait_unreachable_budget_is_infinite() -> None:
    """P100 of an exponential wait is unbounded: a finite budget is never met (inf); an infinite one is."""
    r, w = replicas_for_wait(0.5, 1.0, 1.0, 1.0, np.array([1.0, math.inf]), 1.0)
    assert r[0] == math.inf and w[0] == math.inf
    assert r[1] == 1.0


def _search(rps: float, slo: Slo, batches: tuple[int, ...] = (1, 4, 16, 64, 256)) -> SearchResult:
    acc = accelerator("h100-sxm")
    cands = [Candidate(acc, hardware_efficiency(acc.id)[0], 2.0)]
    grid = SearchGrid(tps=(1,), weights=(Dtype.FP8,), batches=batches)
    return search_serving(model("llama-3.1-8b"), cands, engine_profile("vllm"), 1000, 250, rps, slo, grid)


def _throughput_minimum(res: SearchResult, rps: float, output_tokens: float = 250.0) -> object:
    """Replica-seconds per request ``s = O/(tp·tokens/s/GPU)``; the pre-queueing minimum is ``⌈rps·s⌉``."""
    s = output_tokens / (res.tp * res.output_tokens_per_s_per_gpu)
    return rps * s


@pytest.mark.parametrize("rps", [0.5, 5.0, 50.0, 500.0])
def test_search_never_returns_fewer_replicas_than_throughput_minimum(rps: float) -> None:
    """Every feasible configuration: replicas ≥ rps·s (the old ``ceil``) and the fleet is stable (ρ < 1)."""
    res = _search(rps, Slo(0.5, 0.05))
    ok = res.feasible
    assert ok.any()
    need = _throughput_minimum(res, rps)
    assert np.all(res.replicas[ok] >= np.asarray(need)[ok] * (1 - 1e-12))
    assert np.all(res.utilization[ok] < 1.0)
    assert np.all(res.ttft_s[ok] <= 0.5)


def test_tiny_load_gives_the_old_minimum_and_no_wait() -> None:
    """rps = 1e-6: one replica (⌈1e-6·s⌉ = 1) and a zero P90 wait for every feasible configuration."""
    res = _search(1e-6, Slo(0.5, 0.05))
    ok = res.feasible
    assert ok.any() and np.all(res.replicas[ok] == 1.0) and np.all(res.queue_wait_s[ok] == 0.0)


def test_slo_forces_extra_replicas() -> None:
    """Batch 1 (one slot per replica), 50 requests/s, P90 TTFT ≤ 0.5 s.

    A request holds its replica for s ≈ 1.16 s (prefill + 250 decode steps of ~4.6 ms), so the throughput
    minimum is ⌈50·s⌉ ≈ 58 replicas at ρ ≈ 0.99; with ~58 slots the M/M/c P90 wait is several seconds,
    far over the 0.5 s budget. The search adds replicas until the P90 TTFT fits, and no more: one replica
    fewer misses it.
    """
    tight = _search(50.0, Slo(0.5, 0.05), batches=(1,))
    loose = _search(50.0, Slo(math.inf, 0.05), batches=(1,))
    need = float(np.asarray(_throughput_minimum(tight, 50.0))[0])
    assert tight.feasible[0] and loose.feasible[0]
    assert loose.replicas[0] == max(math.ceil(need), math.floor(need) + 1)
    assert tight.replicas[0] > loose.replicas[0]
    assert tight.ttft_s[0] <= 0.5 and tight.utilization[0] < loose.utilization[0]
    s = need / 50.0
    fewer = wait_quantile_s(tight.replicas[0] - 1.0, 50.0, s, 0.9)
    ttft_service = tight.ttft_s[0] - tight.queue_wait_s[0]
    assert ttft_service + fewer > 0.5
