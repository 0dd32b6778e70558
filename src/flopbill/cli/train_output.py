"""Tables and JSON payloads of ``flopbill train`` (presentation only; no formulas)."""

from __future__ import annotations

from typing import Any

from flopbill.cli.app import console, make_table
from flopbill.estimate.core.assumptions import Range
from flopbill.estimate.training.cost import TrainingEstimate
from flopbill.estimate.training.sizing import SizingResult
from flopbill.units import format_bytes, format_count, format_si, format_usd

_RANGED = ("gpu_hours", "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg")


def _flat(name: str, r: Range | None, out: dict[str, Any]) -> None:
    out[name] = None if r is None else r.expected
    out[f"{name}_low"] = None if r is None else r.low
    out[f"{name}_high"] = None if r is None else r.high


def estimate_payload(est: TrainingEstimate) -> dict[str, Any]:
    """Return the stable ``--json`` object of one stage (SI units; ``_low``/``_high`` bound each range)."""
    out: dict[str, Any] = {
        "model": est.model_id,
        "accelerator": est.accelerator_id,
        "stage": est.stage,
        "n_gpus": est.n_gpus,
        "tokens": est.tokens,
        "seq_len": est.seq_len,
        "flops": est.flops,
        "hardware_flops": est.hardware_flops,
    }
    _flat("mfu", est.mfu, out)
    for name in _RANGED:
        _flat(name, getattr(est, name), out)
    out["memory_per_gpu_bytes"] = est.memory.total_bytes
    out["memory_breakdown_bytes"] = {
        "weights": est.memory.weights_bytes,
        "gradients": est.memory.gradients_bytes,
        "optimizer": est.memory.optimizer_bytes,
        "activations": est.memory.activations_bytes,
    }
    out["fits"] = est.fits
    out["min_gpus_to_fit"] = est.min_gpus
    out["assumptions"] = [
        {"name": a.name, "value": a.value, "source": a.source, "note": a.note} for a in est.assumptions
    ]
    return out


def lifecycle_payload(estimates: list[TrainingEstimate]) -> dict[str, Any]:
    """Return totals over chained stages (sums of low/expected/high) and each stage's payload."""
    stages = [estimate_payload(e) for e in estimates]
    out: dict[str, Any] = {"stages": stages, "flops": sum(s["flops"] for s in stages)}
    for name in _RANGED:
        for suffix in ("", "_low", "_high"):
            values = [s[name + suffix] for s in stages]
            out[name + suffix] = None if any(v is None for v in values) else sum(values)
    out["memory_per_gpu_bytes"] = max(s["memory_per_gpu_bytes"] for s in stages)
    out["fits"] = all(s["fits"] for s in stages)
    out["mfu"] = stages[0]["mfu"]
    return out


def _fmt(r: Range | None, fmt: Any) -> tuple[str, str, str]:
    if r is None:
        return ("unknown",) * 3
    return fmt(r.low), fmt(r.expected), fmt(r.high)


def print_estimate(est: TrainingEstimate) -> None:
    """Print one stage: the cost table, then memory per GPU (with a clear verdict when it does not fit)."""
    rows = [
        ("model FLOPs", f"{est.flops:.3g} FLOP", "", ""),
        ("hardware FLOPs (recompute)", f"{est.hardware_flops:.3g} FLOP", "", ""),
        ("MFU", *_fmt(est.mfu, lambda v: f"{v:.1%}")),
        ("GPU-hours", *_fmt(est.gpu_hours, format_count)),
        (f"wall-clock days on {est.n_gpus}", *_fmt(est.wall_clock_days, lambda v: f"{v:.3g}")),
        ("cost", *_fmt(est.cost_usd, format_usd)),
        ("energy", *_fmt(est.energy_kwh, lambda v: format_si(v * 3.6e6, "J") + f" ({format_count(v)} kWh)")),
        ("CO2e (kg)", *_fmt(est.co2e_kg, format_count)),
    ]
    where = f"{est.n_gpus} × {est.accelerator_id}"
    title = f"{est.stage}: {est.model_id} on {where}, {format_count(est.tokens)} tokens"
    table = make_table(
        title, ["quantity", "low", "expected", "high"], [(r[0], r[1], r[2], r[3]) for r in rows]
    )
    console.print(table)
    mem = est.memory
    mem_rows = [
        ("weights", format_bytes(mem.weights_bytes)),
        ("gradients", format_bytes(mem.gradients_bytes)),
        ("optimizer states", format_bytes(mem.optimizer_bytes)),
        ("activations", format_bytes(mem.activations_bytes)),
        ("total per GPU", format_bytes(mem.total_bytes)),
    ]
    console.print(make_table("Memory per GPU", ["component", "bytes"], mem_rows))
    if est.fits:
        console.print(f"fits in {est.accelerator_id} memory; fewest GPUs with this plan: {est.min_gpus}")
    else:
        fewest = (
            f"with this plan it needs {est.min_gpus} GPUs"
            if est.min_gpus
            else "no GPU count fits with this plan (it replicates what does not fit); "
            "raise --zero, --tp/--pp or use --recompute full"
        )
        console.print(f"[bold red]DOES NOT FIT[/] on {est.n_gpus} × {est.accelerator_id}; {fewest}")


def print_sizing(result: dict[str, Any]) -> None:
    """Print compute-optimal and inference-aware sizing results."""
    rows = []
    for key in ("chinchilla", "inference_aware"):
        s: SizingResult | None = result.get(key)
        if s is None:
            continue
        rows.append(
            (
                key,
                format_count(s.params),
                format_count(s.tokens),
                f"{s.tokens_per_param:.1f}",
                f"{s.training_flops:.3g}",
                f"{s.inference_flops:.3g}",
                f"{s.training_flops + s.inference_flops:.3g}",
                f"{s.predicted_loss:.3f}",
            )
        )
    cols = [
        "sizing",
        "params",
        "train tokens",
        "tokens/param",
        "training FLOPs",
        "inference FLOPs",
        "total FLOPs",
        "loss (nats)",
    ]
    console.print(make_table(f"Model sizing for {result['budget_flops']:.3g} FLOPs", cols, rows))
    for line in result["notes"]:
        console.print(line)
