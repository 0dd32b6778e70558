"""Input checks shared by every boundary: finite numbers, no booleans as numbers, resource budgets.

Each check returns the value it accepted (as a float, int or array) or raises
:class:`~flopbill.errors.InputError` naming the *field* (a library argument or scenario path such as
``input_tokens``); each interface renders the field in its own words (the CLI as ``--input-tokens``).
The limits are stated here once and documented in ``docs/reliability.md``.
"""

from __future__ import annotations

import math
import numbers
import typing
from typing import Any

import numpy as np

from flopbill.errors import InputError

#: Most Monte Carlo cells (samples × months × options) one projection may evaluate: about 0.4 GB of
#: float64 results and a few seconds of numpy work on one core.
MAX_MONTE_CARLO_CELLS = 50_000_000
#: Most Monte Carlo samples, whatever the horizon.
MAX_MONTE_CARLO_SAMPLES = 2_000_000
#: Most candidate setups one serving search may evaluate (GPU types × parallel layouts × batches).
MAX_SEARCH_CANDIDATES = 2_000_000
#: Largest count (tokens, parameters, requests, users) accepted anywhere: far beyond any real workload,
#: small enough that products of a few such counts stay finite in float64.
MAX_COUNT = 1e30


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def number(value: Any, field: str, allowed: str = "a finite number") -> float:
    """Return ``value`` as a float if it is a real, finite number (booleans are not numbers)."""
    if not _is_number(value):
        raise InputError(field, value, allowed)
    out = float(value)
    if not math.isfinite(out):
        raise InputError(field, value, allowed)
    return out


def positive(value: Any, field: str, allowed: str = "a finite number > 0") -> float:
    """Return ``value`` if it is a finite number > 0."""
    out = number(value, field, allowed)
    if out <= 0:
        raise InputError(field, value, allowed)
    return out


def nonnegative(value: Any, field: str, allowed: str = "a finite number ≥ 0") -> float:
    """Return ``value`` if it is a finite number ≥ 0."""
    out = number(value, field, allowed)
    if out < 0:
        raise InputError(field, value, allowed)
    return out


def fraction(value: Any, field: str, allowed: str = "a fraction in [0, 1]") -> float:
    """Return ``value`` if it is a finite number in [0, 1]."""
    out = number(value, field, allowed)
    if not 0.0 <= out <= 1.0:
        raise InputError(field, value, allowed)
    return out


def integer(value: Any, field: str, lower: int = 1, upper: int | None = None) -> int:
    """Return ``value`` as an int if it is a whole number in [lower, upper] (booleans refused)."""
    allowed = f"a whole number ≥ {lower}" + (f" and ≤ {upper:,}" if upper is not None else "")
    if not _is_number(value):
        raise InputError(field, value, allowed)
    as_float = float(value)
    if not math.isfinite(as_float) or as_float != int(as_float):
        raise InputError(field, value, allowed)
    out = int(value)
    if out < lower or (upper is not None and out > upper):
        raise InputError(field, value, allowed)
    return out


def _summary(arr: np.ndarray) -> str:
    """Return a short description of an array for a message (never the whole array)."""
    if arr.size <= 4:
        return repr(arr.tolist())
    return f"array of {arr.size} values"


def array(value: Any, field: str, lower: float | None = 0.0, strict: bool = False) -> Any:
    """Return ``value`` unchanged if every element is a finite number ≥ ``lower`` (> when ``strict``).

    Scalars and numpy arrays are both accepted (estimators broadcast); booleans, strings and
    objects are refused. The message shows the first bad element, never a long array.
    """
    if isinstance(value, bool | np.bool_):
        raise InputError(field, value, "a number or numeric array")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise InputError(field, type(value).__name__, "a number or numeric array") from None
    if arr.dtype.kind not in "iuf":
        shown = value if arr.size <= 4 and arr.dtype.kind != "O" else type(value).__name__
        raise InputError(field, shown, "a number or numeric array")
    bad = ~np.isfinite(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, dtype=bool)
    if lower is not None:
        with np.errstate(invalid="ignore"):
            bad |= (arr <= lower) if strict else (arr < lower)
    if np.any(bad):
        first = arr.reshape(-1)[np.asarray(bad).reshape(-1)][0]
        what = "finite" + ("" if lower is None else (f" and > {lower:g}" if strict else f" and ≥ {lower:g}"))
        shown = first.item() if arr.size == 1 else f"{first.item()!r} in {_summary(arr)}"
        raise InputError(field, shown, f"{what} values")
    return value


#: Largest whole number a schema field accepts: every int up to it is exact in float64.
MAX_SCHEMA_INT = 2**53


def _annotation_types(annotation: Any) -> set[Any]:
    args = typing.get_args(annotation)
    if not args:
        return {annotation}
    out: set[Any] = set()
    for arg in args:
        out |= _annotation_types(arg)
    return out | {typing.get_origin(annotation)}


class NotANumber:
    """Stands in for a value a number field must refuse, so the field's own validation fails at the
    field's location (``options[2].gpus``) with the value as written."""

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


def schema_numbers(model: Any, data: Any) -> Any:
    """Return ``data`` (a mapping about to validate as ``model``) with booleans given for numeric
    fields (YAML ``true`` is not 1) and whole numbers beyond :data:`MAX_SCHEMA_INT` replaced by
    :class:`NotANumber`, which every number field refuses. Used as a before-validator of the strict
    schemas."""
    if not isinstance(data, dict):
        return data
    fields = getattr(model, "model_fields", {})
    out = data
    for name, value in data.items():
        field = fields.get(name)
        if field is None or not isinstance(value, int | float):
            continue
        kinds = _annotation_types(field.annotation)
        if isinstance(value, bool):
            bad = bool not in kinds and Any not in kinds and bool(kinds & {int, float})
            shown = "true (a boolean, not a number)" if value else "false (a boolean, not a number)"
        else:
            bad = abs(value) > MAX_SCHEMA_INT and int in kinds and float not in kinds
            shown = f"{value:.3g} (more than {MAX_SCHEMA_INT:,})"
        if bad:
            out = {**out, name: NotANumber(shown)}
    return out


def budget(cells: float, limit: float, field: str, value: object, what: str) -> None:
    """Raise when ``cells`` (the work an input asks for) exceeds ``limit``; ``what`` names the unit."""
    if not cells <= limit:
        raise InputError(field, value, f"at most {limit:,.0f} {what} (this asks for {cells:,.0f})")


__all__ = [
    "MAX_COUNT",
    "MAX_MONTE_CARLO_CELLS",
    "MAX_MONTE_CARLO_SAMPLES",
    "MAX_SCHEMA_INT",
    "MAX_SEARCH_CANDIDATES",
    "NotANumber",
    "array",
    "budget",
    "fraction",
    "integer",
    "nonnegative",
    "number",
    "positive",
    "schema_numbers",
]
