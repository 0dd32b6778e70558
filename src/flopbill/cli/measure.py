"""``flopbill measure hardware|model|endpoint``: benchmark this machine, time real torch models against
flopbill's predictions, load-test an OpenAI-compatible endpoint. Needs ``flopbill[measure]``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, cast

import typer
from rich.progress import Progress

from flopbill.catalog import accelerator, resolve_model
from flopbill.catalog.profile import HardwareProfile, load_profile, write_profile
from flopbill.cli.app import JSON_OPTION, app, console, err_console, make_table, print_json
from flopbill.errors import InputError
from flopbill.measure.deps import require
from flopbill.units import format_bytes, format_si

measure_app = typer.Typer(
    help="Measure reality: this machine, real torch models, OpenAI-compatible endpoints.",
    no_args_is_help=True,
)
app.add_typer(measure_app, name="measure")

THREADS_OPTION = typer.Option(None, "--threads", help="torch CPU threads (default: torch's own choice)")
CLOCK_OPTION = typer.Option(
    "wall", "--clock", help="wall, or cpu (process CPU time; needs --threads 1; for a machine others share)"
)


def timing_clock(clock: str, threads: int) -> contextlib.AbstractContextManager[None]:
    """Return the context that times with ``clock`` (``cpu`` needs one thread)."""
    from flopbill.measure.timing import cpu_clock

    if clock not in ("wall", "cpu"):
        raise InputError("--clock", clock, "wall or cpu")
    if clock == "cpu" and threads != 1:
        raise InputError("--clock", clock, "cpu timing with --threads 1 (CPU time sums over threads)")
    return cpu_clock() if clock == "cpu" else contextlib.nullcontext()


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads when given; return the number in use."""
    torch = require("torch")
    if threads is not None:
        if threads < 1:
            raise InputError("--threads", threads, "a positive integer")
        torch.set_num_threads(threads)
    return int(torch.get_num_threads())


def measure_profile(device: str | None, budget_s: float) -> HardwareProfile:
    """Run the hardware microbenchmarks and return the uncalibrated profile."""
    from flopbill.measure.hardware import profile_from_result, run_hardware

    return profile_from_result(run_hardware(device, budget_s))


def _profile_payload(p: HardwareProfile) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "device": p.device,
        "measured_on": p.measured_on,
        "matmul_flops_per_s": {k: v.value for k, v in p.matmul_flops_per_s.items()},
        "memory_bandwidth_bytes_per_s": p.memory_bandwidth_bytes_per_s.value,
        "weight_read_bytes_per_s": p.weight_read_bytes_per_s.value if p.weight_read_bytes_per_s else None,
        "batched_weight_read_bytes_per_s": (
            p.batched_weight_read_bytes_per_s.value if p.batched_weight_read_bytes_per_s else None
        ),
        "weight_read_bytes_per_s_by_rows": {r: v.value for r, v in p.weight_read_bytes_per_s_by_rows.items()},
        "elementwise_values_per_s": p.elementwise_values_per_s.value if p.elementwise_values_per_s else None,
        "step_overhead_s": p.step_overhead_s.value if p.step_overhead_s else None,
        "layer_overhead_s": p.layer_overhead_s.value if p.layer_overhead_s else None,
        "dispatch_overhead_s": p.dispatch_overhead_s.value if p.dispatch_overhead_s else None,
        "memory_bytes": p.memory_bytes,
        "efficiency": p.efficiency,
        "machine": p.machine,
        "profile": p,
    }


@measure_app.command("hardware")
def hardware(
    out: Path | None = typer.Option(None, "--out", help="write the hardware profile (YAML) here"),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda when present)"),
    budget_s: float = typer.Option(20.0, "--budget-s", help="seconds of matmul benchmarking (all dtypes)"),
    threads: int | None = THREADS_OPTION,
    clock: str = CLOCK_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Benchmark this machine: matmul FLOP/s per dtype, memory bandwidth, dispatch overhead.

    The profile loads as an accelerator anywhere: `flopbill serve --gpu ./PROFILE.yaml`.
    """
    if device not in (None, "cpu", "cuda"):
        raise InputError("--device", device, "cpu or cuda")
    with timing_clock(clock, set_threads(threads)):
        prof = measure_profile(device, budget_s)
    if out is not None:
        write_profile(prof, out)
    if json_out:
        print_json(_profile_payload(prof))
        return
    rows: list[list[Any]] = [
        [f"matmul {k}", format_si(v.value, "FLOP/s"), v.method] for k, v in prof.matmul_flops_per_s.items()
    ]
    rows.append(
        [
            "memory bandwidth",
            format_si(prof.memory_bandwidth_bytes_per_s.value, "B/s"),
            prof.memory_bandwidth_bytes_per_s.method,
        ]
    )
    by_rows = tuple(
        (fig, f"weight-read bandwidth ({r} row{'s' if r > 1 else ''})", "B/s")
        for r, fig in sorted(prof.weight_read_bytes_per_s_by_rows.items())
    ) or (
        (prof.weight_read_bytes_per_s, "weight-read bandwidth (1 row)", "B/s"),
        (prof.batched_weight_read_bytes_per_s, "weight-read bandwidth (4 rows)", "B/s"),
    )
    extra = (
        *by_rows,
        (prof.elementwise_values_per_s, "block elementwise ops", "values/s"),
        (prof.step_overhead_s, "overhead per forward step", "s"),
        (prof.layer_overhead_s, "overhead per layer and step", "s"),
        (prof.dispatch_overhead_s, "dispatch overhead", "s"),
    )
    for fig, name, unit in extra:
        if fig is not None:
            rows.append([name, format_si(fig.value, unit), fig.method])
    eff = prof.efficiency
    rows.append(
        [
            "efficiencies",
            f"η_flops {eff.eta_flops:.2f}, η_attn {eff.eta_attention:.2f}",
            "from the figures above",
        ]
    )
    if prof.memory_bytes:
        rows.append(["memory", format_bytes(prof.memory_bytes), "total (RAM on CPU)"])
    console.print(
        make_table(f"{prof.name} — measured {prof.measured_on}", ["figure", "value", "method"], rows)
    )
    console.print(
        "measured on a machine other processes may share: figures are best-of-N, still disturbed by them"
    )
    if out is not None:
        console.print(f"profile written to {out}; use it as --gpu {out}")


@measure_app.command("model")
def model(
    name: str = typer.Argument(..., help="catalog model id, YAML file or config.json"),
    layers: int | None = typer.Option(None, "--layers", help="build only this many layers"),
    hidden: int | None = typer.Option(None, "--hidden", help="scale the hidden size down to this"),
    vocab: int | None = typer.Option(None, "--vocab", help="use a smaller vocabulary"),
    profile: str | None = typer.Option(None, "--profile", help="hardware profile (default: measure now)"),
    prefill: str = typer.Option("256,512,1024", "--prefill", help="prompt lengths to prefill"),
    batches: str = typer.Option("1,2,4", "--batches", help="decode batch sizes"),
    contexts: str = typer.Option("128,512", "--contexts", help="decode context lengths"),
    train: str = typer.Option("4x128", "--train", help="training steps as BATCHxTOKENS, comma-separated"),
    repeats: int = typer.Option(5, "--repeats", help="best of N runs per shape"),
    rounds: int = typer.Option(
        1, "--rounds", help="without --profile: hardware and model measured back to back N times, best kept"
    ),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto (cuda when present)"),
    dtype: str | None = typer.Option(
        None, "--dtype", help="fp32, bf16 or fp16 (default: fp32 on CPU, bf16 on CUDA)"
    ),
    threads: int | None = THREADS_OPTION,
    clock: str = CLOCK_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Build a model in torch (random weights), time prefill/decode/training, compare with flopbill."""
    n_threads = set_threads(threads)
    from flopbill.measure.documents import measurement_document
    from flopbill.measure.model_timing import default_shapes, measure_model
    from flopbill.measure.torch_model import scaled_spec

    spec = scaled_spec(resolve_model(name), layers, hidden, vocab)
    ctx = timing_clock(clock, n_threads)
    shapes = default_shapes(
        _ints(prefill, "--prefill"), _ints(batches, "--batches"), _ints(contexts, "--contexts"), _train(train)
    )
    if repeats < 1:
        raise InputError("--repeats", repeats, "a positive integer")
    dev = _device(device)
    if dev == "cuda" and clock == "cpu":
        raise InputError("--clock", clock, "wall on CUDA (the process CPU clock does not count GPU time)")
    dt_name = dtype or ("bf16" if dev == "cuda" else "fp32")
    if dt_name not in ("fp32", "bf16", "fp16"):
        raise InputError("--dtype", dt_name, "fp32, bf16 or fp16")
    if rounds < 1:
        raise InputError("--rounds", rounds, "a positive integer")
    with ctx:
        if profile:
            prof = load_profile(profile)
            rows = measure_model(spec, prof, shapes, repeats, dt_name, dev)
        else:
            from flopbill.measure.session import measure_back_to_back

            budget = max(3.0, 12.0 / rounds)
            prof, rows = measure_back_to_back(
                spec, lambda: measure_profile(dev, budget), rounds, shapes, repeats, dev, dtype=dt_name
            )
        doc = measurement_document(spec, prof, dt_name, dev, rows, n_threads)
    if json_out:
        print_json(doc)
        return
    table = [
        [
            r.phase,
            r.batch,
            r.tokens,
            r.context_tokens,
            f"{r.measured_s * 1e3:.2f}",
            f"{r.predicted_s * 1e3:.2f}",
            f"{r.error:+.0%}",
        ]
        for r in rows
    ]
    title = (
        f"{spec.name}: {spec.n_layers} layers × {spec.d_model}, {dt_name} on {prof.name} "
        f"({n_threads} threads, {clock} clock)"
    )
    console.print(
        make_table(
            title, ["phase", "batch", "tokens", "context", "measured ms", "predicted ms", "error"], table
        )
    )
    console.print(f"efficiencies: {prof.efficiency.method}")


def _device(name: str) -> str:
    """Return ``cpu`` or ``cuda`` for ``--device`` (``auto``: cuda when torch sees a GPU)."""
    torch = require("torch")
    key = name.strip().lower()
    if key not in ("auto", "cpu", "cuda"):
        raise InputError("--device", name, "cpu, cuda or auto")
    has_cuda = bool(torch.cuda.is_available())
    if key == "cuda" and not has_cuda:
        raise InputError("--device", name, "a device torch can use here (no CUDA GPU is visible: use cpu)")
    return "cuda" if key == "cuda" or (key == "auto" and has_cuda) else "cpu"


def _ints(text: str, field: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(field, text, "comma-separated positive integers") from None
    if not values or min(values) < 1:
        raise InputError(field, text, "comma-separated positive integers")
    return values


def _train(text: str) -> list[tuple[int, int]]:
    out = []
    for part in (p for p in text.split(",") if p.strip()):
        b, _, n = part.lower().partition("x")
        try:
            out.append((int(b), int(n)))
        except ValueError:
            raise InputError("--train", text, "BATCHxTOKENS, e.g. 4x128") from None
    return out


@measure_app.command("endpoint")
def endpoint(
    url: str = typer.Argument(
        ..., help="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000"
    ),
    api: str = typer.Option("completions", "--api", help="completions or chat"),
    served_model: str = typer.Option("flopbill-local", "--model", help="model name sent in requests"),
    concurrency: int | None = typer.Option(None, "--concurrency", help="fixed number of requests in flight"),
    rate: float | None = typer.Option(None, "--rate", help="requests per second (Poisson or gamma)"),
    arrival: str = typer.Option("poisson", "--arrival", help="poisson or gamma"),
    burstiness: float = typer.Option(1.0, "--burstiness", help="gamma shape (1 = Poisson)"),
    sweep_rates: str | None = typer.Option(
        None, "--sweep", help="rates to sweep until saturation, e.g. 1,2,4,8"
    ),
    trace: Path | None = typer.Option(None, "--trace", help="CSV timestamp_s,input_tokens,output_tokens"),
    requests: int | None = typer.Option(None, "--requests", help="requests to send"),
    duration_s: float | None = typer.Option(
        None, "--duration-s", help="stop sending after this many seconds"
    ),
    input_tokens: int = typer.Option(64, "--input-tokens", help="prompt length (synthetic words)"),
    output_tokens: int = typer.Option(32, "--output-tokens", help="tokens to generate"),
    timeout_s: float = typer.Option(60.0, "--timeout-s", help="per-request time limit"),
    slo_ttft_s: float | None = typer.Option(None, "--slo-ttft-s", help="goodput: TTFT objective"),
    slo_tpot_s: float | None = typer.Option(None, "--slo-tpot-s", help="goodput: TPOT objective"),
    slo_e2e_s: float | None = typer.Option(None, "--slo-e2e-s", help="goodput: end-to-end objective"),
    price: float | None = typer.Option(None, "--price-per-gpu-hour", help="USD per GPU-hour of the server"),
    gpus: int = typer.Option(1, "--gpus", help="GPUs behind the endpoint (for $/1M tokens)"),
    predict_model: str | None = typer.Option(
        None, "--predict-model", help="catalog model to predict $/1M tokens"
    ),
    gpu: str | None = typer.Option(None, "--gpu", help="accelerator (or profile) for the prediction"),
    out_jsonl: Path | None = typer.Option(None, "--out-jsonl", help="write one JSON line per request"),
    out_summary: Path | None = typer.Option(None, "--out-summary", help="write the summary JSON"),
    seed: int = typer.Option(0, "--seed"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Load-test an OpenAI-compatible endpoint (streaming); metrics named as `vllm bench serve`."""
    from flopbill.measure.loadgen import (
        Api,
        Arrival,
        LoadConfig,
        read_trace,
        run_load,
        summarize,
        sweep,
        write_jsonl,
    )

    if api not in ("completions", "chat") or arrival not in ("poisson", "gamma"):
        raise InputError("--api/--arrival", (api, arrival), "completions|chat and poisson|gamma")
    if requests is None and duration_s is None and trace is None:
        requests = 32
    cfg = LoadConfig(
        url=url,
        api=cast(Api, api),
        model=served_model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        concurrency=concurrency if concurrency is not None or rate is not None or trace or sweep_rates else 1,
        rate_per_s=rate,
        arrival=cast(Arrival, arrival),
        burstiness=burstiness,
        requests=requests,
        duration_s=duration_s,
        timeout_s=timeout_s,
        seed=seed,
        trace=read_trace(trace) if trace else (),
        slo_ttft_s=slo_ttft_s,
        slo_tpot_s=slo_tpot_s,
        slo_e2e_s=slo_e2e_s,
    )
    cfg.validate()
    with Progress(console=err_console, transient=True, disable=json_out) as bar:
        task = bar.add_task("requests", total=requests)

        def tick(_: Any) -> None:
            bar.advance(task)

        if sweep_rates:
            rates = [float(x) for x in sweep_rates.split(",") if x.strip()]
            summaries = asyncio.run(sweep(cfg, rates, tick))
            results: list[Any] = []
        else:
            results, dur = asyncio.run(run_load(cfg, tick))
            summaries = [summarize(results, dur, cfg)]
    for s in summaries:
        s["cost"] = _cost(s, price, gpus, predict_model, gpu, input_tokens, output_tokens, concurrency)
    if out_jsonl is not None:
        write_jsonl(results, out_jsonl)
    payload: Any = summaries[0] if len(summaries) == 1 else {"sweep": summaries}
    if out_summary is not None:
        out_summary.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    if json_out:
        print_json(payload)
        return
    for s in summaries:
        _print_summary(s)


def _cost(
    s: dict[str, Any],
    price: float | None,
    gpus: int,
    model_name: str | None,
    gpu: str | None,
    i_tok: int,
    o_tok: int,
    batch: int | None,
) -> dict[str, Any] | None:
    """Return measured $/1M output tokens (price·GPUs / output throughput) and flopbill's prediction."""
    if price is None:
        return None
    tput = s["output_throughput_tokens_per_s"]
    measured = price * gpus / 3600.0 / tput * 1e6 if tput > 0 else None
    predicted = None
    if model_name and gpu:
        from flopbill.catalog.efficiency import engine_profile, hardware_efficiency
        from flopbill.estimate.serving.deployment import ServingOptions, estimate_serving

        acc = accelerator(gpu)
        est = estimate_serving(
            resolve_model(model_name),
            acc,
            i_tok,
            o_tok,
            ServingOptions(replicas=gpus, batch=batch),
            hardware_efficiency(acc.id),
            engine_profile(None),
            price,
            "given",
        )
        predicted = est.cost_usd_per_mtok_output
    return {
        "price_usd_per_gpu_hour": price,
        "gpus": gpus,
        "measured_usd_per_mtok_output": measured,
        "predicted_usd_per_mtok_output": predicted,
    }


def _print_summary(s: dict[str, Any]) -> None:
    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v * 1e3:.1f}"

    rows = [
        [name, ms(s[key]["mean"]), ms(s[key]["median"]), ms(s[key]["p90"]), ms(s[key]["p99"])]
        for name, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("ITL", "itl_s"), ("E2EL", "e2el_s"))
    ]
    rate, sent = s["requested_rate_per_s"], s["achieved_rate_per_s"]
    title = (
        f"{s['completed']} completed, {s['failed']} failed in {s['duration_s']:.1f} s"
        + (f"; sent at {sent:.2f} req/s" if sent else "")
        + (f" of {rate:g} requested" if rate else "")
        + (" — saturated" if s.get("saturated") else "")
    )
    console.print(make_table(title, ["metric (ms)", "mean", "median", "p90", "p99"], rows))
    console.print(
        f"output {s['output_throughput_tokens_per_s']:.1f} tok/s; goodput "
        f"{s['request_goodput_per_s']:.2f} req/s; tokens counted from: {', '.join(s['token_source']) or '—'}"
    )
    if s["errors"]:
        console.print(f"errors: {s['errors']}")
    if s.get("cost"):
        c = s["cost"]
        console.print(
            f"$/1M output tokens: measured {c['measured_usd_per_mtok_output']}, "
            f"flopbill predicted {c['predicted_usd_per_mtok_output']}"
        )
