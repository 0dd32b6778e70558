"""Resolve a scenario into numbers: every ranged input by name, plus what the estimators and catalogs
supply (API token prices, GPU-hour prices, replica throughput, training cost), with their sources.

Input names are paths: ``traffic.monthly_growth``, ``options.<name>.price_usd_per_gpu_hour``,
``one_time.<name>.training.mfu``, ``traffic.spikes[0].multiplier``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from flopbill.errors import FlopbillError, InputError
from flopbill.estimate.core.assumptions import Assumption, Range
from flopbill.estimate.pricing.api import DEFAULT_PRICES_AT
from flopbill.scenario import estimators
from flopbill.scenario.schema import (
    ApiOption,
    EdgeOption,
    GpuBacked,
    Option,
    OwnedOption,
    RouterOption,
    Scenario,
    SelfHostedOption,
    ServerlessOption,
)
from flopbill.scenario.values import RangeValue

#: Networking bought with each 8-GPU server: in a 64-node H100 cluster with one layer of 400 Gb/s InfiniBand
#: switches, 8 switches at $36k ($288,000) plus $675,840 of connectors and cables, ÷ 64 nodes = $15,060 a node
#: (E. Cheah, "H100 Freakonomics" cost spreadsheet, prices of Aug 2024; the node itself, InfiniBand cards
#: included, at $310k: a Thinkmate quotation).
SERVER_NETWORK_USD = (288_000 + 675_840) / 64
SERVER_NETWORK_SOURCE = (
    "E. Cheah, H100 cluster cost spreadsheet (Aug 2024), https://docs.google.com/spreadsheets/d/"
    "1Ft3RbeZ-w43kYSiLfYc1vxO41mK5lmJpcPC9GOYHAWc, via https://substack.tech-talk-cto.com/p/h100-freakonomics-"
    "the-economical (checked 2026-12-01)"
)


#: Purchase price per GPU of an owned server, its share of the server included (USD): an 8× H100 SXM HGX
#: server with InfiniBand cards quoted at $317,000 by Thinkmate (quotation archived 2024-08-22,
#: https://web.archive.org/web/20240822233446/https://www.thinkmate.com/quotation-request?a=YToxOntzOjI6ImlkIjtpOjc0OTY2Mzt9,
#: cited by the E. Cheah spreadsheet below, which assumes $310k), ÷ 8 GPUs.
SERVER_PRICE_USD_PER_GPU = {"h100-sxm": 317_000 / 8}
SERVER_PRICE_SOURCE = (
    "Thinkmate 8x H100 SXM server quotation, $317,000 (archived 2024-08-22): https://web.archive.org/web/"
    "20240822233446/https://www.thinkmate.com/quotation-request?a=YToxOntzOjI6ImlkIjtpOjc0OTY2Mzt9 ÷ 8 GPUs"
)


@dataclass(frozen=True)
class FleetTerms:
    """How one GPU-backed option is billed and started (see :mod:`flopbill.estimate.pricing.fleet_day`)."""

    gpus_per_instance: int
    billing_increment_s: float
    billing_minimum_s: float
    scale_down_delay_s: float


@dataclass(frozen=True)
class PricedLatency:
    """The latency a GPU-backed option is priced at (serving planner; NaN when throughput is given)."""

    ttft_s: float
    tpot_s: float
    batch: int
    utilization: float


@dataclass(frozen=True)
class RoutedPlan:
    """A GPU-backed option planned at the traffic a router (or an edge fallback) sends it.

    ``share`` is the expected share of the scenario's model calls it serves there (a router's small
    share ``s`` or its large share ``(1 − s) + s·e``, an edge option's fallback share); the serving
    planner meets the SLO at ``share ×`` the busiest hour: ``requests_per_s`` per replica and
    ``latency`` (batch, TTFT, TPOT, utilization) there.
    """

    share: float
    requests_per_s: float
    latency: PricedLatency


@dataclass(frozen=True)
class ChosenOffer:
    """The GPU price catalog offer a self-hosted option is billed at, and the spread over its offers.

    ``bill_usd`` is this offer's GPU bill over the horizon at expected inputs; ``median_bill_usd`` and
    ``dearest_bill_usd`` the median and largest bill over the ``n_offers`` candidate offers (the least is
    ``bill_usd`` unless ``pinned``: then the only candidate). ``billing_known`` is False where the snapshot
    does not know the provider's increment (whole hours assumed).
    """

    provider: str
    instance: str
    region: str
    gpus_per_instance: int
    price_usd_per_gpu_hour: float
    billing_increment_s: float
    billing_minimum_s: float
    billing_known: bool
    date_checked: str
    source_url: str
    n_offers: int
    bill_usd: float
    median_bill_usd: float
    dearest_bill_usd: float
    dearest_offer: str
    pinned: bool = False


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
    fleet: dict[str, FleetTerms] = field(default_factory=dict)
    latency: dict[str, PricedLatency] = field(default_factory=dict)
    offers: dict[str, ChosenOffer] = field(default_factory=dict)
    routed: dict[tuple[str, str], RoutedPlan] = field(default_factory=dict)  # (row option, GPU option)


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
    "rps": "traffic",  # the peak request rate the fleet is sized for comes from the traffic
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
    scenario: Scenario, ranges: dict[str, Range], notes: list[Assumption], owners: dict[int, str]
) -> tuple[dict[str, estimators.TokenPrices], dict[str, float]]:
    api: dict[str, estimators.TokenPrices] = {}
    capacity: dict[str, float] = {}
    when = scenario.prices_as_of or DEFAULT_PRICES_AT
    for opt in scenario.options:
        key = f"options.{opt.name}"
        mark = len(notes)
        if isinstance(opt, ApiOption) and opt.model is not None:
            api[opt.name] = estimators.api_token_prices(opt.model, opt.provider, when)
            notes.extend(api[opt.name].assumptions)
        if isinstance(opt, OwnedOption) and opt.power_w_per_gpu is None:
            from flopbill.catalog import accelerator

            tdp = accelerator(opt.gpu).tdp_w
            if tdp is None:
                raise InputError(f"{key}.power_w_per_gpu", None, f"a power draw: {opt.gpu}'s TDP is unknown")
            ranges[f"{key}.power_w_per_gpu"] = Range.point(tdp)
            notes.append(
                Assumption(f"{key}.power_w_per_gpu", tdp, f"{opt.gpu} TDP, hardware catalog", "upper bound")
            )
        if isinstance(opt, OwnedOption) and opt.purchase_price_usd_per_gpu is None:
            if opt.gpu not in SERVER_PRICE_USD_PER_GPU:
                raise InputError(
                    f"{_at(scenario, opt)}.purchase_price_usd_per_gpu",
                    None,
                    f"a purchase price per GPU, its server share included (no sourced server price for "
                    f"{opt.gpu}; known: {', '.join(sorted(SERVER_PRICE_USD_PER_GPU))})",
                )
            price = SERVER_PRICE_USD_PER_GPU[opt.gpu]
            ranges[f"{key}.purchase_price_usd_per_gpu"] = Range.point(price)
            notes.append(
                Assumption(
                    f"{key}.purchase_price_usd_per_gpu",
                    price,
                    SERVER_PRICE_SOURCE,
                    "one vendor's list quotation of Aug 2024 (InfiniBand cards included; switches are the "
                    "extras); negotiated and current prices differ: give your quote",
                )
            )
        if isinstance(opt, OwnedOption) and opt.server_extras_usd_per_server is None:
            ranges[f"{key}.server_extras_usd_per_server"] = Range.point(SERVER_NETWORK_USD)
            notes.append(
                Assumption(
                    f"{key}.server_extras_usd_per_server",
                    SERVER_NETWORK_USD,
                    SERVER_NETWORK_SOURCE,
                    "InfiniBand switches + cables per node, 64-node cluster; storage, racking not included",
                )
            )
        owners.update(dict.fromkeys(range(mark, len(notes)), opt.name))
    return api, capacity


def _peak_calls_per_s(scenario: Scenario, ranges: dict[str, Range]) -> float:
    """Return the busiest hour's model calls/s over the horizon at expected inputs (spikes included)."""
    from flopbill.estimate.core.uncertainty import expected_inputs
    from flopbill.scenario.traffic import project_traffic

    t = project_traffic(scenario, expected_inputs(ranges), 1)
    return float((t.base_calls_per_s * t.peak_multiplier).max()) * ranges["traffic.peak_factor"].expected


def routed_shares(scenario: Scenario, ranges: dict[str, Range]) -> dict[tuple[str, str], float]:
    """Return, per (router or edge option, GPU-backed option it uses), the expected share of the model
    calls that GPU option serves in that option's row: a router sends ``s`` to its small option and
    ``(1 − s) + s·e`` to its large one, an edge option ``fallback_share`` to its fallback (nested routers
    multiply; an option reached twice adds up)."""
    by_name = {o.name: o for o in scenario.options}
    out: dict[tuple[str, str], float] = {}

    def walk(row: str, opt: Option, share: float) -> None:
        key = f"options.{opt.name}"
        if isinstance(opt, RouterOption):
            s, e = ranges[f"{key}.small_share"].expected, ranges[f"{key}.escalation_rate"].expected
            walk(row, by_name[opt.small], share * s)
            walk(row, by_name[opt.large], share * ((1.0 - s) + s * e))
        elif isinstance(opt, EdgeOption) and opt.fallback is not None:
            walk(row, by_name[opt.fallback], share * ranges[f"{key}.fallback_share"].expected)
        elif isinstance(opt, GpuBacked) and opt.name != row:
            out[(row, opt.name)] = out.get((row, opt.name), 0.0) + share

    for opt in scenario.options:
        if isinstance(opt, RouterOption | EdgeOption):
            walk(opt.name, opt, 1.0)
    return out


def _plan_at_slo(scenario: Scenario, opt: GpuBacked, rps: float) -> estimators.SloCapacity:
    req, slo = scenario.request, scenario.slo
    with scenario_field(_at(scenario, opt), OPTION_FIELDS):
        return estimators.replica_at_slo(
            opt.model,
            opt.gpu,
            opt.gpus_per_replica,
            opt.weight_dtype,
            req.input_tokens.expected,
            req.output_tokens.expected,
            (slo.ttft_s, slo.tpot_s, slo.percentile),
            rps,
        )


def _routed_plans(
    scenario: Scenario, ranges: dict[str, Range], peak: float, notes: list[Assumption]
) -> dict[tuple[str, str], RoutedPlan]:
    """Plan every GPU-backed option a router or edge option uses at its own busiest hour there:
    ``share × peak`` calls/s (throughput given: nothing to plan)."""
    by_name = {o.name: o for o in scenario.options}
    out: dict[tuple[str, str], RoutedPlan] = {}
    for (row, name), share in routed_shares(scenario, ranges).items():
        opt = by_name[name]
        assert isinstance(opt, GpuBacked)
        if opt.throughput_requests_per_s_per_replica is not None:
            continue
        cap = _plan_at_slo(scenario, opt, peak * share)
        lat = PricedLatency(cap.ttft_s, cap.tpot_s, cap.batch, cap.utilization)
        out[(row, name)] = RoutedPlan(share, cap.requests_per_s, lat)
        notes.append(
            Assumption(
                f"options.{row}: {name} utilization at the slo",
                cap.utilization,
                "serving planner (M/M/c)",
                f"at {100 * share:.3g}% of the busiest hour ({peak * share:.4g} calls/s); "
                f"batch {cap.batch}, {cap.requests_per_s:.4g} requests/s per replica"
                + ("" if opt.target_utilization is None else "; target_utilization given: it applies"),
            )
        )
    return out


def _fleet_defaults(
    scenario: Scenario,
    ranges: dict[str, Range],
    notes: list[Assumption],
    capacity: dict[str, float],
    owners: dict[int, str],
) -> tuple[dict[str, FleetTerms], dict[str, PricedLatency], dict[tuple[str, str], RoutedPlan]]:
    """Fill GPU prices, instance terms, SLO throughput and utilization, and cold starts of GPU options."""
    from flopbill.estimate.pricing.fleet_day import (
        DEFAULT_ENGINE_START_S,
        DEFAULT_LOAD_BYTES_PER_S,
        cold_start_s,
    )

    fleet: dict[str, FleetTerms] = {}
    latency: dict[str, PricedLatency] = {}
    gpu_options = [o for o in scenario.options if isinstance(o, GpuBacked)]
    if not gpu_options:
        return fleet, latency, {}
    peak = _peak_calls_per_s(scenario, ranges)
    for opt in gpu_options:
        key = f"options.{opt.name}"
        mark = len(notes)
        fleet[opt.name] = _terms(opt, key, ranges, notes)
        u = 1.0
        if opt.throughput_requests_per_s_per_replica is not None:
            capacity[opt.name] = 1.0  # the given (ranged) throughput is an input; see costs
            latency[opt.name] = PricedLatency(float("nan"), float("nan"), 0, float("nan"))
            wbytes = estimators.weight_bytes(opt.model, opt.weight_dtype)
        else:
            cap = _plan_at_slo(scenario, opt, peak)
            capacity[opt.name], u, wbytes = cap.requests_per_s, cap.utilization, cap.weight_bytes
            latency[opt.name] = PricedLatency(cap.ttft_s, cap.tpot_s, cap.batch, cap.utilization)
            notes.extend(cap.assumptions)
        if opt.target_utilization is None:
            ranges[f"{key}.target_utilization"] = Range.point(u)
            src = "serving planner: busy fraction meeting the slo" if u < 1.0 else "throughput given"
            notes.append(Assumption(f"{key}.target_utilization", u, src))
        if opt.cold_start_s is None:
            cold = float(cold_start_s(wbytes))
            ranges[f"{key}.cold_start_s"] = Range.point(cold)
            notes.append(
                Assumption(
                    f"{key}.cold_start_s",
                    cold,
                    "weight bytes ÷ load rate + engine start",
                    f"{wbytes / 1e9:.3g} GB ÷ {DEFAULT_LOAD_BYTES_PER_S / 1e9:.2g} GB/s "
                    f"(vLLM default loader, gp3 SSD) + {DEFAULT_ENGINE_START_S:g} s (vLLM start, warm cache)",
                )
            )
        owners.update(dict.fromkeys(range(mark, len(notes)), opt.name))
    return fleet, latency, _routed_plans(scenario, ranges, peak, notes)


def once_each(notes: list[Assumption], owners: dict[int, str]) -> tuple[Assumption, ...]:
    """Return the assumptions with duplicates merged (same name, value and source), each naming the
    options that use it ("used by a, b") unless its name already says which option it belongs to."""
    first: dict[tuple[str, str, str], Assumption] = {}
    users: dict[tuple[str, str, str], list[str]] = {}
    for i, a in enumerate(notes):
        key = (a.name, repr(a.value), a.source)
        first.setdefault(key, a)
        who = users.setdefault(key, [])
        if i in owners and owners[i] not in who:
            who.append(owners[i])
    out = []
    for key, a in first.items():
        who = users[key]
        if who and not a.name.startswith("options."):
            used = "used by " + ", ".join(who)
            a = dataclasses.replace(a, note=f"{a.note}; {used}" if a.note else used)
        out.append(a)
    return tuple(out)


def _terms(opt: GpuBacked, key: str, ranges: dict[str, Range], notes: list[Assumption]) -> FleetTerms:
    if isinstance(opt, ServerlessOption):
        from flopbill.catalog.serverless import serverless_price

        try:
            sp = serverless_price(opt.gpu, opt.provider)
        except FlopbillError as exc:
            if opt.price_usd_per_gpu_second is None:
                raise InputError(f"{key}.price_usd_per_gpu_second", None, f"a price ({exc})") from None
            return FleetTerms(opt.gpus_per_replica, 1.0, 1.0, opt.idle_timeout_s or 60.0)
        if opt.price_usd_per_gpu_second is None:
            ranges[f"{key}.price_usd_per_gpu_second"] = Range.point(sp.price_usd_per_gpu_second)
            notes.append(
                Assumption(f"{opt.gpu} serverless USD per GPU-second", sp.price_usd_per_gpu_second, sp.source)
            )
        idle = sp.terms.idle_timeout_s if opt.idle_timeout_s is None else opt.idle_timeout_s
        notes.append(
            Assumption(
                f"{key} idle timeout, s",
                idle,
                f"{sp.terms.provider} default" if opt.idle_timeout_s is None else "given",
            )
        )
        return FleetTerms(
            opt.gpus_per_replica, sp.terms.billing_increment_s, sp.terms.billing_minimum_s, idle
        )
    if isinstance(opt, SelfHostedOption):
        if opt.price_usd_per_gpu_hour is None:
            # provisional (median offer): :func:`flopbill.scenario.offers.choose_offers` replaces the price,
            # the instance terms and their assumptions with the offer that bills least
            price, _ = estimators.gpu_hour_price(
                opt.gpu, opt.pricing, opt.provider, f"{key}.price_usd_per_gpu_hour"
            )
            ranges[f"{key}.price_usd_per_gpu_hour"] = Range.point(price)
            t = estimators.instance_terms(opt.gpu, opt.pricing, opt.provider)
            t = dataclasses.replace(t, assumptions=())
        else:
            t = estimators.InstanceTerms(
                1,
                3600.0,
                3600.0,
                (
                    Assumption(
                        f"{key} instance",
                        "1 GPU, billed per whole hour",
                        "price given: assumed unless gpus_per_instance / billing_increment_s are given",
                    ),
                ),
            )
        notes.extend(t.assumptions)
        inc = opt.billing_increment_s or t.billing_increment_s
        minimum = t.billing_minimum_s if opt.billing_increment_s is None else inc
        return FleetTerms(
            opt.gpus_per_instance or t.gpus_per_instance,
            inc,
            minimum if opt.billing_minimum_s is None else opt.billing_minimum_s,
            opt.scale_down_delay_s,
        )
    assert isinstance(opt, OwnedOption)
    return FleetTerms(opt.gpus_per_server, 3600.0, 0.0, opt.scale_down_delay_s)


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
    if scenario.prices_as_of is None:
        scenario = scenario.model_copy(update={"prices_as_of": today or DEFAULT_PRICES_AT})
    ranges = collect_ranges(scenario)
    notes = _given(ranges)
    notes.append(Assumption("days_per_month", scenario.days_per_month, "given or default 365.25/12"))
    when = scenario.prices_as_of or DEFAULT_PRICES_AT
    notes.append(
        Assumption(
            "prices_as_of",
            when.isoformat(),
            "given"
            if when != DEFAULT_PRICES_AT
            else "default date (flopbill.estimate.pricing.api.DEFAULT_PRICES_AT)",
        )
    )
    owners: dict[int, str] = {}
    api, capacity = _option_defaults(scenario, ranges, notes, owners)
    fleet, latency, routed = _fleet_defaults(scenario, ranges, notes, capacity, owners)
    cost, hours = _training_defaults(scenario, ranges, notes)
    from flopbill.scenario.offers import choose_offers  # offers bills with costs, which imports this module

    return choose_offers(
        Resolved(
            scenario,
            ranges,
            api,
            capacity,
            cost,
            hours,
            when,
            once_each(notes, owners),
            fleet,
            latency,
            routed=routed,
        )
    )
