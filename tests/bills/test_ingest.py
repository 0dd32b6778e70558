"""Import: real FOCUS and Azure samples, every provider format, idempotency, malformed files."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from bills import fixtures
from bills.conftest import AZURE_SAMPLE, FOCUS_SAMPLE, needs_shared
from flopbill.bills import db, ingest
from flopbill.bills.errors import BillFileError


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM lines").fetchone()
    assert row is not None
    return int(row[0])


@needs_shared(FOCUS_SAMPLE)
def test_real_focus_sample_total_matches_an_independent_decimal_sum(con: duckdb.DuckDBPyConnection) -> None:
    """The BilledCost total equals the CSV's column summed with Python's Decimal (no DuckDB involved)."""
    (result,) = ingest.import_files(con, [FOCUS_SAMPLE])
    with FOCUS_SAMPLE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    assert result.lines == len(rows) == 1000
    assert result.billed_cost == expected
    assert result.format == "focus" and result.currency == "USD"


@needs_shared(AZURE_SAMPLE)
def test_real_azure_sample_bom_us_dates_and_braceless_tags(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest.import_files(con, [AZURE_SAMPLE])
    with AZURE_SAMPLE.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert result.format == "azure" and result.lines == len(rows) == 11
    assert result.billed_cost == sum((Decimal(r["Cost"]) for r in rows), Decimal(0))
    first = con.execute("SELECT ChargePeriodStart, Tags FROM lines WHERE x_SourceRow = 2").fetchone()
    assert first is not None
    assert first[0] == dt.datetime(2023, 9, 4)  # "09/04/2023" in the file: month first
    assert first[1]["costcenter"] == "1234" and first[1]["env"] == "prod"


def test_every_fixture_format_is_detected_and_totals_kept(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    paths = fixtures.write_all(tmp_path)
    results = ingest.import_files(con, paths)
    assert [r.format for r in results] == ["cur2", "gcp", "azure", "focus"]
    cur_total = sum((Decimal(line[6]) for line in fixtures.CUR_LINES), Decimal(0))
    assert results[0].billed_cost == cur_total
    gcp = con.execute(
        "SELECT sum(BilledCost), sum(EffectiveCost) FROM lines WHERE x_SourceFormat = 'gcp'"
    ).fetchone()
    assert gcp is not None
    billed = sum((Decimal(line[4]) for line in fixtures.GCP_LINES), Decimal(0))
    credits = sum((Decimal(line[5]) for line in fixtures.GCP_LINES), Decimal(0))
    assert gcp == (billed, billed + credits)  # EffectiveCost = cost + (negative) credits


def test_cur_tags_lose_user_prefix_and_case(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    ingest.import_files(con, [fixtures.write_cur_csv(tmp_path / "cur.csv")])
    row = con.execute("SELECT Tags FROM lines WHERE ResourceId = 'i-0ccc'").fetchone()
    assert row is not None and row[0] == {"name": "llama-finetune-sft"}


def test_cur_parquet_with_map_columns(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """CUR 2.0 Parquet holds product and resource_tags as MAP columns; they read like the CSV's JSON."""
    src = fixtures.write_cur_csv(tmp_path / "cur.csv")
    parquet = tmp_path / "cur.parquet"
    duckdb.execute(
        f"COPY (SELECT * REPLACE (CAST(json(resource_tags) AS MAP(VARCHAR, VARCHAR)) AS resource_tags, "
        "CAST(json(product) AS MAP(VARCHAR, VARCHAR)) AS product) "
        f"FROM read_csv('{src}', all_varchar = true)) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    (result,) = ingest.import_files(con, [parquet])
    assert result.format == "cur2" and result.lines == len(fixtures.CUR_LINES)
    row = con.execute("SELECT Tags, ServiceName FROM lines WHERE ResourceId = 'i-0aaa'").fetchone()
    assert row == ({"phase": "training"}, "AmazonEC2")


def test_reimport_is_idempotent(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = fixtures.write_focus_csv(tmp_path / "focus.csv")
    first = ingest.import_files(con, [path])
    copy = tmp_path / "renamed.csv"
    shutil.copy(path, copy)
    again = ingest.import_files(con, [path, copy])
    assert not first[0].skipped and all(r.skipped for r in again)
    assert _count(con) == len(fixtures.FOCUS_LINES)


def test_reopened_database_keeps_lines(tmp_path: Path) -> None:
    path = tmp_path / "bills.duckdb"
    con = db.connect(path)
    ingest.import_files(con, [fixtures.write_focus_csv(tmp_path / "focus.csv")])
    con.close()
    con = db.connect(path, create=False)
    assert _count(con) == len(fixtures.FOCUS_LINES)
    con.close()


def _focus_with(tmp_path: Path, name: str, row: int, column: str, value: str) -> Path:
    good = fixtures.write_focus_csv(tmp_path / f"good-{name}")
    with good.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[row][rows[0].index(column)] = value
    bad = tmp_path / name
    with bad.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return bad


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("ChargePeriodStart", "2026-13-45", "ISO 8601"),
        ("BilledCost", "12,50", "decimal"),
        ("BillingCurrency", "EUR", "differs"),
        ("Tags", "{not json", "JSON"),
    ],
)
def test_malformed_row_names_file_column_row_and_imports_nothing(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, column: str, value: str, message: str
) -> None:
    good = fixtures.write_cur_csv(tmp_path / "cur.csv")
    bad = _focus_with(tmp_path, "bad.csv", 3, column, value)
    with pytest.raises(BillFileError) as info:
        ingest.import_files(con, [good, bad])
    err = info.value
    assert (Path(err.file).name, err.column, err.row) == ("bad.csv", column, 3)
    assert message in str(err) and "bad.csv" in str(err)
    assert _count(con) == 0  # the good file before it was rolled back too
    assert con.execute("SELECT count(*) FROM imports").fetchone() == (0,)


def test_missing_column_is_named(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "nocur.csv"
    path.write_text(
        "BilledCost,ChargePeriodStart,ChargePeriodEnd,ServiceName,BillingCurrency\n1,2026-01-01,2026-01-02,x,USD\n"
    )
    with pytest.raises(BillFileError, match="column EffectiveCost: missing column"):
        ingest.import_files(con, [path])


def test_truncated_parquet_is_one_clear_error(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    src = fixtures.write_focus_csv(tmp_path / "focus.csv")
    parquet = tmp_path / "focus.parquet"
    duckdb.execute(f"COPY (SELECT * FROM read_csv('{src}')) TO '{parquet}' (FORMAT parquet)")
    data = parquet.read_bytes()
    parquet.write_bytes(data[: len(data) // 2])
    with pytest.raises(BillFileError, match=r"focus\.parquet: cannot be read"):
        ingest.import_files(con, [parquet])
    assert _count(con) == 0


def test_unknown_format_and_missing_file(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(BillFileError, match="unknown format"):
        ingest.import_files(con, [odd])
    with pytest.raises(BillFileError, match="no such file"):
        ingest.import_files(con, [tmp_path / "absent.csv"])


def test_default_db_path_respects_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(db.DB_ENV, str(tmp_path / "x.duckdb"))
    assert db.default_db_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv(db.DB_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert db.default_db_path() == tmp_path / "flopbill" / "bills.duckdb"


def test_focus_parquet_and_gcp_csv_read_like_their_other_forms(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """FOCUS as Parquet gives the CSV's lines and total; a flattened GCP CSV (``service.description``
    columns, labels as JSON text) gives the JSON export's."""
    src = fixtures.write_focus_csv(tmp_path / "focus.csv")
    parquet = tmp_path / "focus.parquet"
    duckdb.execute(
        f"COPY (SELECT * FROM read_csv('{src}', all_varchar = true, nullstr = 'NULL')) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    (from_parquet,) = ingest.import_files(con, [parquet])
    assert from_parquet.format == "focus" and from_parquet.lines == len(fixtures.FOCUS_LINES)
    assert from_parquet.billed_cost == sum((Decimal(line[5]) for line in fixtures.FOCUS_LINES), Decimal(0))
    gcp_json = fixtures.write_gcp_jsonl(tmp_path / "gcp.jsonl")
    flat = tmp_path / "gcp.csv"
    duckdb.execute(
        'COPY (SELECT billing_account_id, service.description AS "service.description", '
        'sku.description AS "sku.description", usage_start_time, usage_end_time, cost, currency, '
        "to_json(labels) AS labels FROM read_json('" + str(gcp_json) + "', format = 'newline_delimited')) "
        f"TO '{flat}' (HEADER, DELIMITER ',')"
    )
    (from_csv,) = ingest.import_files(con, [flat])
    assert from_csv.format == "gcp" and from_csv.lines == len(fixtures.GCP_LINES)
    assert from_csv.billed_cost == sum((Decimal(line[4]) for line in fixtures.GCP_LINES), Decimal(0))
    tags = con.execute("SELECT Tags FROM lines WHERE x_SourceFile = 'gcp.csv' AND x_SourceRow = 6").fetchone()
    assert tags == ({"phase": "inference"},)
