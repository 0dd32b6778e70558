"""Serving (inference) estimate for one deployment: TTFT, TPOT, throughput, batch limit and cost.

Wraps the vectorized physics (:mod:`flopbill.estimate.serving.step`, :mod:`flopbill.estimate.serving.metrics`)
for one model on one accelerator with one set of options, validates the options, and returns a frozen
:class:`ServingEstimate` that carries its assumptions. See ``docs/serving.md`` for the formulas.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from flopbill.catalog.efficiency import EngineProfile, HardwareEfficiency, ep_imbalance
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.checks import integer, number
from flopbill.dtypes import COMPUTE_DTYPE_FOR_WEIGHTS, QUANTIZED, Dtype, bytes_per_value, parse_dtype
from flopbill.errors import DoesNotFitError, InputError
from flopbill.estimate.core.assumptions import Assumption
from flopbill.estimate.core.roofline import bound_name
from flopbill.estimate.serving.metrics import (
    RuntimeArrays,
    SpecArrays,
    WorkloadArrays,
    serving_cost,
    serving_metrics,
)
from flopbill.estimate.serving.pipeline import pipeline_metrics, stage_model
from flopbill.estimate.serving.step import (
    DeviceArrays,
    ExpertImbalance,
    ModelTerms,
    PrecisionArrays,
    expert_load_factor,
    model_terms,
)


@dataclass(frozen=True)
class ServingOptions:
    """How a model is deployed (inert). ``batch=None`` means the largest batch that fits."""

    tp: int = 1
    replicas: int = 1
    weights: Dtype = Dtype.BF16
    kv: Dtype | None = None  # None: bf16 (fp16/bf16 cache, the engines' default)
    activations: Dtype | None = None  # None: the compute format of the weights
    batch: int | None = None
    spec_k: int = 0
    spec_acceptance: float = 0.0
    draft: ModelSpec | None = None  # None with spec_k > 0: one MTP layer of the target as draft
    prefix_hit_rate: float = 0.0
    n_samples: int = 1
    reasoning_multiplier: float = 1.0
    utilization: float = 1.0
    attention_dp: bool = False  # attention data parallel + expert parallel over the tp ranks (MoE)
    cuda_graphs: bool = (
        True  # False: eager kernel launches (vLLM --enforce-eager, SGLang --disable-cuda-graph)
    )
    pp: int = 1  # pipeline-parallel stages of tp GPUs each (flopbill.estimate.serving.pipeline)


@dataclass(frozen=True)
class ServingEstimate:
    """Serving figures of one deployment (SI units; per replica of ``tp`` GPUs unless named per GPU).

    Three TTFTs, each a different situation: ``ttft_s`` a lone request's prefill (an idle replica);
    ``ttft_static_batch_s`` a static batch of ``batch`` requests whose prompts all prefill before decoding;
    ``ttft_chunked_s`` a request joining ``batch`` running sequences under chunked prefill (continuous
    batching), without the queueing wait (capacity planning adds it).
    """

    model: str
    accelerator: str
    engine: str
    tp: int
    gpus: int
    batch: int
    max_batch: int
    bound: str
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    output_tokens_per_s_per_user: float
    output_tokens_per_s_per_gpu: float
    decode_tokens_per_s_per_gpu: float
    tokens_per_target_step: float
    step_compute_s: float
    step_memory_s: float
    step_comm_s: float
    step_overhead_s: float
    weights_bytes_per_gpu: float
    kv_bytes_per_sequence_per_gpu: float
    activation_bytes_per_gpu: float
    memory_bytes_per_gpu: float
    price_usd_per_gpu_hour: float | None
    utilization: float
    cost_usd_per_mtok_input: float | None
    cost_usd_per_mtok_output: float | None
    cost_usd_per_request: float | None
    extrapolation: bool
    assumptions: tuple[Assumption, ...] = field(default=())
    error_band: float = 0.0
    ttft_static_batch_s: float = 0.0  # static batch of ``batch``: all prompts prefill before decode
    ttft_chunked_s: float = 0.0  # continuous batching at ``batch``: chunked prefill, queue not included
    pp: int = 1  # pipeline stages; a replica is tp·pp GPUs

    def ranges(self) -> dict[str, float | None]:
        """Return low/high bounds of the headline figures for a relative error band ``e``.

        If the measured throughput is ``predicted / (1 + err)`` with ``|err| ≤ e``, throughput lies in
        ``[x/(1+e), x/(1−e)]`` and times and $/token (which scale with 1/throughput) in
        ``[x·(1−e), x·(1+e)]``. With ``e ≥ 1`` (MoE today) the rate has no upper and the time no lower
        bound: those keys are ``None``. Keys are ``<field>_low`` and ``<field>_high``.
        """
        e = self.error_band
        bounded = e < 1.0  # with e ≥ 1 the band puts no ceiling on rates and no floor on times
        out: dict[str, float | None] = {}
        for name in ("output_tokens_per_s_per_gpu", "decode_tokens_per_s_per_gpu"):
            value = float(getattr(self, name))
            out[f"{name}_low"] = value / (1 + e)
            out[f"{name}_high"] = value / (1 - e) if bounded else None
        for name in (
            "ttft_s",
            "tpot_s",
            "cost_usd_per_mtok_input",
            "cost_usd_per_mtok_output",
            "cost_usd_per_request",
        ):
            raw = getattr(self, name)
            out[f"{name}_low"] = None if raw is None or not bounded else float(raw) * (1 - e)
            out[f"{name}_high"] = None if raw is None else float(raw) * (1 + e)
        return out


def compute_dtype(weights: Dtype, activations: Dtype | None) -> Dtype:
    """Return the matmul format: the activations' if given, else the weights' compute format."""
    return activations or COMPUTE_DTYPE_FOR_WEIGHTS[weights]


def device_arrays(acc: Accelerator, compute: Dtype, eff: HardwareEfficiency, tp: int) -> DeviceArrays:
    """Return the device figures the physics needs, or raise if one is unknown for ``acc``."""
    peak = getattr(acc.peak_flops_per_s, compute.value, None)
    _require(acc, f"peak {compute.value} FLOP/s", peak, "gpu")
    _require(acc, "memory bandwidth", acc.memory_bandwidth_bytes_per_s, "gpu")
    memory = eff.memory_bytes(acc.id, acc.memory_bytes)
    _require(acc, "memory size", memory, "gpu")
    link = acc.interconnect_bidir_bytes_per_s
    if tp > 1:
        _require(acc, "interconnect bandwidth (needed for tp > 1)", link, "tp")
    attn_peak = acc.peak_flops_per_s.bf16 or acc.peak_flops_per_s.fp16
    _require(acc, "peak bf16 FLOP/s (attention math)", attn_peak, "gpu")
    domain, network = acc.topology()
    if tp > domain and network != network:  # NaN: the network beyond the domain is unknown
        raise InputError(
            "tp",
            tp,
            f"at most {domain:.0f} (one {acc.id} scale-up domain): its network bandwidth per GPU is unknown",
        )
    return DeviceArrays(
        peak_flops_per_s=peak,
        attention_peak_flops_per_s=attn_peak,
        bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s,
        interconnect_bidir_bytes_per_s=link or 1.0,
        memory_bytes=memory,
        eta_flops=eff.eta_flops_for(compute.value),
        eta_bw=eff.eta_bw.value,
        allreduce_latency_s=eff.allreduce_latency_s.value,
        attention_eta_flops=eff.eta_flops_for(Dtype.BF16.value),
        scale_up_gpus=domain,
        scale_out_bidir_bytes_per_s=network,
    )


def precision_arrays(weights: Dtype, kv: Dtype | None, activations: Dtype | None) -> PrecisionArrays:
    """Return bytes per value: quantized weights keep embeddings/head/norms in bf16 (see dtypes)."""
    kept = Dtype.BF16 if weights in QUANTIZED else weights
    act = activations if activations is not None else Dtype.BF16
    return PrecisionArrays(
        weight_bpv=bytes_per_value(weights),
        kept_bpv=bytes_per_value(kept),
        kv_bpv=bytes_per_value(kv or Dtype.BF16),
        activation_bpv=max(bytes_per_value(act), 1.0),
    )


def runtime_arrays(
    engine: EngineProfile, attention_dp: bool = False, cuda_graphs: bool = True
) -> RuntimeArrays:
    """Return the engine figures as arrays (``attention_dp``: the deployment runs attention DP + EP).

    ``cuda_graphs=False`` uses the engine's eager kernel floor (raises if the engine has none); the eager
    floor is a whole kernel's launch-bound time, so no launch gap is added on top of it.
    """
    floor = engine.kernel_floor_s
    launch = engine.kernel_launch_s
    if not cuda_graphs:
        launch = None
        if engine.eager_kernel_floor_s is None:
            raise InputError(
                "eager", engine.id, "an engine with a measured eager-mode kernel cost (vllm, sglang)"
            )
        floor = engine.eager_kernel_floor_s
    imb = ep_imbalance()
    return RuntimeArrays(
        overhead_s_per_step=engine.overhead_s_per_step.value,
        memory_reserve_fraction=engine.memory_reserve_fraction.value,
        prefill_chunk_tokens=engine.prefill_chunk_tokens.value,
        max_batch_sequences=engine.max_batch_sequences.value,
        kv_free_fraction=1.0 if engine.kv_free_fraction is None else engine.kv_free_fraction.value,
        kernel_floor_s=0.0 if floor is None else floor.value,
        kernel_launch_s=0.0 if launch is None else launch.value,
        attention_dp=1.0 if attention_dp else 0.0,
        expert_imbalance=None
        if imb is None
        else ExpertImbalance(imb.ratio.value, imb.reference_ep, imb.reference_experts_per_rank),
    )


def mtp_draft(m: ModelSpec) -> ModelSpec:
    """Return a one-layer copy of ``m``: the cost of a multi-token-prediction head (DeepSeek-V3 §2.2)."""
    return m.model_copy(
        update={"n_layers": 1, "n_dense_layers": 0, "sliding_window_layers": 0, "chunked_attention_layers": 0}
    )


#: Most samples per request (test-time compute) and longest speculative draft accepted.
MAX_SAMPLES_PER_REQUEST = 4096
MAX_SPEC_K = 64
#: Largest output multiplier (hidden reasoning tokens per visible token).
MAX_REASONING_MULTIPLIER = 1000.0


def validate_options(m: ModelSpec, acc: Accelerator, opt: ServingOptions) -> None:
    """Raise :class:`InputError` for options the deployment cannot take (TP, fractions, counts)."""
    if opt.tp < 1 or m.n_heads % opt.tp:
        raise InputError("tp", opt.tp, f"a divisor of the {m.n_heads} attention heads of {m.id}")
    kvh = m.kv_heads
    if not m.is_mla and kvh % opt.tp and opt.tp % kvh:
        raise InputError("tp", opt.tp, f"a divisor or multiple of the {kvh} KV heads of {m.id}")
    if opt.replicas < 1:
        raise InputError("n_gpus", opt.replicas * opt.tp, f"a positive multiple of tp = {opt.tp}")
    for name, value in (("prefix_hit_rate", opt.prefix_hit_rate), ("spec_acceptance", opt.spec_acceptance)):
        if not 0.0 <= value <= 1.0:
            raise InputError(name, value, "a fraction in [0, 1]")
    if not 0.0 < opt.utilization <= 1.0:
        raise InputError("utilization", opt.utilization, "a fraction in (0, 1]")
    integer(opt.spec_k, "spec_k", lower=0, upper=MAX_SPEC_K)
    integer(opt.n_samples, "samples", lower=1, upper=MAX_SAMPLES_PER_REQUEST)
    if not 1.0 <= number(opt.reasoning_multiplier, "reasoning_multiplier") <= MAX_REASONING_MULTIPLIER:
        raise InputError(
            "reasoning_multiplier", opt.reasoning_multiplier, f"≥ 1 and ≤ {MAX_REASONING_MULTIPLIER:g}"
        )
    if opt.batch is not None and opt.batch < 1:
        raise InputError("batch", opt.batch, "a positive integer or 'max'")
    if opt.attention_dp and not m.is_moe:
        raise InputError("attention_dp", True, f"a mixture-of-experts model ({m.id} is dense)")
    integer(opt.pp, "pp", lower=1, upper=m.n_layers)


def _require(acc: Accelerator, what: str, value: Any, field_name: str) -> None:
    if value is None:
        raise InputError(field_name, acc.id, f"an accelerator whose {what} is known (unknown for {acc.id})")


def estimate_serving(
    m: ModelSpec,
    acc: Accelerator,
    input_tokens: float,
    output_tokens: float,
    opt: ServingOptions,
    eff: tuple[HardwareEfficiency, bool],
    engine: EngineProfile,
    price_usd_per_gpu_hour: float | None = None,
    price_source: str = "given",
    error_band: float = 0.0,
) -> ServingEstimate:
    """Return the serving estimate of ``m`` on ``acc`` for requests of ``input_tokens`` → ``output_tokens``.

    ``error_band`` (a fraction) is carried into the result for :meth:`ServingEstimate.ranges`.

    Raises :class:`DoesNotFitError` when the weights do not fit or ``opt.batch`` exceeds the memory limit.
    """
    validate_options(m, acc, opt)
    input_tokens = number(input_tokens, "input_tokens")
    output_tokens = number(output_tokens, "output_tokens")
    if input_tokens < 1 or output_tokens < 1:
        raise InputError("input_tokens/output_tokens", (input_tokens, output_tokens), "≥ 1 token each")
    generated = output_tokens * opt.reasoning_multiplier
    if input_tokens + generated > m.max_context_tokens:
        raise InputError(
            "input_tokens/output_tokens",
            (input_tokens, output_tokens),
            f"a request within {m.id}'s context window of {m.max_context_tokens:,} tokens "
            f"(input + generated = {input_tokens + generated:,.0f})",
        )
    hw, measured = eff
    comp = compute_dtype(opt.weights, opt.activations)
    dev = device_arrays(acc, comp, hw, opt.tp)
    prec = precision_arrays(opt.weights, opt.kv, opt.activations)
    rt = runtime_arrays(engine, opt.attention_dp, opt.cuda_graphs)
    if opt.pp > 1:  # one scheduler batch per stage (vLLM "virtual engines"), each up to max_num_seqs
        rt = replace(rt, max_batch_sequences=rt.max_batch_sequences * opt.pp)
    t = model_terms(stage_model(m, opt.pp))  # the whole model, or its slowest pipeline stage
    spec = _spec(m, opt)
    wl = WorkloadArrays(
        input_tokens, output_tokens, opt.prefix_hit_rate, opt.n_samples, opt.reasoning_multiplier
    )
    probe = serving_metrics(t, dev, prec, rt, opt.tp, 1.0, wl, spec)
    max_b = int(probe.max_batch)
    cap = int(engine.max_batch_sequences.value) * (opt.tp if opt.attention_dp else 1) * opt.pp
    _check_fit(m, acc, opt, probe, max_b, cap, float(dev.memory_bytes))
    batch = max_b if opt.batch is None else opt.batch
    if opt.pp == 1:
        mt = serving_metrics(t, dev, prec, rt, opt.tp, float(batch), wl, spec)
    else:
        micro = float(batch) / min(opt.pp, batch)
        stage = serving_metrics(t, dev, prec, rt, opt.tp, micro, wl, spec)
        mt = pipeline_metrics(stage, t, dev, rt, wl, prec.activation_bpv, opt.tp, opt.pp, float(batch))
    gpus_per_replica = opt.tp * opt.pp
    cost = (
        None
        if price_usd_per_gpu_hour is None
        else serving_cost(mt, wl, gpus_per_replica, price_usd_per_gpu_hour, opt.utilization)
    )
    notes = _assumptions(hw, measured, engine, opt, comp, price_usd_per_gpu_hour, price_source)
    if opt.attention_dp and opt.tp > 1 and t.n_moe_layers and rt.expert_imbalance is not None:
        notes = (*notes, _imbalance_assumption(t, opt.tp, rt.expert_imbalance))
    return ServingEstimate(
        model=m.id,
        accelerator=acc.id,
        engine=engine.id,
        tp=opt.tp,
        gpus=gpus_per_replica * opt.replicas,
        batch=batch,
        max_batch=max_b,
        bound=bound_name(float(mt.step.compute_s), float(mt.step.memory_s)),
        ttft_s=float(mt.ttft_s),
        tpot_s=float(mt.tpot_s),
        e2e_latency_s=float(mt.e2e_latency_s),
        output_tokens_per_s_per_user=1.0 / float(mt.tpot_s),
        output_tokens_per_s_per_gpu=float(mt.output_tokens_per_s_per_gpu),
        decode_tokens_per_s_per_gpu=float(mt.decode_tokens_per_s_per_gpu),
        tokens_per_target_step=float(mt.tokens_per_step),
        step_compute_s=float(mt.step.compute_s),
        step_memory_s=float(mt.step.memory_s),
        step_comm_s=float(mt.step.comm_s),
        step_overhead_s=float(mt.step.overhead_s),
        weights_bytes_per_gpu=float(mt.weights_bytes_per_gpu),
        kv_bytes_per_sequence_per_gpu=float(mt.kv_bytes_per_sequence_per_gpu),
        activation_bytes_per_gpu=float(mt.activation_bytes_per_gpu),
        memory_bytes_per_gpu=float(dev.memory_bytes or 0.0),
        price_usd_per_gpu_hour=price_usd_per_gpu_hour,
        utilization=opt.utilization,
        cost_usd_per_mtok_input=None if cost is None else float(cost.usd_per_mtok_input),
        cost_usd_per_mtok_output=None if cost is None else float(cost.usd_per_mtok_output),
        cost_usd_per_request=None if cost is None else float(cost.usd_per_request),
        extrapolation=not measured,
        assumptions=notes,
        error_band=error_band,
        ttft_static_batch_s=float(mt.ttft_static_batch_s),
        ttft_chunked_s=float(mt.ttft_chunked_s),
        pp=opt.pp,
    )


def _spec(m: ModelSpec, opt: ServingOptions) -> SpecArrays:
    return spec_arrays(m, opt.spec_k, opt.spec_acceptance, opt.draft)


def spec_arrays(m: ModelSpec, spec_k: int, acceptance: float, draft: ModelSpec | None) -> SpecArrays:
    """Return the speculative-decoding arrays: ``draft``, or the model's own MTP head when it has one.

    Raises :class:`InputError` when ``spec_k > 0``, no draft is given and ``m`` has no MTP layers
    (config.json ``num_nextn_predict_layers``): a model without MTP heads has no built-in draft.
    """
    if spec_k <= 0:
        return SpecArrays()
    if draft is None and not m.mtp_layers:
        raise InputError(
            "draft_model",
            None,
            f"a draft model for --spec-k {spec_k}: {m.id} has no MTP head to draft with",
        )
    chosen = draft if draft is not None else mtp_draft(m)
    return SpecArrays(float(spec_k), acceptance, model_terms(chosen))


def _check_fit(
    m: ModelSpec,
    acc: Accelerator,
    opt: ServingOptions,
    probe: Any,
    max_b: int,
    engine_cap: int,
    memory_bytes: float | None = None,
) -> None:
    usable = float(memory_bytes if memory_bytes is not None else acc.memory_bytes or 0.0)
    if max_b < 1:
        raise DoesNotFitError(
            f"{m.id} does not fit on {acc.id} with `tp` {opt.tp} and {opt.weights.value} weights: "
            f"weights {float(probe.weights_bytes_per_gpu) / 1e9:.1f} GB + activations "
            f"{float(probe.activation_bytes_per_gpu) / 1e9:.1f} GB + one sequence's KV "
            f"{float(probe.kv_bytes_per_sequence_per_gpu) / 1e9:.2f} GB per GPU exceed the usable part of "
            f"{usable / 1e9:.0f} GB; raise `tp` or quantize (`weights` fp8/int4)"
        )
    if opt.batch is not None and opt.batch > max_b:
        if max_b >= engine_cap:
            why = f"the engine runs at most {max_b} sequences at once (its max_num_seqs); use `batch` max"
        else:
            why = (
                f"at most {max_b} sequences of this length fit in the KV cache of {m.id} on {acc.id} "
                f"(tp {opt.tp}); use `batch` max, a larger `tp` or `kv` fp8"
            )
        raise DoesNotFitError(f"`batch` {opt.batch} does not fit: {why}")


def _imbalance_assumption(t: ModelTerms, ep: int, imb: ExpertImbalance) -> Assumption:
    """The busiest EP rank's load over the mean, with the published figure it is scaled from."""
    src = ep_imbalance()
    ref = "" if src is None else f"{src.ratio.ref} ({src.ratio.checked})"
    gamma = float(expert_load_factor(t, float(ep), imb))
    return Assumption(
        "ep_load_factor",
        round(gamma, 3),
        f"busiest of {ep} EP ranks ({t.n_experts / ep:g} experts each), scaled from (max-mean)/mean = "
        f"{imb.ratio} at EP{imb.reference_ep} with {imb.reference_experts_per_rank:g} experts per rank: "
        f"{ref}",
        "extrapolation: one model (DeepSeek-R1) and one dataset; no expert load balancer assumed",
    )


def _assumptions(
    hw: HardwareEfficiency,
    measured: bool,
    engine: EngineProfile,
    opt: ServingOptions,
    comp: Dtype,
    price: float | None,
    price_source: str,
) -> tuple[Assumption, ...]:
    extra = "" if measured else "extrapolation: no measured profile for this accelerator"
    by_dtype = hw.eta_flops_by_dtype.get(comp.value)
    eta = hw.eta_flops if by_dtype is None else by_dtype
    items = [
        Assumption("eta_flops", eta.value, f"{comp.value}: {eta.ref} ({eta.checked})", extra),
        Assumption("eta_bw", hw.eta_bw.value, f"{hw.eta_bw.ref} ({hw.eta_bw.checked})", extra),
        Assumption("allreduce_latency_s", hw.allreduce_latency_s.value, hw.allreduce_latency_s.ref),
        Assumption("engine", engine.name, "given" if engine.id else "default"),
        Assumption("overhead_s_per_step", engine.overhead_s_per_step.value, engine.overhead_s_per_step.ref),
        Assumption(
            "memory_reserve_fraction",
            engine.memory_reserve_fraction.value,
            engine.memory_reserve_fraction.ref,
        ),
        Assumption("max_batch_sequences", engine.max_batch_sequences.value, engine.max_batch_sequences.ref),
        Assumption(
            "prefill_chunk_tokens", engine.prefill_chunk_tokens.value, engine.prefill_chunk_tokens.ref
        ),
        Assumption(
            "compute_dtype", comp.value, "activations given" if opt.activations else "from weight format"
        ),
        Assumption("kv_dtype", (opt.kv or Dtype.BF16).value, "given" if opt.kv else "default (bf16 cache)"),
        Assumption(
            "utilization", opt.utilization, "given" if opt.utilization != 1.0 else "assumed fully busy"
        ),
    ]
    if opt.cuda_graphs and engine.kernel_launch_s is not None:
        launch = engine.kernel_launch_s
        items.append(
            Assumption("kernel_launch_s", launch.value, f"{launch.ref} ({launch.checked})", launch.note)
        )
    if price is not None:
        items.append(Assumption("price_usd_per_gpu_hour", price, price_source))
    if opt.pp > 1:
        items.append(
            Assumption(
                "pipeline_parallel",
                opt.pp,
                "slowest stage = ceil(L/pp) layers + head; min(pp, batch) micro-batches in flight; "
                "stage steps in series per token, prefill chunks overlap across stages (GPipe fill)",
            )
        )
    if opt.spec_k:
        draft = "draft model" if opt.draft is not None else "one MTP layer of the target"
        items.append(Assumption("speculative_decoding", f"k={opt.spec_k}, α={opt.spec_acceptance}", draft))
    return tuple(items)


def parse_precision(text: str | None, field_name: str) -> Dtype | None:
    """Return the :class:`Dtype` for a precision option (``None`` passes through)."""
    return None if text is None else parse_dtype(text, field_name)


def as_float(value: Any) -> float:
    """Return a Python float from a 0-d array or a number."""
    return float(np.asarray(value))
