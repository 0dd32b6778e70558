"""Errors as data: a flopbill error becomes a 422 body naming the field, the value and what is allowed.

Body keys: ``error`` (``input``, ``unknown_name``, ``does_not_fit``, ``catalog``, ``request``),
``field`` (the request's field path, e.g. ``input_tokens`` or ``options[2].gpu``; ``null`` when the error
is about no single field), ``value``, ``allowed`` (text), ``close_matches`` (known names nearest an
unknown one), ``message`` (one line, the CLI's). Internal errors are 500 with no traceback.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, Field

from flopbill.errors import (
    CatalogError,
    DoesNotFitError,
    FlopbillError,
    InputError,
    UnknownNameError,
    render_fields,
)

#: The request field an unknown catalog name came from, by the kind of name.
_KIND_FIELDS = {"accelerator": "gpu", "model": "model"}


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer of the API."""

    error: str = Field(
        description="input, unknown_name, does_not_fit, catalog, request, auth, timeout, unavailable, "
        "internal",
    )
    field: str | None = Field(None, description="request field path, e.g. options[2].gpu")
    value: Any = Field(None, description="the value given (JSON-safe copy)")
    allowed: str | None = Field(None, description="what the field accepts")
    close_matches: list[str] = Field(default_factory=list, description="known names close to an unknown one")
    message: str = Field(description="one line, as the CLI prints it")


def api_field(name: str | None) -> str | None:
    """Render a field name the API's way: ``--input-tokens`` → ``input_tokens``, ``NAME`` → ``name``."""
    if not name:
        return None
    parts = [p.strip() for p in name.split("/")]
    out = []
    for part in parts:
        if part.startswith("--"):
            part = part[2:].replace("-", "_")
        elif part.isupper():
            part = part.lower()
        out.append(part)
    return "/".join(out)


def json_safe(value: Any) -> Any:
    """Return a JSON-safe copy of a value from an error (non-finite floats → text, other objects → text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def error_body(exc: FlopbillError) -> ErrorBody:
    """Return the 422 body of a flopbill error (fields a message names are given as the API names them)."""
    message = render_fields(str(exc), lambda field: field) if isinstance(exc, DoesNotFitError) else str(exc)
    if isinstance(exc, UnknownNameError):
        field = getattr(exc, "field", None) or _KIND_FIELDS.get(exc.kind, exc.kind)
        return ErrorBody(
            error="unknown_name",
            field=api_field(field),
            value=exc.name,
            allowed=f"a known {exc.kind} name",
            close_matches=list(exc.close),
            message=message,
        )
    if isinstance(exc, InputError):
        allowed = exc.allowed or None
        return ErrorBody(
            error="input",
            field=api_field(exc.field),
            value=json_safe(exc.value),
            allowed=allowed,
            close_matches=list(getattr(exc, "close_matches", []) or []),
            message=message,
        )
    kind = "does_not_fit" if isinstance(exc, DoesNotFitError) else "catalog"
    if not isinstance(exc, DoesNotFitError | CatalogError):
        kind = "input"
    return ErrorBody(error=kind, message=message)


def request_error_body(errors: list[Any]) -> ErrorBody:
    """Return the 422 body for a request that does not match its schema (first problem named)."""
    first = errors[0] if errors else {}
    loc = [p for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ""
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return ErrorBody(
        error="request",
        field=field or None,
        value=json_safe(first.get("input")),
        allowed=first.get("msg"),
        message=f"{field or 'request'}: {first.get('msg', 'invalid request')}",
    )


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_DID_YOU_MEAN = re.compile(r"did you mean (.+?)\?")


def value_at(document: Any, path: str) -> Any:
    """Return the value at a scenario field path such as ``options[2].gpu`` (``None`` if absent)."""
    node = document
    for key, index in _PATH_PART.findall(path):
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return node if isinstance(node, str | int | float | bool) or node is None else json_safe(node)


def scenario_input_error(exc: InputError, document: Any) -> InputError:
    """Return a scenario error with the value at its path, the problem as ``allowed`` and close matches.

    A scenario error carries the field path and the problem; the API also names the value given.
    """
    problem = str(exc.value)
    out = InputError(exc.field, value_at(document, exc.field), problem)
    match = _DID_YOU_MEAN.search(problem)
    out.close_matches = [m.strip() for m in match.group(1).split(",")] if match else []  # type: ignore[attr-defined]
    out.args = (str(exc),)
    return out
