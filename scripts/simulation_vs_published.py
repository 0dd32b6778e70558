"""Print the simulation's error table against published online-serving measurements (docs/simulation.md).

Each case replays the benchmark's client as a closed loop of ``C`` concurrent requests
(``vllm bench serve --max-concurrency C --request-rate inf``): every request is queued at t = 0 and the
replica runs at most ``C`` at once, which is what a client that keeps ``C`` in flight produces.
Run: ``python scripts/simulation_vs_published.py``.
"""

from __future__ import annotations

import statistics

from flopbill.simulate import simulate, spec_from_dict

# (label, gpu, concurrency, input, output, metric, published value, source)
CASES = [
    (
        "A100-40GB C=1 decode tok/s (1/TPOT)",
        "a100-40gb",
        1,
        1024,
        128,
        "decode_tok_s",
        75.0,
        "johnmusgrave.com/p/vllm-throughput-latency-sweep-on (vLLM 0.23.0, 1024→128, 'about 75 tokens/sec')",
    ),
    (
        "A100-40GB C=8 output tok/s",
        "a100-40gb",
        8,
        1024,
        128,
        "tok_s",
        6.6 * 75.0,
        "same page: '6.6x gain' at C=8 over C=1 (6.6 × 75)",
    ),
    (
        "H100 C=1 TPOT p50 (ms)",
        "h100-sxm",
        1,
        256,
        256,
        "tpot_ms",
        6.48,
        "yobitelcomm.github.io/bench/recipes/concurrency-sweep (vLLM 0.21.0, fp16, 2026-05-16; "
        "lengths not stated: 256 → 256 assumed)",
    ),
    ("H100 C=4 TPOT p50 (ms)", "h100-sxm", 4, 256, 256, "tpot_ms", 6.59, "same page"),
    ("H100 C=16 TPOT p50 (ms)", "h100-sxm", 16, 256, 256, "tpot_ms", 10.94, "same page"),
]


def simulated(gpu: str, c: int, inp: int, out: int, metric: str) -> float:
    """Return the simulated metric of a closed loop of ``c`` requests (20·c requests in all)."""
    spec = {
        "deployment": {"model": "llama-3.1-8b", "gpu": gpu, "max_seqs": c},
        "fleet": {"replicas": 1},
        "traffic": {
            "rate_rps": 1e9,
            "requests": 20 * c,
            "input_tokens": {"kind": "fixed", "value": inp},
            "output_tokens": {"kind": "fixed", "value": out},
        },
    }
    r = simulate(spec_from_dict(spec))
    if metric == "tok_s":
        return r.output_tokens_per_s
    assert r.tpot_s.p50 is not None
    if metric == "decode_tok_s":
        return 1.0 / r.tpot_s.p50
    return r.tpot_s.p50 * 1e3


def main() -> None:
    """Print a markdown table and the median |error|."""
    errors = []
    print("| case | published | simulated | error | source |")
    print("|---|---:|---:|---:|---|")
    for label, gpu, c, inp, out, metric, pub, src in CASES:
        sim = simulated(gpu, c, inp, out, metric)
        err = sim / pub - 1.0
        errors.append(abs(err))
        print(f"| {label} | {pub:,.2f} | {sim:,.2f} | {err:+.1%} | {src} |")
    print(f"\nmedian |error|: {statistics.median(errors):.1%} over {len(errors)} cases")


if __name__ == "__main__":
    main()
