"""Hardware and model measured back to back, in rounds, on a machine other processes may share.

Other processes only ever add time. Each round runs the microbenchmarks and then times every shape;
the result keeps, for each figure, the best over the rounds (highest FLOP/s and bandwidth, lowest time),
so a shape timed during a busy moment is replaced by its time in a quieter one, and the hardware figures
it is predicted from were measured under the same conditions.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

from flopbill.catalog.profile import HardwareProfile, Measured, default_efficiencies
from flopbill.catalog.schema import ModelSpec
from flopbill.measure.model_timing import TimedRow, default_shapes, time_shape
from flopbill.measure.predict import Shape, predict
from flopbill.measure.torch_model import build_model


def _matmul_of(dtype: str, p: HardwareProfile) -> Measured | None:
    return p.matmul_flops_per_s.get(dtype)


def _rows_of(rows: int, p: HardwareProfile) -> Measured | None:
    return p.weight_read_bytes_per_s_by_rows.get(rows)


def _fp32_peak(p: HardwareProfile) -> float:
    fig = p.matmul_flops_per_s.get("fp32")
    return fig.value if fig else 1.0


def best_profile(profiles: Sequence[HardwareProfile]) -> HardwareProfile:
    """Return the first profile with every measured figure replaced by its best over ``profiles``."""
    first = profiles[0]

    def best(get: Callable[[HardwareProfile], Measured | None], low: bool = False) -> Measured | None:
        figs = [f for f in (get(p) for p in profiles) if f is not None]
        if not figs:
            return None
        pick = min(figs, key=lambda f: f.value) if low else max(figs, key=lambda f: f.value)
        return pick.model_copy(update={"method": f"{pick.method}; best of {len(profiles)} rounds"})

    matmul = {k: best(functools.partial(_matmul_of, k)) for k in first.matmul_flops_per_s}
    triad = best(lambda p: p.memory_bandwidth_bytes_per_s)
    gemv = best(lambda p: p.weight_read_bytes_per_s)
    gemm4 = best(lambda p: p.batched_weight_read_bytes_per_s)
    dispatch = best(lambda p: p.dispatch_overhead_s, low=True)
    elementwise = best(lambda p: p.elementwise_values_per_s)
    by_rows = {
        r: fig
        for r in first.weight_read_bytes_per_s_by_rows
        if (fig := best(functools.partial(_rows_of, r))) is not None
    }
    step_o = best(lambda p: p.step_overhead_s, low=True)
    layer_o = best(lambda p: p.layer_overhead_s, low=True)
    assert triad is not None
    peak = max(_fp32_peak(p) for p in profiles)
    # the best linear-layer and attention FLOP/s over the rounds, each against the best matmul peak
    gemm_ratio = max(p.efficiency.eta_flops * _fp32_peak(p) for p in profiles) / peak
    attention_ratio = max(p.efficiency.eta_attention * _fp32_peak(p) for p in profiles) / peak
    eff = default_efficiencies(
        dispatch.value if dispatch else None,
        gemm_ratio=gemm_ratio,
        step_overhead_s=step_o.value if step_o else None,
        layer_overhead_s=layer_o.value if layer_o else None,
        attention_ratio=attention_ratio,
        bandwidth_ratio=(gemv.value / triad.value) if gemv else 1.0,
        overlap=first.efficiency.overlap,
        batched_bandwidth_ratio=(gemm4.value / triad.value) if gemm4 else None,
    )
    return first.model_copy(
        update={
            "matmul_flops_per_s": {k: v for k, v in matmul.items() if v is not None},
            "memory_bandwidth_bytes_per_s": triad,
            "weight_read_bytes_per_s": gemv,
            "batched_weight_read_bytes_per_s": gemm4,
            "dispatch_overhead_s": dispatch,
            "elementwise_values_per_s": elementwise,
            "weight_read_bytes_per_s_by_rows": by_rows,
            "step_overhead_s": step_o,
            "layer_overhead_s": layer_o,
            "efficiency": eff,
        }
    )


def measure_back_to_back(
    m: ModelSpec,
    hardware: Callable[[], HardwareProfile],
    rounds: int = 3,
    shapes: Sequence[Shape] | None = None,
    repeats: int = 3,
    device: str = "cpu",
    done: Callable[[list[TimedRow]], bool] | None = None,
    max_rounds: int | None = None,
    max_s: float = float("inf"),
    dtype: str = "fp32",
) -> tuple[HardwareProfile, list[TimedRow]]:
    """Return the best-of-rounds profile and every shape's best time with its prediction on it.

    Runs ``rounds`` rounds; then, while ``done(rows)`` is false, more rounds up to ``max_rounds`` in all
    or until ``max_s`` seconds have passed.
    """
    model = build_model(m, dtype, device)
    todo = list(shapes or default_shapes())
    profiles: list[HardwareProfile] = []
    best_s = [float("inf")] * len(todo)
    start = time.monotonic()
    while True:
        profiles.append(hardware())
        for i, shape in enumerate(todo):
            best_s[i] = min(best_s[i], time_shape(model, shape, repeats, device))
        prof = best_profile(profiles)
        rows = [
            TimedRow(s.phase, s.batch, s.tokens, s.context_tokens, t, predict(m, s, prof, dtype).total_s)
            for s, t in zip(todo, best_s, strict=True)
        ]
        n = len(profiles)
        if n < rounds:
            continue
        if done is None or done(rows) or n >= (max_rounds or rounds) or time.monotonic() - start > max_s:
            return prof, rows
