"""``flopbill simulate``: a discrete-event simulation of a priced serving fleet under given traffic."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress

from flopbill.cli.app import (
    JSON_OPTION,
    app,
    console,
    err_console,
    make_table,
    print_assumptions,
    print_json,
)
from flopbill.errors import InputError
from flopbill.simulate import SimulationResult, load_spec, simulate, spec_from_dict
from flopbill.simulate.metrics import Distribution
from flopbill.simulate.spec import AnySpec
from flopbill.units import format_duration

SIMULATE_HELP = """Simulate a fleet of replicas under traffic: latency percentiles, goodput, GPU-hours, cost.

Examples:

  flopbill simulate --model llama-3.1-8b --gpu h100-sxm --replicas 8 --rps 100 --requests 100000

  flopbill simulate --model llama-3.1-8b --replicas 2 --rps 10 --duration-s 600 --router round_robin --json

  flopbill simulate examples/simulate/chat.yaml --max-requests 50000

  flopbill simulate examples/simulate/pools.yaml   # several pools: a per-pool table and the totals
"""


def _quick_spec(kw: dict[str, Any]) -> dict[str, Any]:
    if kw["model"] is None:
        raise InputError("--model", None, "a model (or a spec file)")
    if kw["rps"] is None:
        raise InputError("--rps", None, "a request rate (or a spec file)")
    deployment: dict[str, Any] = {"model": kw["model"], "gpu": kw["gpu"], "tp": kw["tp"]}
    if kw["price_per_gpu_hour"] is not None:
        deployment["price_usd_per_gpu_hour"] = kw["price_per_gpu_hour"]
    traffic: dict[str, Any] = {
        "rate_rps": kw["rps"],
        "input_tokens": {"kind": "fixed", "value": kw["input_tokens"]},
        "output_tokens": {"kind": "fixed", "value": kw["output_tokens"]},
    }
    if kw["requests"] is not None:
        traffic["requests"] = kw["requests"]
    if kw["duration_s"] is not None:
        traffic["duration_s"] = kw["duration_s"]
    if kw["requests"] is None and kw["duration_s"] is None:
        traffic["requests"] = 10_000
    if kw["turns"] is not None or kw["think_time_s"] is not None:
        if kw["turns"] is None:
            raise InputError("--turns", None, "a number of turns per session with --think-time-s")
        if kw["think_time_s"] is None:
            raise InputError("--think-time-s", None, "a think time (s) with --turns")
        traffic["sessions"] = {
            "turns": {"kind": "fixed", "value": kw["turns"]},
            "think_time_s": kw["think_time_s"],
            "user_tokens": {"kind": "fixed", "value": kw["input_tokens"]},
        }
    return {
        "deployment": deployment,
        "fleet": {"replicas": kw["replicas"], "router": kw["router"]},
        "traffic": traffic,
    }


#: spec fields set by the quick-run flags: an error in one of them names the flag
FLAG_OF_FIELD = {
    "deployment.model": "--model",
    "deployment.gpu": "--gpu",
    "deployment.tp": "--tp",
    "deployment.price_usd_per_gpu_hour": "--price-per-gpu-hour",
    "fleet.replicas": "--replicas",
    "fleet.router": "--router",
    "router": "--router",
    "traffic.rate_rps": "--rps",
    "traffic.requests": "--requests",
    "traffic.duration_s": "--duration-s",
    "traffic.input_tokens.value": "--input-tokens",
    "traffic.output_tokens.value": "--output-tokens",
    "traffic.sessions.turns.value": "--turns",
    "traffic.sessions.think_time_s": "--think-time-s",
    "bounds.max_requests": "--max-requests",
    "bounds.max_sim_seconds": "--max-sim-seconds",
    "seed": "--seed",
}


def _from_flags(data: dict[str, Any], fields: set[str]) -> AnySpec:
    """Validate ``data``; an error in one of ``fields`` (set by flags) names its flag."""
    try:
        return spec_from_dict(data, "flags")
    except InputError as exc:
        if exc.field in fields:
            raise InputError(FLAG_OF_FIELD[exc.field], exc.value, exc.allowed) from None
        raise


def _bounded(spec: AnySpec, kw: dict[str, Any]) -> AnySpec:
    upd: dict[str, Any] = {}
    if kw["max_requests"] is not None:
        upd["max_requests"] = kw["max_requests"]
    if kw["max_sim_seconds"] is not None:
        upd["max_sim_seconds"] = kw["max_sim_seconds"]
    data = spec.model_dump()
    data["bounds"] = {**data["bounds"], **upd}
    if kw["seed"] is not None:
        data["seed"] = kw["seed"]
    return _from_flags(data, {f"bounds.{k}" for k in upd} | ({"seed"} if kw["seed"] is not None else set()))


def _run(spec: AnySpec, show_progress: bool) -> SimulationResult:
    """Run the spec, with a progress bar on stderr when it is a terminal."""
    if not show_progress:
        return simulate(spec)
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("simulating", total=1.0)
        return simulate(spec, lambda done: bar.update(task, completed=done))


def _write_html(result: SimulationResult, path: Path) -> None:
    """Write the report atomically (temp file + rename): nothing half-written on error."""
    from flopbill.report.simulation import render_simulation_html

    target = path.resolve()
    if not target.parent.is_dir():
        raise InputError("--html", str(path), "a path in an existing folder")
    page = render_simulation_html(result)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _dist(name: str, d: Distribution) -> tuple[str, str, str, str, str]:
    def f(v: float | None) -> str:
        return "—" if v is None else format_duration(v)

    return (name, f(d.p50), f(d.p90), f(d.p95), f(d.p99))


def _usd(v: float | None, digits: int = 4) -> str:
    return "unpriced" if v is None else f"${v:,.{digits}f}"


def _title(r: SimulationResult) -> str:
    if r.pools:
        return f"Simulated fleet of {len(r.pools)} pools ({', '.join(p.name for p in r.pools)})"
    dep = r.resolved["deployment"]
    return f"Simulated {dep['model']} on {dep['gpu']} (tp {dep['tp']}), {r.resolved['fleet']['router']}"


def _pool_row(name: str, serves: str, r: SimulationResult) -> tuple[str, ...]:
    def f(v: float | None) -> str:
        return "—" if v is None else format_duration(v)

    return (
        name,
        serves,
        f"{r.max_replicas_seen:,}",
        f"{r.arrived:,} / {r.finished:,} / {r.dropped:,}",
        f"{f(r.ttft_s.p50)} / {f(r.ttft_s.p99)}",
        f"{f(r.tpot_s.p50)} / {f(r.tpot_s.p99)}",
        f"{r.gpu_hours_billed:,.3f} / {r.gpu_hours_busy:,.3f}",
        _usd(r.cost_usd, 2),
        _usd(r.usd_per_mtok_output),
        f"{r.goodput_fraction:.1%}",
    )


def _print_pools(r: SimulationResult) -> None:
    """Print one row per pool and the fleet's totals (the totals' latencies: over the union of requests)."""
    cols = ["pool", "serves", "peak replicas", "arrived / finished / dropped", "TTFT p50 / p99"]
    cols += ["TPOT p50 / p99", "GPU-h billed / busy", "cost", "$ / 1M out", "goodput"]
    rows = []
    for p in r.pools:
        dep = p.result.resolved["deployment"]
        rows.append(_pool_row(p.name, f"{dep['model']} on {dep['gpu']} (tp {dep['tp']})", p.result))
    rows.append(_pool_row("fleet", "all pools (peak replicas: Σ of the pools' peaks)", r))
    console.print(make_table("Pools", cols, rows))
    if r.escalated:
        console.print(f"{r.escalated:,} requests were re-sent from the small pool to the large one (router).")


def _print(r: SimulationResult) -> None:
    title = _title(r)
    if r.pools:
        _print_pools(r)
    lat = [_dist("TTFT", r.ttft_s), _dist("TPOT", r.tpot_s), _dist("ITL", r.itl_s), _dist("E2E", r.e2e_s)]
    lat.append(_dist("queue wait", r.queue_wait_s))
    if r.escalated and r.request_e2e_s is not None:
        lat.append(_dist("E2E per request (escalations included)", r.request_e2e_s))
    console.print(make_table(title + " — latency", ["metric", "p50", "p90", "p95", "p99"], lat))
    rows = [
        ("requests arrived / finished", f"{r.arrived:,} / {r.finished:,}"),
        ("dropped (too long / timed out)", f"{r.dropped:,} ({r.dropped_too_long:,}/{r.dropped_timed_out:,})"),
        ("unfinished at the end", f"{r.unfinished:,}"),
        ("preemptions", f"{r.preemptions:,}"),
        ("goodput (meets TTFT and TPOT)", f"{r.goodput_rps:,.2f} req/s ({r.goodput_fraction:.1%})"),
        ("output tokens/s", f"{r.output_tokens_per_s:,.0f}"),
        ("simulated time", format_duration(r.duration_s)),
        ("GPU-hours billed / busy", f"{r.gpu_hours_billed:,.3f} / {r.gpu_hours_busy:,.3f}"),
        ("cost (idle part)", f"{_usd(r.cost_usd, 2)} ({_usd(r.idle_cost_usd, 2)})"),
        ("$ per 1M output tokens", _usd(r.usd_per_mtok_output)),
        ("$ per request", _usd(r.usd_per_request, 6)),
    ]
    if r.kv_blocks_per_replica is not None:
        rows.append(
            (
                "KV blocks per replica (peak used)",
                f"{r.kv_blocks_per_replica:,} ({r.kv_blocks_peak_used or 0:,})",
            )
        )
    console.print(make_table("Fleet" if not r.pools else "Fleet (all pools)", ["quantity", "value"], rows))
    if r.arrivals_truncated:
        console.print(
            f"[yellow]warning:[/] the traffic was cut at bounds.max_requests ({r.arrived:,} requests): "
            "later arrivals were not simulated"
        )
    print_assumptions(r.assumptions)


@app.command(help=SIMULATE_HELP)
def simulate_cmd(
    spec_file: str | None = typer.Argument(None, help="simulation spec (YAML); or use the flags"),
    model: str | None = typer.Option(None, "--model", help="catalog id"),
    gpu: str = typer.Option("h100-sxm", "--gpu", help="accelerator id"),
    tp: int = typer.Option(1, "--tp", help="tensor-parallel GPUs per replica"),
    replicas: int = typer.Option(1, "--replicas", help="replicas (fixed fleet)"),
    rps: float | None = typer.Option(None, "--rps", help="Poisson arrival rate, requests/s"),
    input_tokens: int = typer.Option(1000, "--input-tokens", help="prompt tokens per request"),
    output_tokens: int = typer.Option(250, "--output-tokens", help="output tokens per request"),
    requests: int | None = typer.Option(None, "--requests", help="number of requests (default 10,000)"),
    duration_s: float | None = typer.Option(None, "--duration-s", help="traffic duration, s"),
    turns: int | None = typer.Option(
        None, "--turns", help="multi-turn sessions of this many turns (--rps, --requests: sessions)"
    ),
    think_time_s: float | None = typer.Option(
        None, "--think-time-s", help="sessions: mean s from a turn's last token to the next turn"
    ),
    router: str = typer.Option("least_outstanding", "--router", help="routing policy"),
    price_per_gpu_hour: float | None = typer.Option(None, "--price-per-gpu-hour", help="USD"),
    seed: int | None = typer.Option(None, "--seed", help="random seed"),
    max_requests: int | None = typer.Option(None, "--max-requests", help="stop after this many arrivals"),
    max_sim_seconds: float | None = typer.Option(None, "--max-sim-seconds", help="stop the clock here"),
    timeline: bool = typer.Option(False, "--timeline", help="include the timeline in --json"),
    html: str | None = typer.Option(None, "--html", help="write an HTML report with the timeline chart"),
    json_out: bool = JSON_OPTION,
) -> None:
    kw = dict(locals())
    spec = load_spec(spec_file) if spec_file is not None else _from_flags(_quick_spec(kw), set(FLAG_OF_FIELD))
    try:
        result = _run(_bounded(spec, kw), show_progress=not json_out and sys.stderr.isatty())
    except InputError as exc:
        if spec_file is None and exc.field in FLAG_OF_FIELD:
            raise InputError(FLAG_OF_FIELD[exc.field], exc.value, exc.allowed) from None
        raise
    if html is not None:
        _write_html(result, Path(html))
    if json_out:
        print_json(result.to_dict(timeline=timeline))
        return
    _print(result)


simulate_cmd.__name__ = "simulate"
