"""Bill tests: the bill database always lives in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from flopbill.bills import db

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
FOCUS_SAMPLE = SHARED / "focus-1.0_sample_1000rows.csv"
AZURE_SAMPLE = SHARED / "azure_ea_actual_cost_small.csv"


@pytest.fixture(autouse=True)
def _bill_db_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(db.DB_ENV, str(tmp_path / "bills.duckdb"))


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = db.connect(tmp_path / "test.duckdb")
    yield connection
    connection.close()


def needs_shared(path: Path) -> pytest.MarkDecorator:
    """Skip when the shared real samples are not beside the checkout."""
    return pytest.mark.skipif(not path.is_file(), reason=f"real sample {path.name} not present")
