"""Run the CLI's own command functions from HTTP requests, so the API answers exactly what ``--json`` prints.

Each endpoint's request model is built from a Typer command's signature: one field per CLI option, named
after its long flag without the dashes (``--input-tokens`` → ``input_tokens``), with the CLI's default and
help text. The command then runs with ``--json`` inside :func:`flopbill.cli.app.capture_json`; no formula
is repeated here. Options that name files on the server (``--lengths``, ``--html``) are not offered, and
:func:`reject_file_references` refuses any string that looks like a path, so a request can only name
catalog entries. Nothing a request sends is evaluated: values go through the CLI's parsers as text.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_type_hints

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from typer.models import ArgumentInfo, OptionInfo

from flopbill.cli.app import capture_json
from flopbill.errors import InputError

#: Parameters of a command that are never request fields (output switches, server-side files).
_NOT_OFFERED = frozenset({"json", "html", "lengths"})
_FILE_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".txt", ".py")


def _as_text(value: Any) -> Any:
    """Accept JSON numbers for text fields (``"8k"`` and ``8000`` both work); booleans stay invalid."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_as_text)]


@dataclass(frozen=True)
class Param:
    """One request field: its API name, the Python parameter it feeds, and the CLI's default."""

    api_name: str
    py_name: str
    default: Any
    annotation: Any
    help: str


@dataclass(frozen=True)
class CommandSpec:
    """A CLI command offered over HTTP: its function, its fields and the values fixed by the endpoint."""

    name: str
    function: Callable[..., None]
    params: tuple[Param, ...]
    json_param: str
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def request_model(self) -> type[BaseModel]:
        """Return the pydantic model of the request body (unknown fields are refused)."""
        fields: dict[str, Any] = {}
        for p in self.params:
            required = p.default is ... or p.default is Ellipsis
            default = ... if required else _schema_default(p.default)
            fields[p.api_name] = (_field_type(p.annotation, p.default), Field(default, description=p.help))
        model = create_model(
            f"{self.name.title().replace('_', '')}Request",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        return model

    def run(self, values: Mapping[str, Any]) -> Any:
        """Run the command with ``--json`` and return what it would print (one JSON value)."""
        kwargs: dict[str, Any] = {p.py_name: p.default for p in self.params}
        by_api = {p.api_name: p for p in self.params}
        for key, value in values.items():
            param = by_api[key]
            kwargs[param.py_name] = param.default if value is None and _non_finite(param.default) else value
        kwargs.update(self.fixed)
        kwargs[self.json_param] = True
        with capture_json() as sink:
            self.function(**kwargs)
        if len(sink) != 1:
            raise RuntimeError(f"{self.name} printed {len(sink)} JSON values, expected one")
        return sink[0]


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _schema_default(value: Any) -> Any:
    """JSON has no infinity: a non-finite CLI default becomes ``null`` (= the CLI's default)."""
    return None if _non_finite(value) else value


def _field_type(annotation: Any, default: Any) -> Any:
    """Map a CLI parameter type to a request field type (text fields also take JSON numbers)."""
    optional = default is None or _non_finite(default)
    base: Any
    if annotation in (str, str | None):
        base = Text
    elif annotation in (int, int | None):
        base = int
    elif annotation in (float, float | None):
        base = float
    elif annotation is bool:
        base = bool
    elif annotation in (list[str], list[str] | None):
        base = list[Text]
    else:
        raise TypeError(f"no request field type for {annotation!r}")
    return base | None if optional else base


def command_spec(
    name: str,
    function: Callable[..., None],
    fixed: Mapping[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> CommandSpec:
    """Describe ``function`` (a Typer command) as an HTTP command; ``fixed`` sets parameters by API name."""
    hints = get_type_hints(function)
    params: list[Param] = []
    json_param = ""
    fixed_py: dict[str, Any] = {}
    fixed = dict(fixed or {})
    for py_name, sig in inspect.signature(function).parameters.items():
        info = sig.default
        if not isinstance(info, OptionInfo | ArgumentInfo):
            raise TypeError(f"{name}: parameter {py_name} is not a Typer option")
        api_name = _api_name(py_name, info)
        if api_name == "json":
            json_param = py_name
            continue
        if api_name in fixed:
            fixed_py[py_name] = fixed.pop(api_name)
            continue
        if api_name in _NOT_OFFERED or api_name in drop:
            fixed_py[py_name] = info.default
            continue
        params.append(Param(api_name, py_name, info.default, hints[py_name], info.help or ""))
    if fixed or not json_param:
        raise TypeError(f"{name}: unknown fixed parameters {sorted(fixed)} or no --json")
    return CommandSpec(name, function, tuple(params), json_param, fixed_py)


def _api_name(py_name: str, info: OptionInfo | ArgumentInfo) -> str:
    """The first long flag without dashes (``--input-tokens`` → ``input_tokens``), else the name."""
    for decl in getattr(info, "param_decls", None) or ():
        if isinstance(decl, str) and decl.startswith("--"):
            return decl[2:].replace("-", "_")
    return py_name


def reject_file_references(value: Any, path: str = "") -> None:
    """Raise :class:`InputError` for any string in ``value`` that looks like a file on this machine.

    The CLI accepts model YAML / config.json paths; over HTTP that would read the server's files, so
    the API takes catalog names only.
    """
    for where, text in _strings(value, path):
        stripped = text.strip()
        if stripped.lower().endswith(_FILE_SUFFIXES) or _is_existing_path(stripped):
            raise InputError(where or "body", text, "a catalog name; the API does not read files")


def _is_existing_path(text: str) -> bool:
    if not text or len(text) > 4096 or "\x00" in text:
        return False
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")
