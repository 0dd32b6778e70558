"""Import and classify a generated CUR 2.0 bill of N lines (default 50M) on DuckDB; lines/s and peak memory.

Run: ``.venv/bin/python benchmarks/bench_bills.py [--lines 50000000] [--threads 2]``. The bill is generated
by DuckDB straight to Parquet (never through Python), cycling through AI-heavy usage types (SageMaker,
Bedrock tokens, tagged and untagged GPU instances, plain EC2/S3). Timed: ``bill import`` (read, validate,
map, insert in one transaction) and ``bill classify`` totals (every rule evaluated per line in the engine).
Peak memory is the process's maximum resident set size (``ru_maxrss``), DuckDB's memory_limit 4 GB.
Prints a table for people and one JSON line for scripts.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from flopbill.bills import classify, db, engines, ingest, rules

USAGE = [
    ("USE1-Train:ml.p4d.24xlarge", "AmazonSageMaker", "{}"),
    ("USE1-Host:ml.g5.2xlarge", "AmazonSageMaker", "{}"),
    ("USE1-Claude3.5Sonnet-input-tokens", "AmazonBedrock", "{}"),
    ("USE1-BoxUsage:p5.48xlarge", "AmazonEC2", '{"user_phase": "training"}'),
    ("USE1-BoxUsage:p5.48xlarge", "AmazonEC2", '{"user_name": "vllm-serving"}'),
    ("USE1-BoxUsage:p4d.24xlarge", "AmazonEC2", "{}"),
    ("USE1-BoxUsage:m5.large", "AmazonEC2", "{}"),
    ("USE1-TimedStorage-ByteHrs", "AmazonS3", "{}"),
]


def generate(path: Path, lines: int) -> None:
    """Write a CUR 2.0-shaped Parquet file of ``lines`` rows with DuckDB (out of core)."""
    cases = " ".join(f"WHEN {i} THEN '{u}'" for i, (u, _, _) in enumerate(USAGE))
    codes = " ".join(f"WHEN {i} THEN '{c}'" for i, (_, c, _) in enumerate(USAGE))
    tags = " ".join(f"WHEN {i} THEN '{t}'" for i, (_, _, t) in enumerate(USAGE))
    k = len(USAGE)
    duckdb.execute(
        f"""COPY (SELECT
          '111122223333' AS bill_payer_account_id, '444455556666' AS line_item_usage_account_id,
          'Usage' AS line_item_line_item_type,
          TIMESTAMP '2026-01-01' + to_hours(i % 2160) AS line_item_usage_start_date,
          TIMESTAMP '2026-01-01' + to_hours(i % 2160 + 1) AS line_item_usage_end_date,
          CASE i % {k} {codes} END AS line_item_product_code,
          CASE i % {k} {cases} END AS line_item_usage_type,
          'RunInstances' AS line_item_operation, 'i-' || (i % 100000) AS line_item_resource_id,
          1.0 AS line_item_usage_amount, 'Hrs' AS pricing_unit, 'USD' AS line_item_currency_code,
          CAST((i % 10000) / 100.0 AS DECIMAL(18, 6)) AS line_item_unblended_cost,
          CASE i % {k} {tags} END AS resource_tags
        FROM range({lines}) t(i)) TO '{path}' (FORMAT parquet)"""
    )


def main() -> None:
    """Generate, import, classify; print timings and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flopbill-bench-") as tmp:
        bill = Path(tmp) / "cur.parquet"
        t0 = time.perf_counter()
        generate(bill, args.lines)
        t_gen = time.perf_counter() - t0
        con = db.connect(Path(tmp) / "bench.duckdb")
        con.execute(f"SET threads = {args.threads}; SET memory_limit = '4GB'")
        t0 = time.perf_counter()
        ingest.import_files(con, [bill])
        t_import = time.perf_counter() - t0
        rule_set = rules.load_rules()
        source = engines.duckdb_lines(con)
        t0 = time.perf_counter()
        totals = classify.totals(classify.classify(source, rule_set), source, rule_set)
        t_classify = time.perf_counter() - t0
        con.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "lines": args.lines,
        "threads": args.threads,
        "generate_s": round(t_gen, 2),
        "import_s": round(t_import, 2),
        "import_lines_per_s": round(args.lines / t_import),
        "classify_s": round(t_classify, 2),
        "classify_lines_per_s": round(args.lines / t_classify),
        "peak_rss_mib": round(peak_mib),
        "phases": {p.phase: p.lines for p in totals.phases},
    }
    print(f"{'lines':>12} {'import s':>9} {'lines/s':>12} {'classify s':>11} {'lines/s':>12} {'peak MiB':>9}")
    print(
        f"{args.lines:>12,} {t_import:>9.1f} {out['import_lines_per_s']:>12,} {t_classify:>11.1f} "
        f"{out['classify_lines_per_s']:>12,} {out['peak_rss_mib']:>9,}"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
