"""Where the classification runs: the embedded DuckDB bill database, or PySpark (local mode or a cluster).

The same Ibis expressions (:mod:`flopbill.bills.classify`) run on both. For Spark the canonical lines
are read from Parquet, as a warehouse would hold them; :func:`export_lines` writes that file from DuckDB.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from flopbill.bills.columns import literal


class Engine(enum.StrEnum):
    """Engines ``bill classify --engine`` accepts."""

    DUCKDB = "duckdb"
    SPARK = "spark"


def duckdb_lines(con: duckdb.DuckDBPyConnection) -> ir.Table:
    """Return the ``lines`` table of a bill database as an Ibis table (DuckDB backend)."""
    return ibis.duckdb.from_connection(con).table("lines")


def export_lines(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Write every canonical line to a Parquet file (streamed by DuckDB, not through Python); return it."""
    con.execute(f"COPY (SELECT * FROM lines) TO {literal(str(path))} (FORMAT parquet)")
    return path


def local_spark(cores: int = 1, app_name: str = "flopbill-bills") -> Any:
    """Return a local-mode SparkSession sized for a laptop or a test: no UI, few shuffle partitions, UTC.

    Its SQL warehouse (where Ibis registers tables) is a fresh temporary folder, never the working directory.
    """
    import tempfile

    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder
    session = (
        builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(max(1, cores)))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="flopbill-spark-warehouse-"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_lines(session: Any, parquet: Path) -> ir.Table:
    """Return canonical lines stored as Parquet as an Ibis table on the PySpark backend."""
    con = ibis.pyspark.connect(session)
    return con.read_parquet(str(parquet))
