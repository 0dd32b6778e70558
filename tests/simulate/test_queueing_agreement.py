"""The simulation agrees with queueing theory where queueing theory applies.

One request per replica (``max_seqs = 1``), one fleet-wide FIFO (``central_queue``), Poisson arrivals and a
geometric number of output tokens (the discrete exponential: service ``S ≈ n·τ`` has CV² = 1 − 1/mean =
0.995) make the fleet an M/M/c queue. Its waiting time has a closed form (Erlang 1917; Kleinrock 1975,
"Queueing Systems" vol. 1, §3.5), written out here by hand, independent of flopbill::

    C(c, a) = (a^c / c! · c/(c − a)) / (Σ_{k<c} a^k/k! + a^c / c! · c/(c − a)),   a = λ·E[S]
    E[W]    = C / (c·μ − λ),       P(W > t) = C·exp(−(c·μ − λ)·t)  ⇒  t_90 = ln(C / 0.1) / (c·μ − λ)

``μ = 1/E[S]`` is taken from the service times the run produced (finish − admission), so the test checks
the queueing dynamics (routing, admission, FIFO order) for the service the physics gave.
Hand check for c = 2, ρ = 0.7 (a = 1.4): C = 2ρ²/(1 + ρ) = 0.98/1.7 = 0.5765; the formula above gives
(0.98 · 2/0.6) / (1 + 1.4 + 0.98 · 2/0.6) = 3.267/5.667 = 0.5765 ✓.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from flopbill.simulate import simulate, spec_from_dict

SERVERS = 2
MEAN_OUTPUT = 200
N_REQUESTS = 200_000


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load ``a`` erlangs (closed form above)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_hand_value() -> None:
    """C(2, 1.4) = 2ρ²/(1 + ρ) with ρ = 0.7 (the two-server special case)."""
    assert erlang_c(2, 1.4) == pytest.approx(2 * 0.7**2 / 1.7, rel=1e-12)


def _spec(rate_rps: float, n: int) -> dict[str, object]:
    return {
        "deployment": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "max_seqs": 1},
        "fleet": {"replicas": SERVERS, "router": "central_queue"},
        "traffic": {
            "rate_rps": rate_rps,
            "requests": n,
            "input_tokens": {"kind": "fixed", "value": 1},
            "output_tokens": {"kind": "exponential", "mean": MEAN_OUTPUT},
        },
        "seed": 7,
    }


def _mean_service_s() -> float:
    r = simulate(spec_from_dict(_spec(0.01, 2000)))
    o = r.outcomes
    return float(np.mean(o.finish_s - o.admit_s))


@pytest.mark.parametrize("rho", [0.5, 0.7, 0.8, 0.9])
def test_mmc_wait_matches_erlang_c(rho: float) -> None:
    """Mean and P90 queue wait within 5 % of M/M/c (warm-up: the first 5 % of requests dropped)."""
    rate = rho * SERVERS / _mean_service_s()
    r = simulate(spec_from_dict(_spec(rate, N_REQUESTS)))
    o = r.outcomes
    keep = slice(N_REQUESTS // 20, None)
    wait = (o.admit_s - o.arrival_s)[keep]
    service = float(np.mean((o.finish_s - o.admit_s)[keep]))
    mu = 1.0 / service
    c_wait = erlang_c(SERVERS, rate * service)
    mean_w = c_wait / (SERVERS * mu - rate)
    p90_w = math.log(c_wait / 0.1) / (SERVERS * mu - rate)
    assert float(np.mean(wait)) == pytest.approx(mean_w, rel=0.05)
    assert float(np.percentile(wait, 90)) == pytest.approx(p90_w, rel=0.05)
