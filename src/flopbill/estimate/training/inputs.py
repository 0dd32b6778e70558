"""Resolve a training estimate's inputs: user values where given, else sourced defaults from the catalog.

This is the one place the training estimator reads catalog data (cached, packaged files); every default
it fills in is recorded as an :class:`~flopbill.estimate.core.assumptions.Assumption` with its source.
"""

from __future__ import annotations

from flopbill.catalog.defaults import SourcedRange, mfu_model_range, training_defaults
from flopbill.catalog.prices import gpu_price
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.checks import integer, positive
from flopbill.dtypes import Dtype
from flopbill.errors import InputError, UnknownNameError
from flopbill.estimate.core.architecture import forward_flops_per_token
from flopbill.estimate.core.assumptions import Assumption, Range
from flopbill.estimate.training.cost import TrainingSetup
from flopbill.estimate.training.memory import ParallelPlan
from flopbill.estimate.training.stages import Stage, StageConfig

Triple = tuple[float, float, float]


def _range(value: Triple, field: str, lo: float, hi: float, allowed: str, lo_open: bool = True) -> Range:
    low, expected, high = value
    if (low <= lo if lo_open else low < lo) or high > hi:
        raise InputError(field, f"{low}..{high}" if low != high else low, allowed)
    return Range(low, expected, high)


def _from_sourced(r: SourcedRange) -> Range:
    return Range(r.low.value, r.expected.value, r.high.value)


def _cite(name: str, r: SourcedRange) -> Assumption:
    return Assumption(
        name,
        f"{r.low.value:g}..{r.expected.value:g}..{r.high.value:g}",
        f"low: {r.low.ref}; expected: {r.expected.ref}; high: {r.high.ref}",
        r.unit,
    )


def _mfu(acc: Accelerator, n_gpus: int, mfu: Triple | None, d_model: int) -> tuple[Range, Assumption]:
    if mfu is not None:
        r = _range(mfu, "mfu", 0.0, 1.0, "a fraction in (0, 1] or a range such as 0.35..0.5")
        return r, Assumption("mfu", f"{r.low:g}..{r.high:g}" if r.low != r.high else r.low, "given")
    fitted = mfu_model_range(acc, d_model)
    if fitted is not None:
        value = f"{fitted.low:.3g}..{fitted.expected:.3g}..{fitted.high:.3g}"
        note = "steady-state MFU; lost time is the goodput; validation: `flopbill validate training`"
        return Range(fitted.low, fitted.expected, fitted.high), Assumption("mfu", value, fitted.basis, note)
    d = training_defaults().mfu_range(acc.id, n_gpus)
    value = f"{d.low:.3g}..{d.expected:.3g}..{d.high:.3g}"
    rule = f"widened to ±{training_defaults().mfu_min_relative_half_width.value:g} of the median at least"
    return Range(d.low, d.expected, d.high), Assumption("mfu", value, d.basis, rule)


def _distill_mfu(
    acc: Accelerator, student: ModelSpec, cfg: StageConfig | None, seq_len: int, mfu: Triple | None
) -> tuple[Range, Assumption] | None:
    """MFU of a distillation stage from the fitted model: each model's passes at its own width.

    ``MFU = (3·F_s + F_t) / (3·F_s / MFU_s + F_t / MFU_t)`` (FLOP-weighted harmonic mean; F = forward
    FLOPs per token at the sequence length, student trained, teacher forward only), applied to low,
    expected and high alike. None when not a distillation, MFU given, or the model cannot be fitted.
    """
    if mfu is not None or cfg is None or cfg.stage != Stage.DISTILL or cfg.teacher is None:
        return None
    ms, mt = mfu_model_range(acc, student.d_model), mfu_model_range(acc, cfg.teacher.d_model)
    if ms is None or mt is None:
        return None
    ws = 3.0 * float(forward_flops_per_token(student, seq_len))
    wt = float(forward_flops_per_token(cfg.teacher, seq_len))

    def mix(a: float, b: float) -> float:
        return (ws + wt) / (ws / a + wt / b)

    r = Range(mix(ms.low, mt.low), mix(ms.expected, mt.expected), mix(ms.high, mt.high))
    basis = f"distillation, FLOP-weighted: student {ms.basis}; teacher {mt.basis}"
    note = "(3·F_s + F_t) / (3·F_s/MFU_s + F_t/MFU_t); steady-state MFU; lost time is the goodput"
    return r, Assumption("mfu", f"{r.low:.3g}..{r.expected:.3g}..{r.high:.3g}", basis, note)


def _price(acc: Accelerator, price: Triple | None, pricing: str) -> tuple[Range | None, Assumption]:
    if price is not None:
        r = _range(price, "price_per_gpu_hour", 0.0, float("inf"), "a positive price in USD such as 2.49")
        return r, Assumption(
            "price_usd_per_gpu_hour", f"{r.low:g}..{r.high:g}" if r.low != r.high else r.low, "given"
        )
    try:
        p = gpu_price(acc.id, pricing)
    except UnknownNameError:
        return None, Assumption("price_usd_per_gpu_hour", "unknown", "no offer in the price snapshot", acc.id)
    r = Range(p.low_usd_per_gpu_hour, p.price_usd_per_gpu_hour, p.high_usd_per_gpu_hour)
    return r, Assumption("price_usd_per_gpu_hour", f"{r.low:.3g}..{r.expected:.3g}..{r.high:.3g}", p.source)


def _check_plan_fits_model(plan: ParallelPlan, model: ModelSpec) -> None:
    """Raise unless TP divides the attention heads and PP does not exceed the layers (Megatron-LM's rules)."""
    if model.n_heads % plan.tp:
        raise InputError("tp", plan.tp, f"a divisor of the {model.n_heads} attention heads of {model.id}")
    layers = model.n_layers + (model.n_decoder_layers or 0)
    if plan.pp > layers:
        raise InputError("pp", plan.pp, f"at most the {layers} layers of {model.id}")


def resolve_training_setup(
    model: ModelSpec,
    acc: Accelerator,
    *,
    n_gpus: int,
    tokens: float,
    seq_len: int,
    dtype: Dtype = Dtype.BF16,
    mfu: Triple | None = None,
    price: Triple | None = None,
    pricing: str = "on_demand",
    goodput: Triple | None = None,
    pue: Triple | None = None,
    carbon: Triple | None = None,
    plan: ParallelPlan | None = None,
    stage: StageConfig | None = None,
) -> TrainingSetup:
    """Return a :class:`TrainingSetup` with user values where given and sourced defaults elsewhere."""
    positive(tokens, "tokens", "a positive number of tokens such as 2T or 1e9")
    integer(seq_len, "seq_len", lower=1)
    integer(n_gpus, "n_gpus", lower=1)
    defaults = training_defaults()
    mfu_r, mfu_a = _distill_mfu(acc, model, stage, seq_len, mfu) or _mfu(acc, n_gpus, mfu, model.d_model)
    price_r, price_a = _price(acc, price, pricing)
    assumptions = [mfu_a, price_a]
    resolved: dict[str, Range] = {}
    for name, given, default, lo, hi, allowed in (
        ("goodput", goodput, defaults.goodput, 0.0, 1.0, "a fraction in (0, 1] such as 0.9 or 0.8..0.95"),
        ("pue", pue, defaults.pue, 1.0, 5.0, "a PUE between 1 and 5 such as 1.2"),
        (
            "carbon_kg_per_kwh",
            carbon,
            defaults.carbon_kg_per_kwh,
            0.0,
            2.0,
            "kg CO2e/kWh in [0, 2] such as 0.4",
        ),
    ):
        if given is not None:
            r = _range(given, name.split("_")[0], lo, hi, allowed, lo_open=name == "goodput")
            resolved[name] = r
            assumptions.append(
                Assumption(name, f"{r.low:g}..{r.high:g}" if r.low != r.high else r.low, "given")
            )
        else:
            resolved[name] = _from_sourced(default)
            assumptions.append(_cite(name, default))
    power = defaults.power_fraction_of_tdp
    assumptions.append(Assumption("power_fraction_of_tdp", power.value, power.ref, power.note))
    if acc.tdp_w is None:
        assumptions.append(Assumption("tdp_w", "unknown", acc.id, "energy and CO2e not estimated"))
    plan = plan or ParallelPlan(n_gpus=n_gpus)
    if plan.n_gpus != n_gpus:
        raise InputError("n_gpus", n_gpus, f"the parallel plan's GPU count {plan.n_gpus}")
    _check_plan_fits_model(plan, model)
    cfg = stage or StageConfig()
    bw = defaults.decode_bandwidth_utilisation
    cfg = StageConfig(
        **{
            **cfg.__dict__,
            "decode_bandwidth_utilisation": _from_sourced(bw),
            "nf4_bytes_per_param": defaults.nf4_bytes_per_param.value,
        }
    )
    return TrainingSetup(
        model=model,
        accelerator=acc,
        n_gpus=n_gpus,
        tokens=tokens,
        seq_len=seq_len,
        dtype=dtype,
        mfu=mfu_r,
        price_usd_per_gpu_hour=price_r,
        goodput=resolved["goodput"],
        pue=resolved["pue"],
        carbon_kg_per_kwh=resolved["carbon_kg_per_kwh"],
        power_fraction_of_tdp=power.value,
        plan=plan,
        stage=cfg,
        assumptions=tuple(assumptions),
    )


def optimizer_bytes_per_param(name: str) -> float:
    """Return total bytes per trainable parameter for an optimizer (``adam``, ``adam8bit``, ``sgd``)."""
    table = training_defaults().optimizer_bytes_per_param
    if name not in table:
        raise InputError("optimizer", name, "one of " + ", ".join(sorted(table)))
    return table[name].value
