"""``flopbill catalog gpus|models``: list the built-in catalogs with their sources."""

from __future__ import annotations

from typing import Any

from flopbill import catalog
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.cli.app import JSON_OPTION, catalog_app, console, make_table, print_json
from flopbill.estimate.architecture import kv_bytes_per_token, param_counts
from flopbill.units import format_bytes, format_count, format_si


def _tflops(value: float | None) -> str:
    return "unknown" if value is None else f"{value / 1e12:,.0f}"


def _gpu_row(a: Accelerator) -> list[Any]:
    p = a.peak_flops_per_s
    return [
        a.id,
        a.vendor,
        a.release_year or "unknown",
        _tflops(p.bf16) if p.bf16 is not None or p.fp16 is None else f"({_tflops(p.fp16)} fp16)",
        _tflops(p.fp8),
        _tflops(p.fp4),
        "unknown" if a.memory_bytes is None else format_bytes(a.memory_bytes),
        "unknown"
        if a.memory_bandwidth_bytes_per_s is None
        else format_si(a.memory_bandwidth_bytes_per_s, "B/s"),
        "unknown" if a.tdp_w is None else f"{a.tdp_w:.0f} W",
    ]


@catalog_app.command("gpus")
def gpus(as_json: bool = JSON_OPTION) -> None:
    """List accelerators: dense peak TFLOP/s (no sparsity), memory (GB = 1e9 B), bandwidth, TDP."""
    items = catalog.accelerators()
    if as_json:
        print_json([a.model_dump(mode="json") for a in items])
        return
    cols = [
        "id",
        "vendor",
        "year",
        "BF16 TFLOP/s",
        "FP8 TFLOP/s",
        "FP4 TFLOP/s",
        "memory",
        "bandwidth",
        "TDP",
    ]
    console.print(make_table("Accelerators (dense peak, decimal units)", cols, [_gpu_row(a) for a in items]))
    console.print("Sources and check dates: `flopbill catalog gpus --json`. Unknown = not published.")


def _model_row(m: ModelSpec) -> list[Any]:
    counts = param_counts(m)
    kind = "MoE" if m.is_moe else ("enc-dec" if m.n_decoder_layers else "dense")
    attention = "MLA" if m.is_mla else ("MHA" if m.kv_heads == m.n_heads else f"GQA {m.kv_heads}")
    return [
        m.id,
        kind,
        format_count(counts.total),
        format_count(counts.active),
        m.n_layers,
        m.d_model,
        attention,
        format_count(m.max_context_tokens),
        format_bytes(kv_bytes_per_token(m)),
    ]


@catalog_app.command("models")
def list_models(as_json: bool = JSON_OPTION) -> None:
    """List model architectures with parameter counts and bf16 KV-cache bytes per token."""
    items = catalog.models()
    if as_json:
        print_json([m.model_dump(mode="json") for m in items])
        return
    cols = ["id", "kind", "params", "active", "layers", "d_model", "attention", "context", "KV/token"]
    console.print(make_table("Model architectures", cols, [_model_row(m) for m in items]))
    console.print("Sources: `flopbill catalog models --json`; details: `flopbill model ID`.")
