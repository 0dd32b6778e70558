"""The same Ibis classification on PySpark (local mode) gives the same phase, rule and confidence for every
line as on DuckDB, and the same totals. One SparkSession for the module (local[1], no UI)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bills import fixtures
from bills.conftest import AZURE_SAMPLE, FOCUS_SAMPLE
from flopbill.bills import classify, db, engines, ingest, rules

pytestmark = [
    pytest.mark.skipif(shutil.which("java") is None, reason="PySpark needs Java 17 (not installed)"),
    # third-party noise: ibis' Spark backend on pandas 3, py4j's gateway sockets
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = engines.local_spark(cores=1, app_name="flopbill-tests")
    yield session
    session.stop()


def _lines(table: Any) -> dict[str, tuple[str, str, float]]:
    cols = table[["x_LineId", "phase", "rule_id", "confidence"]].to_pyarrow().to_pylist()
    return {r["x_LineId"]: (r["phase"], r["rule_id"], r["confidence"]) for r in cols}


def test_duckdb_and_spark_classify_every_line_alike(tmp_path: Path, spark: Any) -> None:
    con = db.connect(tmp_path / "parity.duckdb")
    paths = fixtures.write_all(tmp_path) + [p for p in (FOCUS_SAMPLE, AZURE_SAMPLE) if p.is_file()]
    ingest.import_files(con, paths)
    rule_set = rules.load_rules()
    on_duckdb = classify.classify(engines.duckdb_lines(con), rule_set)
    parquet = engines.export_lines(con, tmp_path / "lines.parquet")
    source = engines.spark_lines(spark, parquet)
    on_spark = classify.classify(source, rule_set)
    expected = _lines(on_duckdb)
    got = _lines(on_spark)
    assert len(got) == len(expected) >= 37
    assert got == expected
    duck_totals = classify.totals(on_duckdb, engines.duckdb_lines(con), rule_set)
    spark_totals = classify.totals(on_spark, source, rule_set)
    assert spark_totals == duck_totals
    con.close()


def test_cli_engine_spark_gives_the_duckdb_totals(tmp_path: Path, spark: Any, run_cli: Any) -> None:
    """``bill classify --engine spark`` (reusing this module's session) prints the DuckDB totals."""
    import json

    dbfile = str(tmp_path / "cli.duckdb")
    paths = [str(p) for p in fixtures.write_all(tmp_path)]
    assert run_cli(["bill", "import", *paths, "--db", dbfile])[0] == 0
    outs = []
    for engine in ("duckdb", "spark"):
        code, out, err = run_cli(["bill", "classify", "--db", dbfile, "--engine", engine, "--json"])
        assert code == 0, err
        payload = json.loads(out)
        outs.append((payload["input"], payload["phases"]))
    assert outs[0] == outs[1]
