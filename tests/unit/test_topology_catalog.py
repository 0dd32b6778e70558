"""Scale-up domains and scale-out networks in the accelerator catalog, against the vendors' figures.

Expected values are written here from the documents, not read from the catalog's inputs:
- HGX/DGX H100 and H200, HGX B200: 8 GPUs on NVLink, one 400 Gb/s NIC per GPU (DGX H100 User Guide;
  MLPerf system descriptions). 400 Gb/s each way = 50 GB/s, 100 GB/s bidirectional.
- DGX B300: 8 GPUs, one ConnectX-8 800 Gb/s per GPU = 200 GB/s bidirectional.
- GB200 NVL72: 72 GPUs on one NVLink 5 domain (1.8 TB/s per GPU), 400 Gb/s per GPU beyond the rack;
  GB300 NVL72: 72 GPUs, ConnectX-8 800 Gb/s per GPU.
- MI300X: 8 GPUs on Infinity Fabric, 8 × 400 Gb/s NDR per 8-GPU VM (Azure ND MI300X v5).
- TPU7x Ironwood: 9,216 chips per pod on ICI at 9.6 Tb/s = 1.2 TB/s per chip, 192 GiB HBM per chip.
- Trainium3: 144 devices per Trn3 Gen2 UltraServer, NeuronLink-v4 2.56 TB/s, 144 GiB HBM at 4.9 TB/s.
- MI355X dense FP8: 8,192 FLOP/clock per CU × 256 CUs × 2.4 GHz = 5.0332e15 FLOP/s.
- DGX A100 (A100 whitepaper): 8 GPUs on six NVSwitches, eight single-port ConnectX-6 200 Gb/s HDR ports:
  200 Gb/s each way = 25 GB/s, 50 GB/s bidirectional per GPU.
- MI325X platform: 8 GPUs, 7 Infinity Fabric links each, 16 lanes × 32 Gb/s = 64 GB/s each way, 128 GB/s
  bidirectional per link: 896 GB/s.
- Trainium2: NeuronLink-v3 1.28 TB/s per chip, 16 chips per trn2.48xlarge.
"""

from __future__ import annotations

import math

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.efficiency import hardware_efficiency
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.serving.deployment import device_arrays
from flopbill.estimate.serving.step import alltoall_time_s, model_terms, tp_comm_time_s


@pytest.mark.parametrize(
    ("acc_id", "domain", "network_bidir"),
    [
        ("h100-sxm", 8, 100e9),
        ("h200", 8, 100e9),
        ("b200", 8, 100e9),
        ("b300", 8, 200e9),
        ("gb200", 72, 100e9),
        ("gb300", 72, 200e9),
        ("mi300x", 8, 100e9),
        ("tpu-v5p", 6144, 12.5e9),
        ("a100-40gb", 8, 2 * 200e9 / 8),
        ("a100-80gb", 8, 2 * 200e9 / 8),
    ],
)
def test_published_topologies(acc_id: str, domain: int, network_bidir: float) -> None:
    assert accelerator(acc_id).topology() == (domain, pytest.approx(network_bidir))


@pytest.mark.parametrize(
    ("acc_id", "domain"),
    [("mi355x", 8), ("mi325x", 8), ("tpu-v6e", 256), ("tpu-v7", 9216), ("trainium2", 16), ("trainium3", 144)],
)
def test_unknown_networks_stay_unknown(acc_id: str, domain: int) -> None:
    up, out = accelerator(acc_id).topology()
    assert up == domain and math.isnan(out)


def test_no_topology_means_unbounded_domain() -> None:
    """An accelerator without topology data never sends a collective to the (unknown) network."""
    up, out = accelerator("l4").topology()
    assert math.isinf(up) and math.isnan(out)


def test_new_parts_against_their_datasheets() -> None:
    v7 = accelerator("tpu-v7")
    assert v7.memory_bytes == 192 * 2**30
    assert v7.interconnect_bidir_bytes_per_s == pytest.approx(9.6e12 / 8)
    assert (v7.peak_flops_per_s.bf16, v7.peak_flops_per_s.fp8) == (2307e12, 4614e12)
    trn3 = accelerator("trainium3")
    assert trn3.memory_bytes == 144 * 2**30
    assert (trn3.memory_bandwidth_bytes_per_s, trn3.interconnect_bidir_bytes_per_s) == (4.9e12, 2.56e12)
    assert (trn3.peak_flops_per_s.bf16, trn3.peak_flops_per_s.fp8) == (671e12, 2517e12)
    mi355 = accelerator("mi355x")
    assert mi355.peak_flops_per_s.fp8 == pytest.approx(8192 * 256 * 2.4e9, rel=1e-4)
    assert mi355.peak_flops_per_s.fp4 == pytest.approx(2 * 8192 * 256 * 2.4e9, rel=1e-4)
    assert mi355.interconnect_bidir_bytes_per_s == pytest.approx(7 * 153.6e9)
    assert accelerator("mi325x").interconnect_bidir_bytes_per_s == 7 * 2 * 16 * 32e9 / 8 == 896e9
    assert accelerator("trainium2").interconnect_bidir_bytes_per_s == 1.28e12
    gb300 = accelerator("gb300")
    assert (gb300.peak_flops_per_s.bf16, gb300.peak_flops_per_s.fp4) == (2.5e15, 15e15)


def test_tp16_stays_on_nvlink_in_an_nvl72_but_not_on_hgx() -> None:
    """Llama 3.1 405B, batch 64, 1-byte activations: one all-reduce of 64·16384 B over 16 ranks.

    GB200 NVL72 (72-GPU domain, 1.8 TB/s): 2·15/16·1,048,576 / 0.9e12 + 8 µs per all-reduce;
    B200 HGX (8-GPU domain): beyond it at 400 Gb/s = 50 GB/s each way: 2·15/16·1,048,576 / 50e9 + 8 µs.
    2 all-reduces per layer, 126 layers.
    """
    t = model_terms(model("llama-3.1-405b"))
    msg = 64 * 16384
    for acc_id, one_way in (("gb200", 0.9e12), ("b200", 50e9)):
        acc = accelerator(acc_id)
        dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 16)
        got = float(tp_comm_time_s(t, 64.0, 1.0, 16.0, dev.link_bidir_bytes_per_s(16), 8e-6))
        assert got == pytest.approx(2 * 126 * (2 * 15 / 16 * msg / one_way + 8e-6)), acc_id


def test_expert_parallel_all_to_all_beyond_the_domain() -> None:
    """DeepSeek-V3 EP16, 256 tokens in the step, 1-byte activations, 58 MoE layers, k = 8, d = 7168.

    Each rank sends (256/16)·8·7168 B · 15/16 per all-to-all; on H100 (8-GPU domain) EP16 runs at the
    NIC's 50 GB/s each way, on GB200 inside the NVL72 at 0.9 TB/s; 2 all-to-alls per MoE layer.
    """
    t = model_terms(model("deepseek-v3"))
    sent = 256 / 16 * 8 * 7168 * 15 / 16
    for acc_id, one_way in (("h100-sxm", 50e9), ("gb200", 0.9e12)):
        acc = accelerator(acc_id)
        dev = device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 16)
        got = float(alltoall_time_s(t, 256.0, 1.0, 16.0, dev.link_bidir_bytes_per_s(16), 8e-6))
        assert got == pytest.approx(2 * 58 * (sent / one_way + 8e-6)), acc_id


def test_tp_beyond_a_domain_with_unknown_network_is_an_error() -> None:
    acc = accelerator("mi355x")
    with pytest.raises(InputError, match="network bandwidth per GPU is unknown"):
        device_arrays(acc, Dtype.FP8, hardware_efficiency(acc.id)[0], 16)
