"""The simulation spec: a strict schema (unknown keys are errors; every error names its field).

Loaded from YAML (:func:`load_spec`) or built in Python. Times in seconds, rates in requests per second,
sizes in tokens; every field documents its default and where the default comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flopbill.errors import InputError
from flopbill.estimate.pricing.fleet_day import DEFAULT_ENGINE_START_S, DEFAULT_LOAD_BYTES_PER_S


class Strict(BaseModel):
    """Base of the spec models: unknown keys are errors, objects are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Deployment(Strict):
    """One serving configuration: model × GPU × TP × precision × engine, and its price."""

    model: str = Field(description="catalog id, YAML or config.json")
    gpu: str = Field("h100-sxm", description="accelerator id")
    tp: int = Field(1, ge=1, description="tensor-parallel GPUs per replica")
    weights: str = Field("bf16", description="weight format")
    kv: str | None = Field(None, description="KV-cache format (default bf16)")
    engine: str = Field("vllm", description="engine profile (overhead, memory reserve, limits)")
    max_seqs: int | None = Field(None, ge=1, description="max_num_seqs; default the engine's")
    token_budget: int | None = Field(None, ge=1, description="max_num_batched_tokens; default the engine's")
    block_tokens: int = Field(16, ge=1, description="KV block size (vLLM default 16)")
    kv_tokens_limit: int | None = Field(
        None, ge=1, description="cap on KV-cache tokens per replica (what-if); default: what memory holds"
    )
    price_usd_per_gpu_hour: float | None = Field(None, ge=0, description="default: price snapshot median")
    pricing: str = Field("on_demand", description="snapshot pricing model")
    gpus_per_instance: int | None = Field(None, ge=1, description="GPUs per billed instance; default tp")
    instance: str | None = Field(
        None,
        description="a priced instance (e.g. p5.48xlarge): its price, GPUs per instance and billing "
        "increment and minimum from the price snapshot, unless given here",
    )


class Autoscaler(Strict):
    """Autoscaling (``policy: fixed`` keeps ``fleet.replicas`` all run long)."""

    policy: str = "fixed"
    target: float = Field(0.7, gt=0, description="busy fraction, or outstanding requests per replica")
    eval_interval_s: float = Field(30.0, gt=0)
    cooldown_s: float = Field(300.0, ge=0)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(8, ge=1)
    cold_start_s: float | None = Field(None, ge=0, description="default: weights ÷ load bandwidth + start")
    load_bytes_per_s: float = Field(
        DEFAULT_LOAD_BYTES_PER_S,
        gt=0,
        description="weight loading rate, bytes/s (default: vLLM's safetensors loader from an AWS gp3 SSD, "
        "0.33 GB/s, NVIDIA Run:ai Model Streamer benchmark, Oct 2024)",
    )
    engine_start_s: float = Field(
        DEFAULT_ENGINE_START_S,
        ge=0,
        description="engine start after loading: compile, graph capture, init, s (default 64 s: vLLM, "
        "Llama 3.1 8B, L40S, warm compile cache; Tensorfuse 2025-09-01)",
    )


class Fleet(Strict):
    """Replicas, routing, autoscaling and billing."""

    replicas: int = Field(1, ge=0, description="replicas at t = 0")
    router: str = "least_outstanding"
    autoscaler: Autoscaler = Autoscaler()
    billing_increment_s: float | None = Field(None, gt=0, description="default: the instance's, else 1 s")
    minimum_billed_s: float | None = Field(None, ge=0, description="default: the instance's, else 60 s")


class Lengths(Strict):
    """A token-length distribution: fixed, uniform range, exponential (geometric), or empirical CSV."""

    kind: Literal["fixed", "uniform", "exponential", "empirical"] = "fixed"
    value: int | None = Field(None, ge=1)
    low: int | None = Field(None, ge=1)
    high: int | None = Field(None, ge=1)
    mean: float | None = Field(None, ge=1)
    path: str | None = None
    column: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Lengths:
        need = {"fixed": ("value",), "uniform": ("low", "high"), "exponential": ("mean",)}
        need["empirical"] = ("path", "column")
        missing = [k for k in need[self.kind] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"kind {self.kind!r} needs {', '.join(missing)}")
        if self.kind == "uniform" and self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class Spike(Strict):
    """A step change of the arrival rate: ``multiplier`` × from ``start_s`` for ``duration_s``."""

    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    multiplier: float = Field(ge=0)


class Diurnal(Strict):
    """A sinusoidal day: peak / trough rate ratio, period and the time of the peak."""

    peak_to_trough: float = Field(3.0, ge=1)
    period_s: float = Field(86400.0, gt=0)
    peak_at_s: float = Field(50400.0, ge=0, description="default 14:00")


class Prefix(Strict):
    """Prefix sharing: ``fraction`` of requests belong to one of ``groups`` with a ``tokens``-long prefix."""

    groups: int = Field(ge=1)
    tokens: int = Field(ge=1)
    fraction: float = Field(1.0, ge=0, le=1)


class Sessions(Strict):
    """Multi-turn sessions: the arrivals are session starts; each session has ``turns`` turns.

    Turn 1's prompt is ``input_tokens``; turn ``k + 1`` arrives ``think_time_s`` after turn ``k``'s last
    token (closed loop) and its prompt is turn ``k``'s prompt + output + ``user_tokens`` new tokens, so
    its prefix is turn ``k``'s whole context (a prefix-cache hit on the same replica, if still cached).
    """

    turns: Lengths = Field(description="turns per session (a token-length distribution of counts)")
    think_time_s: float = Field(
        ge=0, allow_inf_nan=False, description="mean seconds from a turn's last token to the next turn"
    )
    think: Literal["fixed", "exponential"] = Field("exponential", description="think-time distribution")
    user_tokens: Lengths = Field(description="new user tokens in each turn after the first")


class Traffic(Strict):
    """Arrivals and request lengths. Give ``requests`` or ``duration_s`` (or a trace)."""

    arrivals: Literal["poisson", "gamma", "trace"] = "poisson"
    rate_rps: float | None = Field(None, gt=0, description="mean arrival rate, requests/s")
    cv: float = Field(1.0, gt=0, description="coefficient of variation of inter-arrival times (gamma)")
    diurnal: Diurnal | None = None
    spikes: tuple[Spike, ...] = ()
    trace: str | None = Field(None, description="CSV: arrival_s,input_tokens,output_tokens or Azure columns")
    requests: int | None = Field(None, ge=1)
    duration_s: float | None = Field(None, gt=0)
    input_tokens: Lengths = Lengths(kind="fixed", value=1000)
    output_tokens: Lengths = Lengths(kind="fixed", value=250)
    prefix: Prefix | None = None
    sessions: Sessions | None = Field(None, description="multi-turn sessions: requests/rate count sessions")

    @model_validator(mode="after")
    def _complete(self) -> Traffic:
        if self.arrivals == "trace":
            if self.trace is None:
                raise ValueError("arrivals 'trace' needs trace (a CSV path)")
            return self
        if self.rate_rps is None:
            raise ValueError(f"arrivals {self.arrivals!r} needs rate_rps")
        if (self.requests is None) == (self.duration_s is None):
            raise ValueError("give exactly one of requests or duration_s")
        return self


class Slo(Strict):
    """Service-level objectives for goodput: a request meets both or it does not count."""

    ttft_s: float = Field(2.0, gt=0)
    tpot_s: float = Field(0.1, gt=0)


class Bounds(Strict):
    """Limits that keep a run from running away."""

    max_requests: int = Field(10_000_000, ge=1)
    max_sim_seconds: float | None = Field(None, gt=0, description="default: last arrival + 1 day")


class _Run(Strict):
    """What every simulation has: traffic, objectives, bounds and the scheduler's shared settings."""

    traffic: Traffic
    slo: Slo = Slo()
    bounds: Bounds = Bounds()
    queue_timeout_s: float | None = Field(None, gt=0, description="drop requests waiting longer; None: never")
    prefix_cache_ttl_s: float | None = Field(
        None,
        ge=0,
        description="optional lifetime of an unused cached prefix, s; default none: evicted only by capacity "
        "(LRU over the KV blocks, as vLLM's prefix cache)",
    )
    affinity_slack: int = Field(8, ge=0, description="prefix_affinity: extra load tolerated for a hit")
    seed: int = 0


class SimulationSpec(_Run):
    """A whole simulation: what is deployed, on how many replicas, under which traffic."""

    deployment: Deployment
    fleet: Fleet = Fleet()


class Pool(Strict):
    """One pool of a fleet: a serving configuration and its replicas (the one-pool spec's two sections)."""

    name: str = Field(min_length=1, description="the pool's name, used by the split")
    deployment: Deployment
    fleet: Fleet = Fleet()


class Rule(Strict):
    """A request class: requests matching every given condition go to ``pool`` (bounds inclusive)."""

    pool: str
    input_tokens_min: int | None = Field(None, ge=1)
    input_tokens_max: int | None = Field(None, ge=1)
    output_tokens_min: int | None = Field(None, ge=1)
    output_tokens_max: int | None = Field(None, ge=1)
    request_class: str | None = Field(
        None, alias="class", description="value of the trace's class column (split.class_column)"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _bounds(self) -> Rule:
        for key in ("input_tokens", "output_tokens"):
            low, high = getattr(self, f"{key}_min"), getattr(self, f"{key}_max")
            if low is not None and high is not None and low > high:
                raise ValueError(f"{key}_min must not exceed {key}_max (the rule would match no request)")
        return self


class Split(Strict):
    """How the fleet's traffic is divided among its pools (once routed, a request stays in its pool).

    ``by: weights`` — ``weights`` (pool → share), drawn at random (seeded) or ``draw: deterministic``
    (each request to the pool furthest below its share so far). ``by: rules`` — the first matching rule's
    pool, else ``default``. ``by: router`` — the scenario router's fields: ``small_share`` of the requests
    to ``small``, the rest to ``large``, and ``escalation_rate`` of the small pool's finished requests
    re-sent to ``large`` when they finish.
    """

    by: Literal["weights", "rules", "router"] = "weights"
    weights: dict[str, float] | None = None
    draw: Literal["random", "deterministic"] = "random"
    rules: tuple[Rule, ...] = ()
    default: str | None = Field(None, description="rules: the pool of requests no rule matches")
    class_column: str = Field("class", description="rules: the trace CSV column holding a request's class")
    small: str | None = None
    large: str | None = None
    small_share: float | None = Field(None, ge=0, le=1)
    escalation_rate: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _complete(self) -> Split:
        if self.by == "weights" and not self.weights:
            raise ValueError("by 'weights' needs weights (pool name: share)")
        if self.by == "rules" and not self.rules:
            raise ValueError("by 'rules' needs rules (a list of conditions and their pool)")
        if self.by == "router" and (self.small is None or self.large is None or self.small_share is None):
            raise ValueError("by 'router' needs small, large and small_share")
        fields = type(self).model_fields
        stray = [
            k for k in fields if k not in _SPLIT_FIELDS[self.by] and getattr(self, k) != fields[k].default
        ]
        if stray:
            raise ValueError(f"by {self.by!r} has no {', '.join(stray)} (fields of another kind of split)")
        return self


_SPLIT_FIELDS = {
    "weights": ("by", "weights", "draw"),
    "rules": ("by", "rules", "default", "class_column"),
    "router": ("by", "small", "large", "small_share", "escalation_rate"),
}


class PoolsSpec(_Run):
    """A fleet of several pools, each its own serving configuration, sharing one traffic by ``split``."""

    pools: tuple[Pool, ...] = Field(min_length=1)
    split: Split | None = Field(None, description="default: all traffic to the only pool")


#: a spec of one pool (``deployment`` + ``fleet``) or of several (``pools`` + ``split``)
AnySpec = SimulationSpec | PoolsSpec


_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", "≥"), "less_than": ("lt", "<")}
_BOUNDS["less_than_equal"] = ("le", "≤")
_KINDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "missing": "a value (the field is required)",
    "extra_forbidden": "no such field (a spec has only the fields of docs/simulation.md)",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "tuple_type": "a list",
}


def allowed_text(err: Mapping[str, Any]) -> str:
    """Return what a pydantic error says is allowed, in flopbill's words ("a number > 0", …)."""
    kind, ctx = str(err.get("type", "")), err.get("ctx") or {}
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return f"a number {sign} {ctx.get(key)}"
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    return _KINDS.get(kind, str(err.get("msg", "")))


def field_path(loc: tuple[int | str, ...]) -> str:
    """Return a pydantic location as a field path: ``("pools", 1, "gpu")`` → ``pools[1].gpu``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def spec_from_dict(data: object, source: str = "spec") -> AnySpec:
    """Return a validated spec, or raise :class:`InputError` naming the first bad field.

    A mapping with ``pools`` is a :class:`PoolsSpec` (several pools); otherwise a :class:`SimulationSpec`.
    """
    model: type[SimulationSpec] | type[PoolsSpec] = SimulationSpec
    if isinstance(data, Mapping) and "pools" in data:
        model = PoolsSpec
        for key in ("deployment", "fleet"):
            if key in data:
                raise InputError(key, data[key], "no top-level section with pools (each pool has its own)")
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = field_path(tuple(err["loc"])) or source
        value = err.get("input") if err.get("type") != "missing" else None
        raise InputError(where, value, allowed_text(err)) from None
    if isinstance(spec, PoolsSpec):
        check_pools(spec)
    return spec


def check_pools(spec: PoolsSpec) -> None:
    """Raise :class:`InputError` (naming the field) for duplicate pool names, a split naming no pool of
    the spec, and a pool the split never sends traffic to."""
    names = [p.name for p in spec.pools]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InputError(f"pools[{i}].name", name, "a name no other pool has")
    sp = spec.split
    if sp is None:
        if len(names) > 1:
            raise InputError("split", None, "a split (weights, rules or router) for a fleet of several pools")
        return
    reached = _check_split(sp, names)
    for i, name in enumerate(names):
        if name not in reached:
            raise InputError(f"pools[{i}].name", name, "a pool the split sends traffic to")
    if any(r.request_class is not None for r in sp.rules) and spec.traffic.arrivals != "trace":
        raise InputError("split.rules", "class", "class rules with a trace (arrivals: trace)")


def _check_split(sp: Split, names: list[str]) -> set[str]:
    """Raise for a split naming an unknown pool or a bad weight; return the pools it can send to."""
    targets = _split_targets(sp)
    for where, name in targets:
        if name not in names:
            raise InputError(where, name, f"a pool of this spec ({', '.join(names)})")
    if sp.by == "router" and sp.small == sp.large:
        raise InputError("split.large", sp.large, "a pool other than split.small")
    if sp.by != "weights":
        return {name for _, name in targets}
    for k, w in (sp.weights or {}).items():
        if not 0 <= w < float("inf"):
            raise InputError(f"split.weights.{k}", w, "a finite number ≥ 0")
    return {k for k, w in (sp.weights or {}).items() if w > 0}


def _split_targets(sp: Split) -> list[tuple[str, str]]:
    """Return (field, pool name) of every pool the split names."""
    if sp.by == "weights":
        return [(f"split.weights.{k}", k) for k in sp.weights or {}]
    if sp.by == "rules":
        out = [(f"split.rules[{i}].pool", r.pool) for i, r in enumerate(sp.rules)]
        return out + ([("split.default", sp.default)] if sp.default is not None else [])
    return [("split.small", str(sp.small)), ("split.large", str(sp.large))]


def load_spec(path: str | Path) -> AnySpec:
    """Return the spec in a YAML file (paths in it are taken relative to the file)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError("spec", str(path), f"a readable YAML file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InputError("spec", str(path), f"valid YAML ({str(exc).splitlines()[0]})") from None
    spec = spec_from_dict(data, str(path))
    return _relative_paths(spec, p.parent)


def _relative_paths(spec: AnySpec, base: Path) -> AnySpec:
    tr = spec.traffic
    upd: dict[str, object] = {}
    if tr.trace is not None and not Path(tr.trace).is_absolute():
        upd["trace"] = str(base / tr.trace)
    for key in ("input_tokens", "output_tokens"):
        ln: Lengths = getattr(tr, key)
        if ln.path is not None and not Path(ln.path).is_absolute():
            upd[key] = ln.model_copy(update={"path": str(base / ln.path)})
    if not upd:
        return spec
    return spec.model_copy(update={"traffic": tr.model_copy(update=upd)})
