"""Shared machinery of the fuzz suite: run the CLI in-process and judge the outcome.

Every input must end in exactly one of two ways: exit code 0 with finite output (``--json`` parses,
and no NaN or infinity reached the JSON encoder), or exit code 2 with one line on stderr that starts
with ``error:`` and names a field. Anything else (a traceback, another exit code, a non-finite number,
over the time or memory budget) is a failure that prints the input.

``FLOPBILL_FUZZ_EXAMPLES`` sets the examples per fuzz test (default 20, CI); raise it to search longer,
e.g. ``FLOPBILL_FUZZ_EXAMPLES=2000 python3 dev.py test tests/reliability``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import math
import os
import re
import resource
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Examples per fuzz test: small in CI, raise it to search longer.
EXAMPLES = int(os.environ.get("FLOPBILL_FUZZ_EXAMPLES", "20"))
#: Wall-clock budget of one CLI run (s); generous because CI machines are shared.
TIME_BUDGET_S = 20.0
#: Peak resident memory the test process may reach (bytes).
MEMORY_BUDGET_BYTES = 3 * 2**30


#: A NaN or infinity printed in a table (``$infT``, ``nan %``), not part of a word like "inference".
_NON_FINITE_TEXT = re.compile(r"(?<![A-Za-z_])(nan|inf)(?![a-z_])", re.IGNORECASE)


@dataclass
class Run:
    """One CLI run: arguments, exit code, output, crash traceback, non-finite JSON values, seconds."""

    args: list[str]
    code: int
    out: str
    err: str
    crash: str | None
    non_finite: list[str] = field(default_factory=list)
    seconds: float = 0.0


@contextlib.contextmanager
def _watch_json(found: list[str]) -> Iterator[None]:
    """Record every NaN or infinity that reaches the JSON encoder (it would print as null)."""
    app_module = importlib.import_module("flopbill.cli.app")  # the module, not the Typer app
    original = app_module.to_jsonable

    def watched(value: Any) -> Any:
        if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
            found.append(repr(value))
        return original(value)

    app_module.to_jsonable = watched
    try:
        yield
    finally:
        app_module.to_jsonable = original


def run(args: list[str]) -> Run:
    """Run ``flopbill args`` in this process and return what happened.

    The CLI is imported here, not at collection time: its console reads the terminal width when the
    module is first imported, and tests set ``COLUMNS`` first.
    """
    from flopbill.cli import main

    out, err = io.StringIO(), io.StringIO()
    found: list[str] = []
    crash = None
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _watch_json(found):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            crash = traceback.format_exc()
            code = -1
    return Run(args, code, out.getvalue(), err.getvalue(), crash, found, time.perf_counter() - start)


def check(r: Run) -> None:
    """Assert that ``r`` ended cleanly (see the module docstring)."""
    shown = " ".join(repr(a) if " " in a or not a else a for a in r.args)[:2000]
    assert r.crash is None, f"traceback for: flopbill {shown}\n{r.crash}"
    assert r.code in (0, 2), f"exit {r.code} for: flopbill {shown}\n{r.err[-2000:]}"
    assert r.seconds < TIME_BUDGET_S, f"{r.seconds:.1f} s for: flopbill {shown}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    assert peak < MEMORY_BUDGET_BYTES, f"peak memory {peak / 2**30:.1f} GiB after: flopbill {shown}"
    assert "Traceback" not in r.err, f"traceback printed for: flopbill {shown}\n{r.err}"
    if r.code == 2:
        lines = r.err.strip().splitlines()
        assert len(lines) == 1, f"{len(lines)} lines for: flopbill {shown}\n{r.err[-2000:]}"
        text = lines[0].removeprefix("error: ")
        # "field: ...", "unknown <kind> 'name'", or a usage error pointing at the command's --help
        names_field = ": " in text or text.startswith("unknown ") or text.endswith("--help`)")
        assert lines[0].startswith("error: ") and names_field, f"no field named: {lines[0]}"
        return
    assert not r.non_finite, f"non-finite {r.non_finite[:5]} in the JSON of: flopbill {shown}"
    if "--help" in r.args:
        return
    if "--json" in r.args:
        json.loads(r.out, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(c)))
        return
    printed = _NON_FINITE_TEXT.search(r.out)  # tables: a NaN or infinity printed as a figure
    assert printed is None, f"{printed.group(0)!r} printed by: flopbill {shown}" if printed else ""
