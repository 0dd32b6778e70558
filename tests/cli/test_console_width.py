"""The CLI's table width follows each run's environment, not the environment at first import."""

from __future__ import annotations

import pytest


def _widest_line(run_cli, columns: str, monkeypatch: pytest.MonkeyPatch) -> int:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", columns)
    code, out, _ = run_cli(["catalog", "gpus"])
    assert code == 0
    return max(len(line) for line in out.splitlines())


def test_width_is_read_per_run_not_at_import(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Two runs in one process with COLUMNS 60 then 200: the first table fits 60 columns, the second is wider.

    Before, the width was fixed when ``flopbill.cli.app`` was first imported, so whichever test imported
    it first decided every later table's width.
    """
    import flopbill.cli.app  # noqa: F401  (imported before the runs on purpose)

    narrow = _widest_line(run_cli, "60", monkeypatch)
    wide = _widest_line(run_cli, "200", monkeypatch)
    assert narrow <= 60
    assert wide > 60
