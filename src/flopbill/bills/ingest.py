"""Import bill files into the bill database: detect the format, validate, map, insert — one transaction.

Every file of one ``import_files`` call goes in together or not at all: a malformed file raises
:class:`~flopbill.bills.errors.BillFileError` (file, column, row) and the transaction is rolled back.
A file is identified by the SHA-256 of its bytes, so importing the same file again adds nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import duckdb

from flopbill.bills import ingest_azure, ingest_cur, ingest_focus, ingest_gcp
from flopbill.bills.columns import Check, Columns, literal
from flopbill.bills.errors import BillFileError
from flopbill.bills.schema import LINE_COLUMN_NAMES, BillFormat

ADAPTERS: dict[BillFormat, ModuleType] = {
    BillFormat.CUR2: ingest_cur,
    BillFormat.AZURE: ingest_azure,
    BillFormat.GCP: ingest_gcp,
    BillFormat.FOCUS: ingest_focus,
}
_AZURE_MAP = files("flopbill.bills").joinpath("data").joinpath("azure_services_focus_mapping.csv")


@dataclass(frozen=True)
class FileImport:
    """What one file contributed: its lines and BilledCost total, or ``skipped`` if already imported."""

    file: str
    format: str
    sha256: str
    lines: int
    billed_cost: Decimal
    currency: str | None
    skipped: bool


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reader(path: Path) -> str:
    name = path.name.lower()
    where = literal(str(path))
    if name.endswith(".parquet"):
        return f"read_parquet({where})"
    if name.endswith((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz")):
        return f"read_json({where}, format = 'newline_delimited')"
    return f"read_csv({where}, header = true, all_varchar = true, nullstr = ['NULL', ''])"


def _load_raw(con: duckdb.DuckDBPyConnection, path: Path) -> Columns:
    if not path.is_file():
        raise BillFileError(path, None, None, "no such file")
    try:
        if path.name.lower().endswith(".parquet"):  # Parquet numbers its rows: no copy needed
            con.execute(
                "CREATE OR REPLACE TEMP VIEW __raw AS SELECT * EXCLUDE (file_row_number), "
                f"file_row_number + 1 AS __row "
                f"FROM read_parquet({literal(str(path))}, file_row_number = true)"
            )
        else:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE __raw AS "
                f"SELECT *, row_number() OVER () AS __row FROM {_reader(path)}"
            )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise BillFileError(path, None, None, f"cannot be read ({first})") from None
    described = con.execute("DESCRIBE __raw").fetchall()
    return Columns([(str(r[0]), str(r[1])) for r in described if r[0] != "__row"])


def detect_format(cols: Columns) -> BillFormat | None:
    """Return the format whose signature columns the header has (CUR, Azure, GCP, FOCUS in that order)."""
    for fmt, adapter in ADAPTERS.items():
        if all(cols.has(name) for name in adapter.SIGNATURE):
            return fmt
    return None


def _require(path: Path, cols: Columns, fmt: BillFormat, adapter: ModuleType) -> None:
    for alternatives in adapter.REQUIRED:
        if not any(cols.has(name) for name in alternatives):
            raise BillFileError(
                path, " or ".join(alternatives), None, f"missing column (a {fmt} file needs it)"
            )


def _first_bad_row(con: duckdb.DuckDBPyConnection, path: Path, checks: list[Check]) -> None:
    if not checks:
        return
    probes = ", ".join(
        f"min(CASE WHEN ({c.source}) IS NOT NULL AND ({c.converted}) IS NULL THEN __row END)" for c in checks
    )
    rows = con.execute(f"SELECT {probes} FROM __raw").fetchone() or ()
    bad = [(row, check) for row, check in zip(rows, checks, strict=True) if row is not None]
    if not bad:
        return
    row, check = min(bad, key=lambda item: int(item[0]))
    value = con.execute(
        f"SELECT CAST({check.source} AS VARCHAR) FROM __raw WHERE __row = {int(row)}"
    ).fetchone()
    shown = value[0] if value else None
    raise BillFileError(path, check.column, int(row), f"{shown!r} is not {check.expected}")


def _ensure_azure_map(con: duckdb.DuckDBPyConnection) -> None:
    with _AZURE_MAP.open("rb") as handle:
        text = handle.read().decode("utf-8")
    con.execute("CREATE TEMP TABLE IF NOT EXISTS __az_src (svc VARCHAR, rt VARCHAR, cat VARCHAR)")
    if con.execute("SELECT count(*) FROM __az_src").fetchone() == (0,):
        rows = [line.split(",") for line in text.splitlines()[1:] if line.strip()]
        con.executemany(
            "INSERT INTO __az_src VALUES (lower(?), lower(?), ?)",
            [(r[0], r[1], r[3]) for r in rows if len(r) > 3],
        )


def _from_clause(con: duckdb.DuckDBPyConnection, fmt: BillFormat, cols: Columns) -> str:
    if fmt is not BillFormat.AZURE:
        return "__raw"
    _ensure_azure_map(con)
    svc, rt = ingest_azure.consumed_service(cols)
    return (
        "(SELECT r.*, COALESCE(m1.cat, m2.cat) AS __category FROM __raw r "
        f"LEFT JOIN (SELECT svc, rt, any_value(cat) AS cat FROM __az_src GROUP BY ALL) m1 "
        f"ON m1.svc = {svc} AND m1.rt = {rt} "
        "LEFT JOIN (SELECT svc, any_value(cat) AS cat FROM __az_src "
        "GROUP BY svc HAVING count(DISTINCT cat) = 1) m2 "
        f"ON m2.svc = {svc})"
    )


def _insert(con: duckdb.DuckDBPyConnection, path: Path, fmt: BillFormat, cols: Columns, sha: str) -> None:
    exprs = ADAPTERS[fmt].expressions(cols)
    exprs["x_LineId"] = f"{literal(sha[:16] + ':')} || CAST(__row AS VARCHAR)"
    exprs["x_SourceFile"] = literal(path.name)
    exprs["x_SourceRow"] = "__row"
    exprs["x_SourceFormat"] = literal(fmt.value)
    select = ", ".join(f'{exprs[name]} AS "{name}"' for name in LINE_COLUMN_NAMES)
    columns = ", ".join(f'"{name}"' for name in LINE_COLUMN_NAMES)
    con.execute(f"INSERT INTO lines ({columns}) SELECT {select} FROM {_from_clause(con, fmt, cols)}")


_REQUIRED_VALUES = ("BilledCost", "EffectiveCost", "ChargePeriodStart", "BillingCurrency")


def _check_inserted(
    con: duckdb.DuckDBPyConnection, path: Path, prefix: str
) -> tuple[int, Decimal, str | None]:
    """Check the new lines in one scan: costs, start and currency present; one currency, the database's.

    Returns (lines, BilledCost total, currency).
    """
    where = f"starts_with(x_LineId, {literal(prefix + ':')})"
    probes = ", ".join(f'min(CASE WHEN "{c}" IS NULL THEN x_SourceRow END)' for c in _REQUIRED_VALUES)
    row = con.execute(
        f"SELECT {probes}, count(*), COALESCE(sum(BilledCost), 0), count(DISTINCT BillingCurrency), "
        f"arg_min(BillingCurrency, x_SourceRow) FROM lines WHERE {where}"
    ).fetchone()
    if row is None:  # an aggregate always returns one row
        raise RuntimeError("aggregate returned no row")
    for column, bad in zip(_REQUIRED_VALUES, row[:4], strict=True):
        if bad is not None:
            raise BillFileError(path, column, int(bad), "missing value")
    count, total, n_currencies, currency = int(row[4]), Decimal(row[5]), int(row[6]), row[7]
    if n_currencies > 1:
        other = con.execute(
            f"SELECT BillingCurrency, min(x_SourceRow) AS r FROM lines WHERE {where} "
            f"AND BillingCurrency <> {literal(str(currency))} GROUP BY 1 ORDER BY r LIMIT 1"
        ).fetchone()
        raise BillFileError(
            path,
            "BillingCurrency",
            int(other[1]) if other else None,
            f"currency {other[0] if other else '?'!r} differs from {currency!r} on row 1 "
            "(one currency per bill database; split the file by currency)",
        )
    existing = con.execute("SELECT DISTINCT currency FROM imports").fetchall()
    if currency is not None and existing and existing[0][0] != currency:
        raise BillFileError(
            path,
            "BillingCurrency",
            1,
            f"currency {currency!r} differs from the database's {existing[0][0]!r} (use another --db)",
        )
    return count, total, None if currency is None else str(currency)


def _import_one(con: duckdb.DuckDBPyConnection, path: Path, fmt: BillFormat | None) -> FileImport:
    sha = file_sha256(path) if path.is_file() else ""
    done = con.execute(
        "SELECT file_name, format, line_count, billed_cost, currency FROM imports WHERE sha256 = ?", [sha]
    ).fetchone()
    if done:
        return FileImport(str(path), str(done[1]), sha, int(done[2]), Decimal(done[3]), done[4], skipped=True)
    cols = _load_raw(con, path)
    found = fmt or detect_format(cols)
    if found is None:
        raise BillFileError(
            path,
            None,
            None,
            "unknown format (not FOCUS, CUR 2.0, GCP export or Azure cost details; try --format)",
        )
    adapter = ADAPTERS[found]
    _require(path, cols, found, adapter)
    _first_bad_row(con, path, adapter.checks(cols))
    _insert(con, path, found, cols, sha)
    count, total, currency = _check_inserted(con, path, sha[:16])
    con.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [sha, path.name, found.value, count, total, currency],
    )
    kind = "VIEW" if path.name.lower().endswith(".parquet") else "TABLE"
    con.execute(f"DROP {kind} IF EXISTS __raw")
    return FileImport(str(path), found.value, sha, count, total, currency, skipped=False)


def import_files(
    con: duckdb.DuckDBPyConnection, paths: list[Path], fmt: BillFormat | None = None
) -> tuple[FileImport, ...]:
    """Import ``paths`` in one transaction; return what each file added (``skipped`` if already there).

    Raises :class:`BillFileError` for the first malformed file; then nothing of any file is imported.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        results = tuple(_import_one(con, Path(p), fmt) for p in paths)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return results
