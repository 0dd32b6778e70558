"""Microbenchmarks of the local machine: dense matmul FLOP/s per dtype, sustained memory bandwidth,
per-operation dispatch overhead; written as a :class:`~flopbill.catalog.profile.HardwareProfile`.

* Matmul: ``C = A·B`` of square ``n×n`` matrices, ``2·n³`` FLOPs (one multiply and one add per term),
  several ``n``, best of N runs each; the profile keeps the best sustained size.
* Bandwidth, STREAM-style (McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
  Computers", IEEE TCCA Newsletter 1995; www.cs.virginia.edu/stream): *copy* ``a = b`` moves 2 arrays of
  bytes, *triad* ``a = b + s·c`` moves 3; arrays far larger than the caches. The profile keeps triad.
* Dispatch: one tiny elementwise torch op (best of many): the fixed cost each kernel launch pays.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
import os
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flopbill.catalog.profile import HardwareProfile, Measured, default_efficiencies
from flopbill.measure.deps import require
from flopbill.measure.timing import best_time_s

CPU_SIZES = (256, 512, 1024, 2048)
GPU_SIZES = (1024, 2048, 4096, 8192)
DTYPES = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class HardwareResult:
    """Everything one ``measure hardware`` run measured (SI units)."""

    device: str
    matmul_flops_per_s: dict[str, float]  # torch, best size per dtype
    matmul_by_size: dict[str, dict[int, float]]
    numpy_matmul_flops_per_s: dict[str, float]
    memory_bandwidth_bytes_per_s: float  # torch triad
    attention_flops_per_s: float  # fp32 causal SDPA
    weight_read_bytes_per_s: float  # one-row linear over a large matrix
    batched_weight_read_bytes_per_s: float  # geometric mean of two- and four-row linears, same matrices
    bandwidth_by_kernel: dict[str, float]
    dispatch_overhead_s: float
    machine: dict[str, str]
    memory_bytes: float | None
    skipped: dict[str, str] = field(default_factory=dict)


def matmul_flops(n: int) -> float:
    """Return the FLOPs of an ``n×n`` by ``n×n`` matmul: ``2·n³``."""
    return 2.0 * float(n) ** 3


def _torch_dtype(torch: Any, name: str) -> Any:
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def _sync(torch: Any, device: str) -> Any:
    return torch.cuda.synchronize if device == "cuda" else None


def torch_matmul(device: str, dtype: str, sizes: tuple[int, ...], budget_s: float) -> dict[int, float]:
    """Return FLOP/s by size for torch matmuls of ``dtype`` on ``device``; stops growing ``n`` once one
    run takes longer than ``budget_s / 4``. Empty when the device cannot multiply in ``dtype``."""
    torch = require("torch")
    out: dict[int, float] = {}
    for n in sizes:
        try:
            a = torch.randn(n, n, device=device).to(_torch_dtype(torch, dtype))
            b = torch.randn(n, n, device=device).to(_torch_dtype(torch, dtype))
            one = best_time_s(
                functools.partial(operator.matmul, a, b), repeats=1, warmup=1, sync=_sync(torch, device)
            )
        except RuntimeError:
            return out
        repeats = max(2, min(8, int(budget_s / 4 / max(one, 1e-9))))
        t = best_time_s(
            functools.partial(operator.matmul, a, b), repeats=repeats, warmup=0, sync=_sync(torch, device)
        )
        out[n] = matmul_flops(n) / t
        if one > budget_s / 4:
            break
    return out


def numpy_matmul(sizes: tuple[int, ...]) -> dict[str, float]:
    """Return the best FLOP/s over ``sizes`` of numpy matmuls in fp32 and fp64."""
    out: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for name, dt_ in (("fp32", np.float32), ("fp64", np.float64)):
        best = 0.0
        for n in sizes:
            a = rng.standard_normal((n, n)).astype(dt_)
            b = rng.standard_normal((n, n)).astype(dt_)
            best = max(
                best, matmul_flops(n) / best_time_s(functools.partial(operator.matmul, a, b), repeats=3)
            )
        out[name] = best
    return out


def torch_bandwidth(device: str, n_bytes: int) -> dict[str, float]:
    """Return bytes/s of STREAM copy (2 arrays moved) and triad (3 arrays) on fp32 torch tensors."""
    torch = require("torch")
    n = n_bytes // 4
    a = torch.zeros(n, device=device)
    b = torch.ones(n, device=device)
    c = torch.ones(n, device=device)
    sync = _sync(torch, device)
    copy = best_time_s(lambda: a.copy_(b), repeats=6, sync=sync)
    triad = best_time_s(lambda: torch.add(b, c, alpha=3.0, out=a), repeats=6, sync=sync)
    return {"torch_copy": 2.0 * n * 4 / copy, "torch_triad": 3.0 * n * 4 / triad}


def gemv_bandwidth(device: str, n_bytes: int, rows: int = 1) -> float:
    """Return bytes/s of streaming weights through a chain of linear layers ``y = x·Wᵀ`` with ``rows``
    input rows (one row: what a decode step of batch 1 does): fp32 matrices of 4096×512 (8 MiB each, the
    shape of a small transformer's FFN projection) totalling ``n_bytes``, far more than the caches;
    bytes = all of ``W``."""
    torch = require("torch")
    shape = (4096, 512)
    mats = [torch.randn(*shape, device=device) for _ in range(max(1, n_bytes // 4 // (shape[0] * shape[1])))]
    x = torch.randn(rows, shape[1], device=device)
    linear = torch.nn.functional.linear

    def chain() -> None:
        for w in mats:
            linear(x, w)

    t = best_time_s(chain, repeats=6, sync=_sync(torch, device))
    return float(sum(w.numel() for w in mats)) * 4.0 / t


def numpy_bandwidth(n_bytes: int) -> dict[str, float]:
    """Return bytes/s of a numpy copy (2 arrays moved)."""
    b = np.ones(n_bytes // 8)
    a = np.zeros_like(b)
    return {"numpy_copy": 2.0 * b.nbytes / best_time_s(lambda: np.copyto(a, b), repeats=6)}


def attention_flops_per_s(device: str, tokens: int = 512, heads: int = 8, head_size: int = 64) -> float:
    """Return FLOP/s of causal ``scaled_dot_product_attention`` over ``tokens`` (fp32), counting
    ``2·2·heads·head_size·tokens²/2`` FLOPs (QKᵀ and PV, causal half), best of 8."""
    torch = require("torch")
    q = torch.randn(1, heads, tokens, head_size, device=device)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    t = best_time_s(lambda: sdpa(q, q, q, is_causal=True), repeats=8, sync=_sync(torch, device))
    return 2.0 * 2.0 * heads * head_size * tokens * tokens / 2.0 / t


def dispatch_overhead_s(device: str) -> float:
    """Return the time of one tiny torch kernel (an 8×8 linear layer on one row), best of 20 bursts (s)."""
    torch = require("torch")
    x = torch.ones(1, 8, device=device)
    w = torch.ones(8, 8, device=device)

    def burst() -> None:
        for _ in range(100):
            torch.nn.functional.linear(x, w)

    return best_time_s(burst, repeats=20, sync=_sync(torch, device)) / 100.0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_bytes() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def machine_info(device: str) -> tuple[dict[str, str], float | None]:
    """Return the machine description and the device memory (RAM on CPU), bytes."""
    torch = require("torch")
    info = {
        "cpu": _cpu_model(),
        "cpu_cores": str(os.cpu_count() or "unknown"),
        "torch_threads": str(torch.get_num_threads()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "vendor": "unknown",
    }
    memory = _ram_bytes()
    if device == "cuda":
        prop = torch.cuda.get_device_properties(0)
        info |= {"gpu": str(prop.name), "cuda": str(torch.version.cuda), "vendor": "NVIDIA"}
        memory = float(prop.total_memory)
    return info, memory


def run_hardware(
    device: str | None = None, budget_s: float = 20.0, stream_bytes: int = 128 * 2**20
) -> HardwareResult:
    """Run every microbenchmark on ``device`` (``cuda`` when present, else ``cpu``)."""
    torch = require("torch")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = GPU_SIZES if dev == "cuda" else CPU_SIZES
    by_size: dict[str, dict[int, float]] = {}
    skipped: dict[str, str] = {}
    for name in DTYPES:
        res = torch_matmul(dev, name, sizes, budget_s / len(DTYPES))
        if res:
            by_size[name] = res
        else:
            skipped[name] = f"torch cannot multiply {name} on {dev}"
    bw = torch_bandwidth(dev, stream_bytes) | (numpy_bandwidth(stream_bytes) if dev == "cpu" else {})
    info, memory = machine_info(dev)
    return HardwareResult(
        device=dev,
        matmul_flops_per_s={k: max(v.values()) for k, v in by_size.items()},
        matmul_by_size=by_size,
        numpy_matmul_flops_per_s=numpy_matmul(CPU_SIZES[:3]) if dev == "cpu" else {},
        memory_bandwidth_bytes_per_s=bw["torch_triad"],
        bandwidth_by_kernel=bw,
        attention_flops_per_s=attention_flops_per_s(dev),
        weight_read_bytes_per_s=gemv_bandwidth(dev, stream_bytes),
        batched_weight_read_bytes_per_s=math.sqrt(
            gemv_bandwidth(dev, stream_bytes, rows=2) * gemv_bandwidth(dev, stream_bytes, rows=4)
        ),
        dispatch_overhead_s=dispatch_overhead_s(dev),
        machine=info,
        memory_bytes=memory,
        skipped=skipped,
    )


def _matmul_method(dtype: str, res: HardwareResult) -> str:
    sizes = res.matmul_by_size[dtype]
    best = max(sizes, key=sizes.__getitem__)
    return f"torch {dtype} n×n matmul, 2·n³ FLOPs, best of N over n in {sorted(sizes)} (best n={best})"


def profile_from_result(res: HardwareResult, profile_id: str = "this-machine") -> HardwareProfile:
    """Return the uncalibrated hardware profile of a benchmark run."""
    matmul = {k: Measured(value=v, method=_matmul_method(k, res)) for k, v in res.matmul_flops_per_s.items()}
    name = res.machine.get("gpu") if res.device == "cuda" else res.machine["cpu"]
    return HardwareProfile(
        id=profile_id,
        name=f"{name} ({res.machine['cpu_cores']} cores)" if res.device == "cpu" else str(name),
        device="cuda" if res.device == "cuda" else "cpu",
        measured_on=dt.date.today(),
        machine=res.machine,
        matmul_flops_per_s=matmul,
        memory_bandwidth_bytes_per_s=Measured(
            value=res.memory_bandwidth_bytes_per_s,
            method="STREAM triad a = b + s·c on fp32 torch tensors, 3 arrays of bytes moved, best of 6",
        ),
        memory_bytes=res.memory_bytes,
        dispatch_overhead_s=Measured(
            value=res.dispatch_overhead_s, method="8×8 torch linear on one row, best of 20 bursts of 100"
        ),
        weight_read_bytes_per_s=Measured(
            value=res.weight_read_bytes_per_s,
            method="1-row fp32 linear x·Wᵀ through 16 matrices 4096×512 (128 MiB), bytes of W, best of 6",
        ),
        batched_weight_read_bytes_per_s=Measured(
            value=res.batched_weight_read_bytes_per_s,
            method="2- and 4-row fp32 linear X·Wᵀ, 16 matrices 4096×512 (128 MiB), geometric mean, best of 6",
        ),
        efficiency=default_efficiencies(
            res.dispatch_overhead_s,
            attention_ratio=res.attention_flops_per_s / res.matmul_flops_per_s["fp32"],
            bandwidth_ratio=res.weight_read_bytes_per_s / res.memory_bandwidth_bytes_per_s,
            batched_bandwidth_ratio=res.batched_weight_read_bytes_per_s / res.memory_bandwidth_bytes_per_s,
            overlap=res.device == "cuda",
        ),
    )
