"""The scenario file: a product's traffic, request shape, options to compare, one-time costs, revenue.

Strict pydantic models (``extra="forbid"``, frozen). Numeric inputs marked *ranged* accept a number or
a range (``0.35..0.5``, ``5%..20%``); ranges feed the tornado and the Monte Carlo. Names of catalog
entries (models, GPUs, API models) are checked by :mod:`flopbill.scenario.loader`, which also maps
every error to its line in the file. ``schemas/scenario.schema.json`` is generated from these models.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from flopbill.checks import schema_numbers
from flopbill.estimate.pricing.api import DEFAULT_PRICES_AT
from flopbill.estimate.pricing.economics import DAYS_PER_MONTH
from flopbill.scenario.values import Fraction, Growth, NonNegative, Positive, PositiveFraction, RangeValue

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class Strict(BaseModel):
    """Base of every scenario model: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_only(cls, data: object) -> object:
        """Booleans are not numbers and whole numbers stay exact (see :mod:`flopbill.checks`)."""
        return schema_numbers(cls, data)


class Spike(Strict):
    """Traffic ``multiplier``× the normal rate for ``duration_days`` days starting in ``month``."""

    month: int = Field(ge=1, description="1-based month the spike starts in")
    multiplier: Positive = Field(description="traffic multiple during the spike (ranged), e.g. 10")
    duration_days: NonNegative = Field(description="days the spike lasts (ranged); spills into later months")
    name: str = ""


class Traffic(Strict):
    """Product traffic: users × requests per user per day, or requests per day; growth and peaks.

    Give ``requests_per_day``, or ``daily_active_users`` and ``requests_per_user_per_day``.
    """

    daily_active_users: Positive | None = Field(default=None, description="users in month 1 (ranged)")
    requests_per_user_per_day: Positive | None = Field(default=None, description="per active user (ranged)")
    requests_per_day: Positive | None = Field(default=None, description="product requests per day, month 1")
    monthly_growth: Growth = Field(
        default=RangeValue.point(0.0), description="compounding month-over-month growth (ranged), e.g. 10%"
    )
    peak_factor: Positive = Field(
        default=RangeValue.point(1.0),
        description="busiest hour ÷ daily mean rate (diurnal curve, ranged); 1 = flat traffic",
    )
    ai_share: PositiveFraction = Field(
        default=RangeValue.point(1.0),
        description="share of requests that actually need the AI output (ranged), e.g. 20%",
    )
    spikes: list[Spike] = Field(default_factory=list)

    @model_validator(mode="after")
    def _volume_given(self) -> Traffic:
        per_user = self.requests_per_user_per_day is not None
        if per_user == (self.requests_per_day is not None):
            raise ValueError(
                "give either requests_per_day or requests_per_user_per_day (with daily_active_users)"
            )
        if per_user and self.daily_active_users is None:
            raise ValueError("requests_per_user_per_day needs daily_active_users")
        if self.peak_factor.low < 1.0:
            raise ValueError("peak_factor is busiest-hour rate ÷ mean rate, so it is ≥ 1")
        return self


class RequestShape(Strict):
    """What one model call reads and writes."""

    input_tokens: NonNegative = Field(description="prompt tokens per call (ranged)")
    output_tokens: NonNegative = Field(description="generated tokens per call (ranged)")
    cache_hit_rate: Fraction = Field(
        default=RangeValue.point(0.0), description="share of input tokens served from a prompt cache (ranged)"
    )
    samples_per_request: Positive = Field(
        default=RangeValue.point(1.0), description="model calls per AI request (best-of-n, retries; ranged)"
    )


class _Option(Strict):
    name: str = Field(pattern=_NAME, description="short unique name used in tables and references")
    label: str = Field(default="", description="longer human label")


class ApiOption(_Option):
    """A hosted API: a model priced by genai-prices, given token prices, or a given price per call."""

    kind: Literal["api"]
    model: str | None = Field(
        default=None, description="API model id known to genai-prices, e.g. gpt-4o-mini"
    )
    provider: str | None = Field(default=None, description="genai-prices provider id, e.g. openai")
    price_usd_per_request: NonNegative | None = Field(default=None, description="USD per model call (ranged)")
    price_usd_per_million_input_tokens: NonNegative | None = None
    price_usd_per_million_cached_input_tokens: NonNegative | None = None
    price_usd_per_million_output_tokens: NonNegative | None = None

    @model_validator(mode="after")
    def _one_price(self) -> ApiOption:
        token_prices = self.price_usd_per_million_input_tokens is not None or (
            self.price_usd_per_million_output_tokens is not None
        )
        given = [self.model is not None, self.price_usd_per_request is not None, token_prices]
        if sum(given) != 1:
            raise ValueError(
                "give exactly one of: model (priced by genai-prices), price_usd_per_request, or "
                "price_usd_per_million_input_tokens + price_usd_per_million_output_tokens"
            )
        return self


class _ServedModel(_Option):
    model: str = Field(description="catalog model id, e.g. llama-3.1-8b, or a model YAML / config.json path")
    gpu: str = Field(description="catalog accelerator id, e.g. h100-sxm")
    gpus_per_replica: int = Field(default=1, ge=1, le=1024, description="GPUs holding one model copy")
    weight_dtype: str = Field(default="bf16", description="weight precision: bf16, fp8, int8, int4, ...")
    max_replicas: int | None = Field(
        default=None, ge=1, description="scaling ceiling; demand above it is counted as unserved"
    )
    target_utilization: PositiveFraction | None = Field(
        default=None,
        description="load ÷ capacity the fleet is sized for (ranged); default: the busy fraction at which "
        "the serving planner meets the scenario's slo",
    )
    throughput_requests_per_s_per_replica: Positive | None = Field(
        default=None, description="measured capacity of one replica; default: serving estimator at the slo"
    )
    throughput_scale: Positive = Field(
        default=RangeValue.point(1.0),
        description="multiplier on the estimated throughput (ranged), e.g. 0.7..1.2 for efficiency doubt",
    )
    cold_start_s: NonNegative | None = Field(
        default=None,
        description="seconds from a replica's start to serving (ranged); default: weight bytes ÷ load "
        "bandwidth + engine start",
    )


class _GpuOption(_ServedModel):
    fleet: Literal["fixed", "autoscale"] = Field(
        default="fixed", description="fixed: sized for each month's peak, always on; autoscale: follows load"
    )

    @property
    def scaling(self) -> Literal["fixed", "autoscale"]:
        """How the fleet scales: ``fixed`` or ``autoscale`` (also when ``fleet`` is an object)."""
        fleet: object = self.fleet
        return fleet.scaling if isinstance(fleet, FleetSettings) else self.fleet

    @property
    def simulation(self) -> FleetSettings | None:
        """The simulation settings when ``fleet: {simulate: true}``, else None."""
        fleet: object = self.fleet
        return fleet if isinstance(fleet, FleetSettings) and fleet.simulate else None

    replicas: int | None = Field(default=None, ge=1, description="fixed fleet size; default: sized to peak")
    min_replicas: int = Field(default=1, ge=0, description="autoscaling floor; 0 scales to zero")
    scale_down_delay_s: float = Field(
        default=300.0, ge=0, description="idle seconds before the autoscaler removes the last replica"
    )


class FleetSettings(Strict):
    """A self-hosted fleet given as an object: how it scales, and whether the projection simulates it.

    With ``simulate: true`` the point projection runs the discrete-event simulation
    (:mod:`flopbill.simulate`) over one representative day per distinct traffic level and bills what
    it billed (see ``docs/scenarios.md``, "Simulated fleets").
    """

    scaling: Literal["fixed", "autoscale"] = Field(
        default="fixed", description="fixed: sized for each month's peak, always on; autoscale: follows load"
    )
    simulate: StrictBool = Field(default=False, description="bill the point projection from a simulated day")
    max_requests_per_day: int = Field(
        default=20_000,
        ge=100,
        le=2_000_000,
        description="simulated requests per day at most; above it 1/k of the traffic runs on 1/k of the "
        "fleet and the results are scaled by k (stated)",
    )
    seed: int = Field(default=0, ge=0, description="seed of the simulated arrivals")


class SelfHostedOption(_GpuOption):
    """An open model on rented GPUs (on-demand, reserved or spot), billed per whole instance."""

    kind: Literal["self_hosted"]
    fleet: Literal["fixed", "autoscale"] | FleetSettings = Field(  # type: ignore[assignment]
        default="fixed",
        description="fixed: sized for each month's peak, always on; autoscale: follows load; or an object "
        "{scaling, simulate, max_requests_per_day, seed}",
    )
    pricing: Literal["on_demand", "reserved_1y", "reserved_3y", "spot"] = "on_demand"
    provider: str | None = Field(default=None, description="GPU price catalog provider, e.g. aws")
    instance: str | None = Field(
        default=None,
        description="GPU price catalog instance, e.g. p5.48xlarge; default: the offer that bills least",
    )
    marketplaces: StrictBool = Field(
        default=False,
        description="also consider host marketplaces (Vast.ai, RunPod Community Cloud) when choosing the "
        "offer; a pinned provider or instance is always allowed",
    )
    price_usd_per_gpu_hour: NonNegative | None = Field(
        default=None,
        description="USD per GPU-hour (ranged); default: the catalog offer that bills least for this fleet",
    )
    gpus_per_instance: int | None = Field(
        default=None, ge=1, le=64, description="GPUs billed together; default: the catalog offer's instance"
    )
    billing_increment_s: float | None = Field(
        default=None, gt=0, description="seconds per billing increment; default: the catalog offer's"
    )
    billing_minimum_s: float | None = Field(
        default=None, ge=0, description="minimum billed seconds per start; default: the catalog offer's"
    )


class OwnedOption(_GpuOption):
    """An open model on GPUs you buy as whole servers: depreciation (or cash), power × PUE, hosting."""

    kind: Literal["owned"]
    purchase_price_usd_per_gpu: NonNegative | None = Field(
        default=None,
        description="including its share of the server (ranged); default (h100-sxm only): a published "
        "8-GPU server quotation ÷ 8, $39,625 (Aug 2024, sourced)",
    )
    gpus_per_server: int = Field(default=8, ge=1, le=64, description="GPUs per server bought (whole servers)")
    server_extras_usd_per_server: NonNegative | None = Field(
        default=None,
        description="networking per server bought, one-time (ranged); default: a one-layer InfiniBand "
        "fabric's switches and cables per 8-GPU node, $15,060 (sourced)",
    )
    depreciation_years: Positive = Field(description="straight-line depreciation period (ranged)")
    power_w_per_gpu: NonNegative | None = Field(default=None, description="default: the accelerator's TDP")
    pue: Positive = Field(default=RangeValue.point(1.0), description="power usage effectiveness (ranged)")
    electricity_usd_per_kwh: NonNegative = Field(description="(ranged)")
    hosting_usd_per_gpu_month: NonNegative = Field(
        default=RangeValue.point(0.0), description="colocation, network, staff per GPU (ranged)"
    )


class ServerlessOption(_ServedModel):
    """An open model on a serverless GPU endpoint: billed per second of replicas up, scales to zero."""

    kind: Literal["serverless"]
    provider: str | None = Field(default=None, description="serverless price catalog provider, e.g. modal")
    price_usd_per_gpu_second: NonNegative | None = Field(
        default=None, description="USD per GPU-second (ranged); default: the serverless GPU price catalog"
    )
    idle_timeout_s: float | None = Field(
        default=None, ge=0, description="seconds a replica idles after its last request; default: provider's"
    )


class RouterOption(_Option):
    """Send a share of traffic to a small model, the rest (and escalations) to a large one."""

    kind: Literal["router"]
    small: str = Field(description="name of the option that serves the small model")
    large: str = Field(description="name of the option that serves the large model")
    small_share: Fraction = Field(description="share of calls the router sends to the small model (ranged)")
    escalation_rate: Fraction = Field(
        default=RangeValue.point(0.0), description="share of small-model answers re-sent to the large one"
    )
    router_usd_per_request: NonNegative = Field(default=RangeValue.point(0.0), description="classifier cost")


class EdgeOption(_Option):
    """Run the model on users' devices: a one-time cost per new device, optional cloud fallback."""

    kind: Literal["edge"]
    cost_usd_per_device: NonNegative = Field(description="one-time cost per new device (ranged)")
    devices_per_user: Positive = Field(default=RangeValue.point(1.0), description="devices per active user")
    devices: NonNegative | None = Field(default=None, description="device count when traffic has no users")
    fallback: str | None = Field(default=None, description="option serving calls the device cannot")
    fallback_share: Fraction = Field(default=RangeValue.point(0.0), description="share sent to the fallback")


class CustomOption(_Option):
    """A given cost per model call plus a given monthly fixed cost."""

    kind: Literal["custom"]
    cost_usd_per_request: NonNegative = Field(default=RangeValue.point(0.0), description="USD per model call")
    fixed_usd_per_month: NonNegative = Field(default=RangeValue.point(0.0), description="USD per month")


Option = Annotated[
    ApiOption | SelfHostedOption | OwnedOption | ServerlessOption | RouterOption | EdgeOption | CustomOption,
    Field(discriminator="kind"),
]

#: Option kinds a router or an edge fallback may point at.
LEAF_KINDS = ("api", "self_hosted", "owned", "serverless", "custom")

#: Options that run a model on GPUs (sized by the fleet model).
GpuBacked = SelfHostedOption | OwnedOption | ServerlessOption


class TrainingStage(Strict):
    """A training or fine-tuning stage costed by the training estimator."""

    stage: str = Field(default="pretrain", description="pretrain, sft, lora, qlora, dpo, ppo, grpo, ...")
    model: str = Field(description="catalog model id or model file")
    tokens: Positive = Field(description="training tokens (ranged), e.g. 15T")
    gpu: str = Field(description="catalog accelerator id")
    mfu: Fraction | None = Field(default=None, description="model FLOPs utilization (ranged)")
    context_tokens: int = Field(default=4096, ge=1)
    gpus: int = Field(default=8, ge=1, description="accelerators used (sets the default MFU's scale bucket)")
    teacher: str | None = Field(default=None, description="teacher model for stage: distill")
    price_usd_per_gpu_hour: NonNegative | None = Field(default=None, description="default: GPU price catalog")
    pricing: Literal["on_demand", "reserved_1y", "reserved_3y", "spot"] = "on_demand"
    provider: str | None = None


class OneTime(Strict):
    """A cost paid once, in ``month``: a training stage, or a given sum (engineering, data, licences)."""

    name: str
    month: int = Field(default=1, ge=1)
    cost_usd: NonNegative | None = Field(default=None, description="USD (ranged)")
    training: TrainingStage | None = None
    options: list[str] | None = Field(default=None, description="options that pay it; default: all")

    @model_validator(mode="after")
    def _one_source(self) -> OneTime:
        if (self.cost_usd is None) == (self.training is None):
            raise ValueError("give exactly one of cost_usd or training")
        return self


class Revenue(Strict):
    """What the product earns: a subscription per active user, and/or a price per product request."""

    price_usd_per_user_per_month: NonNegative | None = None
    paying_share: Fraction = Field(default=RangeValue.point(1.0), description="share of active users paying")
    price_usd_per_request: NonNegative | None = Field(default=None, description="per product request")

    @model_validator(mode="after")
    def _some_price(self) -> Revenue:
        if self.price_usd_per_user_per_month is None and self.price_usd_per_request is None:
            raise ValueError("give price_usd_per_user_per_month and/or price_usd_per_request")
        return self


class Slo(Strict):
    """Latency objectives every GPU-backed option is sized for (s), checked at ``percentile``.

    Default: a chat SLO — time to first token 2 s (the MLPerf Inference server-scenario TTFT limit for
    Llama 2 70B, ``llama2-70b.Server.ttft_latency = 2000`` ms in mlcommons/inference ``loadgen/mlperf.conf``,
    https://github.com/mlcommons/inference, checked 2026-12-01; its TPOT limit there is 200 ms) and 0.1 s
    per output token (10 tokens/s, about twice the 238 words/min average silent reading rate of Brysbaert
    2019, "How many words do we read per minute?", J. Memory and Language 109, at ~0.75 words per token),
    at the 90th percentile (the serving estimator's default SLO percentile).
    """

    ttft_s: float = Field(default=2.0, gt=0, description="time to first token, s")
    tpot_s: float = Field(default=0.1, gt=0, description="time per output token after the first, s")
    percentile: float = Field(default=90.0, gt=0, lt=100, description="share of requests meeting it, %")


class MonteCarloSettings(Strict):
    """How many samples to draw from the ranged inputs, and the seed."""

    samples: int = Field(default=10_000, ge=0, le=2_000_000, description="0 turns the Monte Carlo off")
    seed: int = Field(default=0, ge=0)


class Scenario(Strict):
    """One product scenario over ``horizon_months`` months of ``days_per_month`` days."""

    name: str
    description: str = ""
    horizon_months: int = Field(ge=1, le=240)
    days_per_month: float = Field(
        default=DAYS_PER_MONTH, gt=0, le=31, description="default 365.25/12; say 30 for 30-day months"
    )
    prices_as_of: dt.date | None = Field(
        default=None,
        description=f"date of the API prices; default {DEFAULT_PRICES_AT.isoformat()} (recorded in results)",
    )
    slo: Slo = Field(default_factory=Slo, description="latency target GPU-backed options are sized for")
    traffic: Traffic
    request: RequestShape
    options: list[Option] = Field(min_length=1)
    one_time: list[OneTime] = Field(default_factory=list)
    revenue: Revenue | None = None
    monte_carlo: MonteCarloSettings = Field(default_factory=MonteCarloSettings)
