"""Pipeline parallelism in the search and in capacity: which depths are searched, and one config by hand.

Llama 3.1 405B in bf16 does not fit one 8-GPU H100 node: 2 B × 405.85e9 parameters = 811.7 GB, 101.5 GB
per GPU at TP8, above an H100's 85.52e9 bytes (81,559 MiB). With 2 pipeline stages of TP8 (16 GPUs,
two nodes) each GPU holds half the layers: 51.3 GB, which fits. So a search over TP 1, 2, 4, 8 finds
nothing at PP 1 and finds configurations only with PP > 1, beyond the 8-GPU NVLink domain.
"""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving
from flopbill.estimate.serving.pipeline import stage_model
from flopbill.estimate.serving.search import (
    AUTO_PPS,
    Candidate,
    SearchGrid,
    Slo,
    cheapest,
    search_serving,
    why_nothing_meets,
)

M405 = model("llama-3.1-405b")
PRICE = 3.0
VLLM = engine_profile("vllm")


def _cands(*gpus: str) -> list[Candidate]:
    return [Candidate(accelerator(g), hardware_efficiency(g)[0], PRICE) for g in gpus]


def _grid(**kw: object) -> SearchGrid:
    return SearchGrid(weights=(Dtype.BF16,), **kw)  # type: ignore[arg-type]


def test_405b_bf16_fits_only_with_pp_across_nodes() -> None:
    """PP 1 alone: nothing fits at TP ≤ 8 (and the reason names `pp`); the default grid adds PP 2/4/8 for
    that combination, and every fitting configuration spans more than one 8-GPU node (tp·pp ≥ 16)."""
    alone = search_serving(M405, _cands("h100-sxm"), VLLM, 2000, 250, 1.0, Slo(), _grid(pps=(1,)))
    assert not alone.fits.any()
    assert "`pp`" in why_nothing_meets(alone, M405, Slo())
    auto = search_serving(M405, _cands("h100-sxm"), VLLM, 2000, 250, 1.0, Slo(), _grid())
    assert set(auto.pp.tolist()) == {1, AUTO_PPS[0]}  # PP 2 fits, so 4 and 8 are not tried
    fitting = auto.fits
    assert fitting.any() and (auto.pp[fitting] > 1).all()
    assert (auto.tp[fitting] * auto.pp[fitting] >= 16).all()
    assert (auto.gpus[fitting] == auto.replicas[fitting] * auto.tp[fitting] * auto.pp[fitting]).all()
    best = cheapest(auto, 3)
    assert len(best) and all(auto.pp[i] > 1 for i in best)


def test_405b_tp8_pp2_weights_per_gpu_by_hand() -> None:
    """Last stage of 2: ceil(126/2) = 63 layers + embedding + head (flopbill keeps both in it).

    Per layer (d 16384, 128 query / 8 KV heads of 128, d_ff 53248): 2·d² + 2·d·1024 + 3·d·d_ff + 2·d
    = 3,187,703,808; 63 layers = 200,825,339,904; embedding and head 2·128256·16384 = 4,202,692,608;
    final norm 16384: 205,028,048,896 parameters, × 2 B / TP8 = 51,257,012,224 B per GPU.
    """
    d, ff, vocab = 16384, 53248, 128256
    layer = 2 * d * d + 2 * d * 8 * 128 + 3 * d * ff + 2 * d
    expected = (63 * layer + 2 * vocab * d + d) * 2 / 8
    assert expected == 51_257_012_224
    acc = accelerator("h100-sxm")
    opt = ServingOptions(tp=8, pp=2, weights=Dtype.BF16, batch=16)
    est = estimate_serving(M405, acc, 2000, 250, opt, hardware_efficiency(acc.id), VLLM, PRICE)
    assert est.weights_bytes_per_gpu == pytest.approx(expected, rel=1e-9)
    assert est.weights_bytes_per_gpu < est.memory_bytes_per_gpu < 2 * expected  # PP1 (2× per GPU) cannot fit


def test_search_row_is_the_pipeline_estimate() -> None:
    """The search evaluates the same pipeline model as `serve --pp`: TP8 × PP2 at batch 16 gives the same
    throughput per GPU, and its cost is GPUs × price / 3600 / rate with GPUs = replicas × 8 × 2."""
    rate = 1.0
    res = search_serving(M405, _cands("h100-sxm"), VLLM, 2000, 250, rate, Slo(), _grid(tps=(8,), pps=(2,)))
    i = int(np.flatnonzero((res.tp == 8) & (res.pp == 2) & (res.batch == 16))[0])
    acc = accelerator("h100-sxm")
    opt = ServingOptions(tp=8, pp=2, weights=Dtype.BF16, batch=16)
    est = estimate_serving(M405, acc, 2000, 250, opt, hardware_efficiency(acc.id), VLLM, PRICE)
    assert res.output_tokens_per_s_per_gpu[i] == pytest.approx(est.output_tokens_per_s_per_gpu, rel=1e-12)
    assert res.gpus[i] == res.replicas[i] * 16
    assert res.cost_usd_per_request[i] == pytest.approx(res.gpus[i] * PRICE / 3600 / rate)


def test_search_honours_the_pp_list() -> None:
    """A given list is searched as given (every configuration once per depth); a model that fits at PP 1
    gets no automatic PP; an unknown network beyond the domain makes a PP config not fit."""
    m = model("llama-3.1-70b")
    grid = SearchGrid(weights=(Dtype.FP8,), tps=(2, 4), batches=(8, 32))
    one = search_serving(m, _cands("h100-sxm"), VLLM, 1000, 200, 5.0, Slo(), grid)
    assert set(one.pp.tolist()) == {1} and one.n_evaluated == 4
    two = search_serving(
        m, _cands("h100-sxm"), VLLM, 1000, 200, 5.0, Slo(), SearchGrid(**{**grid.__dict__, "pps": (1, 2, 4)})
    )
    assert two.n_evaluated == 12 and sorted(set(two.pp.tolist())) == [1, 2, 4]
    only4 = search_serving(
        m, _cands("h100-sxm"), VLLM, 1000, 200, 5.0, Slo(), SearchGrid(**{**grid.__dict__, "pps": (4,)})
    )
    assert set(only4.pp.tolist()) == {4} and only4.fits.any()
    # MI325X (bf16; its FP8 rate is not in the catalog): an 8-GPU domain with an unknown network, so
    # TP2 × PP4 = 8 GPUs fits and TP4 × PP4 = 16 GPUs cannot be priced
    mi = search_serving(
        m,
        _cands("mi325x"),
        VLLM,
        1000,
        200,
        5.0,
        Slo(),
        SearchGrid(**{**grid.__dict__, "pps": (4,), "weights": (Dtype.BF16,)}),
    )
    assert not mi.fits[mi.tp == 4].any() and mi.fits[mi.tp == 2].any()


def test_pp_refusals() -> None:
    """Depths beyond the layers and PP with a length distribution are input errors."""
    with pytest.raises(InputError, match="pp"):
        search_serving(
            model("llama-3.1-8b"), _cands("h100-sxm"), VLLM, 1000, 200, 1.0, Slo(), _grid(pps=(64,))
        )


def test_405b_tp8_pp2_tpot_by_hand() -> None:
    """TPOT of TP8 × PP2 at batch 16 = 2 stage steps at the micro-batch of 8 + one hand-off.

    M = min(2, 16) = 2 micro-batches of 8 sequences. The hand-off crosses nodes (16 GPUs > the 8-GPU
    NVLink domain), so it runs on the 400 Gb/s NIC, 50 GB/s one way (DGX H100 User Guide):
    8 tokens × 16384 × 2 B (bf16 activations) = 262,144 B / 50e9 B/s = 5.24 µs, plus the 8 µs link latency
    (the catalog's all-reduce latency for Hopper) = 13.24 µs. The stage step is the estimate of the stage
    model (63 layers + head) at batch 8 alone, without the pipeline.
    """
    acc, eff = accelerator("h100-sxm"), hardware_efficiency("h100-sxm")
    pp2 = estimate_serving(M405, acc, 2000, 250, ServingOptions(tp=8, pp=2, batch=16), eff, VLLM, PRICE)
    stage = stage_model(M405, 2)
    one = estimate_serving(stage, acc, 2000, 250, ServingOptions(tp=8, batch=8), eff, VLLM, PRICE)
    hand_off = 8 * 16384 * 2 / (2 * 400e9 / 8 / 2) + 8e-6
    assert hand_off == pytest.approx(13.24288e-6)
    assert eff[0].allreduce_latency_s.value == 8e-6
    assert pp2.tpot_s == pytest.approx(2 * one.tpot_s + hand_off, rel=1e-12)
