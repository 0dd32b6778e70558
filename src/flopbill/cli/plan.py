"""``flopbill plan scenario.yaml``: project a product scenario; tables, ``--json`` or ``--html``."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from flopbill.cli.app import JSON_OPTION, app, console, make_table, print_assumptions, print_json
from flopbill.errors import InputError
from flopbill.safeio import check_path, check_target, write_all
from flopbill.scenario.loader import LinePath, load_scenario_lines, located
from flopbill.scenario.projection import project
from flopbill.scenario.result import OptionProjection, PricedLatency, ScenarioResult
from flopbill.scenario.schema import Scenario
from flopbill.units import format_usd


def _usd(x: float | None) -> str:
    return "—" if x is None or x != x else format_usd(x)


def _pct(x: float | None) -> str:
    return "—" if x is None or x != x else f"{100 * x:.0f}%"


def _prob(p: float | None) -> str:
    """A probability, never rounded to 0 % or 100 % unless exact."""
    if p is None or p != p:
        return "—"
    if p in (0.0, 1.0):
        return f"{100 * p:.0f}%"
    return "<1%" if p < 0.01 else (">99%" if p > 0.99 else f"{100 * p:.0f}%")


def _signed_usd(x: float) -> str:
    return "—" if x != x else ("−" + format_usd(-x) if x < 0 else "+" + format_usd(x))


def _month_rows(result: ScenarioResult) -> list[list[str]]:
    days = result.traffic.days_per_month
    spikes = set(result.spike_months())
    rows = []
    for m in result.key_months():
        i = m - 1
        tags = (["spike"] if m in spikes else []) + (
            ["payback"] if any(p.month == m for p in result.paybacks) else []
        )
        row = [f"month {m}" + (f" ({', '.join(tags)})" if tags else "")]
        row += [f"{result.traffic.ai_requests[i] / days:,.0f}", f"{result.traffic.ai_requests[i]:,.0f}"]
        row += [_usd(o.recurring_cost_usd[i]) for o in result.options]
        row += [f"{o.unserved_requests[i]:,.0f}" for o in _short(result) if o.unserved_requests is not None]
        rows.append(row)
    return rows


def _short(result: ScenarioResult) -> list[OptionProjection]:
    """Options that leave some demand unserved (dropped or beyond the slo)."""
    return [o for o in result.options if o.unserved_share > 0]


def _option_rows(result: ScenarioResult) -> list[list[str]]:
    api = result.cheapest_api()
    base = result.option(api).total_cost_usd if api is not None else float("nan")
    rows = []
    for o in result.options:
        margin = o.gross_margin[0] if o.gross_margin is not None else None
        per_served = o.cost_per_served_request_usd or o.cost_per_request_usd
        rows.append(
            [
                o.label,
                o.kind,
                _usd(o.total_cost_usd),
                "—" if api is None or o.name == api else _signed_usd(o.total_cost_usd - base),
                _usd(o.total_one_time_usd),
                _usd(o.recurring_cost_usd[0]),
                _usd(o.recurring_cost_usd[0] / result.traffic.days_per_month),
                _usd(per_served[0]),
                _pct(margin),
                "—" if not o.unserved_share else f"{100 * o.unserved_share:.3g}%",
            ]
        )
    return rows


def print_result(result: ScenarioResult, show_assumptions: bool) -> None:
    """Print the projection as tables: options, months, break-evens, sensitivity, uncertainty."""
    console.print(
        f"[bold]{result.name}[/bold] — {result.horizon_months} months, prices as of {result.prices_as_of}"
    )
    if result.description:
        console.print(result.description.strip())
    api = result.cheapest_api()
    cols = [
        "option",
        "kind",
        "total",
        f"vs {api}" if api else "vs API",
        "one-time",
        "month 1",
        "per day m1",
        "$/served req",
        "margin m1",
        "unserved",
    ]
    console.print(
        make_table(
            "Options (expected inputs; per-month figures are recurring, one-time apart)",
            cols,
            _option_rows(result),
        )
    )
    console.print(
        make_table(
            "Recurring cost by month",
            ["month", "AI req/day", "AI requests"]
            + [o.name for o in result.options]
            + [f"unserved {o.name}" for o in _short(result)],
            _month_rows(result),
        )
    )
    _print_offers(result)
    _print_latency(result)
    _print_answers(result)
    if show_assumptions:
        print_assumptions(result.assumptions)


def _print_offers(result: ScenarioResult) -> None:
    rows = []
    for o in result.options:
        c = o.offer
        if c is None:
            continue
        billing = (
            f"per {c.billing_increment_s:g} s, min {c.billing_minimum_s:g} s"
            if c.billing_known
            else "unknown: whole hours"
        )
        how = "pinned" if c.pinned else f"least of {c.n_offers}"
        rows.append(
            [
                o.name,
                f"{c.provider} {c.instance}" + (f" ({c.region})" if c.region else ""),
                str(c.gpus_per_instance),
                f"${c.price_usd_per_gpu_hour:.2f}",
                billing,
                c.date_checked,
                f"{_usd(c.bill_usd)} ({how})",
                f"{_usd(c.bill_usd)} / {_usd(c.median_bill_usd)} / {_usd(c.dearest_bill_usd)}",
            ]
        )
    if rows:
        cols = ["option", "offer", "GPUs/inst.", "$/GPU-h", "billing", "checked", "GPU bill"]
        cols.append("offers: cheapest / median / dearest")
        console.print(make_table("GPU offer billed (the one that bills least for the fleet)", cols, rows))


def _latency_rows(result: ScenarioResult) -> list[tuple[str, PricedLatency]]:
    """(label, latency) of every GPU-backed option, then of each one inside a router / edge row."""
    rows = [(o.name, o.latency) for o in result.options if o.latency is not None]
    for o in result.options:
        rows += [(f"{o.name} → {r.option} ({100 * r.share:.3g}% of calls)", r.latency) for r in o.routed]
    return rows


def _print_latency(result: ScenarioResult) -> None:
    rows = []
    for name, lat in _latency_rows(result):
        given = lat.batch == 0
        rows.append(
            [
                name,
                "given" if given else f"{lat.ttft_s:.3g} s",
                "given" if given else f"{1e3 * lat.tpot_s:.0f} ms",
                "given" if given else f"{lat.tokens_per_s_per_user:.3g}",
                "given" if given else str(lat.batch),
                _pct(lat.utilization) if not given else "—",
                f"{lat.cold_start_s:.0f} s",
                f"TTFT {lat.slo_ttft_s:g} s, TPOT {1e3 * lat.slo_tpot_s:g} ms at P{lat.slo_percentile:g}",
            ]
        )
    if rows:
        cols = ["option", "TTFT", "TPOT", "tokens/s/user", "batch", "planned util.", "cold start", "SLO"]
        console.print(make_table("Latency priced (serving planner, busiest hour)", cols, rows))
    _print_simulated(result)


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{1e3 * x:,.0f} ms"


def _print_simulated(result: ScenarioResult) -> None:
    for o in result.options:
        sim = o.simulation
        if sim is None:
            continue
        rows = [
            [
                str(m.month),
                f"{m.gpu_hours_billed:,.0f}",
                f"{m.analytic_gpu_hours_billed:,.0f}",
                f"{m.day.gpu_hours_busy:,.1f}",
                f"{m.unserved_calls:,.0f}",
                f"{_ms(m.day.ttft_p50_s)} / {_ms(m.day.ttft_p90_s)} / {_ms(m.day.ttft_p99_s)}",
                f"{_ms(m.day.tpot_p50_s)} / {_ms(m.day.tpot_p90_s)} / {_ms(m.day.tpot_p99_s)}",
                str(m.day.shards),
            ]
            for m in sim.months
        ]
        cols = [
            "month",
            "GPU-h billed",
            "analytic",
            "busy/day",
            "unserved",
            "TTFT p50/90/99",
            "TPOT p50/90/99",
        ]
        console.print(make_table(f"{o.name}: simulated fleet (normal day)", [*cols, "shards k"], rows))


def _print_answers(result: ScenarioResult) -> None:
    if result.break_evens:
        rows = [
            [
                f"{b.api_option} vs {b.gpu_option}",
                "never" if b.requests_per_day is None else f"{b.requests_per_day:,.0f}/day",
                f"{b.current_requests_per_day:,.0f}/day",
                b.note,
            ]
            for b in result.break_evens
        ]
        console.print(make_table("Break-even volume", ["pair", "break-even", "now", "note"], rows))
    names = {c.name for c in result.one_time_costs}
    extras = [
        [
            f"payback: {p.option} vs {p.api_option}",
            f"month {p.month}" if p.month else "never within the horizon",
            (
                "cumulative cost (one-time included) at or below the API's"
                + (f"; {p.note}" if p.note else "")
                if p.month
                else "its cumulative cost stays above the API's"
            ),
        ]
        for p in result.paybacks
    ]
    extras += [
        [
            f"crossover: {c.option}",
            f"month {c.month}" if c.month else "not within horizon",
            f"cumulative recurring spend passes one-time {_usd(c.one_time_usd)} ({', '.join(sorted(names))})",
        ]
        for c in result.crossovers
    ]
    extras += [
        [
            f"router: {r.router_option}",
            f"saves {_usd(r.savings_usd)}",
            f"{_pct(r.savings_fraction)} vs {r.baseline_label}",
        ]
        for r in result.router_savings
    ]
    extras += [
        [f"idle: {i.option}", _usd(i.idle_cost_usd), f"{_pct(i.idle_fraction)} of its GPU bill"]
        for i in result.idle_costs
    ]
    if extras:
        console.print(make_table("Answers", ["question", "answer", "detail"], extras))
    for t in result.tornado:
        if t.option == result.cheapest_option and t.rows:
            rows = [
                [
                    r.input_name,
                    f"{r.low:g}..{r.high:g}",
                    _usd(r.output_low),
                    _usd(r.output_high),
                    _usd(r.swing),
                ]
                for r in t.rows[:8]
            ]
            console.print(
                make_table(
                    f"Sensitivity of {t.option} total (tornado)",
                    ["input", "range", "at low", "at high", "swing"],
                    rows,
                )
            )
    if result.monte_carlo is not None:
        mc = result.monte_carlo
        rows = [
            [
                u.option,
                _usd(u.total_cost_usd.p10),
                _usd(u.total_cost_usd.p50),
                _usd(u.total_cost_usd.p90),
                _prob(u.probability_cheapest),
            ]
            for u in mc.options
        ]
        console.print(
            make_table(
                f"Monte Carlo total cost ({mc.samples:,} samples, seed {mc.seed})",
                ["option", "P10", "P50", "P90", "P(cheapest)"],
                rows,
            )
        )
    for note in result.notes:
        console.print(f"note: {note}")
    for o in result.options:
        for note in o.notes:
            console.print(f"[yellow]{o.name}: {note}[/yellow]")
    best = result.option(result.cheapest_option)
    console.print(
        f"[bold]Cheapest over {result.horizon_months} months: {best.label} "
        f"at {_usd(best.total_cost_usd)}[/bold] "
        f"({_usd(best.lifetime_cost_per_request_usd)} per AI request, one-time costs included)"
        + (
            f", leaving {100 * best.unserved_share:.3g}% of AI requests unserved."
            if best.unserved_share
            else "."
        )
    )
    short = [o for o in result.options if o.unserved_share > 0]
    if short:
        console.print(
            "[bold red]Unserved demand:[/bold red] "
            + "; ".join(
                f"{o.name} leaves {100 * o.unserved_share:.3g}% of AI requests unserved" for o in short
            )
        )


def render_report(result: ScenarioResult, path: Path) -> str:
    """Return the HTML report of ``result`` (raises when this build has no HTML renderer)."""
    try:
        report = importlib.import_module("flopbill.report")
    except ModuleNotFoundError as exc:
        if exc.name not in ("flopbill.report",):
            raise
        report = None
    render = getattr(report, "render_html", None)
    if render is None:
        raise InputError("--html", str(path), "a build with the HTML report (flopbill.report.render_html)")
    html: str = render(result)
    return html


def write_html(result: ScenarioResult, path: Path, force: bool = False) -> None:
    """Write the HTML report atomically (temp file + rename): nothing half-written on error."""
    write_all([(path, render_report(result, path))], "--html", force)


def _html_targets(scenarios: list[Path], html: Path | None, force: bool) -> list[Path | None]:
    """Return where each scenario's report goes: ``html`` itself for one scenario, ``html/<stem>.html``
    for several (``html`` is then a directory, created if missing)."""
    if html is None:
        return [None] * len(scenarios)
    html = check_path(html, "--html")
    if len(scenarios) == 1 and html.suffix.lower() in (".html", ".htm"):
        return [check_target(html, "--html", force)]
    if html.exists() and not html.is_dir():
        raise InputError(
            "--html", str(html), "a directory for several reports (or one scenario and a .html file)"
        )
    stems = [s.stem for s in scenarios]
    if len(set(stems)) != len(stems):
        raise InputError("scenario", ", ".join(map(str, scenarios)), "files with distinct names")
    return [check_target(html / f"{stem}.html", "--html", force) for stem in stems]


def _project(
    path: Path, scenario: Scenario, lines: dict[LinePath, int], samples: int | None, seed: int | None
) -> ScenarioResult:
    """Return the projection; an error about a scenario field names the file and its line."""
    try:
        return project(scenario, samples=samples, seed=seed)
    except InputError as exc:
        raise located(str(path), lines, exc) from None


@app.command()
def plan(
    scenarios: list[Path] = typer.Argument(..., help="scenario YAML file(s) (see examples/)"),
    samples: int = typer.Option(
        None, "--samples", help="Monte Carlo samples (default: the scenario's; 0 = off)"
    ),
    seed: int = typer.Option(None, "--seed", help="Monte Carlo seed (default: the scenario's)"),
    html: Path = typer.Option(
        None, "--html", help="write an HTML report: a .html file (one scenario) or a directory (several)"
    ),
    assumptions: bool = typer.Option(False, "--assumptions", help="print every assumption and its source"),
    force: bool = typer.Option(
        False, "--force", help="replace a symbolic link at an --html target (the link, not its target)"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Project product scenarios month by month: cost per option, break-evens, sensitivity, P10/P50/P90.

    Every scenario is loaded and checked, and every report rendered, before anything is written; the
    reports are then written all or nothing, so a bad file writes nothing.
    """
    if samples is not None and samples < 0:
        raise InputError("--samples", samples, "a number of samples ≥ 0")
    targets = _html_targets(scenarios, html, force)
    loaded = [load_scenario_lines(s) for s in scenarios]
    results = [_project(path, *doc, samples, seed) for path, doc in zip(scenarios, loaded, strict=True)]
    pages = [(t, render_report(r, t)) for r, t in zip(results, targets, strict=True) if t is not None]
    write_all(pages, "--html", force)
    if json_out:
        print_json(results[0] if len(results) == 1 else results)
        return
    for result, target in zip(results, targets, strict=True):
        print_result(result, assumptions)
        if target is not None:
            console.print(f"wrote {target}")
