"""Hardware profiles written by hand for tests (figures of an H100 SXM datasheet, as if measured)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flopbill.catalog.profile import Efficiencies, HardwareProfile, Measured, write_profile

# NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100, checked 2026-12-01):
# SXM dense BF16 989.4 TFLOP/s (1,979 with sparsity), FP32 67 TFLOP/s, HBM3 3.35 TB/s, 80 GB.
H100_BF16 = 989.4e12
H100_FP32 = 67e12
H100_BW = 3.35e12
H100_MEMORY = 80e9


def h100_like_profile(
    eta_flops: float = 0.6, eta_bw: float = 0.7, profile_id: str = "test-h100"
) -> HardwareProfile:
    """Return a profile with H100 SXM datasheet peaks and the given efficiencies."""
    return HardwareProfile(
        id=profile_id,
        name="test GPU",
        device="cuda",
        measured_on=dt.date(2026, 12, 1),
        machine={"gpu": "test"},
        matmul_flops_per_s={
            "bf16": Measured(value=H100_BF16, method="datasheet (test)"),
            "fp32": Measured(value=H100_FP32, method="datasheet (test)"),
        },
        memory_bandwidth_bytes_per_s=Measured(value=H100_BW, method="datasheet (test)"),
        memory_bytes=H100_MEMORY,
        efficiency=Efficiencies(
            eta_flops=eta_flops,
            eta_attention=eta_flops,
            eta_bw=eta_bw,
            overhead_s_per_step=0.0,
            overhead_s_per_layer=0.0,
            method="set by the test",
            calibrated=True,
        ),
    )


def write(tmp: Path, name: str, profile: HardwareProfile) -> Path:
    """Write ``profile`` to ``tmp/name`` and return the path."""
    path = tmp / name
    write_profile(profile, path)
    return path
