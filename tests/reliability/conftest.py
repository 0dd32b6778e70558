"""Fixtures for the reliability suite: a CLI runner that reports tracebacks instead of raising."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Outcome:
    """What one CLI run produced: exit code, stdout, stderr, and the traceback of a crash, if any."""

    code: int
    out: str
    err: str
    crash: str | None


RunSafe = Callable[[list[str]], Outcome]


@pytest.fixture
def run_safe(capsys: pytest.CaptureFixture[str]) -> RunSafe:
    """Return ``run(args) -> Outcome``: like ``run_cli`` but an escaping exception is an outcome."""
    from flopbill.cli import main

    def _run(args: list[str]) -> Outcome:
        capsys.readouterr()
        crash = None
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            crash = traceback.format_exc()
            code = -1
        out, err = capsys.readouterr()
        return Outcome(code, out, err, crash)

    return _run
