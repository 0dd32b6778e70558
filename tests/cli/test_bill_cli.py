"""``flopbill bill``: import, classify (--json, --out), report (--json, --html), reconcile, errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bills import fixtures
from flopbill.bills import db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RunCli = Callable[[list[str]], tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(db.DB_ENV, str(tmp_path / "bills.duckdb"))


@pytest.fixture
def ok(run_cli: RunCli) -> Callable[..., str]:
    def _ok(*args: str) -> str:
        code, out, err = run_cli(list(args))
        assert code == 0, err
        return out

    return _ok


def test_import_classify_report_reconcile(tmp_path: Path, ok: Callable[..., str]) -> None:
    paths = [str(p) for p in fixtures.write_all(tmp_path)]
    first = json.loads(ok("bill", "import", *paths, "--json"))
    assert first["db"] == str(tmp_path / "bills.duckdb")
    again = json.loads(ok("bill", "import", *paths, "--json"))
    assert all(f["skipped"] for f in again["files"])

    out = tmp_path / "lines.csv"
    totals = json.loads(ok("bill", "classify", "--json", "--out", str(out)))
    phases = sum(Decimal(p["billed_cost"]) for p in totals["phases"])
    assert phases == Decimal(totals["input"]["billed_cost"])
    assert totals["input"]["lines"] == len(fixtures.expected_phases())
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == totals["input"]["lines"]
    assert {"phase", "rule_id", "confidence"} <= set(rows[0])
    assert {
        (r["x_SourceFile"], int(r["x_SourceRow"])): r["phase"] for r in rows
    } == fixtures.expected_phases()

    rep = json.loads(
        ok("bill", "report", "--json", "--html", str(tmp_path / "html"), "--amortize-months", "12")
    )
    assert rep["amortization_months"] == 12 and rep["months"] == ["2026-01", "2026-02", "2026-03"]
    assert rep["unclassified"] and "amortised straight-line over 12 months" in rep["policy"]
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "bill-phases" in page and "Unclassified spend to review" in page

    rec = json.loads(ok("bill", "reconcile", str(FIXTURES / "minimal-scenario.yaml"), "--json"))
    assert rec["start_month"] == "2026-01"
    api = next(o for o in rec["options"] if o["kind"] == "api")
    assert len(api["months"]) == 3
    month = api["months"][0]
    assert Decimal(month["variance"]) == Decimal(month["actual"]) - Decimal(str(round(month["plan_usd"], 10)))
    assert rec["drivers"]
    # plan tokens, month 1 = 1M requests/day × 365.25/12 days × (1000 + 200) tokens (minimal-scenario.yaml);
    # actual tokens in January: the CUR fixture's Bedrock cache-read line, 10,000 × 1K tokens
    assert month["plan_tokens"] == pytest.approx(1e6 * 365.25 / 12 * 1200)
    assert Decimal(month["actual_tokens"]) == Decimal(10_000_000)


def test_classify_a_file_without_importing_it(tmp_path: Path, ok: Callable[..., str]) -> None:
    path = fixtures.write_focus_csv(tmp_path / "focus.csv")
    totals = json.loads(ok("bill", "classify", str(path), "--json"))
    assert totals["input"]["lines"] == len(fixtures.FOCUS_LINES)
    assert not (tmp_path / "bills.duckdb").exists()


def test_bad_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    from flopbill.cli import main  # imported late: the console reads COLUMNS when first imported

    with pytest.raises(SystemExit) as info:
        main(["bill", "import", str(bad)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "bad.csv" in err and "\n" not in err


def test_unknown_engine_and_missing_db_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flopbill.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bill", "classify", "--db", str(tmp_path / "none.duckdb")])
    assert info.value.code == 2
    path = fixtures.write_focus_csv(tmp_path / "focus.csv")
    with pytest.raises(SystemExit) as info:
        main(["bill", "classify", str(path), "--engine", "bigquery"])
    assert info.value.code == 2
    assert "--engine" in capsys.readouterr().err
