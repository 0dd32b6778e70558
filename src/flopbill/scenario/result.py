"""What a scenario projection returns: frozen dataclasses, plain tuples of floats, SI units and US dollars.

Every month-by-month series is a ``tuple[float, ...]`` of length ``horizon_months``; index 0 is month 1.
Money is US dollars (``_usd``), volumes are requests per month unless the name says otherwise. ``None``
means "does not apply" (no revenue given, not a fixed fleet, no ranged inputs), never "unknown".

This module only holds data; :mod:`flopbill.scenario.projection` fills it and the report and CLI read it.
Changes here are additive only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flopbill.estimate.core.assumptions import Assumption
from flopbill.scenario.inputs import ChosenOffer
from flopbill.scenario.simulated import FleetSimulation

Series = tuple[float, ...]


@dataclass(frozen=True)
class CostComponent:
    """One line of an option's bill, month by month.

    ``name`` is one of: ``api`` (per-token or per-request API charges), ``gpu_rental`` (GPU-hours),
    ``gpu_depreciation`` (owned GPUs, straight line), ``power`` (owned GPUs, energy × PUE),
    ``hosting`` (owned GPUs, colocation), ``edge_devices`` (one-time per-device cost), ``custom``
    (a given per-request cost), ``one_time`` (training, fine-tuning, engineering), ``fixed`` (a given
    monthly cost). ``one_time`` is True for costs paid once (in the month they fall in).
    """

    name: str
    label: str
    monthly_usd: Series
    one_time: bool = False

    @property
    def total_usd(self) -> float:
        """Sum over the horizon, USD."""
        return float(sum(self.monthly_usd))


@dataclass(frozen=True)
class OneTimeCost:
    """A cost paid once: a training or fine-tuning stage (from the training estimator) or a given sum."""

    name: str
    cost_usd: float
    month: int
    source: str
    gpu_hours: float | None = None
    accelerator: str | None = None


@dataclass(frozen=True)
class TrafficProjection:
    """Traffic month by month, shared by every option.

    ``requests`` counts every request the product receives; ``ai_requests`` the ones the model answers
    (requests × share that needs the AI output); ``model_calls`` counts generated samples
    (ai_requests × samples per request). ``peak_requests_per_s`` is the busiest second of the month
    (mean rate × diurnal peak factor × spike multiplier).
    """

    months: tuple[int, ...]
    days_per_month: float
    requests: Series
    ai_requests: Series
    model_calls: Series
    daily_active_users: Series | None
    mean_requests_per_s: Series
    peak_requests_per_s: Series
    spike_multiplier: Series


@dataclass(frozen=True)
class OptionProjection:
    """One option's costs over the horizon and the unit economics that follow.

    ``kind`` is ``api``, ``self_hosted``, ``owned``, ``router``, ``edge`` or ``custom``.
    ``monthly_cost_usd`` is the sum of every component in each month, one-time costs included;
    ``recurring_cost_usd`` leaves the one-time costs out. ``cost_per_request_usd`` is recurring cost
    per AI request that month (``None`` entries never occur: a month without traffic gives ``nan``).
    ``gross_margin`` is (revenue − recurring cost) / revenue per month; ``None`` without revenue.
    ``gpus`` is the GPU count each month for GPU-backed options (peak replicas × GPUs per replica).
    ``offer`` (self-hosted options priced from the catalog or pinned to an instance) is the offer billed:
    the one whose bill over the horizon is least for this fleet, with the cheapest / median / dearest
    offer's bill as the spread.
    """

    name: str
    kind: str
    label: str
    components: tuple[CostComponent, ...]
    monthly_cost_usd: Series
    recurring_cost_usd: Series
    cumulative_cost_usd: Series
    cost_per_request_usd: Series
    cost_per_user_usd_per_month: Series | None
    gross_margin: Series | None
    gross_profit_usd: Series | None
    total_cost_usd: float
    total_one_time_usd: float
    total_recurring_usd: float
    lifetime_cost_per_request_usd: float
    gpus: Series | None = None
    gpu_utilization: Series | None = None
    notes: tuple[str, ...] = ()
    assumptions: tuple[Assumption, ...] = ()
    unserved_requests: Series | None = None
    unserved_share: float = 0.0
    cost_per_served_request_usd: Series | None = None
    cold_start_waits: Series | None = None
    latency: PricedLatency | None = None
    cash_monthly_usd: Series | None = None
    simulation: FleetSimulation | None = None  # fleet: {simulate: true}: the simulated months
    offer: ChosenOffer | None = None  # self-hosted: the catalog offer billed, and the spread over offers
    routed: tuple[RoutedLatency, ...] = ()  # router / edge: the GPU-backed options it uses, planned there


@dataclass(frozen=True)
class PricedLatency:
    """The latency a GPU-backed option is priced at: the serving planner's configuration at the SLO.

    ``ttft_s`` / ``tpot_s`` under load at the busiest hour; ``tokens_per_s_per_user = 1/tpot_s``;
    ``utilization`` the busy fraction the fleet is sized for. NaN (and batch 0) when the scenario gives
    the throughput instead. ``slo_*`` is the target.
    """

    ttft_s: float
    tpot_s: float
    tokens_per_s_per_user: float
    batch: int
    utilization: float
    slo_ttft_s: float
    slo_tpot_s: float
    slo_percentile: float
    cold_start_s: float


@dataclass(frozen=True)
class RoutedLatency:
    """A GPU-backed option inside a router's (or edge option's) row, planned at the traffic it gets there:
    ``share`` of the scenario's model calls at expected inputs, so its SLO is met at ``share ×`` the
    busiest hour (a smaller fleet multiplexes less and runs at a lower utilization)."""

    option: str
    share: float
    requests_per_s_per_replica: float
    latency: PricedLatency


@dataclass(frozen=True)
class Payback:
    """The first month in which an option's cumulative cost (one-time included) is at or below an API's.

    ``month`` is 1-based, ``None`` when it does not happen within the horizon; ``note`` says when the
    option is cheaper from month 1 or falls behind again later.
    """

    option: str
    api_option: str
    month: int | None
    cumulative_option_usd: float | None
    cumulative_api_usd: float | None
    note: str = ""


@dataclass(frozen=True)
class BreakEven:
    """Daily volume at which an API option and a GPU-backed option cost the same per month.

    ``requests_per_day`` is ``None`` when the lines never meet (``note`` says why: the GPU option is
    cheaper per request at any volume, or never). Volumes below it favour ``cheaper_below``.
    ``current_requests_per_day`` is the scenario's first-month volume, for comparison.
    """

    api_option: str
    gpu_option: str
    requests_per_day: float | None
    monthly_cost_usd: float | None
    cheaper_below: str | None
    cheaper_above: str | None
    current_requests_per_day: float
    note: str = ""


@dataclass(frozen=True)
class Crossover:
    """The first month in which cumulative inference spend passes the one-time (training) spend.

    ``month`` is 1-based, ``None`` if it does not happen within the horizon.
    """

    option: str
    one_time_usd: float
    month: int | None
    cumulative_inference_usd_at_month: float | None
    note: str = ""


@dataclass(frozen=True)
class RouterSavings:
    """What a router saves against sending every request to its large model."""

    router_option: str
    baseline_label: str
    baseline_total_usd: float
    router_total_usd: float
    savings_usd: float
    savings_fraction: float
    monthly_savings_usd: Series


@dataclass(frozen=True)
class IdleCost:
    """What a fixed fleet pays for GPU-hours it does not use under the diurnal curve.

    Sized for the peak, a fleet runs at mean/peak capacity on average; the rest is idle.
    ``idle_fraction`` = 1 − mean utilization over the horizon.
    """

    option: str
    idle_cost_usd: float
    idle_fraction: float
    monthly_idle_usd: Series


@dataclass(frozen=True)
class TornadoRow:
    """One ranged input swung to its low and high value, every other input at its expected value.

    ``output_low`` / ``output_high`` are the output with the input at its low / high value (they may
    be in either order); ``swing`` = |output_high − output_low|.
    """

    input_name: str
    low: float
    expected: float
    high: float
    output_low: float
    output_high: float
    swing: float


@dataclass(frozen=True)
class Tornado:
    """Sensitivity of one option's output (``metric``) to each ranged input, largest swing first."""

    option: str
    metric: str
    expected_output: float
    rows: tuple[TornadoRow, ...]


@dataclass(frozen=True)
class Percentiles:
    """P10 / P50 / P90 of one quantity over the Monte Carlo samples."""

    p10: float
    p50: float
    p90: float


@dataclass(frozen=True)
class OptionUncertainty:
    """Monte Carlo percentiles of one option: month by month and for horizon totals."""

    option: str
    monthly_cost_p10_usd: Series
    monthly_cost_p50_usd: Series
    monthly_cost_p90_usd: Series
    cumulative_cost_p10_usd: Series
    cumulative_cost_p50_usd: Series
    cumulative_cost_p90_usd: Series
    total_cost_usd: Percentiles
    lifetime_cost_per_request_usd: Percentiles
    probability_cheapest: float


@dataclass(frozen=True)
class MonteCarloSummary:
    """Monte Carlo over every ranged input (triangular low/expected/high), seeded."""

    samples: int
    seed: int
    distribution: str
    ranged_inputs: tuple[str, ...]
    options: tuple[OptionUncertainty, ...]


@dataclass(frozen=True)
class VolumeCostCurve:
    """One option's steady-state recurring monthly cost (USD) over a grid of daily request volumes.

    Every curve of a result uses the same ``requests_per_day`` grid, so an API curve and a GPU-backed
    curve cross at their :class:`BreakEven` volume. The report draws these as the break-even chart.
    """

    option: str
    requests_per_day: Series
    monthly_cost_usd: Series


@dataclass(frozen=True)
class ScenarioResult:
    """The full projection of one scenario.

    ``cheapest_option`` has the lowest ``total_cost_usd`` at expected inputs. ``revenue_usd`` is
    ``None`` when the scenario gives no revenue. ``resolved_scenario`` is the scenario with every
    default filled in (JSON types), written next to the result so it can be reproduced.
    """

    name: str
    description: str
    horizon_months: int
    traffic: TrafficProjection
    revenue_usd: Series | None
    options: tuple[OptionProjection, ...]
    one_time_costs: tuple[OneTimeCost, ...]
    cheapest_option: str
    break_evens: tuple[BreakEven, ...]
    crossovers: tuple[Crossover, ...]
    router_savings: tuple[RouterSavings, ...]
    idle_costs: tuple[IdleCost, ...]
    tornado: tuple[Tornado, ...]
    monte_carlo: MonteCarloSummary | None
    assumptions: tuple[Assumption, ...]
    resolved_scenario: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cost_curves: tuple[VolumeCostCurve, ...] = ()
    paybacks: tuple[Payback, ...] = ()
    prices_as_of: str = ""

    def spike_months(self) -> tuple[int, ...]:
        """Return the 1-based months with a traffic spike."""
        return tuple(
            m for m, x in zip(self.traffic.months, self.traffic.spike_multiplier, strict=True) if x > 1
        )

    def key_months(self) -> tuple[int, ...]:
        """Return the months a reader must see: all of them when the horizon is ≤ 24 months, otherwise the
        first 3, every spike month, every crossover and payback month, and the last."""
        n = self.horizon_months
        if n <= 24:
            return tuple(range(1, n + 1))
        marks = {1, 2, 3, n, *self.spike_months()}
        marks |= {c.month for c in self.crossovers if c.month is not None}
        marks |= {p.month for p in self.paybacks if p.month is not None}
        return tuple(sorted(m for m in marks if 1 <= m <= n))

    def cheapest_api(self) -> str | None:
        """Return the API option with the lowest total cost, or None without API options."""
        apis = [o for o in self.options if o.kind == "api"]
        return min(apis, key=lambda o: o.total_cost_usd).name if apis else None

    def option(self, name: str) -> OptionProjection:
        """Return the option called ``name`` (KeyError if absent)."""
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)
