"""``flopbill train``: what a training run (or a lifecycle of stages) costs.

Also registers ``flopbill validate training``.
"""

from __future__ import annotations

from typing import Any

import typer

from flopbill.catalog import accelerator, model_from_shorthand, resolve_model
from flopbill.catalog.schema import ModelSpec
from flopbill.cli.app import (
    JSON_OPTION,
    app,
    console,
    make_table,
    print_assumptions,
    print_json,
    validate_app,
)
from flopbill.cli.train_output import estimate_payload, lifecycle_payload, print_estimate, print_sizing
from flopbill.dtypes import parse_dtype
from flopbill.errors import InputError
from flopbill.estimate.training.cost import default_training_dtype, estimate_training
from flopbill.estimate.training.inputs import optimizer_bytes_per_param, resolve_training_setup
from flopbill.estimate.training.memory import ParallelPlan, Recompute
from flopbill.estimate.training.stages import StageConfig, parse_stage
from flopbill.units import format_count, parse_count, parse_price_usd, parse_range

TRAIN_HELP = """Estimate a training run: FLOPs, GPU-hours (low/expected/high), days, USD, kWh, CO2e, memory.

Examples:

  flopbill train --model llama-3.1-8b --tokens 15T --gpu h100-sxm --gpus 1024

  flopbill train --model llama-3.1-70b --stage sft:2B --stage dpo:500M --gpus 64 --zero 3

  flopbill train --model llama-2-7b --stage qlora --tokens 100M --gpu rtx-4090 --gpus 1 --recompute full

  flopbill train --optimal --budget-usd 1M --gpu h100-sxm --lifetime-tokens 2T
"""


def _model(
    name: str | None, params: str | None, layers: int | None, hidden: int | None, heads: int | None
) -> ModelSpec:
    if params or layers or hidden:
        if not (params and layers and hidden):
            raise InputError(
                "--params/--layers/--hidden",
                params,
                "all three together, e.g. --params 7B --layers 32 --hidden 4096",
            )
        return model_from_shorthand(parse_count(params, "--params"), layers, hidden, heads)
    if not name:
        raise InputError(
            "--model",
            None,
            "a catalog id, a YAML or config.json file, or --params/--layers/--hidden",
        )
    return resolve_model(name)


def _stages(specs: list[str], tokens: str | None) -> list[tuple[str, float]]:
    out = []
    for spec in specs or ["pretrain"]:
        name, _, amount = spec.partition(":")
        text = amount or tokens
        if text is None:
            raise InputError(
                "--tokens", None, f"a token count for stage {name!r} (--tokens 2T or --stage {name}:2T)"
            )
        value = parse_count(text, "--tokens")
        if value <= 0:
            raise InputError("--tokens", text, "a positive number of tokens such as 2T or 1e9")
        out.append((name, value))
    return out


def _triple(text: str | None, field: str, price: bool = False) -> tuple[float, float, float] | None:
    if text is None:
        return None
    if price and ".." not in text:
        v = parse_price_usd(text, field)
        return v, v, v
    return parse_range(text.replace("$", "").replace("%", "e-2"), field)


@app.command("train", help=TRAIN_HELP)
def train(
    model: str = typer.Option(None, "--model", "-m", help="Catalog id, model YAML or config.json."),
    params: str = typer.Option(None, "--params", help="Shorthand model: parameters (e.g. 7B)."),
    layers: int = typer.Option(None, "--layers", help="Shorthand model: transformer layers."),
    hidden: int = typer.Option(None, "--hidden", help="Shorthand model: hidden size."),
    heads: int = typer.Option(None, "--heads", help="Shorthand model: attention heads (default hidden/128)."),
    tokens: str = typer.Option(None, "--tokens", "-t", help="Training tokens (e.g. 15T)."),
    seq_len: str = typer.Option(
        None, "--seq-len", help="Sequence length in tokens (e.g. 8k = 8000, 8Ki = 8192). [default: 4096]"
    ),
    gpu: str = typer.Option(
        "h100-sxm", "--gpu", help="Accelerator id (see `flopbill catalog accelerators`)."
    ),
    gpus: int = typer.Option(8, "--gpus", help="Number of accelerators."),
    mfu: str = typer.Option(
        None, "--mfu", help="Model FLOPs utilisation, e.g. 0.4 or 0.35..0.5 (default: sourced range)."
    ),
    price: str = typer.Option(
        None, "--price-per-gpu-hour", help="USD per GPU-hour, e.g. 2.49 or 2..3 (default: snapshot)."
    ),
    pricing: str = typer.Option(
        "on_demand", "--pricing", help="on_demand, reserved_1y, reserved_3y or spot."
    ),
    goodput: str = typer.Option(
        None, "--goodput", help="Productive fraction of wall-clock, e.g. 0.9 or 0.8..0.95."
    ),
    pue: str = typer.Option(None, "--pue", help="Data-center PUE, e.g. 1.2."),
    carbon: str = typer.Option(None, "--carbon", help="Grid intensity, kg CO2e per kWh, e.g. 0.4."),
    dtype: str = typer.Option(
        None, "--dtype", help="Training compute format: bf16 (default), fp8, fp16, fp32."
    ),
    zero: int = typer.Option(1, "--zero", help="ZeRO stage 0-3 (3 = FSDP full shard)."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel degree."),
    pp: int = typer.Option(1, "--pp", help="Pipeline-parallel degree."),
    micro_batch: int = typer.Option(1, "--micro-batch", help="Sequences per micro-batch."),
    recompute: str = typer.Option("selective", "--recompute", help="none, selective or full."),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam (16 B/param), adam8bit or sgd."),
    stage: list[str] = typer.Option(
        None,
        "--stage",
        help="Stage, optionally with tokens: pretrain, sft:2B, lora, qlora, dpo, ppo, grpo, distill. "
        "Repeat for a lifecycle.",
    ),
    lora_rank: int = typer.Option(16, "--lora-rank", help="LoRA rank (all linear layers)."),
    teacher: str = typer.Option(None, "--teacher", help="Teacher model for --stage distill."),
    reward_model: str = typer.Option(
        None,
        "--reward-model",
        help="Reward model for ppo/grpo (default: policy's shape for ppo, none for grpo).",
    ),
    generated_fraction: float = typer.Option(
        0.5, "--generated-fraction", help="RLHF: share of tokens that are generated."
    ),
    rollout_batch: int = typer.Option(64, "--rollout-batch", help="RLHF: sequences decoded together."),
    optimal: bool = typer.Option(
        False, "--optimal", help="Size a compute-optimal model for a budget instead."
    ),
    budget_usd: str = typer.Option(None, "--budget-usd", help="With --optimal: dollar budget (e.g. 1M)."),
    budget_flops: str = typer.Option(None, "--budget-flops", help="With --optimal: FLOP budget (e.g. 1e24)."),
    lifetime_tokens: str = typer.Option(
        None, "--lifetime-tokens", help="With --optimal: lifetime inference tokens (e.g. 2T)."
    ),
    fit: str = typer.Option(None, "--fit", help="Scaling-law fit: besiroglu2024 (default) or hoffmann2022."),
    as_json: bool = JSON_OPTION,
) -> None:
    acc = accelerator(gpu)
    dt = parse_dtype(dtype, "--dtype") if dtype else default_training_dtype(acc)
    mfu_r = _triple(mfu, "--mfu")
    if mfu_r is not None and not (mfu_r[0] > 0 and mfu_r[2] <= 1):
        raise InputError("--mfu", mfu, "a fraction in (0, 1] or a range such as 0.35..0.5")
    price_r, goodput_r = _triple(price, "--price-per-gpu-hour", price=True), _triple(goodput, "--goodput")
    if optimal:
        from flopbill.cli.train_sizing import run_sizing

        result = run_sizing(
            acc, gpus, dt, budget_usd, budget_flops, lifetime_tokens, fit, mfu_r, price_r, pricing, goodput_r
        )
        print_json(result) if as_json else print_sizing(result)
        return
    if gpus < 1:
        raise InputError("--gpus", gpus, "a positive integer")
    m = _model(model, params, layers, hidden, heads)
    try:
        rec = Recompute(recompute.strip().lower())
    except ValueError:
        raise InputError("--recompute", recompute, "none, selective or full") from None
    plan = ParallelPlan(
        n_gpus=gpus,
        tp=tp,
        pp=pp,
        zero=zero,
        micro_batch=micro_batch,
        recompute=rec,
        sequence_parallel=tp > 1,
        optimizer=optimizer,
        optimizer_bytes_per_param=optimizer_bytes_per_param(optimizer),
    )
    seq = int(parse_count(seq_len or "4096", "--seq-len"))
    if seq_len is not None and seq > m.max_context_tokens:
        window = f"at most {m.id}'s context window of {m.max_context_tokens:,} tokens"
        raise InputError("--seq-len", seq_len, window)
    estimates = []
    for name, n_tokens in _stages(stage, tokens):
        cfg = StageConfig(
            stage=parse_stage(name),
            lora_rank=lora_rank,
            teacher=resolve_model(teacher) if teacher else None,
            reward_model=resolve_model(reward_model) if reward_model else None,
            generated_fraction=generated_fraction,
            rollout_batch=rollout_batch,
        )
        setup = resolve_training_setup(
            m,
            acc,
            n_gpus=gpus,
            tokens=n_tokens,
            seq_len=seq,
            dtype=dt,
            mfu=mfu_r,
            price=price_r,
            pricing=pricing,
            goodput=goodput_r,
            pue=_triple(pue, "--pue"),
            carbon=_triple(carbon, "--carbon"),
            plan=plan,
            stage=cfg,
        )
        estimates.append(estimate_training(setup))
    if as_json:
        print_json(estimate_payload(estimates[0]) if len(estimates) == 1 else lifecycle_payload(estimates))
        return
    for est in estimates:
        print_estimate(est)
    if len(estimates) > 1:
        total = lifecycle_payload(estimates)
        rows = [
            (k, format_count(total[k]))
            for k in ("gpu_hours", "gpu_hours_low", "gpu_hours_high")
            if total.get(k)
        ]
        console.print(make_table("Lifecycle total", ["quantity", "value"], rows))
    print_assumptions(estimates[0].assumptions)


@validate_app.command("training")
def validate_training(as_json: bool = JSON_OPTION) -> None:
    """Run every golden training case: case, source, published, flopbill, error %, in/out of sample.

    JSON: {"rows": [{case, check, source, published, flopbill, low, high, error_pct, tolerance_pct,
    passed, sample}], "default_range_summary": [{sample (in_sample | out_of_sample | all), n_runs,
    median_abs_error_pct, share_inside, median_width, cases}]}.
    """
    from flopbill.validation.training import default_range_summary, run_golden_training

    rows = run_golden_training()
    summary = default_range_summary(rows)
    if as_json:
        print_json({"rows": rows, "default_range_summary": summary})
        return
    table_rows: list[tuple[Any, ...]] = [
        (
            r.case,
            r.check,
            r.source,
            f"{r.published:.4g}",
            f"{r.flopbill:.4g}",
            f"{r.error_pct:+.1f}%",
            r.sample.replace("_", " ") if r.check.startswith("gpu_hours_in") else "",
            r.verdict,
        )
        for r in rows
    ]
    console.print(
        make_table(
            "Golden training cases",
            ["case", "check", "source", "published", "flopbill", "error", "sample", "verdict"],
            table_rows,
        )
    )
    summary_rows = [
        (
            s.sample.replace("_", " "),
            s.n_runs,
            f"{s.median_abs_error_pct:.1f}%",
            f"{s.share_inside:.0%}",
            f"{s.median_width:.2f}",
        )
        for s in summary
    ]
    cols = ["runs", "n", "median |error|", "inside range", "median width (high/low)"]
    console.print(make_table("Default GPU-hours ranges (no MFU given)", cols, summary_rows))
