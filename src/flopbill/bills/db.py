"""The bill database: one embedded DuckDB file holding imported lines and the import log.

The default file is ``bills.duckdb`` under the user's data directory (``$XDG_DATA_HOME/flopbill`` or
``~/.local/share/flopbill``); ``FLOPBILL_BILLS_DB`` or an explicit path overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from flopbill.bills.schema import LINE_COLUMNS
from flopbill.errors import InputError

DB_ENV = "FLOPBILL_BILLS_DB"


def default_db_path() -> Path:
    """Return the bill database path: ``$FLOPBILL_BILLS_DB``, else ``<data dir>/flopbill/bills.duckdb``."""
    explicit = os.environ.get(DB_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "flopbill" / "bills.duckdb"


def resolve_db_path(path: Path | None) -> Path:
    """Return ``path`` if given, else :func:`default_db_path`."""
    return path if path is not None else default_db_path()


def _lines_ddl() -> str:
    cols = ",\n  ".join(f'"{name}" {sql_type}' for name, sql_type in LINE_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS lines (\n  {cols}\n)"


_IMPORTS_DDL = """CREATE TABLE IF NOT EXISTS imports (
  sha256 VARCHAR PRIMARY KEY,
  file_name VARCHAR,
  format VARCHAR,
  line_count BIGINT,
  billed_cost DECIMAL(38, 18),
  currency VARCHAR,
  imported_at TIMESTAMP
)"""


def connect(path: Path, create: bool = True) -> duckdb.DuckDBPyConnection:
    """Open (and if ``create``, initialise) the bill database at ``path``."""
    if not create and not path.exists():
        raise InputError("--db", str(path), "an existing bill database (run `flopbill bill import` first)")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(_lines_ddl())
    con.execute(_IMPORTS_DDL)
    return con
