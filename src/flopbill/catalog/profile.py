"""Hardware profiles: what ``flopbill measure hardware`` measured on one machine, usable as an accelerator.

A profile is a YAML file with the machine's measured dense matmul FLOP/s per dtype, sustained memory
bandwidth and per-operation dispatch overhead, each with the method that measured it, plus the efficiency
factors (η_flops, η_bw, overheads) that ``flopbill calibrate`` fits. Anywhere a catalog accelerator id is
accepted (``--gpu``), a path to a profile works too: :func:`profile_accelerator` turns it into an
:class:`~flopbill.catalog.schema.Accelerator` (``kind: measured``) and :func:`profile_efficiency` into the
:class:`~flopbill.catalog.efficiency.HardwareEfficiency` the serving estimator uses for it.

The measured peaks are *achieved* figures (the best sustained matmul of several sizes), so an
uncalibrated profile starts at η = 1 against them; calibration then moves η to what real models reach.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from flopbill.catalog.efficiency import HardwareEfficiency
from flopbill.catalog.schema import Accelerator, PeakFlops, Source, Sourced, Strict
from flopbill.errors import CatalogError, InputError

PROFILE_FORMAT: Literal["flopbill-hardware-profile/1"] = "flopbill-hardware-profile/1"
#: Environment variable naming the profile that the accelerator id ``this-machine`` resolves to.
PROFILE_ENV = "FLOPBILL_PROFILE"
THIS_MACHINE = "this-machine"
#: Top-level torch operations one Llama block of :mod:`flopbill.measure.torch_model` issues per forward
#: step (counted with ``torch.profiler``: 318 for 4 layers, 164 for 2).
KERNELS_PER_LAYER = 77.0


class Measured(Strict):
    """One measured figure and how it was measured."""

    value: float = Field(ge=0)
    method: str


class Efficiencies(Strict):
    """Fractions of the measured peaks that real models reach, and fixed overheads (fitted or defaults)."""

    eta_flops: float = Field(gt=0, le=2.0, description="fraction of measured matmul FLOP/s (GEMM)")
    eta_attention: float = Field(gt=0, le=2.0, description="fraction of measured FLOP/s for attention math")
    eta_bw: float = Field(
        gt=0, le=2.0, description="fraction of measured bandwidth for weight reads of one-token steps"
    )
    eta_bw_batched: float | None = Field(
        default=None, gt=0, le=2.0, description="same for steps of several tokens (None: eta_bw)"
    )
    eta_stream: float = Field(
        default=1.0, gt=0, le=2.0, description="fraction of measured bandwidth for KV and elementwise traffic"
    )
    overhead_s_per_step: float = Field(ge=0, description="fixed time per forward step, s")
    overhead_s_per_layer: float = Field(ge=0, description="fixed time per layer per forward step, s")
    overlap: bool = Field(
        default=True,
        description="compute and memory traffic overlap (roofline max, GPUs) or add up (CPU cores that "
        "stall on loads while they multiply)",
    )
    method: str = Field(description="how these were obtained: defaults, or the calibration and its data")
    calibrated: bool = False
    serving_eta_bw: float | None = Field(
        default=None,
        gt=0,
        le=2.0,
        description="η_bw of a serving engine's decode steps, fitted from `measure endpoint` runs "
        "(None: eta_bw)",
    )
    serving_overhead_s_per_step: float | None = Field(
        default=None,
        ge=0,
        description="the engine's fixed time per step, fitted from `measure endpoint` runs; replaces the "
        "engine profile's overhead_s_per_step for this accelerator (None: the engine profile's)",
    )
    serving_method: str = Field(default="", description="the endpoint calibration and its data")


class HardwareProfile(Strict):
    """A measured hardware profile (one device: a CPU socket set or one GPU)."""

    format: Literal["flopbill-hardware-profile/1"] = PROFILE_FORMAT
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    device: Literal["cpu", "cuda"]
    measured_on: dt.date
    machine: dict[str, str] = Field(description="CPU/GPU model, cores, library versions, OS")
    matmul_flops_per_s: dict[str, Measured] = Field(description="best sustained dense matmul per dtype")
    memory_bandwidth_bytes_per_s: Measured
    memory_bytes: float | None = Field(default=None, gt=0, description="device (or RAM) size, bytes")
    dispatch_overhead_s: Measured | None = None
    weight_read_bytes_per_s: Measured | None = None
    batched_weight_read_bytes_per_s: Measured | None = None
    weight_read_bytes_per_s_by_rows: dict[int, Measured] = Field(
        default_factory=dict,
        description="weight-read bandwidth of linear layers by input rows (decode batch)",
    )
    step_overhead_s: Measured | None = Field(default=None, description="fixed time per forward step, s")
    layer_overhead_s: Measured | None = Field(default=None, description="fixed time per layer and step, s")
    elementwise_values_per_s: Measured | None = Field(
        default=None, description="values read or written per second by a transformer block's elementwise ops"
    )
    efficiency: Efficiencies
    notes: str = ""


def _clip(x: float) -> float:
    return min(max(x, 1e-3), 2.0)


def default_efficiencies(
    dispatch_s: float | None,
    gemm_ratio: float = 1.0,
    attention_ratio: float = 1.0,
    bandwidth_ratio: float = 1.0,
    overlap: bool = True,
    batched_bandwidth_ratio: float | None = None,
    step_overhead_s: float | None = None,
    layer_overhead_s: float | None = None,
) -> Efficiencies:
    """Return uncalibrated efficiencies from the microbenchmarks alone: η_flops = measured FFN-shaped
    linear FLOP/s / matmul peak (``gemm_ratio``; 1 when not measured); η_attention = measured attention
    FLOP/s / matmul peak; η_bw = measured weight-read (one-row linear) bandwidth / STREAM triad, and
    η_bw_batched the same for a four-row linear (CPU BLAS packs the weights for more than one row); a
    per-step and per-layer overhead measured on tiny models (``step_overhead_s``, ``layer_overhead_s``:
    :func:`flopbill.measure.hardware.block_overheads_s`), else a per-layer overhead of ``77 · dispatch``
    (a Llama block as flopbill builds it issues 77 top-level torch operations per forward step, counted
    with ``torch.profiler`` on a decode step) when known."""
    per_layer = KERNELS_PER_LAYER * dispatch_s if dispatch_s else 0.0
    if layer_overhead_s is not None:
        per_layer = layer_overhead_s
    return Efficiencies(
        eta_flops=_clip(gemm_ratio),
        eta_attention=_clip(attention_ratio),
        eta_bw=_clip(bandwidth_ratio),
        eta_bw_batched=None if batched_bandwidth_ratio is None else _clip(batched_bandwidth_ratio),
        overlap=overlap,
        overhead_s_per_step=step_overhead_s or 0.0,
        overhead_s_per_layer=per_layer,
        method="uncalibrated: η_flops = measured FFN-shaped linear FLOP/s / matmul peak; η_attention = "
        "measured attention FLOP/s / matmul peak; η_bw (η_bw_batched) = measured 1-row (4-row) "
        "weight-read / triad bandwidth; per-step and per-layer overheads measured with tiny models (else "
        "77 × measured dispatch per layer)",
    )


def read_profile(path: Path | str) -> HardwareProfile:
    """Return the validated profile in a YAML file, or raise :class:`CatalogError` / :class:`InputError`."""
    p = Path(path)
    if not p.is_file():
        raise InputError("--gpu", str(path), "a catalog accelerator id or an existing hardware profile file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        return HardwareProfile.model_validate(data)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise CatalogError(f"{path}: not a flopbill hardware profile ({where}: {first['msg']})") from None


def write_profile(profile: HardwareProfile, path: Path | str) -> None:
    """Write ``profile`` as YAML (whole file at once)."""
    text = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    Path(path).write_text(text, encoding="utf-8")


def _peak(profile: HardwareProfile, key: str) -> float | None:
    fig = profile.matmul_flops_per_s.get(key)
    return None if fig is None else fig.value


def accelerator_from_profile(profile: HardwareProfile) -> Accelerator:
    """Return the profile as an accelerator (``kind: measured``) with its measured peaks and bandwidth."""
    src = Source(
        what="matmul FLOP/s, memory bandwidth (measured)",
        ref=f"flopbill measure hardware on {profile.name}; {profile.efficiency.method}",
        checked=profile.measured_on,
    )
    return Accelerator(
        id=profile.id,
        name=f"{profile.name} (measured)",
        vendor=profile.machine.get("vendor", "unknown"),
        kind="measured",
        peak_flops_per_s=PeakFlops(
            fp32=_peak(profile, "fp32"), bf16=_peak(profile, "bf16"), fp16=_peak(profile, "fp16")
        ),
        memory_bytes=profile.memory_bytes,
        memory_bandwidth_bytes_per_s=profile.memory_bandwidth_bytes_per_s.value,
        sources=[src],
        notes="measured profile; peaks are achieved (sustained) figures, not datasheet peaks",
    )


def profile_from_accelerator(
    acc: Accelerator, hw: HardwareEfficiency, profile_id: str, day: dt.date
) -> HardwareProfile:
    """Return a profile holding a catalog accelerator's datasheet peaks and its catalog serving
    efficiencies (a starting point for an endpoint calibration of a GPU flopbill did not measure)."""
    ref = "; ".join(f"{src.ref} (checked {src.checked})" for src in acc.sources[:2]) or "catalog"
    peaks = {
        k: Measured(value=float(v), method=f"datasheet dense peak: {ref}")
        for k, v in (("fp32", acc.peak_flops_per_s.fp32), ("bf16", acc.peak_flops_per_s.bf16))
        if v
    }
    if acc.peak_flops_per_s.fp16:
        peaks["fp16"] = Measured(
            value=float(acc.peak_flops_per_s.fp16), method=f"datasheet dense peak: {ref}"
        )
    if acc.memory_bandwidth_bytes_per_s is None or not peaks:
        raise InputError("--gpu", acc.id, "an accelerator whose peak FLOP/s and bandwidth are known")
    return HardwareProfile(
        id=profile_id,
        name=acc.name,
        device="cuda",
        measured_on=day,
        machine={"vendor": acc.vendor, "accelerator": acc.id},
        matmul_flops_per_s=peaks,
        memory_bandwidth_bytes_per_s=Measured(
            value=acc.memory_bandwidth_bytes_per_s, method=f"datasheet: {ref}"
        ),
        memory_bytes=acc.memory_bytes,
        efficiency=Efficiencies(
            eta_flops=hw.eta_flops.value,
            eta_attention=hw.eta_flops.value,
            eta_bw=hw.eta_bw.value,
            overhead_s_per_step=0.0,
            overhead_s_per_layer=0.0,
            overlap=True,
            method=f"catalog serving efficiencies of {acc.id}: η_flops {hw.eta_flops.ref}; "
            f"η_bw {hw.eta_bw.ref}",
        ),
        notes=f"datasheet figures of the catalog accelerator {acc.id}, not measured",
    )


def efficiency_from_profile(profile: HardwareProfile) -> HardwareEfficiency:
    """Return the profile's efficiencies in the serving estimator's form."""
    eff = profile.efficiency
    ref = f"{eff.method} ({profile.name})"
    day = profile.measured_on
    return HardwareEfficiency(
        id=profile.id,
        accelerators=[profile.id],
        eta_flops=Sourced(value=eff.eta_flops, ref=ref, checked=day),
        eta_bw=Sourced(
            value=eff.serving_eta_bw or eff.eta_bw,
            ref=f"{eff.serving_method} ({profile.name})" if eff.serving_eta_bw else ref,
            checked=day,
        ),
        allreduce_latency_s=Sourced(value=0.0, ref="one device: no all-reduce", checked=day),
    )


#: Efficiencies of the profiles loaded so far, by accelerator id (a cache filled by :func:`load_profile`).
_LOADED: dict[str, HardwareEfficiency] = {}
#: Engine step overheads fitted from endpoint runs, with their method, by accelerator id (same cache).
_STEP_OVERHEAD: dict[str, tuple[float, str]] = {}


@functools.cache
def _load(path: str, mtime_ns: int) -> HardwareProfile:
    return read_profile(path)


def load_profile(path: Path | str) -> HardwareProfile:
    """Return the profile at ``path`` (cached per file version) and remember its efficiencies by id."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError("--gpu", str(path), "a catalog accelerator id or an existing hardware profile file")
    profile = _load(str(p.resolve()), p.stat().st_mtime_ns)
    _LOADED[profile.id] = efficiency_from_profile(profile)
    over = profile.efficiency.serving_overhead_s_per_step
    if over is None:
        _STEP_OVERHEAD.pop(profile.id, None)
    else:
        _STEP_OVERHEAD[profile.id] = (over, f"{profile.efficiency.serving_method} ({profile.name})")
    return profile


def is_profile_reference(name: str) -> bool:
    """True when ``name`` names a profile file (``*.yaml``/``*.yml``), or is ``this-machine`` and its
    profile file exists (else ``this-machine`` is the catalog's placeholder, every figure unknown)."""
    if name.strip().lower() == THIS_MACHINE:
        return this_machine_path().is_file()
    return name.endswith((".yaml", ".yml"))


def this_machine_path() -> Path:
    """Return the profile file ``this-machine`` means: ``$FLOPBILL_PROFILE``, else
    ``~/.config/flopbill/this-machine.yaml``."""
    env = os.environ.get(PROFILE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".config" / "flopbill" / "this-machine.yaml"


def profile_accelerator(name: str) -> Accelerator:
    """Return the accelerator of a profile file, or of ``this-machine``'s profile."""
    path = this_machine_path() if name.strip().lower() == THIS_MACHINE else Path(name)
    return accelerator_from_profile(load_profile(path))


def profile_step_overhead(accelerator_id: str) -> tuple[float, str] | None:
    """Return the engine step overhead (s) a loaded, endpoint-calibrated profile fitted, with its method;
    ``None`` for other accelerators."""
    return _STEP_OVERHEAD.get(accelerator_id)


def profile_efficiency(accelerator_id: str) -> HardwareEfficiency | None:
    """Return the efficiencies of a loaded profile's accelerator, or ``None`` for catalog accelerators."""
    return _LOADED.get(accelerator_id)
