"""The Typer application, shared options and output helpers. No formulas live in the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from flopbill.errors import DoesNotFitError, FlopbillError, InputError, render_fields

app = typer.Typer(
    name="flopbill",
    help="What AI costs: training and inference compute, time, dollars and energy, with sources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(
    help="List the built-in catalogs (accelerators, models, GPU prices).", no_args_is_help=True
)
validate_app = typer.Typer(
    help="Compare flopbill with published figures (golden cases).", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(validate_app, name="validate")


def _width() -> int | None:
    """Table width for this run: ``$COLUMNS`` if set, the terminal's own on a tty (None), else 160 columns.

    Read at every :func:`main` call, not once at import, so the width follows the environment of the run.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else 160


console = Console(highlight=False, soft_wrap=False, width=_width())
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON (SI units) instead of tables.")


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types: dataclasses → dicts, numpy → lists/floats, dates → ISO."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_JSON_SINK: ContextVar[list[Any] | None] = ContextVar("flopbill_json_sink", default=None)


@contextmanager
def capture_json() -> Iterator[list[Any]]:
    """Collect what :func:`print_json` would print (as plain JSON values) instead of writing stdout.

    The web server runs the CLI's own command functions inside this, so its answers are the CLI's
    ``--json`` by construction. The sink is a context variable: each thread/request has its own.
    """
    sink: list[Any] = []
    token = _JSON_SINK.set(sink)
    try:
        yield sink
    finally:
        _JSON_SINK.reset(token)


def print_json(payload: Any) -> None:
    """Write ``payload`` as indented JSON to stdout (or to the :func:`capture_json` sink)."""
    sink = _JSON_SINK.get()
    if sink is not None:
        sink.append(to_jsonable(payload))
        return
    sys.stdout.write(json.dumps(to_jsonable(payload), indent=2, sort_keys=False) + "\n")


def make_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """Return a rich table; columns whose cells all look numeric are right-aligned."""
    table = Table(title=title, title_justify="left", show_lines=False)
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    for i, col in enumerate(columns):
        numeric = i > 0 and all(_looks_numeric(r[i]) for r in cells if i < len(r) and r[i])
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for row in cells:
        table.add_row(*row)
    return table


def _looks_numeric(text: str) -> bool:
    """True for cells like ``70.6B``, ``$1.2M``, ``-3 %``, ``(65 fp16)``, ``unknown``."""
    return text[0] in "0123456789$-+.(<>~" or text in ("unknown", "n/a", "—")


def print_assumptions(assumptions: Sequence[Any], title: str = "Assumptions") -> None:
    """Print a table of :class:`~flopbill.estimate.core.assumptions.Assumption` (name, value, source)."""
    rows = [(a.name, _short(a.value), a.source + (f" — {a.note}" if a.note else "")) for a in assumptions]
    console.print(make_table(title, ["assumption", "value", "source"], rows))


def _short(value: Any) -> str:
    """Return a value for a table: floats to 4 significant digits, anything else as text."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


#: Library fields whose CLI flag is not the field written with dashes (``input_tokens`` → ``--input-tokens``).
FIELD_FLAGS = {
    "n_gpus": "--gpus",
    "n_layers": "--layers",
    "d_model": "--hidden",
    "n_heads": "--heads",
    "prefix_hit_rate": "--prefix-hit",
    "context_tokens": "--context",
    "budget_usd": "--budget-usd",
    "rate_rps": "--rps",
    "slo.ttft_s": "--slo-ttft",
    "slo.tpot_s": "--slo-tpot",
}


@functools.cache
def _flags() -> frozenset[str]:
    """Return every long option of every registered command."""
    found: set[str] = set()
    stack = [typer.main.get_command(app)]
    while stack:
        cmd = stack.pop()
        found.update(o for p in cmd.params for o in getattr(p, "opts", ()) if o.startswith("--"))
        stack.extend(getattr(cmd, "commands", {}).values())
    return frozenset(found)


def flag_for(field: str) -> str:
    """Return how the CLI names a library field: ``input_tokens`` → ``--input-tokens``; a field
    with no flag of its own (or already a flag) is returned as it is. ``a/b`` maps each part."""
    if "/" in field:
        return "/".join(flag_for(part) for part in field.split("/"))
    if field in FIELD_FLAGS:
        return FIELD_FLAGS[field]
    candidate = "--" + field.replace("_", "-")
    return candidate if candidate in _flags() else field


def error_line(exc: FlopbillError) -> str:
    """Return the one line the CLI prints for ``exc``: an input error names the CLI flag of its field."""
    text = str(exc)
    if isinstance(exc, InputError) and text.startswith(f"{exc.field}: "):
        text = flag_for(exc.field) + text[len(exc.field) :]
    if isinstance(exc, DoesNotFitError):
        text = render_fields(text, flag_for)
    text = "; ".join(part.strip() for part in text.splitlines() if part.strip())  # one line, always
    return text if len(text) <= 2000 else text[:1990] + " [...]"


#: Typer's usage error (unknown option, bad value for a typed option): printed as one line, exit 2.
_USAGE_ERROR: Any = typer.BadParameter.__mro__[1]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI: user errors print one line and exit 2; anything else is a bug (traceback).

    Usage errors (unknown option, missing argument) are Typer's own and also exit 2.
    """
    from flopbill.cli import register_commands

    register_commands()
    console.width = _width()  # type: ignore[assignment]  # rich's setter takes None: "ask the terminal"
    try:
        code = app(args=list(argv) if argv is not None else None, prog_name="flopbill", standalone_mode=False)
    except FlopbillError as exc:
        err_console.print(f"error: {error_line(exc)}", markup=False, highlight=False)
        raise SystemExit(2) from None
    except _USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `flopbill` or `flopbill catalog`
            exc.show()
        else:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            message = " ".join(exc.format_message().split())
            err_console.print(f"error: {message}{where}", markup=False, highlight=False)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        err_console.print("aborted", markup=False, highlight=False)
        raise SystemExit(1) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)
