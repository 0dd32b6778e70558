"""Microbenchmarks of the local machine: dense matmul FLOP/s per dtype, sustained memory bandwidth,
per-operation dispatch overhead; written as a :class:`~flopbill.catalog.profile.HardwareProfile`.

* Matmul: ``C = A·B`` of square ``n×n`` matrices, ``2·n³`` FLOPs (one multiply and one add per term),
  several ``n``, best of N runs each; the profile keeps the best sustained size.
* Bandwidth, STREAM-style (McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
  Computers", IEEE TCCA Newsletter 1995; www.cs.virginia.edu/stream): *copy* ``a = b`` moves 2 arrays of
  bytes, *triad* ``a = b + s·c`` moves 3; arrays far larger than the caches. The profile keeps triad.
* Dispatch: one tiny elementwise torch op (best of many): the fixed cost each kernel launch pays.
* Attention: causal ``scaled_dot_product_attention``, FLOPs counted as the device's kernel computes them
  (:func:`flopbill.measure.predict.cpu_flash_attention_keys` on a CPU).
* Elementwise: the non-matmul operations of one Llama-style block (two RMSNorms, rotary embedding of q
  and k, KV-cache write, head merge, two residual adds, ``silu(gate)·up``) on 512 tokens of a
  512-wide block, in values read and written per second
  (:func:`flopbill.measure.predict.elementwise_values_per_token_per_layer` counts them).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flopbill.catalog.profile import HardwareProfile, Measured, default_efficiencies
from flopbill.measure.deps import require
from flopbill.measure.predict import (
    cpu_flash_attention_keys,
    elementwise_values_per_token_per_layer,
    scaled_spec,
)
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
    linear_flops_per_s: float  # fp32 FFN-shaped linears
    attention_flops_per_s: float  # fp32 causal SDPA
    weight_read_bytes_per_s: float  # one-row linear over a large matrix
    batched_weight_read_bytes_per_s: float  # four-row linears, same matrices
    bandwidth_by_kernel: dict[str, float]
    dispatch_overhead_s: float
    machine: dict[str, str]
    memory_bytes: float | None
    step_overhead_s: float | None = None
    layer_overhead_s: float | None = None
    weight_read_by_rows: dict[int, float] = field(default_factory=dict)
    elementwise_values_per_s: float | None = None
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


def linear_flops_per_s(device: str, tokens: int = 1024, width: int = 512, budget_s: float = 1.0) -> float:
    """Return FLOP/s of the matmuls of a transformer FFN, ``X·W₁ᵀ`` then ``H·W₂ᵀ`` with ``X`` of ``tokens``
    rows × ``width``, ``W₁`` of ``4·width × width`` and ``W₂`` of ``width × 4·width`` (fp32), ``2·m·k·n``
    FLOPs each, best of N: the operand shapes of prefill and training (many rows, rectangular weights,
    outputs larger than the caches), which run slower than the best square matmul."""
    torch = require("torch")
    lin = torch.nn.functional.linear
    x = torch.randn(tokens, width, device=device)
    w1 = torch.randn(4 * width, width, device=device)
    w2 = torch.randn(width, 4 * width, device=device)
    h = torch.randn(tokens, 4 * width, device=device)

    def ffn() -> None:
        lin(x, w1)
        lin(h, w2)

    sync = _sync(torch, device)
    one = best_time_s(ffn, repeats=1, sync=sync)
    t = best_time_s(ffn, repeats=max(3, min(10, int(budget_s / max(one, 1e-9)))), warmup=0, sync=sync)
    return 2.0 * 2.0 * tokens * width * 4 * width / t


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


#: Row counts the weight-read benchmark runs: decode batches as CPU BLAS treats them differently
#: (one row: a matrix-vector product; several: packed matrix-matrix kernels, slowest at 2-3 rows).
WEIGHT_READ_ROWS = (1, 2, 3, 4, 8)


def weight_read_bandwidth(
    device: str, n_bytes: int, rows: tuple[int, ...] = WEIGHT_READ_ROWS
) -> dict[int, float]:
    """Return bytes/s, by row count, of streaming weights through a chain of linear layers ``y = x·Wᵀ``
    with that many input rows (one row: what a decode step of batch 1 does): fp32 matrices of 4096×512
    (8 MiB each, the shape of a small transformer's FFN projection) totalling ``n_bytes``, far more than
    the caches; bytes = all of ``W``; best of 6 each."""
    torch = require("torch")
    shape = (4096, 512)
    mats = [torch.randn(*shape, device=device) for _ in range(max(1, n_bytes // 4 // (shape[0] * shape[1])))]
    linear = torch.nn.functional.linear
    total = float(sum(w.numel() for w in mats)) * 4.0
    out: dict[int, float] = {}
    for r in rows:
        x = torch.randn(r, shape[1], device=device)

        def chain(x: Any = x) -> None:
            for w in mats:
                linear(x, w)

        out[r] = total / best_time_s(chain, repeats=6, sync=_sync(torch, device))
    return out


def numpy_bandwidth(n_bytes: int) -> dict[str, float]:
    """Return bytes/s of a numpy copy (2 arrays moved)."""
    b = np.ones(n_bytes // 8)
    a = np.zeros_like(b)
    return {"numpy_copy": 2.0 * b.nbytes / best_time_s(lambda: np.copyto(a, b), repeats=6)}


def attention_flops_per_s(device: str, tokens: int = 512, heads: int = 8, head_size: int = 64) -> float:
    """Return FLOP/s of causal ``scaled_dot_product_attention`` over ``tokens`` (fp32), counting
    ``4·heads·head_size`` FLOPs per query·key pair the kernel computes (on a CPU every pair of each key
    block it touches, :func:`~flopbill.measure.predict.cpu_flash_attention_keys`; on a GPU the causal
    half), best of 8."""
    torch = require("torch")
    q = torch.randn(1, heads, tokens, head_size, device=device)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    t = best_time_s(lambda: sdpa(q, q, q, is_causal=True), repeats=8, sync=_sync(torch, device))
    pairs = cpu_flash_attention_keys(tokens, tokens, True) if device == "cpu" else tokens * (tokens + 1) / 2
    return 4.0 * heads * head_size * pairs / t


def elementwise_values_per_s(device: str, tokens: int = 512) -> float:
    """Return values per second of the elementwise part of one Llama-style block (module docstring):
    Llama 3.2 1B's block shape scaled to 512 wide (8 heads of 64, 2 KV heads, FFN 2,048), ``tokens``
    tokens, best of 10; values as :func:`~flopbill.measure.predict.elementwise_values_per_token_per_layer`
    counts them."""
    torch = require("torch")
    from flopbill.catalog import model
    from flopbill.measure.torch_model import rope

    spec = scaled_spec(model("llama-3.2-1b"), layers=1, hidden=512)
    d, hs, h, kv, f = spec.d_model, spec.head_size, spec.n_heads, spec.kv_heads, spec.d_ff
    fn = torch.nn.functional
    x = torch.randn(1, tokens, d, device=device)
    proj = torch.randn(1, tokens, d, device=device)
    qkv = torch.randn(1, tokens, (h + 2 * kv) * hs, device=device)
    up = torch.randn(1, tokens, 2 * f, device=device)
    cache_k = torch.zeros(1, kv, tokens, hs, device=device)
    cache_v = torch.zeros_like(cache_k)
    weight = torch.ones(d, device=device)
    pos = torch.arange(tokens, device=device)[None, :]

    def block() -> None:
        fn.rms_norm(x, (d,), weight)
        heads = qkv.view(1, tokens, h + 2 * kv, hs).transpose(1, 2)
        q, k, v = heads.split([h, kv, kv], dim=1)
        q, k = rope(q, pos), rope(k, pos)
        cache_k[:, :, :tokens] = k
        cache_v[:, :, :tokens] = v
        q.transpose(1, 2).reshape(1, tokens, h * hs)
        x2 = x + proj
        fn.rms_norm(x2, (d,), weight)
        gate, u = up.chunk(2, dim=-1)
        fn.silu(gate) * u
        x2 + proj

    t = best_time_s(block, repeats=10, sync=_sync(torch, device))
    return tokens * elementwise_values_per_token_per_layer(spec) / t


def dispatch_overhead_s(device: str) -> float:
    """Return the time of one tiny torch kernel (an 8×8 linear layer on one row), best of 20 bursts (s)."""
    torch = require("torch")
    x = torch.ones(1, 8, device=device)
    w = torch.ones(8, 8, device=device)

    def burst() -> None:
        for _ in range(100):
            torch.nn.functional.linear(x, w)

    return best_time_s(burst, repeats=20, sync=_sync(torch, device)) / 100.0


def block_overheads_s(device: str, repeats: int = 30) -> tuple[float, float]:
    """Return the fixed time per forward step and per layer (s) of the transformer flopbill builds
    (:mod:`flopbill.measure.torch_model`): decode steps at batch 1 of Llama-style models one head of 64
    wide, vocabulary 64, with 1 and 3 layers, whose arithmetic and bytes are negligible, so their time
    is the per-operation cost of dispatching every operation of the step (Python, dispatcher,
    allocation, kernel launch). Per layer = (t₃ − t₁)/2, per step = t₁ − per layer; best of
    ``repeats``."""
    torch = require("torch")
    from flopbill.catalog import model
    from flopbill.measure.torch_model import build_model

    times = []
    for layers in (1, 3):
        spec = scaled_spec(model("llama-3.2-1b"), layers=layers, hidden=64, vocab=64)
        net = build_model(spec, device=device)
        cache = net.new_cache(1, 16, device)
        toks = torch.zeros(1, 1, dtype=torch.long, device=device)

        def step(net: Any = net, cache: Any = cache, toks: Any = toks) -> None:
            cache.lengths.fill_(8)
            net(toks, cache)

        with torch.inference_mode():
            times.append(best_time_s(step, repeats=repeats, warmup=3, sync=_sync(torch, device)))
    per_layer = max((times[1] - times[0]) / 2.0, 0.0)
    return max(times[0] - per_layer, 0.0), per_layer


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
    device: str | None = None,
    budget_s: float = 20.0,
    stream_bytes: int = 128 * 2**20,
    dtypes: tuple[str, ...] = DTYPES,
    with_numpy: bool = True,
) -> HardwareResult:
    """Run every microbenchmark on ``device`` (``cuda`` when present, else ``cpu``); matmuls in
    ``dtypes`` (fp32 always), numpy's figures only ``with_numpy``."""
    torch = require("torch")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = GPU_SIZES if dev == "cuda" else CPU_SIZES
    by_size: dict[str, dict[int, float]] = {}
    skipped: dict[str, str] = {}
    names = ("fp32", *(d for d in dtypes if d != "fp32"))
    for name in names:
        res = torch_matmul(dev, name, sizes, budget_s / len(names))
        if res:
            by_size[name] = res
        else:
            skipped[name] = f"torch cannot multiply {name} on {dev}"
    cpu_numpy = with_numpy and dev == "cpu"
    bw = torch_bandwidth(dev, stream_bytes) | (numpy_bandwidth(stream_bytes) if cpu_numpy else {})
    info, memory = machine_info(dev)
    step_s, layer_s = block_overheads_s(dev)
    by_rows = weight_read_bandwidth(dev, stream_bytes)
    return HardwareResult(
        device=dev,
        matmul_flops_per_s={k: max(v.values()) for k, v in by_size.items()},
        matmul_by_size=by_size,
        numpy_matmul_flops_per_s=numpy_matmul(CPU_SIZES[:3]) if cpu_numpy else {},
        memory_bandwidth_bytes_per_s=bw["torch_triad"],
        linear_flops_per_s=linear_flops_per_s(dev, budget_s=budget_s / 10),
        bandwidth_by_kernel=bw,
        attention_flops_per_s=attention_flops_per_s(dev),
        weight_read_bytes_per_s=by_rows[1],
        batched_weight_read_bytes_per_s=by_rows[4],
        weight_read_by_rows=by_rows,
        dispatch_overhead_s=dispatch_overhead_s(dev),
        elementwise_values_per_s=elementwise_values_per_s(dev),
        step_overhead_s=step_s,
        layer_overhead_s=layer_s,
        machine=info,
        memory_bytes=memory,
        skipped=skipped,
    )


def _matmul_method(dtype: str, res: HardwareResult) -> str:
    sizes = res.matmul_by_size[dtype]
    best = max(sizes, key=sizes.__getitem__)
    return f"torch {dtype} n×n matmul, 2·n³ FLOPs, best of N over n in {sorted(sizes)} (best n={best})"


_OVERHEAD = (
    "decode steps (batch 1) of 1- and 3-layer Llama-style torch models 64 wide, vocabulary 64: per layer "
    "(t3 - t1)/2, per step t1 - per layer, best of 30"
)


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
            method="4-row fp32 linear X·Wᵀ through 16 matrices 4096×512 (128 MiB), bytes of W, best of 6",
        ),
        weight_read_bytes_per_s_by_rows={
            r: Measured(
                value=v,
                method=f"{r}-row fp32 linear X·Wᵀ, 16 matrices 4096×512 (128 MiB), bytes of W, best of 6",
            )
            for r, v in res.weight_read_by_rows.items()
        },
        elementwise_values_per_s=None
        if res.elementwise_values_per_s is None
        else Measured(
            value=res.elementwise_values_per_s,
            method="elementwise ops of one Llama-style block (2 RMSNorms, rotary q/k, KV write, head merge, "
            "2 residual adds, silu(gate)·up), 512 tokens × 512 wide, values read + written, best of 10",
        ),
        step_overhead_s=None
        if res.step_overhead_s is None
        else Measured(value=res.step_overhead_s, method=_OVERHEAD),
        layer_overhead_s=None
        if res.layer_overhead_s is None
        else Measured(value=res.layer_overhead_s, method=_OVERHEAD),
        efficiency=default_efficiencies(
            res.dispatch_overhead_s,
            step_overhead_s=res.step_overhead_s,
            layer_overhead_s=res.layer_overhead_s,
            gemm_ratio=res.linear_flops_per_s / res.matmul_flops_per_s["fp32"],
            attention_ratio=res.attention_flops_per_s / res.matmul_flops_per_s["fp32"],
            bandwidth_ratio=res.weight_read_bytes_per_s / res.memory_bandwidth_bytes_per_s,
            batched_bandwidth_ratio=res.batched_weight_read_bytes_per_s / res.memory_bandwidth_bytes_per_s,
            overlap=res.device == "cuda",
        ),
    )
