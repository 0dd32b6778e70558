"""Each option's monthly costs, vectorised over samples: arrays of shape (samples, months), USD.

- **api**: ``calls × (in·(1−h)·p_in + in·h·p_cached + out·p_out)`` or ``calls × price per call``.
- **self_hosted / owned / serverless**: a replica serves ``c`` calls/s (serving planner at the
  scenario's SLO × ``throughput_scale``; scaled by expected ÷ sampled output tokens, decode-bound),
  sized for ``c × target_utilization``. Every day is 24 hourly slots of the diurnal curve (billed from
  its 13 distinct hours, the curve being symmetric about its peak), billed by
  :mod:`flopbill.estimate.pricing.fleet_day`: whole replicas per hour, whole instances (GPUs per instance
  from the price catalog), billing increments, cold starts, scale to zero; demand above the capacity
  at the planned utilization is unserved. A fixed fleet runs what its busiest hour of the month needs
  (or the ``replicas`` given). Owned fleets buy whole servers when the peak needs them and keep them
  (running maximum); depreciation, energy and hosting per GPU-month come from
  :func:`flopbill.estimate.pricing.fleet.owned_gpu_cost`. Serverless bills replica-seconds up.
- **router**: the small option serves ``s`` of the calls, the large one ``(1 − s) + s·e``
  (escalations), plus a router fee per call (as :func:`flopbill.estimate.pricing.economics.router_cost`).
- **edge**: each new device costs once (capital, paid in the month it is added: ``capital``, not a
  recurring component); a fallback option serves a share of the calls.
- **custom**: ``calls × cost per call + fixed per month``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from flopbill.estimate.pricing.fleet import owned_gpu_cost
from flopbill.estimate.pricing.fleet_day import DayFleet, day_fleet, replicas_running, serverless_day
from flopbill.scenario.diurnal import HALF_DAY_WEIGHTS, half_day_curves
from flopbill.scenario.inputs import Resolved, RoutedPlan
from flopbill.scenario.schema import (
    ApiOption,
    CustomOption,
    EdgeOption,
    GpuBacked,
    Option,
    OwnedOption,
    RouterOption,
    SelfHostedOption,
    ServerlessOption,
)
from flopbill.scenario.simulated import FleetSimulation, is_simulated, simulated_fleet_month
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
    unserved_calls: FloatArray | None = None
    cold_start_waits: FloatArray | None = None
    cash_usd: FloatArray | None = None
    capital: dict[str, FloatArray] = field(default_factory=dict)  # one-time purchases (label → USD)
    simulation: FleetSimulation | None = None  # fleet: {simulate: true}, point projection only

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
class Billing:
    """How an option's instances are billed, one value per input row ((rows, 1) arrays): GPUs per
    instance, billing increment and minimum (s). Lets one evaluation compare many price offers."""

    gpus_per_instance: FloatArray
    billing_increment_s: FloatArray
    billing_minimum_s: FloatArray


@dataclass(frozen=True)
class Context:
    """What every option's cost needs: the resolved scenario, sampled inputs and traffic.

    ``billing`` overrides the resolved instance terms of the options it names, row by row (used to bill
    every catalog offer of an option in one call, :mod:`flopbill.scenario.offers`). Inside a router's or
    edge option's row, ``row`` names it, so a GPU-backed option it uses is billed at the capacity and
    utilization planned for the traffic it gets there (:class:`flopbill.scenario.inputs.RoutedPlan`).
    """

    resolved: Resolved
    v: Mapping[str, FloatArray]
    traffic: TrafficArrays
    simulate: bool = False  # bill fleet: {simulate: true} options from the simulation (one row only)
    billing: Mapping[str, Billing] = field(default_factory=dict)
    row: str | None = None  # the router / edge option whose row is being billed (None: the option's own)

    def terms(self, name: str) -> Billing:
        """Return option ``name``'s billing terms as (rows or 1, 1) arrays."""
        if name in self.billing:
            return self.billing[name]
        t = self.resolved.fleet[name]
        return Billing(
            np.array([[float(t.gpus_per_instance)]]),
            np.array([[t.billing_increment_s]]),
            np.array([[t.billing_minimum_s]]),
        )

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


def _routed(opt: GpuBacked, ctx: Context) -> RoutedPlan | None:
    """Return the plan of ``opt`` inside the router / edge row being billed, if it has its own."""
    return None if ctx.row is None else ctx.resolved.routed.get((ctx.row, opt.name))


def _capacity(opt: GpuBacked, ctx: Context) -> FloatArray:
    """Return calls/s one replica serves, (samples, 1)."""
    key = f"options.{opt.name}"
    scale = ctx.col(f"{key}.throughput_scale")
    if opt.throughput_requests_per_s_per_replica is not None:
        return ctx.col(f"{key}.throughput_requests_per_s_per_replica") * scale
    expected_out = ctx.resolved.ranges["request.output_tokens"].expected
    out = ctx.col("request.output_tokens")
    ratio = np.where(out > 0, expected_out / np.where(out > 0, out, 1.0), 1.0)
    plan = _routed(opt, ctx)
    per_replica = ctx.resolved.capacity_requests_per_s[opt.name] if plan is None else plan.requests_per_s
    return per_replica * scale * ratio


def _utilization(opt: GpuBacked, ctx: Context) -> FloatArray:
    """Return the planned utilization, (samples, 1): the input, or the routed plan's when defaulted."""
    plan = _routed(opt, ctx)
    if plan is not None and opt.target_utilization is None:
        return np.full((ctx.shape[0], 1), plan.latency.utilization)
    return ctx.col(f"options.{opt.name}.target_utilization")


@dataclass(frozen=True)
class FleetMonth:
    """A GPU-backed option's fleet month by month, each (samples, months)."""

    instance_hours: FloatArray
    peak_instances: FloatArray
    served_calls: FloatArray
    unserved_calls: FloatArray
    cold_start_waits: FloatArray


def _day(
    opt: GpuBacked, ctx: Context, rate_h: FloatArray, floor: FloatArray | float, ceiling: FloatArray
) -> DayFleet:
    key = f"options.{opt.name}"
    delay = ctx.resolved.fleet[opt.name].scale_down_delay_s
    bill = ctx.terms(opt.name)
    cap = _capacity(opt, ctx)
    u = _utilization(opt, ctx)
    cold = ctx.col(f"{key}.cold_start_s")
    if isinstance(opt, ServerlessOption):
        return serverless_day(
            rate_h,
            cap,
            u,
            bill.billing_increment_s,
            bill.billing_minimum_s,
            cold,
            delay,
            ceiling,
            slot_weights=HALF_DAY_WEIGHTS,
        )
    return day_fleet(
        rate_h,
        cap,
        u,
        floor,
        ceiling,
        opt.gpus_per_replica,
        bill.gpus_per_instance,
        bill.billing_increment_s,
        bill.billing_minimum_s,
        cold,
        delay,
        unimodal=True,  # the hourly curves rise once and fall once (diurnal.hourly_curves)
        slot_weights=HALF_DAY_WEIGHTS,  # and are symmetric: the half day stands for the day
    )


def fleet_month(
    opt: GpuBacked,
    ctx: Context,
    base: FloatArray,
    spike_days: FloatArray,
    spike_mult: FloatArray,
    peak_mult: FloatArray,
) -> FleetMonth:
    """Return the option's fleet for mean calls/s ``base`` (samples, months) on days without a spike.

    Every day follows the hourly curve of the diurnal peak factor
    (:func:`flopbill.scenario.diurnal.hourly_curves`, billed from its symmetric half,
    :func:`~flopbill.scenario.diurnal.half_day_curves`); ``spike_days`` of the month run at ``spike_mult``×
    (:mod:`flopbill.estimate.pricing.fleet_day` bills each day). A fixed fleet (and an owned one) runs the
    replicas that its busiest hour of the month needs, or the ``replicas`` given; an autoscaling one
    follows the hours between ``min_replicas`` and ``max_replicas``; serverless follows the load.
    """
    days = ctx.resolved.scenario.days_per_month
    curve = half_day_curves(ctx.v["traffic.peak_factor"])[:, None, :]  # (samples, 1, 13): hours 0 … 12
    cap = _capacity(opt, ctx)
    u = _utilization(opt, ctx)
    ceiling: FloatArray = np.full(base.shape, np.inf if opt.max_replicas is None else float(opt.max_replicas))
    floor: FloatArray | float
    if isinstance(opt, ServerlessOption):
        floor = 0.0
    elif opt.scaling == "fixed" or isinstance(opt, OwnedOption):
        if opt.replicas is not None:
            sized = np.full(base.shape, float(opt.replicas))
        else:
            peak_rate = base * peak_mult * curve.max(axis=-1)
            sized = np.maximum(1.0, replicas_running(peak_rate, cap, u, 1.0))
            sized = np.minimum(sized, ceiling)
        floor, ceiling = sized[..., None], sized
    else:
        floor = float(opt.min_replicas)
    normal = _day(opt, ctx, base[..., None] * curve, floor, ceiling)
    fields = ("instance_hours", "peak_instances", "served_calls", "unserved_calls", "cold_start_waits")
    out = {f: getattr(normal, f) * (days if f != "peak_instances" else 1.0) for f in fields}
    cols = np.flatnonzero(np.any(spike_days > 0, axis=0))
    if cols.size:
        sub_floor = floor if isinstance(floor, float) else floor[:, cols]
        rate = (base[:, cols] * spike_mult[:, cols])[..., None] * curve
        spiked = _day(opt, ctx, rate, sub_floor, ceiling[:, cols])
        sd = spike_days[:, cols]
        for f in fields:
            if f == "peak_instances":
                out[f][:, cols] = np.maximum(out[f][:, cols], spiked.peak_instances)
            else:
                out[f][:, cols] = (days - sd) * getattr(normal, f)[:, cols] + sd * getattr(spiked, f)
    return FleetMonth(**out)


def _fleet(opt: GpuBacked, ctx: Context, share: Share, arrays: OptionArrays) -> FleetMonth:
    """Return the option's fleet for its share of the scenario's calls; sets utilization and unserved."""
    t = ctx.traffic
    fm = fleet_month(
        opt, ctx, t.base_calls_per_s * share, t.spike_days, t.spike_multiplier, t.peak_multiplier
    )
    if ctx.simulate and is_simulated(opt) and isinstance(share, float) and share == 1.0:  # not via a router
        fm = _simulated(opt, ctx, share, fm, arrays)
    gpi = ctx.terms(opt.name).gpus_per_instance
    replicas_per_instance = gpi / opt.gpus_per_replica
    paid = fm.instance_hours * 3600.0 * replicas_per_instance * _capacity(opt, ctx)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(paid > 0, fm.served_calls / np.where(paid > 0, paid, 1.0), 0.0)
    arrays.utilization = np.minimum(util, 1.0)
    arrays.unserved_calls = fm.unserved_calls
    arrays.cold_start_waits = fm.cold_start_waits
    arrays.over_capacity = bool(np.any(fm.unserved_calls > 1e-6 * (fm.served_calls + fm.unserved_calls)))
    arrays.gpus = fm.peak_instances * gpi
    return fm


def _simulated(
    opt: GpuBacked, ctx: Context, share: Share, fm: FleetMonth, arrays: OptionArrays
) -> FleetMonth:
    """Return the fleet month billed from the simulation (:mod:`flopbill.scenario.simulated`), row 0."""
    assert isinstance(opt, SelfHostedOption) and ctx.shape[0] == 1
    t = ctx.traffic
    sim = simulated_fleet_month(
        opt,
        ctx.resolved,
        float(_capacity(opt, ctx)[0, 0]),
        np.broadcast_to(t.base_calls_per_s * share, ctx.shape)[0],
        float(ctx.v["traffic.peak_factor"][0]),
        t.spike_days[0],
        t.spike_multiplier[0],
        fm.instance_hours[0],
        fm.unserved_calls[0],
    )
    arrays.simulation = sim
    gpi = ctx.resolved.fleet[opt.name].gpus_per_instance
    billed = np.array([[m.gpu_hours_billed / gpi for m in sim.months]])
    unserved = np.array([[m.unserved_calls for m in sim.months]])
    demand = fm.served_calls + fm.unserved_calls
    peak = np.array(
        [
            [
                math.ceil(
                    max(m.day.peak_replicas, m.spike_day.peak_replicas if m.spike_day else 0)
                    * opt.gpus_per_replica
                    / gpi
                    - 1e-9
                )
                for m in sim.months
            ]
        ]
    )
    return FleetMonth(
        billed, peak.astype(np.float64), np.maximum(demand - unserved, 0.0), unserved, fm.cold_start_waits
    )


def _self_hosted(opt: SelfHostedOption, ctx: Context, share: Share) -> OptionArrays:
    arrays = OptionArrays()
    fm = _fleet(opt, ctx, share, arrays)
    price = ctx.col(f"options.{opt.name}.price_usd_per_gpu_hour")
    usd = fm.instance_hours * ctx.terms(opt.name).gpus_per_instance * price
    arrays.add(f"{opt.name} GPU rental ({opt.pricing})", "gpu_rental", usd)
    if arrays.utilization is not None:
        arrays.idle_usd = usd * (1.0 - arrays.utilization)
    return arrays


def _serverless(opt: ServerlessOption, ctx: Context, share: Share) -> OptionArrays:
    arrays = OptionArrays()
    fm = _fleet(opt, ctx, share, arrays)
    price = ctx.col(f"options.{opt.name}.price_usd_per_gpu_second")
    usd = fm.instance_hours * 3600.0 * opt.gpus_per_replica * price
    arrays.add(f"{opt.name} serverless GPU-seconds", "serverless", usd)
    return arrays


def _lagged(values: FloatArray, lag_months: FloatArray) -> FloatArray:
    """Return ``values[:, m − lag]`` (0 where m − lag < 0); ``lag_months`` is (samples, 1)."""
    months = values.shape[1]
    idx = np.arange(months)[None, :] - lag_months.astype(np.int64)
    gathered = np.take_along_axis(values, np.clip(idx, 0, months - 1), axis=1)
    return np.where(idx >= 0, gathered, 0.0)


def _owned(opt: OwnedOption, ctx: Context, share: Share) -> OptionArrays:
    """Owned GPUs come as whole servers of ``gpus_per_server``, bought when the busiest hour needs them
    and kept (running maximum). Accrual view: straight-line depreciation of GPUs and server extras,
    energy, hosting; cash view (``cash_usd``): the purchase in the month it happens, energy, hosting."""
    arrays = OptionArrays()
    key = f"options.{opt.name}"
    fm = _fleet(opt, ctx, share, arrays)
    servers = np.maximum.accumulate(fm.peak_instances, axis=1)
    owned = servers * opt.gpus_per_server
    dep_months = ctx.col(f"{key}.depreciation_years") * 12.0
    price = ctx.col(f"{key}.purchase_price_usd_per_gpu")
    extras = ctx.col(f"{key}.server_extras_usd_per_server")
    per_gpu = owned_gpu_cost(
        purchase_price_usd=price + extras / opt.gpus_per_server,
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
    energy = np.asarray(per_gpu.energy_usd_per_gpu_month) * owned
    hosting = np.asarray(per_gpu.hosting_usd_per_gpu_month) * owned
    arrays.add(f"{opt.name} power", "power", energy)
    arrays.add(f"{opt.name} hosting", "hosting", hosting)
    bought = np.diff(servers, axis=1, prepend=0.0)
    arrays.cash_usd = bought * (price * opt.gpus_per_server + extras) + energy + hosting
    arrays.gpus = owned
    if arrays.utilization is not None:
        held = fm.instance_hours / (24.0 * ctx.resolved.scenario.days_per_month)
        arrays.utilization = arrays.utilization * held / np.where(servers > 0, servers, 1.0)
        arrays.idle_usd = arrays.recurring(ctx.shape) * (1.0 - arrays.utilization)
    return arrays


def _plus(a: FloatArray | None, b: FloatArray | None) -> FloatArray | None:
    if a is None:
        return b
    return a if b is None else a + b


def _merge(into: OptionArrays, part: OptionArrays) -> None:
    for label, (kind, usd) in part.components.items():
        into.add(label, kind, usd)
    for label, usd in part.capital.items():
        into.capital[label] = into.capital.get(label, 0.0) + usd
    into.over_capacity = into.over_capacity or part.over_capacity
    into.unserved_calls = _plus(into.unserved_calls, part.unserved_calls)
    into.cold_start_waits = _plus(into.cold_start_waits, part.cold_start_waits)


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
    if isinstance(opt, ServerlessOption):
        return _serverless(opt, ctx, share)
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
    ctx = dataclasses.replace(ctx, row=ctx.row or opt.name)
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
    ctx = dataclasses.replace(ctx, row=ctx.row or opt.name)
    arrays = OptionArrays()
    if opt.devices is not None:
        devices = np.broadcast_to(ctx.col(f"{key}.devices"), ctx.shape)
    else:
        assert ctx.traffic.daily_active_users is not None  # checked by the loader
        devices = ctx.traffic.daily_active_users * ctx.col(f"{key}.devices_per_user")
    owned = np.maximum.accumulate(devices, axis=1)
    new = np.diff(owned, axis=1, prepend=0.0)
    arrays.capital[f"{opt.name} devices"] = new * ctx.col(f"{key}.cost_usd_per_device")
    if opt.fallback is not None:
        fallback_share = ctx.col(f"{key}.fallback_share")
        _merge(arrays, option_costs(_by_name(ctx, opt.fallback), ctx, share * fallback_share))
    return arrays
