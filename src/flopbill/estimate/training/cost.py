"""Training cost: FLOPs → GPU-hours → wall-clock → dollars → energy → CO2e.

The one-line functions here are pure and broadcast over numpy arrays. :func:`estimate_training` combines
them for one resolved :class:`TrainingSetup` (built by :mod:`flopbill.estimate.training.inputs` from the
catalog and user input) into a frozen :class:`TrainingEstimate` with low / expected / high ranges.

Conventions: model FLOPs count forward + backward once (the numerator of MFU, PaLM appendix B,
Chowdhery et al. 2022); hardware FLOPs add what activation recomputation re-runs. GPU-time is
``model_flops / (peak · MFU)``; billed GPU-hours divide that by the goodput (the fraction of wall-clock
spent on productive steps, the rest lost to restarts, checkpoints and failed steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.core.arrays import ArrayLike
from flopbill.estimate.core.assumptions import Assumption, Range
from flopbill.estimate.training.memory import MemoryBreakdown, ParallelPlan, memory_per_gpu, min_gpus_to_fit
from flopbill.estimate.training.stages import StageCompute, StageConfig, stage_compute

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


def gpu_seconds(model_flops: ArrayLike, peak_flops_per_s: ArrayLike, mfu: ArrayLike) -> ArrayLike:
    """Return accelerator-seconds of productive compute: ``model_flops / (peak · MFU)`` (s).

    MFU as in PaLM (Chowdhery et al. 2022, appendix B): model FLOPs per second over the dense peak.
    """
    return model_flops / (peak_flops_per_s * mfu)


def billed_gpu_hours(productive_gpu_s: ArrayLike, goodput: ArrayLike) -> ArrayLike:
    """Return accelerator-hours paid for: productive seconds / goodput / 3600 (GPU-h)."""
    return productive_gpu_s / goodput / SECONDS_PER_HOUR


def wall_clock_s(gpu_hours: ArrayLike, n_gpus: ArrayLike) -> ArrayLike:
    """Return wall-clock seconds: ``gpu_hours · 3600 / n_gpus`` (s), the GPUs scaling at the MFU given."""
    return gpu_hours * SECONDS_PER_HOUR / n_gpus


def cost_usd(gpu_hours: ArrayLike, price_usd_per_gpu_hour: ArrayLike) -> ArrayLike:
    """Return rental cost: ``gpu_hours · price_usd_per_gpu_hour`` (USD)."""
    return gpu_hours * price_usd_per_gpu_hour


def energy_kwh(
    gpu_hours: ArrayLike, tdp_w: ArrayLike, power_fraction: ArrayLike, pue: ArrayLike
) -> ArrayLike:
    """Return facility energy: ``gpu_hours · TDP · power_fraction · PUE / 1000`` (kWh).

    The per-GPU draw follows the Llama 2 report's method (Touvron et al. 2023, §2.2.1: peak power per
    device); host CPUs, network and storage are excluded.
    """
    return gpu_hours * tdp_w * power_fraction * pue / 1000.0


def co2e_kg(energy: ArrayLike, carbon_kg_per_kwh: ArrayLike) -> ArrayLike:
    """Return operational emissions: ``energy_kwh · grid intensity`` (kg CO2e)."""
    return energy * carbon_kg_per_kwh


@dataclass(frozen=True)
class TrainingSetup:
    """Every resolved input of one training estimate (inert; SI units)."""

    model: ModelSpec
    accelerator: Accelerator
    n_gpus: int
    tokens: float
    seq_len: int
    dtype: Dtype
    mfu: Range
    price_usd_per_gpu_hour: Range | None
    goodput: Range
    pue: Range
    carbon_kg_per_kwh: Range
    power_fraction_of_tdp: float
    plan: ParallelPlan
    stage: StageConfig
    assumptions: tuple[Assumption, ...] = ()


@dataclass(frozen=True)
class TrainingEstimate:
    """What one training run costs, with ranges and the assumptions used.

    ``*_low`` use the favourable end of every uncertain input (high MFU and goodput, low price, PUE and
    carbon intensity); ``*_high`` the unfavourable end. ``None`` where an input is unknown (no price).
    """

    model_id: str
    accelerator_id: str
    stage: str
    n_gpus: int
    tokens: float
    seq_len: int
    flops: float
    hardware_flops: float
    mfu: Range
    gpu_hours: Range
    wall_clock_days: Range
    cost_usd: Range | None
    energy_kwh: Range | None
    co2e_kg: Range | None
    memory: MemoryBreakdown
    fits: bool
    min_gpus: int | None
    compute: StageCompute
    assumptions: tuple[Assumption, ...] = field(default=())


def _peak_flops(acc: Accelerator, dtype: Dtype) -> float:
    peak = getattr(acc.peak_flops_per_s, dtype.value, None)
    if peak is None:
        known = [k for k, v in acc.peak_flops_per_s.model_dump().items() if v]
        raise InputError(
            "dtype",
            dtype.value,
            f"a format whose peak FLOP/s is known for {acc.id} ({', '.join(known) or 'none'})",
        )
    return float(peak)


def _hours_range(productive_s: Range, goodput: Range) -> Range:
    return Range(
        float(billed_gpu_hours(productive_s.low, goodput.high)),
        float(billed_gpu_hours(productive_s.expected, goodput.expected)),
        float(billed_gpu_hours(productive_s.high, goodput.low)),
    )


def _scale(r: Range, factor: Range | float) -> Range:
    f = factor if isinstance(factor, Range) else Range.point(factor)
    return Range(r.low * f.low, r.expected * f.expected, r.high * f.high)


def estimate_training(setup: TrainingSetup) -> TrainingEstimate:
    """Return the cost of one training stage on a resolved setup (pure).

    Productive GPU-seconds = stage model FLOPs / (peak · MFU) + rollout (decode) GPU-seconds for RLHF
    stages; billed GPU-hours divide by goodput; wall-clock = GPU-hours / GPU count.
    """
    peak = _peak_flops(setup.accelerator, setup.dtype)
    comp = stage_compute(
        setup.model, setup.tokens, setup.seq_len, setup.stage, setup.accelerator, setup.dtype
    )
    mfu = setup.mfu
    productive = Range(
        float(gpu_seconds(comp.model_flops, peak, mfu.high)) + comp.rollout_gpu_s.low,
        float(gpu_seconds(comp.model_flops, peak, mfu.expected)) + comp.rollout_gpu_s.expected,
        float(gpu_seconds(comp.model_flops, peak, mfu.low)) + comp.rollout_gpu_s.high,
    )
    hours = _hours_range(productive, setup.goodput)
    days = _scale(hours, SECONDS_PER_HOUR / SECONDS_PER_DAY / setup.n_gpus)
    price = setup.price_usd_per_gpu_hour
    cost = _scale(hours, price) if price is not None else None
    energy = co2 = None
    if setup.accelerator.tdp_w is not None:
        energy = _scale(
            _scale(hours, setup.accelerator.tdp_w * setup.power_fraction_of_tdp / 1000.0), setup.pue
        )
        co2 = _scale(energy, setup.carbon_kg_per_kwh)
    memory = memory_per_gpu(setup.model, setup.seq_len, setup.plan, comp.memory_models, setup.dtype)
    capacity = setup.accelerator.memory_bytes
    fits = capacity is not None and memory.total_bytes <= capacity
    min_gpus = (
        min_gpus_to_fit(setup.model, setup.seq_len, setup.plan, comp.memory_models, capacity, setup.dtype)
        if capacity is not None
        else None
    )
    return TrainingEstimate(
        model_id=setup.model.id,
        accelerator_id=setup.accelerator.id,
        stage=setup.stage.stage.value,
        n_gpus=setup.n_gpus,
        tokens=setup.tokens,
        seq_len=setup.seq_len,
        flops=comp.model_flops,
        hardware_flops=comp.hardware_flops(setup.plan.recompute),
        mfu=mfu,
        gpu_hours=hours,
        wall_clock_days=days,
        cost_usd=cost,
        energy_kwh=energy,
        co2e_kg=co2,
        memory=memory,
        fits=fits,
        min_gpus=min_gpus,
        compute=comp,
        assumptions=setup.assumptions + comp.assumptions,
    )


def flops_for_budget(
    budget_usd: ArrayLike,
    price_usd_per_gpu_hour: ArrayLike,
    peak_flops_per_s: ArrayLike,
    mfu: ArrayLike,
    goodput: ArrayLike,
) -> ArrayLike:
    """Return model FLOPs a dollar budget buys: ``budget / price · 3600 · peak · MFU · goodput`` (FLOPs)."""
    return budget_usd / price_usd_per_gpu_hour * SECONDS_PER_HOUR * peak_flops_per_s * mfu * goodput


def default_training_dtype(acc: Accelerator) -> Dtype:
    """Return bf16, else fp16, else fp32: the first 16/32-bit format with a known peak on ``acc``."""
    for dtype in (Dtype.BF16, Dtype.FP16, Dtype.FP32):
        if getattr(acc.peak_flops_per_s, dtype.value, None) is not None:
            return dtype
    return Dtype.BF16


def peak_flops(acc: Accelerator, dtype: Dtype) -> float:
    """Return the dense peak FLOP/s of ``acc`` in ``dtype``; raise a clear error when unknown."""
    return _peak_flops(acc, dtype)
