"""Disaggregated prefill/decode pools: pool sizes from per-request seconds, KV transfer over the NIC."""

from __future__ import annotations

import math

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import ServingOptions
from flopbill.estimate.serving.disaggregated import disaggregated_fleet


def _fleet(gpu: str = "h100-sxm", rps: float = 20.0, batch: int = 64):  # type: ignore[no-untyped-def]
    acc = accelerator(gpu)
    return disaggregated_fleet(
        model("llama-3.1-70b"),
        acc,
        hardware_efficiency(acc.id)[0],
        engine_profile("vllm"),
        2000,
        250,
        rps,
        ServingOptions(tp=4, weights=Dtype.FP8),
        ServingOptions(tp=4, weights=Dtype.FP8, batch=batch),
        3.0,
    )


def test_kv_transfer_hand_calculation() -> None:
    """Llama 3.1 70B bf16 KV: 327,680 B/token · 2000 tokens = 655.36 MB over 4 NICs of 50 GB/s = 3.28 ms."""
    f = _fleet()
    assert f.kv_transfer_s == pytest.approx(327_680 * 2000 / (4 * 50e9))


def test_pools_follow_per_request_seconds() -> None:
    """replicas = ceil(rps · seconds per request); GPUs = Σ replicas · TP; $ = GPUs · price / 3600 / rps."""
    f = _fleet()
    assert f.prefill_replicas == math.ceil(20 * f.prefill_s_per_request)
    assert f.decode_replicas == math.ceil(20 * f.decode_s_per_request)
    assert f.gpus == 4 * (f.prefill_replicas + f.decode_replicas)
    assert f.cost_usd_per_request == pytest.approx(f.gpus * 3.0 / 3600 / 20)
    assert f.ttft_s > f.kv_transfer_s > 0


def test_decode_tpot_has_no_prefill_interference() -> None:
    """The decode pool's TPOT is the plain step: it does not grow with the request rate."""
    assert _fleet(rps=5).tpot_s == pytest.approx(_fleet(rps=50).tpot_s)


def test_unknown_network_is_an_error() -> None:
    """MI355X has no per-GPU network figure in the data: no KV transfer time, so no answer."""
    with pytest.raises(InputError, match="network"):
        _fleet("mi355x")
