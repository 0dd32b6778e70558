"""Checks a schema cannot make alone: unique option names, references between options, and catalog
names (models, GPUs, API models, dtypes), each reported with its line in the scenario file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from flopbill.errors import FlopbillError, InputError, UnknownNameError, close_matches
from flopbill.estimate.pricing.api import DEFAULT_PRICES_AT
from flopbill.scenario.loader import LinePath, ScenarioError, locate, path_text
from flopbill.scenario.schema import (
    LEAF_KINDS,
    ApiOption,
    EdgeOption,
    GpuBacked,
    RouterOption,
    Scenario,
)


def _fail(source: str, lines: dict[LinePath, int], loc: Sequence[str | int], problem: str) -> ScenarioError:
    _, line = locate(lines, loc)
    return ScenarioError(source, line, path_text(loc), problem)


def _catalog(
    source: str, lines: dict[LinePath, int], loc: Sequence[str | int], lookup: Callable[[], object]
) -> None:
    try:
        lookup()
    except UnknownNameError as exc:
        if exc.close:  # close matches say more than a long list
            allowed = f"did you mean {', '.join(exc.close)}?"
        else:
            allowed = "known: " + ", ".join(exc.known[:20]) + (", ..." if len(exc.known) > 20 else "")
        raise _fail(source, lines, loc, f"unknown {exc.kind} {exc.name!r}; {allowed}") from None
    except FlopbillError as exc:
        raise _fail(source, lines, loc, str(exc)) from None


def check_names(scenario: Scenario, source: str, lines: dict[LinePath, int]) -> None:
    """Raise :class:`ScenarioError` (with the line) for a duplicate, dangling or unknown name."""
    names = [o.name for o in scenario.options]
    kinds = {o.name: o.kind for o in scenario.options}
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _fail(source, lines, ("options", i, "name"), f"duplicate option name {name!r}")
    for i, opt in enumerate(scenario.options):
        _check_option(scenario, opt, ("options", i), names, kinds, source, lines)
    for j, cost in enumerate(scenario.one_time):
        for k, ref in enumerate(cost.options or []):
            if ref not in kinds:
                raise _fail(source, lines, ("one_time", j, "options", k), _unknown_ref(ref, names))
        if cost.training is not None:
            _check_models(source, lines, ("one_time", j, "training"), cost.training.model, cost.training.gpu)
        if cost.month > scenario.horizon_months:
            raise _fail(source, lines, ("one_time", j, "month"), "month is after horizon_months")
    for j, spike in enumerate(scenario.traffic.spikes):
        if spike.month > scenario.horizon_months:
            raise _fail(source, lines, ("traffic", "spikes", j, "month"), "month is after horizon_months")


def _unknown_ref(ref: str, names: list[str]) -> str:
    close = close_matches(ref, names)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"no option named {ref!r}{hint} (options: {', '.join(names)})"


def _check_models(
    source: str, lines: dict[LinePath, int], loc: tuple[str | int, ...], model: str, gpu: str
) -> None:
    from flopbill.catalog import accelerator, resolve_model

    _catalog(source, lines, (*loc, "model"), lambda: resolve_model(model))
    _catalog(source, lines, (*loc, "gpu"), lambda: accelerator(gpu))


def _check_option(
    scenario: Scenario,
    opt: object,
    loc: tuple[str | int, ...],
    names: list[str],
    kinds: Mapping[str, str],
    source: str,
    lines: dict[LinePath, int],
) -> None:
    if isinstance(opt, GpuBacked):
        _check_models(source, lines, loc, opt.model, opt.gpu)
        from flopbill.dtypes import parse_dtype

        _catalog(source, lines, (*loc, "weight_dtype"), lambda: parse_dtype(opt.weight_dtype))
    elif isinstance(opt, ApiOption) and opt.model is not None:
        from flopbill.scenario.estimators import api_token_prices

        when = scenario.prices_as_of or DEFAULT_PRICES_AT
        model, provider = opt.model, opt.provider
        _catalog(source, lines, (*loc, "model"), lambda: api_token_prices(model, provider, when))
    elif isinstance(opt, RouterOption):
        for field in ("small", "large"):
            ref = getattr(opt, field)
            if ref not in kinds:
                raise _fail(source, lines, (*loc, field), _unknown_ref(ref, names))
            if kinds[ref] not in LEAF_KINDS:
                raise _fail(
                    source, lines, (*loc, field), f"must name an option of kind {', '.join(LEAF_KINDS)}"
                )
    elif isinstance(opt, EdgeOption):
        if opt.fallback is not None:
            if opt.fallback not in kinds:
                raise _fail(source, lines, (*loc, "fallback"), _unknown_ref(opt.fallback, names))
            if kinds[opt.fallback] not in LEAF_KINDS:
                raise _fail(
                    source, lines, (*loc, "fallback"), f"must name an option of kind {', '.join(LEAF_KINDS)}"
                )
        if opt.devices is None and scenario.traffic.daily_active_users is None:
            raise _fail(source, lines, loc, "an edge option needs devices: (or traffic.daily_active_users)")


__all__ = ["InputError", "check_names"]
