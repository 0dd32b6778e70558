"""``flopbill bill``: import cloud bills into DuckDB, classify every line by phase, report, reconcile."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import typer

from flopbill.bills import classify as classify_mod
from flopbill.bills import db, engines, ingest, outputs
from flopbill.bills.reconcile import reconcile
from flopbill.bills.report import bill_report
from flopbill.bills.rules import load_rules
from flopbill.bills.schema import BillFormat
from flopbill.cli.app import JSON_OPTION, app, console, make_table, print_json
from flopbill.errors import InputError

bill_app = typer.Typer(
    help="Import cloud bills (FOCUS, CUR 2.0, GCP, Azure), classify lines by phase, report, reconcile.",
    no_args_is_help=True,
)
app.add_typer(bill_app, name="bill")

DB_OPTION = typer.Option(
    None, "--db", help="Bill database (DuckDB file); default $FLOPBILL_BILLS_DB or the data dir."
)
RULES_OPTION = typer.Option(None, "--rules", help="Rules YAML replacing the built-in rules-v1.yaml.")
ENGINE_OPTION = typer.Option(
    "duckdb", "--engine", help="Where to classify: duckdb (default) or spark (local mode)."
)


@bill_app.command("import")
def import_cmd(
    files: list[Path] = typer.Argument(..., help="Bill files (CSV, Parquet, JSON lines)."),
    db_path: Path | None = DB_OPTION,
    fmt: BillFormat | None = typer.Option(
        None, "--format", help="Skip detection: focus, cur2, gcp or azure."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import bill files in one transaction; importing a file again adds nothing."""
    path = db.resolve_db_path(db_path)
    con = db.connect(path)
    try:
        results = ingest.import_files(con, list(files), fmt)
    finally:
        con.close()
    if as_json:
        print_json({"db": str(path), "files": outputs.plain(results)})
        return
    rows = [
        [
            r.file,
            r.format,
            f"{r.lines:,}",
            f"{r.billed_cost:.2f} {r.currency or ''}",
            "already imported" if r.skipped else "imported",
        ]
        for r in results
    ]
    console.print(
        make_table(f"Imported into {path}", ["file", "format", "lines", "BilledCost", "status"], rows)
    )


@contextmanager
def _lines_db(file: Path | None, db_path: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection holding the lines: a FILE imported into a throw-away database, or --db."""
    if file is not None:
        with tempfile.TemporaryDirectory(prefix="flopbill-bill-") as tmp:
            con = db.connect(Path(tmp) / "bill.duckdb")
            try:
                ingest.import_files(con, [file])
                yield con
            finally:
                con.close()
        return
    con = db.connect(db.resolve_db_path(db_path), create=False)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _classified(
    con: duckdb.DuckDBPyConnection, rules_path: Path | None, engine: str
) -> Iterator[tuple[Any, Any, Any]]:
    """Yield (source lines, classified lines, rules) on the chosen engine."""
    try:
        chosen = engines.Engine(engine)
    except ValueError:
        raise InputError("--engine", engine, "duckdb or spark") from None
    rules = load_rules(rules_path)
    if chosen is engines.Engine.DUCKDB:
        source = engines.duckdb_lines(con)
        yield source, classify_mod.classify(source, rules), rules
        return
    with tempfile.TemporaryDirectory(prefix="flopbill-spark-") as tmp:
        parquet = engines.export_lines(con, Path(tmp) / "lines.parquet")
        session = engines.local_spark(cores=2)
        source = engines.spark_lines(session, parquet)
        yield source, classify_mod.classify(source, rules), rules


@bill_app.command("classify")
def classify_cmd(
    file: Path | None = typer.Argument(None, help="A bill file to classify without importing it."),
    db_path: Path | None = DB_OPTION,
    rules_path: Path | None = RULES_OPTION,
    out: Path | None = typer.Option(
        None, "--out", help="Write every line with phase, rule_id, confidence (.csv or .parquet)."
    ),
    engine: str = ENGINE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sort every line into training, fine_tuning, inference, other or unclassified; totals per phase."""
    with _lines_db(file, db_path) as con, _classified(con, rules_path, engine) as (source, classified, rules):
        result = classify_mod.totals(classified, source, rules)
        if out is not None:
            outputs.write_lines(classified, out)
    if as_json:
        print_json({"engine": engine, **outputs.totals_json(result)})
        return
    cur = result.currency or ""
    rows = [
        [p.phase, f"{p.lines:,}", f"{p.billed_cost:.2f} {cur}", f"{p.effective_cost:.2f} {cur}"]
        for p in result.phases
    ]
    rows.append(
        [
            "total",
            f"{result.input_lines:,}",
            f"{result.input_billed_cost:.2f} {cur}",
            f"{result.input_effective_cost:.2f} {cur}",
        ]
    )
    console.print(
        make_table(
            f"Spend by phase (rules v{result.rules_version})",
            ["phase", "lines", "BilledCost", "EffectiveCost"],
            rows,
        )
    )
    if out is not None:
        console.print(f"every line with phase, rule_id, confidence: {out}")


@bill_app.command("report")
def report_cmd(
    db_path: Path | None = DB_OPTION,
    rules_path: Path | None = RULES_OPTION,
    amortization_months: int = typer.Option(
        36, "--amortize-months", min=1, help="Straight-line months for training."
    ),
    html: Path | None = typer.Option(None, "--html", help="Write index.html into this folder."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Spend by phase and month, training as capital vs inference as operating, unit costs, review list."""
    with (
        _lines_db(None, db_path) as con,
        _classified(con, rules_path, "duckdb") as (source, classified, rules),
    ):
        currency = classify_mod.totals(classified, source, rules).currency
        rep = bill_report(classified, currency, amortization_months)
    if html is not None:
        from flopbill.report.bills_html import bill_report_html

        html.mkdir(parents=True, exist_ok=True)
        (html / "index.html").write_text(bill_report_html(rep), encoding="utf-8")
    if as_json:
        print_json(outputs.report_json(rep))
        return
    rows = [[m.month, m.phase, f"{m.billed_cost:.2f}"] for m in rep.by_month]
    console.print(
        make_table(f"BilledCost by month and phase ({rep.currency})", ["month", "phase", "BilledCost"], rows)
    )
    console.print(f"policy: {rep.policy}")
    rows = [[t.key[:60], t.rule_id, str(t.lines), f"{t.billed_cost:.2f}"] for t in rep.unclassified[:10]]
    console.print(
        make_table("Unclassified spend to review", ["resource", "rule", "lines", "BilledCost"], rows)
    )
    if html is not None:
        console.print(f"HTML report: {html / 'index.html'}")


@bill_app.command("reconcile")
def reconcile_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML (the plan, as `flopbill plan` reads it)."),
    db_path: Path | None = DB_OPTION,
    rules_path: Path | None = RULES_OPTION,
    start: str | None = typer.Option(
        None, "--start", help="Bill month of plan month 1 (YYYY-MM); default: first bill month."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Plan vs actual per month and option: dollars and GPU-hours, the variance and its biggest drivers."""
    from flopbill.scenario.loader import load_scenario
    from flopbill.scenario.projection import project

    plan = project(load_scenario(scenario))
    with (
        _lines_db(None, db_path) as con,
        _classified(con, rules_path, "duckdb") as (_source, classified, _rules),
    ):
        result = reconcile(plan, classified, start)
    if as_json:
        print_json(outputs.plain(result))
        return
    for opt in result.options:
        rows = [
            [
                m.month,
                f"{m.plan_usd:,.2f}",
                f"{m.actual:,.2f}",
                "—" if m.variance is None else f"{m.variance:,.2f}",
                m.plan_gpu_hours_text,
                f"{m.actual_gpu_hours:,.1f}",
                "—" if m.plan_tokens is None else f"{m.plan_tokens:,.0f}",
                f"{m.actual_tokens:,.0f}",
            ]
            for m in opt.months
        ]
        console.print(
            make_table(
                f"{opt.option} ({opt.kind}): plan vs actual ({result.currency}; {opt.matched_lines})",
                [
                    "month",
                    "plan $",
                    "actual",
                    "variance",
                    "plan GPU-h",
                    "actual GPU-h",
                    "plan tokens",
                    "actual tokens",
                ],
                rows,
            )
        )
    rows = [[d.key, d.phase, f"{d.billed_cost:.2f}"] for d in result.drivers]
    console.print(make_table("Biggest drivers of actual AI spend", ["usage", "phase", "BilledCost"], rows))
