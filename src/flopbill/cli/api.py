"""``flopbill api``: what a workload costs on hosted model APIs, per request, day, month and year.

JSON keys (``--json``; USD, token counts, fractions):
``prices_at`` (ISO date the prices are read at), ``price_data`` (genai-prices version and note),
``days_per_month``, ``days_per_year`` (= 12 months), ``workload`` {input_tokens, output_tokens,
reasoning_tokens, cache_hit, cache_write, batch_share, requests_per_day}, ``options`` (one per model:
provider_id, provider_name, model_id, model_name, usd_per_request, usd_per_million_tokens (blended:
cost per request ÷ all its tokens × 1e6), usd_per_day, usd_per_month, usd_per_year (``null`` when no
``--requests-per-day`` was given; ``workload.requests_per_day`` is then ``null`` too), usd_per_mtok
{input, cached_input, cache_write, output, reasoning, batch_input, batch_cached_input, batch_output},
long_context_tiers {rate name: [[start_input_tokens, usd_per_mtok]]}, batch_source, source,
pricing_url, context_window_tokens), ``assumptions`` [{name, value, source, note}].
A rate that is ``null`` is not charged separately (cached input pays the input rate; reasoning the
output rate).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from flopbill.cli.app import JSON_OPTION, app, console, make_table, print_assumptions, print_json
from flopbill.errors import InputError
from flopbill.estimate.core.assumptions import Assumption
from flopbill.estimate.pricing.api import (
    DEFAULT_PRICES_AT,
    GENAI_PRICES_VERSION,
    ApiPrice,
    ApiRates,
    ApiWorkloadCost,
    api_price,
    api_workload_cost,
)
from flopbill.estimate.pricing.economics import DAYS_PER_MONTH, MONTHS_PER_YEAR
from flopbill.units import format_count, format_usd, parse_count, parse_fraction


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError("--at", text, "a date written YYYY-MM-DD, e.g. 2026-11-01") from None


def _rates_json(rates: ApiRates) -> dict[str, float | None]:
    def base(rate: Any) -> float | None:
        return None if rate is None else float(rate.usd_per_mtok)

    return {
        "input": base(rates.input),
        "cached_input": base(rates.cached_input),
        "cache_write": base(rates.cache_write),
        "output": base(rates.output),
        "reasoning": base(rates.reasoning),
    }


def _tiers_json(price: ApiPrice) -> dict[str, list[list[float]]]:
    names = ("input", "cached_input", "cache_write", "output", "reasoning")
    out: dict[str, list[list[float]]] = {}
    for name in names:
        rate = getattr(price.standard, name)
        if rate is not None and rate.tiers:
            out[name] = [[float(start), usd] for start, usd in rate.tiers]
    return out


def option_json(result: ApiWorkloadCost, volume_known: bool = True) -> dict[str, Any]:
    """Return one model's entry of the ``options`` list (see the module docstring for keys).

    Without a request volume (``volume_known`` false) the per-day/month/year costs are ``null``.
    """
    price, costs = result.price, result.costs
    batch = _rates_json(price.batch)
    return {
        "provider_id": price.provider_id,
        "provider_name": price.provider_name,
        "model_id": price.model_id,
        "model_name": price.model_name,
        "usd_per_request": costs.usd_per_request,
        "usd_per_million_tokens": result.usd_per_million_tokens,
        "usd_per_day": costs.usd_per_day if volume_known else None,
        "usd_per_month": costs.usd_per_month if volume_known else None,
        "usd_per_year": costs.usd_per_year if volume_known else None,
        "usd_per_mtok": {
            **_rates_json(price.standard),
            "batch_input": batch["input"],
            "batch_cached_input": batch["cached_input"],
            "batch_output": batch["output"],
        },
        "long_context_tiers": _tiers_json(price),
        "batch_source": price.batch_source,
        "source": price.source,
        "pricing_url": price.pricing_url,
        "context_window_tokens": price.context_window_tokens,
    }


def _rate_text(value: float | None) -> str:
    return "= input" if value is None else f"${value:g}"


def _print_table(
    results: list[ApiWorkloadCost], workload: dict[str, float], volume: float | None, days_per_month: float
) -> None:
    rows = []
    for r in results:
        c, p = r.costs, r.price
        per_period = [format_usd(float(v)) for v in (c.usd_per_day, c.usd_per_month, c.usd_per_year)]
        rows.append(
            (
                f"{p.model_id} ({p.provider_id})",
                f"${c.usd_per_request:.4g}",
                f"${float(r.usd_per_million_tokens):.4g}",
                *(per_period if volume is not None else []),
                f"${p.input_usd_per_mtok:g}",
                _rate_text(p.cached_input_usd_per_mtok),
                f"${p.output_usd_per_mtok:g}",
            )
        )
    columns = ["model (provider)", "per request", "per 1M tokens"]
    columns += ["per day", "per month", "per year"] if volume is not None else []
    columns += ["input $/1M", "cached $/1M", "output $/1M"]
    title = (
        f"API cost: {workload['input_tokens']:g} in + {workload['output_tokens']:g} out"
        f" (+{workload['reasoning_tokens']:g} reasoning) tokens"
    )
    title += (
        f" × {format_count(volume)} requests/day"
        if volume is not None
        else " per request (give --requests-per-day for day/month/year)"
    )
    console.print(make_table(title, columns, rows))
    console.print(
        f"month = {days_per_month:g} days, year = {days_per_month * MONTHS_PER_YEAR:g} days; "
        f"cache hit {workload['cache_hit']:g}, batch share {workload['batch_share']:g}"
    )
    for r in results:
        p = r.price
        tiers = "; long-context tiers apply" if _tiers_json(p) else ""
        console.print(f"{p.model_id}: {p.source}; batch: {p.batch_source}{tiers}; {p.pricing_url or ''}")


@app.command("api")
def api_command(
    model: str = typer.Option(None, "--model", "-m", help="Model name genai-prices knows, e.g. gpt-4o."),
    compare: str = typer.Option(None, "--compare", help="Comma-separated models to list side by side."),
    provider: str = typer.Option(None, "--provider", help="Seller (openai, azure, aws, google...)."),
    input_tokens: str = typer.Option(..., "--input-tokens", help="Prompt tokens per request (e.g. 800, 8k)."),
    output_tokens: str = typer.Option(..., "--output-tokens", help="Visible output tokens per request."),
    requests_per_day: str = typer.Option(
        None,
        "--requests-per-day",
        help="Requests per day (e.g. 5M); without it: per request and per 1M tokens.",
    ),
    reasoning_tokens: str = typer.Option("0", "--reasoning-tokens", help="Hidden reasoning tokens/request."),
    cache_hit: str = typer.Option("0", "--cache-hit", help="Share of input tokens read from cache (0..1)."),
    cache_write: str = typer.Option("0", "--cache-write", help="Share of input tokens written to cache."),
    batch_share: str = typer.Option("0", "--batch-share", help="Share of requests sent via a batch API."),
    batch_discount: str = typer.Option(
        None,
        "--batch-discount",
        help="Override the batch discount (default: genai-prices batch price or 0.5).",
    ),
    at: str = typer.Option(DEFAULT_PRICES_AT.isoformat(), "--at", help="Price date (YYYY-MM-DD)."),
    days_per_month: float = typer.Option(DAYS_PER_MONTH, "--days-per-month", help="Days per month."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cost of a request mix on hosted APIs: per request, day, month, year, with the prices used."""
    names = [n.strip() for n in (compare or "").split(",") if n.strip()] or ([model] if model else [])
    if not names:
        raise InputError("--model/--compare", None, "a model name (--model gpt-4o) or a list (--compare a,b)")
    if not 0 < days_per_month <= 31:
        raise InputError("--days-per-month", days_per_month, "a number of days in (0, 31]")
    workload = {
        "input_tokens": parse_count(input_tokens, "--input-tokens"),
        "output_tokens": parse_count(output_tokens, "--output-tokens"),
        "reasoning_tokens": parse_count(reasoning_tokens, "--reasoning-tokens"),
        "cache_hit": parse_fraction(cache_hit, "--cache-hit"),
        "cache_write": parse_fraction(cache_write, "--cache-write"),
        "batch_share": parse_fraction(batch_share, "--batch-share"),
    }
    volume = None if requests_per_day is None else parse_count(requests_per_day, "--requests-per-day")
    discount = None if batch_discount is None else parse_fraction(batch_discount, "--batch-discount")
    when = _parse_date(at)
    results = [
        api_workload_cost(
            api_price(name, provider, when, discount),
            workload["input_tokens"],
            workload["output_tokens"],
            volume or 0.0,
            cache_hit=workload["cache_hit"],
            reasoning_tokens=workload["reasoning_tokens"],
            batch_share=workload["batch_share"],
            cache_write=workload["cache_write"],
            days_per_month=days_per_month,
        )
        for name in names
    ]
    assumptions = list(dict.fromkeys(a for r in results for a in r.assumptions))
    if as_json:
        print_json(
            {
                "prices_at": when,
                "price_data": f"genai-prices {GENAI_PRICES_VERSION} bundled data (no network update)",
                "days_per_month": days_per_month,
                "days_per_year": days_per_month * MONTHS_PER_YEAR,
                "workload": {**workload, "requests_per_day": volume},
                "options": [option_json(r, volume is not None) for r in results],
                "assumptions": assumptions,
            }
        )
        return
    _print_table(results, workload, volume, days_per_month)
    print_assumptions([a for a in assumptions if isinstance(a, Assumption)])
