"""``flopbill model NAME``: parameters, FLOPs per token, weight memory and KV-cache bytes of a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from flopbill.catalog import model_from_shorthand, resolve_model
from flopbill.catalog.schema import ModelSpec
from flopbill.cli.app import JSON_OPTION, app, console, make_table, print_json
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.core.architecture import (
    forward_flops_per_token,
    kv_bytes_per_token,
    kv_cache_bytes,
    param_counts,
    weight_bytes,
    weight_bytes_all_dtypes,
)
from flopbill.units import format_bytes, format_count, format_si, parse_count

DEFAULT_CONTEXT_TOKENS = 4096


@dataclass(frozen=True)
class ModelReport:
    """The ``flopbill model`` result (SI units: counts, FLOPs, bytes)."""

    id: str
    name: str
    params_total: float
    params_active: float
    params_published: float | None
    params_published_source: str
    params_by_component: dict[str, float]
    context_tokens: float
    flops_per_token_forward: float
    flops_per_token_forward_note: str
    kv_bytes_per_token: float
    kv_bytes_at_context: float
    weight_bytes: float
    weight_bytes_by_dtype: dict[str, float]
    sources: list[dict[str, Any]]


def model_report(m: ModelSpec, context_tokens: float) -> ModelReport:
    """Return the numbers ``flopbill model`` shows for ``m`` at ``context_tokens``."""
    counts = param_counts(m)
    return ModelReport(
        id=m.id,
        name=m.name,
        params_total=counts.total,
        params_active=counts.active,
        params_published=m.published_params_total,
        params_published_source=m.published_params_source,
        params_by_component=counts.parts(),
        context_tokens=context_tokens,
        flops_per_token_forward=float(forward_flops_per_token(m, context_tokens)),
        flops_per_token_forward_note=(
            "forward FLOPs per token averaged over a causal sequence of context_tokens: "
            "2·active matmul params + attention scores; 1 multiply-add = 2 FLOPs"
        ),
        kv_bytes_per_token=kv_bytes_per_token(m, Dtype.BF16),
        kv_bytes_at_context=float(kv_cache_bytes(m, context_tokens, Dtype.BF16)),
        weight_bytes=weight_bytes(m, Dtype.BF16),
        weight_bytes_by_dtype=weight_bytes_all_dtypes(m),
        sources=[s.model_dump(mode="json") for s in m.sources],
    )


def _resolve(name: str | None, params: str | None, layers: int | None, hidden: int | None) -> ModelSpec:
    if params or layers or hidden:
        if not (params and layers and hidden):
            raise InputError("--params/--layers/--hidden", (params, layers, hidden), "all three together")
        return model_from_shorthand(parse_count(params, "--params"), layers, hidden)
    if not name:
        raise InputError(
            "NAME", name, "a catalog id (see `flopbill catalog models`) or a YAML/config.json path"
        )
    return resolve_model(name)


def _print(r: ModelReport) -> None:
    published = "unpublished" if r.params_published is None else format_count(r.params_published)
    ctx = int(r.context_tokens)
    rows = [
        (
            "parameters (total)",
            format_count(r.params_total),
            f"published {published}: {r.params_published_source}",
        ),
        ("parameters (active per token)", format_count(r.params_active), ""),
        (f"forward FLOPs/token @ {ctx} ctx", format_si(r.flops_per_token_forward, "FLOP"), "causal mean"),
        ("KV cache per token (bf16)", format_bytes(r.kv_bytes_per_token), "all layers, K and V"),
        (
            f"KV cache per sequence @ {ctx} (bf16)",
            format_bytes(r.kv_bytes_at_context),
            "sliding windows capped",
        ),
    ]
    rows += [(f"weights {k}", format_bytes(v), "") for k, v in r.weight_bytes_by_dtype.items()]
    console.print(make_table(f"{r.name} ({r.id})", ["quantity", "value", "note"], rows))
    parts = [(k, format_count(v)) for k, v in r.params_by_component.items() if v]
    console.print(make_table("Parameters by component", ["component", "count"], parts))
    console.print("Units: GB = 1e9 bytes. int4 includes group-128 scales (4.25 bits/weight).")
    for s in r.sources:
        console.print(f"source: {s['ref']} (checked {s['checked']}) — {s['what']}")


@app.command("model")
def model_command(
    name: str = typer.Argument(None, help="catalog id (llama-3.1-70b), model YAML, or config.json path"),
    context: str = typer.Option(
        None, "--context", help=f"context length, e.g. 8k [default: {DEFAULT_CONTEXT_TOKENS}]"
    ),
    params: str = typer.Option(None, "--params", help="shorthand: total parameters, e.g. 7B"),
    layers: int = typer.Option(None, "--layers", help="shorthand: transformer blocks"),
    hidden: int = typer.Option(None, "--hidden", help="shorthand: hidden size"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show parameters, FLOPs per token, weight memory per dtype and KV-cache bytes of a model."""
    context_tokens = parse_count(context or str(DEFAULT_CONTEXT_TOKENS), "--context")
    if context_tokens <= 0:
        raise InputError("--context", context, "a positive number of tokens, e.g. 4096 or 8k")
    spec = _resolve(name, params, layers, hidden)
    if name and context is not None and context_tokens > spec.max_context_tokens:
        window = f"at most {spec.id}'s context window of {spec.max_context_tokens:,} tokens"
        raise InputError("--context", context, window)
    report = model_report(spec, context_tokens)
    if as_json:
        print_json(report)
    else:
        _print(report)
