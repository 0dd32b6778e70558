"""Evaluate a resolved scenario for many input draws at once: every array is (samples, months).

The same function serves the point estimate (1 row at expected inputs), the tornado (1 + 2·n rows)
and the Monte Carlo (N sampled rows), so a degenerate Monte Carlo reproduces the point estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flopbill.scenario.costs import Context, OptionArrays, option_costs
from flopbill.scenario.inputs import Resolved
from flopbill.scenario.schema import EdgeOption, Option, RouterOption
from flopbill.scenario.traffic import TrafficArrays, project_traffic

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Evaluation:
    """Costs of every option for every input row."""

    traffic: TrafficArrays
    revenue_usd: FloatArray | None
    recurring_usd: dict[str, FloatArray]
    one_time_usd: dict[str, FloatArray]
    one_time_items: dict[str, FloatArray]  # one-time item name → (samples,) USD
    details: dict[str, OptionArrays]

    def total_usd(self, option: str) -> FloatArray:
        """Return each row's total cost over the horizon (recurring + one-time), (samples,)."""
        return np.asarray(self.recurring_usd[option].sum(axis=1) + self.one_time_usd[option].sum(axis=1))


def one_time_amounts(resolved: Resolved, v: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Return each one-time item's cost (USD) per row.

    A training stage costed at expected inputs (``C_e``) is scaled per row as
    ``C_e × (tokens/tokens_e) × (mfu_e/mfu) × (price/price_e)``: GPU-hours are linear in tokens and
    inverse in MFU (compute-bound training), dollars linear in the GPU-hour price.
    """
    out: dict[str, FloatArray] = {}
    for item in resolved.scenario.one_time:
        key = f"one_time.{item.name}"
        if item.cost_usd is not None:
            out[item.name] = v[f"{key}.cost_usd"]
            continue
        ranges = resolved.ranges
        cost = (
            resolved.training_cost_usd[item.name]
            * v[f"{key}.training.tokens"]
            / ranges[f"{key}.training.tokens"].expected
        )
        price_key = f"{key}.training.price_usd_per_gpu_hour"
        price_e = ranges[price_key].expected
        cost = cost * (v[price_key] / price_e if price_e > 0 else 1.0)
        mfu_key = f"{key}.training.mfu"
        if mfu_key in v:
            cost = cost * ranges[mfu_key].expected / v[mfu_key]
        out[item.name] = np.asarray(cost, dtype=np.float64)
    return out


def _uses(option: Option, names: set[str]) -> bool:
    if option.name in names:
        return True
    if isinstance(option, RouterOption):
        return option.small in names or option.large in names
    return isinstance(option, EdgeOption) and option.fallback in names


def applies_to(resolved: Resolved, item_name: str, option: Option) -> bool:
    """True when the one-time item is paid by ``option`` (named, all, or used by a router/edge)."""
    item = next(i for i in resolved.scenario.one_time if i.name == item_name)
    return item.options is None or _uses(option, set(item.options))


def _revenue(resolved: Resolved, v: Mapping[str, FloatArray], traffic: TrafficArrays) -> FloatArray | None:
    rev = resolved.scenario.revenue
    if rev is None:
        return None
    total = np.zeros_like(traffic.requests)
    if rev.price_usd_per_user_per_month is not None and traffic.daily_active_users is not None:
        paying = traffic.daily_active_users * v["revenue.paying_share"][:, None]
        total = total + paying * v["revenue.price_usd_per_user_per_month"][:, None]
    if rev.price_usd_per_request is not None:
        total = total + traffic.requests * v["revenue.price_usd_per_request"][:, None]
    return total


def evaluate(resolved: Resolved, v: Mapping[str, FloatArray], simulate: bool = False) -> Evaluation:
    """Return every option's monthly costs for the input rows ``v`` (each input an array of rows).

    ``simulate=True`` (one row only) bills ``fleet: {simulate: true}`` options from the simulation.
    """
    samples = len(next(iter(v.values())))
    scenario = resolved.scenario
    traffic = project_traffic(scenario, v, samples)
    ctx = Context(resolved, v, traffic, simulate)
    items = one_time_amounts(resolved, v)
    recurring: dict[str, FloatArray] = {}
    one_time: dict[str, FloatArray] = {}
    details: dict[str, OptionArrays] = {}
    shape = (samples, scenario.horizon_months)
    for opt in scenario.options:
        arrays = option_costs(opt, ctx)
        details[opt.name] = arrays
        recurring[opt.name] = arrays.recurring(shape)
        paid = np.zeros(shape)
        for usd in arrays.capital.values():
            paid = paid + usd
        for item in scenario.one_time:
            if applies_to(resolved, item.name, opt):
                paid[:, item.month - 1] += items[item.name]
        one_time[opt.name] = paid
    return Evaluation(traffic, _revenue(resolved, v, traffic), recurring, one_time, items, details)
