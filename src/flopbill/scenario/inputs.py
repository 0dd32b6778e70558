"""Resolve a scenario into numbers: every ranged input by name, plus what the estimators and catalogs
supply (API token prices, GPU-hour prices, replica throughput, training cost), with their sources.

Input names are paths: ``traffic.monthly_growth``, ``options.<name>.price_usd_per_gpu_hour``,
``one_time.<name>.training.mfu``, ``traffic.spikes[0].multiplier``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from flopbill.errors import InputError
from flopbill.estimate.api import DEFAULT_PRICES_AT
from flopbill.estimate.assumptions import Assumption, Range
from flopbill.scenario import estimators
from flopbill.scenario.schema import ApiOption, OwnedOption, Scenario, SelfHostedOption
from flopbill.scenario.values import RangeValue


@dataclass(frozen=True)
class Resolved:
    """A scenario with every number it needs, by input name, and where each came from."""

    scenario: Scenario
    ranges: dict[str, Range]
    api_prices: dict[str, estimators.TokenPrices]
    capacity_requests_per_s: dict[str, float]
    training_cost_usd: dict[str, float]
    training_gpu_hours: dict[str, float]
    prices_as_of: dt.date
    assumptions: tuple[Assumption, ...]


def _walk(obj: Any, path: str, out: dict[str, Range]) -> None:
    if isinstance(obj, RangeValue):
        out[path] = Range(obj.low, obj.expected, obj.high)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            _walk(getattr(obj, name), f"{path}.{name}" if path else name, out)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            key = getattr(item, "name", None)
            _walk(
                item,
                f"{path}.{key}" if isinstance(key, str) and path != "traffic.spikes" else f"{path}[{i}]",
                out,
            )


def collect_ranges(scenario: Scenario) -> dict[str, Range]:
    """Return every ranged input given in the scenario (point values too), keyed by path."""
    out: dict[str, Range] = {}
    _walk(scenario, "", out)
    return out


def _given(ranges: dict[str, Range]) -> list[Assumption]:
    notes = []
    for name, r in sorted(ranges.items()):
        value: float | str = r.expected if r.low == r.high else f"{r.low:g}..{r.expected:g}..{r.high:g}"
        notes.append(Assumption(name, value, "given", "range low..expected..high" if r.low != r.high else ""))
    return notes


#: Library fields (serving estimator) → the self-hosted option field that sets them.
OPTION_FIELDS = {"tp": "gpus_per_replica", "n_gpus": "gpus_per_replica", "weights": "weight_dtype"}
#: Library fields (training estimator) → the training stage field that sets them.
TRAINING_FIELDS = {"seq_len": "context_tokens", "n_gpus": "gpus", "tp": "gpus"}
#: Library fields that come from the scenario's request shape, whatever the option.
_REQUEST_FIELDS = {
    "input_tokens": "request.input_tokens",
    "output_tokens": "request.output_tokens",
    "input_tokens/output_tokens": "request.input_tokens",
}


def _at(scenario: Scenario, entry: object) -> str:
    """Return the scenario path of an option or one-time cost: ``options[2]``, ``one_time[0]``."""
    if entry in scenario.options:
        return f"options[{scenario.options.index(entry)}]"
    return f"one_time[{scenario.one_time.index(entry)}]"  # type: ignore[arg-type]


@contextlib.contextmanager
def scenario_field(prefix: str, fields: dict[str, str]) -> Iterator[None]:
    """Re-raise an estimator's :class:`InputError` as one naming the scenario field under ``prefix``
    (``tp`` → ``options[2].gpus_per_replica``), so the file and line can be found."""
    try:
        yield
    except InputError as exc:
        if exc.field in _REQUEST_FIELDS:
            field = _REQUEST_FIELDS[exc.field]
        elif exc.field.startswith(("options", "one_time", "request", "traffic")):
            raise
        else:
            field = f"{prefix}.{fields.get(exc.field, exc.field)}"
        raise InputError(field, exc.value, exc.allowed) from None


def _option_defaults(
    scenario: Scenario, ranges: dict[str, Range], notes: list[Assumption]
) -> tuple[dict[str, estimators.TokenPrices], dict[str, float]]:
    api: dict[str, estimators.TokenPrices] = {}
    capacity: dict[str, float] = {}
    when = scenario.prices_as_of or DEFAULT_PRICES_AT
    req = scenario.request
    for opt in scenario.options:
        key = f"options.{opt.name}"
        if isinstance(opt, ApiOption) and opt.model is not None:
            api[opt.name] = estimators.api_token_prices(opt.model, opt.provider, when)
            notes.extend(api[opt.name].assumptions)
        if isinstance(opt, SelfHostedOption) and opt.price_usd_per_gpu_hour is None:
            price, src = estimators.gpu_hour_price(
                opt.gpu, opt.pricing, opt.provider, f"{_at(scenario, opt)}.price_usd_per_gpu_hour"
            )
            ranges[f"{key}.price_usd_per_gpu_hour"] = Range.point(price)
            notes.extend(src)
        if isinstance(opt, OwnedOption) and opt.power_w_per_gpu is None:
            from flopbill.catalog import accelerator

            tdp = accelerator(opt.gpu).tdp_w
            if tdp is None:
                raise InputError(f"{key}.power_w_per_gpu", None, f"a power draw: {opt.gpu}'s TDP is unknown")
            ranges[f"{key}.power_w_per_gpu"] = Range.point(tdp)
            notes.append(
                Assumption(f"{key}.power_w_per_gpu", tdp, f"{opt.gpu} TDP, hardware catalog", "upper bound")
            )
        if isinstance(opt, SelfHostedOption | OwnedOption):
            if opt.throughput_requests_per_s_per_replica is not None:
                capacity[opt.name] = 1.0  # the given (ranged) throughput is an input; see engine
                continue
            with scenario_field(_at(scenario, opt), OPTION_FIELDS):
                rps, src = estimators.replica_throughput(
                    opt.model,
                    opt.gpu,
                    opt.gpus_per_replica,
                    opt.weight_dtype,
                    req.input_tokens.expected,
                    req.output_tokens.expected,
                )
            capacity[opt.name] = rps
            notes.append(
                Assumption(f"{key} requests/s per replica", rps, "serving estimator", "at expected tokens")
            )
            notes.extend(src)
    return api, capacity


def _training_defaults(
    scenario: Scenario, ranges: dict[str, Range], notes: list[Assumption]
) -> tuple[dict[str, float], dict[str, float]]:
    cost: dict[str, float] = {}
    hours: dict[str, float] = {}
    for item in scenario.one_time:
        stage = item.training
        if stage is None:
            continue
        key = f"one_time.{item.name}.training"
        if stage.price_usd_per_gpu_hour is None:
            price, src = estimators.gpu_hour_price(
                stage.gpu,
                stage.pricing,
                stage.provider,
                f"{_at(scenario, item)}.training.price_usd_per_gpu_hour",
            )
            ranges[f"{key}.price_usd_per_gpu_hour"] = Range.point(price)
            notes.extend(src)
        with scenario_field(f"{_at(scenario, item)}.training", TRAINING_FIELDS):
            usd, gpu_h, src = estimators.training_cost(
                stage.stage,
                stage.model,
                stage.tokens.expected,
                stage.gpu,
                stage.mfu.expected if stage.mfu is not None else None,
                stage.context_tokens,
                ranges[f"{key}.price_usd_per_gpu_hour"].expected,
                stage.gpus,
                stage.teacher,
            )
        cost[item.name], hours[item.name] = usd, gpu_h
        notes.append(
            Assumption(f"{key} cost at expected inputs, USD", usd, "training estimator", f"{gpu_h:.4g} GPU-h")
        )
        notes.extend(src)
    return cost, hours


def resolve(scenario: Scenario, today: dt.date | None = None) -> Resolved:
    """Return the scenario's numbers; catalog and estimator defaults are filled and sourced.

    ``today`` dates API prices when the scenario has no ``prices_as_of`` (the CLI passes the date).
    """
    if scenario.prices_as_of is None and today is not None:
        scenario = scenario.model_copy(update={"prices_as_of": today})
    ranges = collect_ranges(scenario)
    notes = _given(ranges)
    notes.append(Assumption("days_per_month", scenario.days_per_month, "given or default 365.25/12"))
    api, capacity = _option_defaults(scenario, ranges, notes)
    cost, hours = _training_defaults(scenario, ranges, notes)
    when = scenario.prices_as_of or DEFAULT_PRICES_AT
    return Resolved(scenario, ranges, api, capacity, cost, hours, when, tuple(notes))
