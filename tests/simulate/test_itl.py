"""Inter-token latency percentiles against the step times written out by hand.

``B`` requests of ``P`` prompt tokens wait for one replica (it starts at t = 0 and is ready 1 s
later) whose token budget holds every prompt: step 1 prefills all of them and samples each one's first
token; from then on the batch decodes together and each step samples one token per request. Token
``j ≥ 2`` is computed from the ``P + j − 1``-th position, so its gap (the step's length) is, from
the serving estimator's tables,

    g_j = linear_s[B] + B · decode_attention_s[P + j − 1],   j = 2 … O,

each ``B`` times. The ITL percentiles are the inverse of that distribution (the ``⌈p·N/100⌉``-th
smallest of ``N = B·(O − 1)`` gaps), to the histogram's 0.1 % bins; the mean is exact. The kernel runs
these steps as decode runs (many steps per event), so this checks the run's gap accounting.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from flopbill.simulate import simulate, spec_from_dict
from flopbill.simulate.api import tables_for
from flopbill.simulate.metrics import PERCENTILES


@pytest.mark.parametrize(("batch", "prompt", "output"), [(8, 500, 400), (1, 100, 50), (32, 64, 1000)])
def test_itl_of_one_decoding_batch(batch: int, prompt: int, output: int, tmp_path: Path) -> None:
    trace = tmp_path / "at-once.csv"
    auto = {"policy": "queue_length", "target": 1e6, "max_replicas": 1, "cold_start_s": 1.0}
    trace.write_text("arrival_s,input_tokens,output_tokens\n" + f"0,{prompt},{output}\n" * batch)
    spec = spec_from_dict(
        {
            "deployment": {"model": "llama-3.1-8b", "max_seqs": batch, "token_budget": batch * prompt},
            "traffic": {"arrivals": "trace", "trace": str(trace)},
            # no replica at t = 0; one starts and is ready at 1 s with every request waiting for it
            "fleet": {"replicas": 0, "autoscaler": auto},
        }
    )
    r = simulate(spec)
    assert r.finished == batch and r.preemptions == 0
    tb = tables_for(spec, prompt + output)
    j = np.arange(2, output + 1)
    gaps = np.repeat(tb.linear_s[batch] + batch * tb.decode_attention_s[prompt + j - 1], batch)
    gaps.sort()
    assert r.itl_s.mean == pytest.approx(float(gaps.mean()), rel=1e-9)
    got = (r.itl_s.p50, r.itl_s.p90, r.itl_s.p95, r.itl_s.p99)
    for p, value in zip(PERCENTILES, got, strict=True):
        want = gaps[max(math.ceil(p / 100.0 * gaps.size), 1) - 1]
        assert value == pytest.approx(float(want), rel=1e-3), p


def test_a_single_output_token_has_no_gap() -> None:
    spec = {"deployment": {"model": "llama-3.1-8b"}, "traffic": {"rate_rps": 5.0, "requests": 20}}
    spec["traffic"]["output_tokens"] = {"kind": "fixed", "value": 1}  # type: ignore[index]
    r = simulate(spec_from_dict(spec))
    assert r.itl_s.mean is None and r.itl_s.p99 is None
    assert r.to_dict()["itl_s"]["p50"] is None
