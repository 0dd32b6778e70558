"""Read a scenario YAML file into a validated :class:`~flopbill.scenario.schema.Scenario`.

Errors name the file, the LINE, the field path and what is allowed (close matches for misspelt
fields and catalog names). Lines come from the composed YAML node tree: every mapping key and
sequence item keeps its start mark, so a pydantic error location such as ``('options', 1, 'gpu')``
maps to the line where ``gpu:`` is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from flopbill.errors import InputError, close_matches, shown
from flopbill.safeio import DocumentError, check_path, load_yaml, read_text
from flopbill.scenario.schema import Scenario

LinePath = tuple[str | int, ...]


class ScenarioError(InputError):
    """A scenario file is not valid: the file, line, field, value and what is allowed."""

    def __init__(self, source: str, line: int | None, field: str, problem: str) -> None:
        self.source = source
        self.line = line
        where = f"{source} line {line}" if line is not None else source
        super().__init__(field, problem, "")
        self.args = (f"{where}: {field}: {problem}",)

    def __str__(self) -> str:
        return str(self.args[0])


def line_map(text: str | yaml.Node | None) -> dict[LinePath, int]:
    """Return 1-based line numbers of every node in a YAML document, keyed by its path.

    A mapping value's path ends in its key and points at the key's line; a sequence item's path ends in
    its index. The root is ``()``. Each node is visited once: the subtree an alias points to keeps
    the lines of its anchor, so an alias-heavy document costs no more than its text.
    """
    lines: dict[LinePath, int] = {}
    root = load_yaml(text, "<scenario>")[1] if isinstance(text, str) else text
    if root is None:
        return lines
    seen: set[int] = set()

    def walk(node: yaml.Node, path: LinePath) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    lines[()] = root.start_mark.line + 1
    walk(root, ())
    return lines


def locate(lines: dict[LinePath, int], loc: Sequence[str | int]) -> tuple[LinePath, int | None]:
    """Return the path as written in the file and its line for a pydantic error location.

    Location parts that are not in the file (union tags such as ``'api'``, validator names) are
    skipped; the deepest part found gives the line.
    """
    path: LinePath = ()
    line = lines.get(())
    for part in loc:
        candidate = (*path, part)
        if candidate in lines:
            path = candidate
            line = lines[candidate]
    return path, line


def path_text(path: Sequence[str | int]) -> str:
    """Return ``options[1].gpu`` for ``('options', 1, 'gpu')``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """Return the schema model whose field list applies at ``loc`` (for 'allowed fields' hints)."""
    from flopbill.scenario import schema

    model: Any = Scenario
    kinds = {
        "api": schema.ApiOption,
        "self_hosted": schema.SelfHostedOption,
        "owned": schema.OwnedOption,
        "serverless": schema.ServerlessOption,
        "router": schema.RouterOption,
        "edge": schema.EdgeOption,
        "custom": schema.CustomOption,
    }
    nested = {
        "traffic": schema.Traffic,
        "request": schema.RequestShape,
        "revenue": schema.Revenue,
        "monte_carlo": schema.MonteCarloSettings,
        "one_time": schema.OneTime,
        "spikes": schema.Spike,
        "training": schema.TrainingStage,
        "slo": schema.Slo,
    }
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in kinds:
            model = kinds[part]
        elif part in nested:
            model = nested[part]
        elif part == "options":
            model = None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe(err: Any) -> str:
    """Return what is wrong and what is allowed for one pydantic error."""
    loc = list(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc)
        allowed = sorted(model.model_fields) if model is not None else []
        close = close_matches(str(loc[-1]), allowed)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"unknown field{hint} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return "required field is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return "kind must be one of api, self_hosted, owned, router, edge, custom" + (
            f" (got {err['input'].get('kind')!r})" if isinstance(err.get("input"), dict) else ""
        )
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    got = f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return f"{msg}{got}"


def validation_errors(source: str, exc: ValidationError, lines: dict[LinePath, int]) -> ScenarioError:
    """Return one :class:`ScenarioError` listing every problem with its line (first problem first)."""
    problems: list[tuple[int | None, str, str]] = []
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    for err in errors:
        loc = list(err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("kind")
        _, line = locate(lines, loc)
        field = path_text(_drop_tags(loc))
        problems.append((line, field, _describe(err)))
    first_line, first_field, first_problem = problems[0]
    if len(problems) > 1:
        extra = "; ".join(f"line {ln}: {f}: {p}" for ln, f, p in problems[1:4])
        first_problem += f" [also: {extra}]"
    return ScenarioError(source, first_line, first_field, first_problem)


_TAGS = {"api", "self_hosted", "owned", "router", "edge", "custom"}


def _drop_tags(loc: Sequence[str | int]) -> list[str | int]:
    out: list[str | int] = []
    for i, part in enumerate(loc):
        after_option = i >= 2 and loc[i - 2] == "options" and isinstance(loc[i - 1], int)
        if after_option and part in _TAGS:
            continue
        if isinstance(part, str) and part.startswith("function-"):
            continue
        out.append(part)
    return out


def _is_relative_profile(value: object) -> bool:
    """True for a relative hardware-profile path (``gpu: ./P.yaml``, ``gpu: profiles/p.yml``)."""
    if not isinstance(value, str) or not value.endswith((".yaml", ".yml")):
        return False
    return not Path(value).expanduser().is_absolute()


def resolve_profile_paths(data: dict[str, Any], base_dir: Path) -> None:
    """Rewrite, in place, every relative hardware-profile path in ``gpu:`` fields (options and training
    stages) to a path under ``base_dir``, the scenario file's folder: a scenario names its profile
    relative to itself, as an include would, whatever the current directory is. Anything that is not
    the expected shape is left for validation to report."""
    options, one_time = data.get("options"), data.get("one_time")
    targets: list[Any] = list(options) if isinstance(options, list) else []
    if isinstance(one_time, list):
        targets += [c.get("training") for c in one_time if isinstance(c, dict)]
    for item in targets:
        if isinstance(item, dict) and _is_relative_profile(item.get("gpu")):
            item["gpu"] = str(base_dir / str(item["gpu"]))


def parse_scenario_text(
    text: str, source: str = "<scenario>", base_dir: Path | None = None
) -> tuple[Scenario, dict[LinePath, int]]:
    """Return the scenario in ``text`` and its line map; raise :class:`ScenarioError` on any problem.

    With ``base_dir`` (the folder of the scenario file), relative profile paths in ``gpu:`` are read
    from there (:func:`resolve_profile_paths`); without it, from the current directory.
    """
    try:
        data, root = load_yaml(text, source)
    except DocumentError as exc:
        raise ScenarioError(source, exc.line, "(yaml)", exc.problem) from None
    lines = line_map(root)
    if not isinstance(data, dict):
        raise ScenarioError(source, 1, "(top level)", "a scenario is a YAML mapping (name:, traffic:, ...)")
    if base_dir is not None:
        resolve_profile_paths(data, base_dir)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_errors(source, exc, lines) from None
    from flopbill.scenario.checks import check_names

    check_names(scenario, source, lines)
    return scenario, lines


def load_scenario_lines(path: Path | str) -> tuple[Scenario, dict[LinePath, int]]:
    """Return the validated scenario in the YAML file at ``path`` and its line map."""
    p = check_path(path, "scenario")
    if not p.exists():
        raise InputError("scenario", str(path), "an existing scenario YAML file (see examples/)")
    return parse_scenario_text(read_text(p, "scenario"), str(path), Path(p).resolve().parent)


def load_scenario(path: Path | str) -> Scenario:
    """Return the validated scenario in the YAML file at ``path``."""
    return load_scenario_lines(path)[0]


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_SCENARIO_ROOTS = ("options", "one_time", "request", "traffic", "revenue", "monte_carlo")


def located(source: str, lines: dict[LinePath, int], exc: InputError) -> InputError:
    """Return ``exc`` as a :class:`ScenarioError` with its line when its field is a scenario path
    (``options[2].gpus_per_replica``, raised while projecting); any other error unchanged."""
    if isinstance(exc, ScenarioError) or not exc.field.startswith(_SCENARIO_ROOTS):
        return exc
    loc: list[str | int] = [int(i) if i else name for name, i in _PART.findall(exc.field)]
    _, line = locate(lines, loc)
    allowed = f"; expected {exc.allowed}" if exc.allowed else ""
    return ScenarioError(source, line, exc.field, f"{shown(exc.value)} is not allowed{allowed}")


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Return a validated scenario from a Python mapping (same checks as a file, by YAML round trip)."""
    try:
        text = yaml.safe_dump(data, sort_keys=False)
    except (yaml.YAMLError, RecursionError) as exc:
        problem = "nested too deep" if isinstance(exc, RecursionError) else f"not plain data ({exc})"
        raise ScenarioError(source, None, "(top level)", problem) from None
    scenario, _ = parse_scenario_text(text, source)
    return scenario


__all__ = [
    "ScenarioError",
    "line_map",
    "load_scenario",
    "load_scenario_lines",
    "locate",
    "located",
    "parse_scenario_text",
    "path_text",
    "scenario_from_dict",
]
