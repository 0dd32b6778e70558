"""``flopbill serve``: latency, throughput and cost of serving a model; ``--search``; ``validate serving``."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import typer

from flopbill.catalog import accelerator, accelerators, resolve_model
from flopbill.catalog.efficiency import accuracy_band, engine_profile, hardware_efficiency
from flopbill.catalog.schema import ModelSpec
from flopbill.checks import integer
from flopbill.cli.app import (
    JSON_OPTION,
    app,
    console,
    flag_for,
    make_table,
    print_assumptions,
    print_json,
    validate_app,
)
from flopbill.cli.serve_disaggregated import report as disaggregated_report
from flopbill.cli.serve_lengths import (
    Lengths,
    check_window,
    lengths_from_options,
    lengths_line,
    lengths_payload,
    single_estimate_note,
    slo_checked,
)
from flopbill.dtypes import Dtype, parse_dtype
from flopbill.errors import FlopbillError, InputError, render_fields
from flopbill.estimate.serving.deployment import (
    ServingEstimate,
    ServingOptions,
    estimate_serving,
    parse_precision,
)
from flopbill.estimate.serving.disaggregated import disaggregated_fleet
from flopbill.estimate.serving.disaggregated_search import (
    cheapest_disaggregated,
    search_disaggregated,
    why_no_disaggregated,
)
from flopbill.estimate.serving.search import (
    Candidate,
    SearchGrid,
    Slo,
    WorkloadOptions,
    at_least,
    cheapest,
    check_tp,
    pareto_front,
    search_serving,
    search_serving_lengths,
    why_nothing_meets,
)
from flopbill.estimate.serving.workload import check_percentile
from flopbill.units import format_bytes, format_duration, parse_count, parse_fraction, parse_price_usd

SERVE_HELP = """Estimate serving a model: TTFT, TPOT, tokens/s per user and per GPU, max batch, $/1M tokens.

Examples:

  flopbill serve --model llama-3.1-8b --gpu h100-sxm --batch 1

  flopbill serve --model llama-3.1-70b --gpu h100-sxm --tp 2 --weights fp8 --kv fp8 --batch max

  flopbill serve --model llama-3.1-8b --gpu l4 --weights int4 --price-per-gpu-hour 0.80

  flopbill serve --model llama-3.1-70b --search --rps 20 --slo-ttft 2 --slo-tpot 0.05

  flopbill serve --model llama-3.1-70b --search --disaggregated --rps 20 --gpu h100-sxm,h200 --slo-ttft 2

  flopbill serve --model llama-3.1-8b --search --rps 20 --input-tokens 500..2000..8000 --slo-ttft 2

  flopbill serve --model llama-3.1-8b --search --rps 20 --lengths requests.csv --slo-percentile 99
"""


def _price(acc_id: str, given: str | None, pricing: str) -> tuple[float | None, str]:
    from flopbill.catalog.prices import PRICING_MODELS, gpu_price

    if pricing not in PRICING_MODELS:
        raise InputError("--pricing", pricing, "one of " + ", ".join(PRICING_MODELS))
    if given is not None:
        return parse_price_usd(given, "--price-per-gpu-hour"), "given"

    try:
        p = gpu_price(acc_id, pricing)
    except FlopbillError:
        return None, f"no {pricing} price for {acc_id} in the snapshot; pass --price-per-gpu-hour"
    return p.price_usd_per_gpu_hour, p.source


def _batch(text: str) -> int | None:
    if text.strip().lower() == "max":
        return None
    value = parse_count(text, "--batch")
    if value < 1 or value != int(value):
        raise InputError("--batch", text, "a positive integer or 'max'")
    return int(value)


def _pps(text: str | None, search: bool) -> tuple[int, ...] | None:
    """Return the pipeline depths of ``--pp``: one number, or with ``--search`` a list (``None``: auto)."""
    if text is None:
        return None if search else (1,)
    parts = [part.strip() for part in text.split(",") if part.strip()]
    values = [parse_count(part, "--pp") for part in parts]
    if not values or any(v < 1 or v != int(v) for v in values) or (len(values) > 1 and not search):
        allowed = (
            "positive integers a,b,c with --search" if search else "a positive integer (a list with --search)"
        )
        raise InputError("--pp", text, allowed)
    return tuple(sorted({int(v) for v in values}))


def _options(**kw: Any) -> ServingOptions:
    tp, gpus = kw["tp"], kw["gpus"]
    pp = (kw["pps"] or (1,))[0]
    integer(pp, "--pp", lower=1)
    tp = tp if tp is not None else ((gpus or 1) if pp == 1 else 1)
    per_replica = tp * pp
    gpus = gpus if gpus is not None else per_replica
    if tp < 1 or gpus < per_replica or gpus % per_replica:
        raise InputError("--gpus", gpus, f"a positive multiple of --tp × --pp = {per_replica}")
    draft = resolve_model(kw["draft_model"]) if kw["draft_model"] else None
    return ServingOptions(
        tp=tp,
        pp=pp,
        replicas=gpus // per_replica,
        weights=parse_dtype(kw["weights"] or "bf16", "--weights"),
        kv=parse_precision(kw["kv"], "--kv"),
        activations=parse_precision(kw["activations"], "--activations"),
        batch=_batch(kw["batch"]),
        spec_k=kw["spec_k"],
        spec_acceptance=parse_fraction(kw["spec_acceptance"], "--spec-acceptance"),
        draft=draft,
        prefix_hit_rate=parse_fraction(kw["prefix_hit"], "--prefix-hit"),
        n_samples=kw["samples"],
        reasoning_multiplier=kw["reasoning_multiplier"],
        utilization=parse_fraction(kw["utilization"], "--utilization"),
        attention_dp=kw["attention_dp"],
        cuda_graphs=not kw["eager"],
    )


JSON_KEYS = (
    "ttft_s",
    "ttft_static_batch_s",
    "ttft_chunked_s",
    "tpot_s",
    "e2e_latency_s",
    "output_tokens_per_s_per_user",
    "output_tokens_per_s_per_gpu",
    "decode_tokens_per_s_per_gpu",
    "max_batch",
    "batch",
    "bound",
    "gpus",
    "tp",
    "pp",
    "cost_usd_per_mtok_input",
    "cost_usd_per_mtok_output",
    "cost_usd_per_request",
)


def _print_estimate(e: ServingEstimate, price_note: str) -> None:
    def usd(v: float | None) -> str:
        return "unpriced" if v is None else f"${v:,.4f}"

    r = e.ranges()

    def span(name: str, fmt: Any) -> str:
        low, high = r[f"{name}_low"], r[f"{name}_high"]
        if low is None and high is None:
            return ""
        if low is None or high is None:
            return f"≥ {fmt(low)}" if high is None else f"≤ {fmt(high)}"
        return f"{fmt(low)} – {fmt(high)}"

    def tok(v: float) -> str:
        return f"{v:,.0f}"

    rows = [
        ("TTFT, lone request", format_duration(e.ttft_s), span("ttft_s", format_duration)),
        (f"TTFT, static batch of {e.batch} (all prefills first)", format_duration(e.ttft_static_batch_s), ""),
        (
            f"TTFT, joining {e.batch} running (chunked prefill, no queue)",
            format_duration(e.ttft_chunked_s),
            "",
        ),
        (
            "time per output token (TPOT)",
            f"{format_duration(e.tpot_s)} ({e.bound}-bound)",
            span("tpot_s", format_duration),
        ),
        ("end-to-end latency", format_duration(e.e2e_latency_s), ""),
        ("output tokens/s per user", f"{e.output_tokens_per_s_per_user:,.1f}", ""),
        (
            "output tokens/s per GPU (whole requests)",
            tok(e.output_tokens_per_s_per_gpu),
            span("output_tokens_per_s_per_gpu", tok),
        ),
        (
            "decode tokens/s per GPU",
            tok(e.decode_tokens_per_s_per_gpu),
            span("decode_tokens_per_s_per_gpu", tok),
        ),
        ("batch (max that fits)", f"{e.batch} ({e.max_batch})", ""),
        ("GPUs (TP per replica)", f"{e.gpus} ({e.tp})", "")
        if e.pp == 1
        else ("GPUs (TP × PP per replica)", f"{e.gpus} ({e.tp} × {e.pp})", "pipeline-parallel stages"),
        ("weights per GPU", format_bytes(e.weights_bytes_per_gpu), ""),
        ("KV cache per sequence per GPU", format_bytes(e.kv_bytes_per_sequence_per_gpu), ""),
        ("$ per 1M input tokens", usd(e.cost_usd_per_mtok_input), span("cost_usd_per_mtok_input", usd)),
        ("$ per 1M output tokens", usd(e.cost_usd_per_mtok_output), span("cost_usd_per_mtok_output", usd)),
        ("$ per request", usd(e.cost_usd_per_request), span("cost_usd_per_request", usd)),
    ]
    title = f"Serving {e.model} on {e.accelerator} ({e.engine})" + (
        " — extrapolation" if e.extrapolation else ""
    )
    console.print(make_table(title, ["quantity", "value", f"range (±{e.error_band:.0%})"], rows))
    if e.price_usd_per_gpu_hour is None:
        console.print(price_note)
    print_assumptions(e.assumptions)


@app.command(help=SERVE_HELP)
def serve(
    model_name: str = typer.Option(..., "--model", help="catalog id, YAML or config.json"),
    gpu: str | None = typer.Option(
        None,
        "--gpu",
        help="accelerator id (see `flopbill catalog gpus`; default h100-sxm); with --search a list a,b,c "
        "(default: every priced accelerator)",
    ),
    gpus: int | None = typer.Option(
        None, "--gpus", help="GPUs in total (a multiple of --tp); default = --tp"
    ),
    tp: int | None = typer.Option(None, "--tp", help="tensor-parallel degree per replica"),
    pp: str | None = typer.Option(
        None,
        "--pp",
        help="pipeline-parallel stages per replica (each of --tp GPUs; default 1); with --search a list "
        "a,b,c (default 1, plus 2,4,8 on accelerators where TP alone fits nowhere)",
    ),
    batch: str = typer.Option("max", "--batch", help="concurrent sequences, or 'max' (largest that fits)"),
    input_tokens: str | None = typer.Option(
        None, "--input-tokens", help="prompt tokens per request (default 1000), or low..mode..high"
    ),
    output_tokens: str | None = typer.Option(
        None, "--output-tokens", help="output tokens per request (default 250), or low..mode..high"
    ),
    lengths_file: str | None = typer.Option(
        None, "--lengths", help="CSV of requests with columns input_tokens,output_tokens"
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="bf16 (default), fp8, int8, int4 (weight-only), fp4; with --search a list (default: all)",
    ),
    kv: str | None = typer.Option(None, "--kv", help="KV-cache format (default bf16); with --search a list"),
    min_precision: str | None = typer.Option(
        None,
        "--min-precision",
        help="lowest acceptable weight/KV format, e.g. fp8 (excludes int4/fp4); --search skips formats below",
    ),
    activations: str | None = typer.Option(
        None, "--activations", help="matmul format (default from weights)"
    ),
    engine: str = typer.Option("vllm", "--engine", help="vllm, trtllm, sglang, llama.cpp"),
    eager: bool = typer.Option(
        False, "--eager", help="no CUDA graphs (vLLM --enforce-eager, SGLang --disable-cuda-graph)"
    ),
    attention_dp: bool = typer.Option(
        False,
        "--attention-dp",
        help="MoE: attention data-parallel + expert-parallel over the --tp GPUs (SGLang dp-attention)",
    ),
    spec_k: int = typer.Option(0, "--spec-k", help="speculative draft length k (0 = off)"),
    spec_acceptance: str = typer.Option("0.7", "--spec-acceptance", help="per-token acceptance α"),
    draft_model: str | None = typer.Option(
        None, "--draft-model", help="draft model (default: one MTP layer)"
    ),
    prefix_hit: str = typer.Option(
        "0", "--prefix-hit", help="fraction of prompt tokens served from prefix cache"
    ),
    samples: int = typer.Option(1, "--samples", help="samples per request (test-time compute)"),
    reasoning_multiplier: float = typer.Option(1.0, "--reasoning-multiplier", help="output tokens × this"),
    price_per_gpu_hour: str | None = typer.Option(
        None, "--price-per-gpu-hour", help="USD; default: snapshot"
    ),
    pricing: str = typer.Option("on_demand", "--pricing", help="snapshot pricing model"),
    utilization: str = typer.Option(
        "1.0",
        "--utilization",
        help="busy fraction of paid GPU time; with --rps a cap on the fleet's planned busy fraction "
        "(queueing for the TTFT objective may add replicas below it)",
    ),
    search: bool = typer.Option(False, "--search", help="search accelerators × TP × precision × batch"),
    disaggregated: bool = typer.Option(
        False,
        "--disaggregated",
        help="with --rps: separate prefill and decode pools, KV sent over the network; with --search: "
        "search both pools and compare with co-located",
    ),
    prefill_tp: int | None = typer.Option(
        None, "--prefill-tp", help="TP of the prefill pool (default --tp; with --search: every TP)"
    ),
    rps: str | None = typer.Option(None, "--rps", help="requests per second (capacity/search)"),
    slo_ttft: float = typer.Option(math.inf, "--slo-ttft", help="TTFT objective under load, s"),
    slo_tpot: float = typer.Option(math.inf, "--slo-tpot", help="TPOT objective under load, s"),
    slo_percentile: float = typer.Option(
        90.0, "--slo-percentile", help="percentile of requests the TTFT objective holds for"
    ),
    top: int = typer.Option(10, "--top", help="rows in the search tables"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Estimate serving (see SERVE_HELP)."""
    m = resolve_model(model_name)
    lengths = lengths_from_options(input_tokens, output_tokens, lengths_file)
    i_tok, o_tok = lengths.mean_input_tokens, lengths.mean_output_tokens
    check_percentile(slo_percentile)
    slo = Slo(slo_ttft, slo_tpot, slo_percentile)
    integer(top, "--top", lower=1)
    pps = _pps(pp, search)
    if pps != (1,) and pps is not None and disaggregated:
        raise InputError("--pp", pp, "1 with --disaggregated (its pools do not model pipelines)")
    if disaggregated and not search:
        _run_disaggregated(m, gpu or "h100-sxm", i_tok, o_tok, rps, locals(), json_out)
        return
    if search or rps is not None:
        check_window(m, lengths, lengths_file)
        only = gpu if gpu else (None if search else "h100-sxm")
        _run_search(m, only, lengths, rps, slo, locals(), json_out)
        return
    opt = _options(**locals())
    _check_floor(opt, min_precision)
    acc = accelerator(gpu or "h100-sxm")
    price, note = _price(acc.id, price_per_gpu_hour, pricing)
    band = accuracy_band(m.is_moe)
    est = estimate_serving(
        m,
        acc,
        i_tok,
        o_tok,
        opt,
        hardware_efficiency(acc.id),
        engine_profile(engine, acc.id),
        price,
        note,
        error_band=band.value,
    )
    if json_out:
        payload: dict[str, Any] = {k: getattr(est, k) for k in JSON_KEYS}
        payload |= est.ranges()
        payload["error_band"] = est.error_band
        payload["details"] = est
        if lengths.sample is not None:
            payload["lengths"] = lengths_payload(lengths, slo_percentile) | {"used": "mean"}
        print_json(payload)
        return
    _print_estimate(est, note)
    console.print(f"range: the accuracy band of the serving model — {band.ref}")
    if lengths.sample is not None:
        console.print(single_estimate_note(lengths))


def _run_disaggregated(
    m: ModelSpec, gpu: str, i_tok: float, o_tok: float, rps: str | None, kw: dict[str, Any], js: bool
) -> None:
    """Size separate prefill and decode pools for ``--rps`` (see ``serving_disaggregated``)."""
    if rps is None:
        raise InputError("--rps", None, "a request rate for --disaggregated, e.g. --rps 20")
    rate = parse_count(rps, "--rps")
    acc = accelerator(gpu)
    price, note = _price(acc.id, kw["price_per_gpu_hour"], kw["pricing"])
    if price is None:
        raise InputError("--price-per-gpu-hour", None, f"a price for {acc.id} ({note})")
    decode = _options(**kw)
    _check_floor(decode, kw["min_precision"])
    prefill = replace(decode, tp=kw["prefill_tp"] or decode.tp, batch=None, replicas=1)
    util = parse_fraction(kw["utilization"], "--utilization")
    f = disaggregated_fleet(
        m,
        acc,
        hardware_efficiency(acc.id)[0],
        engine_profile(kw["engine"], acc.id),
        i_tok,
        o_tok,
        rate,
        prefill,
        decode,
        price,
        util,
    )
    if js:
        print_json({k: getattr(f, k) for k in f.__dataclass_fields__} | {"price_usd_per_gpu_hour": price})
        return
    rows = [
        (
            "prefill pool",
            f"{f.prefill_replicas} × TP{f.prefill_tp}",
            f"{f.prefill_s_per_request * 1e3:.1f} ms/request",
        ),
        (
            "decode pool",
            f"{f.decode_replicas} × TP{f.decode_tp} at batch {f.decode_batch}",
            f"{f.decode_s_per_request * 1e3:.1f} ms/request",
        ),
        ("GPUs", str(f.gpus), f"${f.cost_usd_per_request:.6f} per request at ${price}/GPU-hour"),
        (
            "TTFT (lone prefill + KV transfer, no queue)",
            format_duration(f.ttft_s),
            f"transfer {format_duration(f.kv_transfer_s)}",
        ),
        ("TPOT (decode pool, no prefill interference)", format_duration(f.tpot_s), ""),
    ]
    console.print(
        make_table(
            f"Disaggregated serving of {m.id} on {acc.id} at {rate:g} requests/s",
            ["pool", "size", "note"],
            rows,
        )
    )


def _check_floor(opt: ServingOptions, floor_text: str | None) -> None:
    """Raise when the chosen weight or KV format is below ``--min-precision``."""
    floor = parse_precision(floor_text, "--min-precision")
    for name, fmt in (("--weights", opt.weights), ("--kv", opt.kv or Dtype.BF16)):
        if floor is not None and not at_least((fmt,), floor):
            raise InputError(
                name, fmt.value, f"a format at least as precise as --min-precision {floor.value}"
            )


def _formats(text: str | None, field_name: str, default: tuple[Dtype, ...]) -> tuple[Dtype, ...]:
    """Return the formats of a comma-separated option (``default`` when not given)."""
    if text is None:
        return default
    return tuple(parse_dtype(part.strip(), field_name) for part in text.split(",") if part.strip())


def _workload(kw: dict[str, Any]) -> WorkloadOptions:
    draft = resolve_model(kw["draft_model"]) if kw["draft_model"] else None
    if kw["samples"] < 1 or kw["reasoning_multiplier"] < 1.0 or kw["spec_k"] < 0:
        raise InputError(
            "--samples/--reasoning-multiplier/--spec-k",
            (kw["samples"], kw["reasoning_multiplier"], kw["spec_k"]),
            "samples ≥ 1, multiplier ≥ 1, k ≥ 0",
        )
    return WorkloadOptions(
        prefix_hit_rate=parse_fraction(kw["prefix_hit"], "--prefix-hit"),
        n_samples=kw["samples"],
        reasoning_multiplier=kw["reasoning_multiplier"],
        spec_k=kw["spec_k"],
        spec_acceptance=parse_fraction(kw["spec_acceptance"], "--spec-acceptance"),
        draft=draft,
    )


def _check_tps(m: ModelSpec, kw: dict[str, Any]) -> None:
    """Refuse a given ``--tp`` / ``--prefill-tp`` that cannot split the model's heads (the allowed named)."""
    for flag in ("tp", "prefill_tp"):
        if kw.get(flag):
            check_tp(m, kw[flag], "--" + flag.replace("_", "-"))


def _search_grid(m: ModelSpec, kw: dict[str, Any]) -> SearchGrid:
    """Return the grid of a search (lists and defaults) or of capacity (one deployment as given)."""
    floor = parse_precision(kw["min_precision"], "--min-precision")
    capacity = not kw["search"]  # capacity: one deployment as given; search: lists and the full grid
    default = SearchGrid()
    weights = _formats(kw["weights"], "--weights", (Dtype.BF16,) if capacity else default.weights)
    kvs = _formats(kw["kv"], "--kv", (Dtype.BF16,))
    weights, kvs = at_least(weights, floor), at_least(kvs, floor)
    if not weights or not kvs:
        raise InputError(
            "--min-precision", kw["min_precision"], "a floor that leaves a weight and a KV format"
        )
    tps = (kw["tp"] or 1,) if capacity else ((kw["tp"],) if kw["tp"] else default.tps)
    _check_tps(m, kw)
    fixed_batch = _batch(kw["batch"])
    batches = (fixed_batch,) if fixed_batch is not None else default.batches
    pps = (1,) if kw["disaggregated"] else (kw["pps"] if kw["search"] else (kw["pps"] or (1,)))
    return SearchGrid(tps=tps, weights=weights, kvs=kvs, batches=batches, pps=pps)


def _run_search(
    m: ModelSpec,
    only_gpu: str | None,
    lengths: Lengths,
    rps: str | None,
    slo: Slo,
    kw: dict[str, Any],
    js: bool,
) -> None:
    if rps is None:
        raise InputError("--rps", None, "a request rate for --search, e.g. --rps 20")
    rate = parse_count(rps, "--rps")
    if rate <= 0:
        raise InputError("--rps", rps, "a positive request rate")
    gpu_list = [g.strip() for g in only_gpu.split(",") if g.strip()] if only_gpu else []
    accs = [accelerator(g) for g in gpu_list] if gpu_list else accelerators()
    cands = []
    for a in accs:
        price, _ = _price(a.id, kw["price_per_gpu_hour"], kw["pricing"])
        if price is not None:
            cands.append(Candidate(a, hardware_efficiency(a.id)[0], price))
    if not cands:
        raise InputError(
            "--price-per-gpu-hour", None, "a price: no accelerator searched has one in the snapshot"
        )
    grid = _search_grid(m, kw)
    util = parse_fraction(kw["utilization"], "--utilization")
    eng = engine_profile(kw["engine"])
    work = _workload(kw)
    if kw["search"] and kw["disaggregated"]:
        _run_disaggregated_search(m, cands, lengths, rate, slo, grid, util, eng, work, kw, js)
        return
    if lengths.sample is None:
        i_tok, o_tok = lengths.mean_input_tokens, lengths.mean_output_tokens
        res = search_serving(m, cands, eng, i_tok, o_tok, rate, slo, grid, util, work)
    else:
        res = search_serving_lengths(m, cands, eng, lengths.sample, rate, slo, grid, util, work)
    why = render_fields(why_nothing_meets(res, m, slo), flag_for)
    pp_searched = sorted({int(p) for p in res.pp}) if res.pp is not None else [1]
    best, front = cheapest(res, kw["top"]), pareto_front(res.cost_usd_per_request, res.tpot_s, res.feasible)
    rows = [_row(res, i) for i in best]
    prow = [_row(res, i) for i in front[: kw["top"]]]
    if js:
        print_json(
            {
                "n_evaluated": res.n_evaluated,
                "n_feasible": int(res.feasible.sum()),
                "pp_searched": pp_searched,
                "why_none": why or None,
                "cheapest": rows,
                "pareto": prow,
                "slo_ttft_percentile": slo.ttft_percentile,
                "slo_checked": slo_checked(lengths, slo.ttft_percentile),
                "lengths": lengths_payload(lengths, slo.ttft_percentile),
            }
        )
        return
    cols = [
        "accelerator",
        "weights",
        "kv",
        "tp",
        "pp",
        "batch",
        "replicas",
        "gpus",
        "ttft_s",
        "tpot_s",
        "$/request",
        "tok/s/GPU",
        "busy",
        f"wait P{slo.ttft_percentile:g} s",
    ]
    console.print(f"evaluated {res.n_evaluated:,} configurations; {int(res.feasible.sum()):,} meet the SLO")
    if grid.pps is None and pp_searched != [1]:
        console.print(
            "pipeline depths 2, 4, 8 added for the accelerators where no TP degree fits the model alone "
            "(--pp a,b,c to choose)"
        )
    if why:
        console.print(why)
    if lengths.sample is not None:
        console.print(lengths_line(lengths, slo.ttft_percentile))
    console.print(make_table("Cheapest configurations meeting the SLO", cols, [_fmt(r) for r in rows]))
    console.print(make_table("Pareto front: cost vs TPOT", cols, [_fmt(r) for r in prow]))


def _run_disaggregated_search(
    m: ModelSpec,
    cands: list[Candidate],
    lengths: Lengths,
    rate: float,
    slo: Slo,
    grid: SearchGrid,
    util: float,
    eng: Any,
    work: WorkloadOptions,
    kw: dict[str, Any],
    js: bool,
) -> None:
    """Search disaggregated deployments and the co-located grid at the same rate; report both."""
    if lengths.sample is not None:
        raise InputError(
            "--lengths" if kw["lengths_file"] else "--input-tokens",
            kw["lengths_file"] or kw["input_tokens"],
            "mean lengths (one number each) with --search --disaggregated",
        )
    i_tok, o_tok = lengths.mean_input_tokens, lengths.mean_output_tokens
    p_tps = (kw["prefill_tp"],) if kw["prefill_tp"] else None
    res = search_disaggregated(m, cands, eng, i_tok, o_tok, rate, slo, grid, p_tps, util, work)
    picks = cheapest_disaggregated(res, kw["top"])
    why = render_fields(why_no_disaggregated(res, m, slo), flag_for)
    co = search_serving(m, cands, eng, i_tok, o_tok, rate, slo, grid, util, work)
    colocated = {
        "n_evaluated": co.n_evaluated,
        "n_feasible": int(co.feasible.sum()),
        "why_none": render_fields(why_nothing_meets(co, m, slo), flag_for) or None,
        "cheapest": [_row(co, i) for i in cheapest(co, kw["top"])],
    }
    prices = {
        c.accelerator.id: _price(c.accelerator.id, kw["price_per_gpu_hour"], kw["pricing"]) for c in cands
    }
    disaggregated_report(res, picks, why, colocated, prices, slo.ttft_percentile, js)


def _row(res: Any, i: int) -> dict[str, Any]:
    return {
        "accelerator": str(res.accelerator[i]),
        "weights": str(res.weights[i]),
        "kv": None if res.kv is None else str(res.kv[i]),
        "tp": int(res.tp[i]),
        "pp": 1 if res.pp is None else int(res.pp[i]),
        "batch": int(res.batch[i]),
        "replicas": int(res.replicas[i]),
        "gpus": int(res.gpus[i]),
        "ttft_s": float(res.ttft_s[i]),
        "tpot_s": float(res.tpot_s[i]),
        "cost_usd_per_request": float(res.cost_usd_per_request[i]),
        "output_tokens_per_s_per_gpu": float(res.output_tokens_per_s_per_gpu[i]),
        "utilization": float(res.utilization[i]),
        "queue_wait_s": _finite_or_none(float(res.queue_wait_s[i])),
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _fmt(r: dict[str, Any]) -> list[Any]:
    return [
        r["accelerator"],
        r["weights"],
        r["kv"],
        r["tp"],
        r["pp"],
        r["batch"],
        r["replicas"],
        r["gpus"],
        f"{r['ttft_s']:.3f}",
        f"{r['tpot_s'] * 1e3:.1f} ms",
        f"${r['cost_usd_per_request']:.6f}",
        f"{r['output_tokens_per_s_per_gpu']:,.0f}",
        f"{r['utilization']:.0%}",
        "unbounded" if r["queue_wait_s"] is None else f"{r['queue_wait_s']:.3f}",
    ]


@validate_app.command("serving")
def validate_serving(json_out: bool = JSON_OPTION) -> None:
    """Compare serving estimates with published inference measurements (golden cases).

    The split is by source (fit sources chose the efficiency defaults; holdout sources never chose
    anything): in-sample and out-of-sample errors are printed apart, then n, median and P90 |error| per
    engine × accelerator × dense/MoE × batch regime × metric.
    """
    from flopbill.validation.serving import error_quantile, evaluate_all, group_stats, summary_by_split

    results = evaluate_all()
    summary = summary_by_split(results)
    groups = group_stats(results)
    if json_out:
        cases = [
            {
                "case": r.case.id,
                "source_id": r.case.source_id,
                "source": r.case.source,
                "engine": r.case.engine,
                "metric": r.case.metric,
                "split": r.case.split,
                "published": r.case.published,
                "predicted": r.predicted,
                "error": r.error,
            }
            for r in results
        ]
        print_json(
            {
                "cases": cases,
                "median_abs_error": {s or "all": v["all"] for s, v in summary.items()},
                "by_split_and_kind": summary,
                "holdout_p80_abs_error": {
                    "dense": error_quantile([r for r in results if not r.case.is_moe], 0.8),
                    "moe": error_quantile([r for r in results if r.case.is_moe], 0.8),
                },
                "groups": [
                    {
                        "engine": g.key[0],
                        "accelerator": g.key[1],
                        "architecture": g.key[2],
                        "batch_regime": g.key[3],
                        "metric_kind": g.key[4],
                        "n": g.n,
                        "median_abs_error": g.median_abs_error,
                        "p90_abs_error": g.p90_abs_error,
                    }
                    for g in groups
                ],
            }
        )
        return
    rows = [
        (
            r.case.id,
            r.case.source_id,
            r.case.metric,
            r.case.split,
            f"{r.case.published:,.2f}",
            f"{r.predicted:,.2f}",
            f"{r.error * 100:+.1f}%",
        )
        for r in results
    ]
    cols = ["case", "source", "metric", "split", "published", "predicted", "error"]
    console.print(make_table("Serving golden cases", cols, rows))
    group_rows = [
        (*g.key, str(g.n), f"{g.median_abs_error * 100:.1f}%", f"{g.p90_abs_error * 100:.1f}%")
        for g in groups
    ]
    group_cols = ["engine", "accelerator", "arch", "batch", "metric", "n", "median |err|", "P90 |err|"]
    console.print(make_table("|error| by group (all splits)", group_cols, group_rows))
    for split, kinds in summary.items():
        parts = ", ".join(f"{k} {v * 100:.1f}%" for k, v in kinds.items() if k != "all")
        console.print(f"median |error| ({split}): {kinds['all'] * 100:.1f}% ({parts})")
    for label, moe in (("dense", False), ("MoE", True)):
        p80 = error_quantile([r for r in results if r.case.is_moe == moe], 0.8)
        console.print(f"holdout P80 |error|, {label} models (the reported ±band): {p80 * 100:.1f}%")


__all__ = ["serve", "validate_serving"]
