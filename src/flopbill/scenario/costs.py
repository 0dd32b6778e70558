"""Each option's monthly costs, vectorised over samples: arrays of shape (samples, months), USD.

- **api**: ``calls × (in·(1−h)·p_in + in·h·p_cached + out·p_out)`` or ``calls × price per call``.
- **self_hosted / owned**: a replica serves ``c`` calls/s (serving estimator × ``throughput_scale``;
  scaled by expected ÷ sampled output tokens, decode-bound); sized for ``c × target_utilization``.
  A fixed fleet runs ``max(1, ⌈peak rate / (c·u)⌉)`` replicas all month (peak = mean × diurnal peak
  factor × spike multiplier). An autoscaling fleet runs ``D·G(m/D, p)`` replicas on average
  (:mod:`flopbill.scenario.diurnal`; continuous replica counts, i.e. no rounding up per hour).
  Owned fleets buy GPUs when the peak needs them and keep them (running maximum); depreciation,
  energy and hosting per GPU-month come from :func:`flopbill.estimate.fleet.owned_gpu_cost`.
- **router**: the small option serves ``s`` of the calls, the large one ``(1 − s) + s·e``
  (escalations), plus a router fee per call (as :func:`flopbill.estimate.economics.router_cost`).
- **edge**: each new device costs once; a fallback option serves a share of the calls.
- **custom**: ``calls × cost per call + fixed per month``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from flopbill.estimate.economics import HOURS_PER_DAY
from flopbill.estimate.fleet import owned_gpu_cost
from flopbill.scenario.diurnal import mean_of_floor_max
from flopbill.scenario.inputs import Resolved
from flopbill.scenario.schema import (
    ApiOption,
    CustomOption,
    EdgeOption,
    Option,
    OwnedOption,
    RouterOption,
    SelfHostedOption,
)
from flopbill.scenario.traffic import TrafficArrays

FloatArray = npt.NDArray[np.float64]
Share = float | FloatArray


@dataclass
class OptionArrays:
    """One option's recurring components (label → (kind, array)), fleet size and utilization."""

    components: dict[str, tuple[str, FloatArray]] = field(default_factory=dict)
    gpus: FloatArray | None = None
    utilization: FloatArray | None = None
    idle_usd: FloatArray | None = None
    over_capacity: bool = False

    def add(self, label: str, kind: str, usd: FloatArray) -> None:
        """Add ``usd`` to the component ``label`` (created on first use)."""
        if label in self.components:
            usd = self.components[label][1] + usd
        self.components[label] = (kind, usd)

    def recurring(self, shape: tuple[int, int]) -> FloatArray:
        """Return the sum of every component, (samples, months)."""
        total = np.zeros(shape)
        for _, usd in self.components.values():
            total = total + usd
        return total


@dataclass(frozen=True)
class Context:
    """What every option's cost needs: the resolved scenario, sampled inputs and traffic."""

    resolved: Resolved
    v: Mapping[str, FloatArray]
    traffic: TrafficArrays

    def col(self, name: str) -> FloatArray:
        """Return input ``name`` as a (samples, 1) column."""
        return self.v[name][:, None]

    @property
    def shape(self) -> tuple[int, int]:
        """(samples, months)."""
        rows, months = self.traffic.requests.shape
        return rows, months


def _api_cost_per_call(opt: ApiOption, ctx: Context) -> FloatArray:
    key = f"options.{opt.name}"
    if opt.price_usd_per_request is not None:
        return ctx.col(f"{key}.price_usd_per_request")
    if opt.model is not None:
        prices = ctx.resolved.api_prices[opt.name]
        p_in: float | FloatArray
        p_cached: float | FloatArray
        p_out: float | FloatArray
        p_in, p_cached, p_out = (
            prices.input_usd_per_token,
            prices.cached_input_usd_per_token,
            prices.output_usd_per_token,
        )
    else:
        p_in = ctx.col(f"{key}.price_usd_per_million_input_tokens") / 1e6
        cached_key = f"{key}.price_usd_per_million_cached_input_tokens"
        p_cached = ctx.col(cached_key) / 1e6 if cached_key in ctx.v else p_in
        out_key = f"{key}.price_usd_per_million_output_tokens"
        p_out = ctx.col(out_key) / 1e6 if out_key in ctx.v else 0.0
    tokens_in, hit = ctx.col("request.input_tokens"), ctx.col("request.cache_hit_rate")
    cost = (
        tokens_in * (1.0 - hit) * p_in + tokens_in * hit * p_cached + ctx.col("request.output_tokens") * p_out
    )
    return np.asarray(cost, dtype=np.float64)


def _capacity(opt: SelfHostedOption | OwnedOption, ctx: Context) -> FloatArray:
    """Return calls/s one replica serves, (samples, 1)."""
    key = f"options.{opt.name}"
    scale = ctx.col(f"{key}.throughput_scale")
    if opt.throughput_requests_per_s_per_replica is not None:
        return ctx.col(f"{key}.throughput_requests_per_s_per_replica") * scale
    expected_out = ctx.resolved.ranges["request.output_tokens"].expected
    out = ctx.col("request.output_tokens")
    ratio = np.where(out > 0, expected_out / np.where(out > 0, out, 1.0), 1.0)
    return ctx.resolved.capacity_requests_per_s[opt.name] * scale * ratio


def _replicas(
    opt: SelfHostedOption | OwnedOption, ctx: Context, share: Share, arrays: OptionArrays
) -> FloatArray:
    """Return mean replicas running each month, (samples, months); sets gpus and utilization."""
    key = f"options.{opt.name}"
    t = ctx.traffic
    cap = _capacity(opt, ctx)
    eff = cap * ctx.col(f"{key}.target_utilization")
    base = t.base_calls_per_s * share
    peak_rate = base * ctx.col("traffic.peak_factor") * t.peak_multiplier
    mean_rate = t.mean_calls_per_s * share
    peak_needed = np.ceil(peak_rate / eff - 1e-9)
    if opt.fleet == "fixed" or isinstance(opt, OwnedOption):
        if opt.replicas is not None:
            running = np.full(ctx.shape, float(opt.replicas))
            arrays.over_capacity = bool(np.any(peak_rate > running * cap * (1 + 1e-9)))
        else:
            running = np.maximum(1.0, peak_needed)
        peak_replicas = running
    else:
        floor = float(opt.min_replicas)
        p = ctx.col("traffic.peak_factor")
        days = ctx.resolved.scenario.days_per_month
        running = _autoscaled(base / eff, floor, p)
        cols = np.flatnonzero(np.any(t.spike_days > 0, axis=0))  # only months with a spike
        if cols.size:
            sd = t.spike_days[:, cols]
            spiked = _autoscaled(base[:, cols] * t.spike_multiplier[:, cols] / eff, floor, p)
            running[:, cols] = ((days - sd) * running[:, cols] + sd * spiked) / days
        peak_replicas = np.maximum(floor, peak_needed)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(running > 0, mean_rate / np.where(running > 0, running * cap, 1.0), 0.0)
    arrays.utilization = np.minimum(util, 1.0)
    arrays.gpus = peak_replicas * opt.gpus_per_replica
    return running


def _autoscaled(demand: FloatArray, floor: float, peak_factor: FloatArray) -> FloatArray:
    """Return mean replicas ``D·G(m/D, p)`` (``m`` where demand is 0)."""
    safe = np.where(demand > 0, demand, 1.0)
    return np.where(demand > 0, safe * mean_of_floor_max(floor / safe, peak_factor), floor)


def _self_hosted(opt: SelfHostedOption, ctx: Context, share: Share) -> OptionArrays:
    arrays = OptionArrays()
    running = _replicas(opt, ctx, share, arrays)
    hours = HOURS_PER_DAY * ctx.resolved.scenario.days_per_month
    price = ctx.col(f"options.{opt.name}.price_usd_per_gpu_hour")
    usd = running * opt.gpus_per_replica * hours * price
    arrays.add(f"{opt.name} GPU rental ({opt.pricing})", "gpu_rental", usd)
    if opt.fleet == "fixed" and arrays.utilization is not None:
        arrays.idle_usd = usd * (1.0 - arrays.utilization)
    return arrays


def _lagged(values: FloatArray, lag_months: FloatArray) -> FloatArray:
    """Return ``values[:, m − lag]`` (0 where m − lag < 0); ``lag_months`` is (samples, 1)."""
    months = values.shape[1]
    idx = np.arange(months)[None, :] - lag_months.astype(np.int64)
    gathered = np.take_along_axis(values, np.clip(idx, 0, months - 1), axis=1)
    return np.where(idx >= 0, gathered, 0.0)


def _owned(opt: OwnedOption, ctx: Context, share: Share) -> OptionArrays:
    arrays = OptionArrays()
    key = f"options.{opt.name}"
    running = _replicas(opt, ctx, share, arrays)
    owned = np.maximum.accumulate(running, axis=1) * opt.gpus_per_replica
    dep_months = ctx.col(f"{key}.depreciation_years") * 12.0
    per_gpu = owned_gpu_cost(
        purchase_price_usd=ctx.col(f"{key}.purchase_price_usd_per_gpu"),
        depreciation_months=dep_months,
        power_kw=ctx.col(f"{key}.power_w_per_gpu") / 1e3,
        pue=ctx.col(f"{key}.pue"),
        electricity_usd_per_kwh=ctx.col(f"{key}.electricity_usd_per_kwh"),
        hosting_usd_per_gpu_month=ctx.col(f"{key}.hosting_usd_per_gpu_month"),
        days_per_month=ctx.resolved.scenario.days_per_month,
    )
    depreciating = owned - _lagged(owned, np.round(dep_months))
    arrays.add(
        f"{opt.name} GPU depreciation",
        "gpu_depreciation",
        np.asarray(per_gpu.depreciation_usd_per_gpu_month) * depreciating,
    )
    arrays.add(f"{opt.name} power", "power", np.asarray(per_gpu.energy_usd_per_gpu_month) * owned)
    arrays.add(f"{opt.name} hosting", "hosting", np.asarray(per_gpu.hosting_usd_per_gpu_month) * owned)
    arrays.gpus = owned
    if arrays.utilization is not None:
        arrays.utilization = (
            arrays.utilization * running * opt.gpus_per_replica / np.where(owned > 0, owned, 1.0)
        )
        arrays.idle_usd = arrays.recurring(ctx.shape) * (1.0 - arrays.utilization)
    return arrays


def _merge(into: OptionArrays, part: OptionArrays) -> None:
    for label, (kind, usd) in part.components.items():
        into.add(label, kind, usd)
    into.over_capacity = into.over_capacity or part.over_capacity


def option_costs(opt: Option, ctx: Context, share: Share = 1.0) -> OptionArrays:
    """Return the recurring costs of ``opt`` serving ``share`` of the model calls."""
    t = ctx.traffic
    key = f"options.{opt.name}"
    if isinstance(opt, ApiOption):
        arrays = OptionArrays()
        arrays.add(f"{opt.name} API", "api", t.model_calls * share * _api_cost_per_call(opt, ctx))
        return arrays
    if isinstance(opt, SelfHostedOption):
        return _self_hosted(opt, ctx, share)
    if isinstance(opt, OwnedOption):
        return _owned(opt, ctx, share)
    if isinstance(opt, CustomOption):
        arrays = OptionArrays()
        usd = t.model_calls * share * ctx.col(f"{key}.cost_usd_per_request") + ctx.col(
            f"{key}.fixed_usd_per_month"
        )
        arrays.add(f"{opt.name} cost", "custom", usd)
        return arrays
    if isinstance(opt, RouterOption):
        return _router(opt, ctx, share)
    return _edge(opt, ctx, share)


def _by_name(ctx: Context, name: str) -> Option:
    return next(o for o in ctx.resolved.scenario.options if o.name == name)


def _router(opt: RouterOption, ctx: Context, share: Share) -> OptionArrays:
    key = f"options.{opt.name}"
    s, e = ctx.col(f"{key}.small_share"), ctx.col(f"{key}.escalation_rate")
    arrays = OptionArrays()
    _merge(arrays, option_costs(_by_name(ctx, opt.small), ctx, share * s))
    _merge(arrays, option_costs(_by_name(ctx, opt.large), ctx, share * ((1.0 - s) + s * e)))
    fee = ctx.traffic.model_calls * share * ctx.col(f"{key}.router_usd_per_request")
    if np.any(fee > 0):
        arrays.add(f"{opt.name} routing", "router", fee)
    return arrays


def _edge(opt: EdgeOption, ctx: Context, share: Share) -> OptionArrays:
    key = f"options.{opt.name}"
    arrays = OptionArrays()
    if opt.devices is not None:
        devices = np.broadcast_to(ctx.col(f"{key}.devices"), ctx.shape)
    else:
        assert ctx.traffic.daily_active_users is not None  # checked by the loader
        devices = ctx.traffic.daily_active_users * ctx.col(f"{key}.devices_per_user")
    owned = np.maximum.accumulate(devices, axis=1)
    new = np.diff(owned, axis=1, prepend=0.0)
    arrays.add(f"{opt.name} devices", "edge_devices", new * ctx.col(f"{key}.cost_usd_per_device"))
    if opt.fallback is not None:
        fallback_share = ctx.col(f"{key}.fallback_share")
        _merge(arrays, option_costs(_by_name(ctx, opt.fallback), ctx, share * fallback_share))
    return arrays
