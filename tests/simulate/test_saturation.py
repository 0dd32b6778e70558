"""At saturation, continuous batching delivers the serving estimator's max-batch throughput (within 5 %).

Every request arrives at once (far above capacity), so the replica runs at its batch cap the whole time.
The estimator's figure (``estimate_serving`` at ``batch = max``: output tokens per GPU-second over whole
requests, prefill included) is the analytic answer; the simulated figure is the finishing rate between
the 20th and 80th percentile of finish times (no ramp-up, no drain) × output tokens. The two differ by
construction in one way: the simulator runs prefill chunks inside decode steps (vLLM v1), the estimator
adds prefill compute to decode time.

The replica's ``max_seqs`` is set to the estimator's batch (the most sequences whose full-length KV fits,
capped at the engine's 256), so both run the same batch. With more seats than that, vLLM-style on-demand
block allocation admits more sequences, runs out of blocks and preempts: the simulated throughput then
falls 5-6 % below the estimator's (docs/simulation.md, "Saturation").
"""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.catalog import accelerator, resolve_model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving
from flopbill.simulate import simulate, spec_from_dict


@pytest.mark.parametrize(
    ("model", "gpu", "tp", "inp", "out"),
    [
        ("llama-3.1-8b", "h100-sxm", 1, 1000, 300),
        ("llama-3.1-8b", "h100-sxm", 1, 4000, 500),
        ("llama-3.1-70b", "h100-sxm", 4, 2000, 200),
    ],
)
def test_saturated_throughput_matches_estimator(model: str, gpu: str, tp: int, inp: int, out: int) -> None:
    n = 3000
    acc = accelerator(gpu)
    est = estimate_serving(
        resolve_model(model),
        acc,
        inp,
        out,
        ServingOptions(tp=tp),
        hardware_efficiency(acc.id),
        engine_profile("vllm"),
    )
    spec = {
        "deployment": {"model": model, "gpu": gpu, "tp": tp, "max_seqs": est.max_batch},
        "fleet": {"replicas": 1},
        "traffic": {
            "rate_rps": 1e6,
            "requests": n,
            "input_tokens": {"kind": "fixed", "value": inp},
            "output_tokens": {"kind": "fixed", "value": out},
        },
    }
    r = simulate(spec_from_dict(spec))
    assert r.finished == n
    f = np.sort(r.outcomes.finish_s)
    lo, hi = int(0.2 * n), int(0.8 * n)
    sim_tokens_per_s = (hi - lo) * out / (f[hi] - f[lo])
    assert r.preemptions == 0
    assert sim_tokens_per_s == pytest.approx(est.output_tokens_per_s_per_gpu * tp, rel=0.05)
