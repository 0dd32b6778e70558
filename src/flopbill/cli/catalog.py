"""``flopbill catalog gpus|models|prices``: list the built-in catalogs with their sources."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import typer

from flopbill import catalog
from flopbill.catalog.prices import PriceOffer, select_offers
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.cli.app import JSON_OPTION, catalog_app, console, make_table, print_json
from flopbill.estimate.core.architecture import kv_bytes_per_token, param_counts
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


def _billing_text(o: PriceOffer) -> str:
    """Billing increment as the provider states it; unknown ones say what flopbill assumes."""
    if o.billing_increment_known_s is None:
        return "unknown (whole hours assumed)"
    text = f"{o.billing_increment_known_s:g} s"
    if o.billing_minimum_known_s is not None:
        text += f", min {o.billing_minimum_known_s:g} s"
    return text


def _short_source(url: str) -> str:
    """A short label for the table: the SkyPilot commit, else the source's host (full URL in --json)."""
    marker = "skypilot-catalog/blob/"
    if marker in url:
        return "skypilot-catalog@" + url.split(marker, 1)[1][:7]
    return urlparse(url).netloc or url


def _offer_json(o: PriceOffer) -> dict[str, Any]:
    return {
        "provider": o.provider,
        "instance": o.instance,
        "accelerator_id": o.accelerator_id,
        "gpus_per_instance": o.gpus_per_instance,
        "region": o.region or None,
        "pricing": o.pricing,
        "price_usd_per_instance_hour": o.price_usd_per_instance_hour,
        "price_usd_per_gpu_hour": o.price_usd_per_gpu_hour,
        "billing_increment_s": o.billing_increment_known_s,
        "billing_minimum_s": o.billing_minimum_known_s,
        "date_checked": o.date_checked,
        "source_url": o.source_url,
    }


@catalog_app.command("prices")
def list_prices(
    gpu: str = typer.Option(
        None, "--gpu", help="Accelerator id (see `flopbill catalog gpus`), e.g. h100-sxm."
    ),
    provider: str = typer.Option(None, "--provider", help="Provider, e.g. aws, gcp, lambda."),
    pricing: str = typer.Option(None, "--pricing", help="on_demand, spot, reserved_1y or reserved_3y."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List GPU-hour prices: provider, instance, GPUs per instance, region, pricing, billing, date, source.

    JSON: a list of offers with keys provider, instance, accelerator_id, gpus_per_instance, region (null =
    not stated), pricing, price_usd_per_instance_hour, price_usd_per_gpu_hour, billing_increment_s and
    billing_minimum_s (seconds; null = unknown, flopbill then bills whole hours), date_checked, source_url.
    """
    offers = select_offers(
        gpu.strip().lower() if gpu else None,
        provider.strip() if provider else None,
        pricing.strip().lower() if pricing else None,
    )
    if as_json:
        print_json([_offer_json(o) for o in offers])
        return
    cols = ["provider", "instance", "gpu", "GPUs", "region", "pricing", "$/instance-h", "$/GPU-h"]
    cols += ["billing", "checked", "source"]
    rows = [
        [
            o.provider,
            o.instance,
            o.accelerator_id,
            o.gpus_per_instance,
            o.region or "not stated",
            o.pricing,
            "unknown" if o.price_usd_per_instance_hour is None else f"{o.price_usd_per_instance_hour:,.4g}",
            f"{o.price_usd_per_gpu_hour:,.4g}",
            _billing_text(o),
            o.date_checked.isoformat(),
            _short_source(o.source_url),
        ]
        for o in offers
    ]
    console.print(make_table("GPU-hour prices (USD, list prices; dated snapshot)", cols, rows))
    console.print("Prices change often: each row carries the date it was checked. Full source URLs: --json.")
