"""Serving efficiency defaults: achievable fractions of peak, per-step overhead, runtime memory reserve.

Read from ``catalog/data/serving_efficiency.yaml``. Every figure carries its source and checked date.
An accelerator without its own entry gets the ``default`` profile, and the lookup says so
(``measured=False``) so estimates can label the result an extrapolation.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from flopbill.catalog.schema import Sourced, Strict
from flopbill.errors import CatalogError, UnknownNameError


class HardwareEfficiency(Strict):
    """Achievable fractions of a class of accelerators' datasheet peaks in LLM serving."""

    id: str
    accelerators: list[str] = Field(description="accelerator ids this profile applies to")
    eta_flops: Sourced = Field(description="fraction of dense peak FLOP/s reached by serving matmuls")
    eta_flops_by_dtype: dict[str, Sourced] = Field(
        default_factory=dict,
        description="eta_flops for a compute format where it differs (bf16, fp8, ...); others use eta_flops",
    )
    eta_bw: Sourced = Field(description="fraction of peak memory bandwidth reached by decode reads")
    allreduce_latency_s: Sourced = Field(description="fixed latency of one small all-reduce, s")
    device_memory_mib: dict[str, Sourced] = Field(
        default_factory=dict,
        description="memory the driver reports per accelerator id (MiB, binary), where publicly reported",
    )

    def eta_flops_for(self, compute_dtype: str) -> float:
        """Return the serving matmul efficiency for a compute format (``eta_flops`` unless listed)."""
        entry = self.eta_flops_by_dtype.get(compute_dtype)
        return self.eta_flops.value if entry is None else entry.value

    def memory_bytes(self, accelerator_id: str, datasheet_bytes: float | None) -> float | None:
        """Return device memory in bytes: the driver-reported MiB · 2^20 if listed, else the datasheet's."""
        mib = self.device_memory_mib.get(accelerator_id)
        return datasheet_bytes if mib is None else mib.value * 2.0**20


class EngineProfile(Strict):
    """Per-engine runtime figures: step overhead, memory reserve, scheduler limits."""

    id: str
    name: str
    overhead_s_per_step: Sourced = Field(description="CPU/scheduling/launch time per forward step, s")
    memory_reserve_fraction: Sourced = Field(description="device memory the runtime keeps out of reach")
    kv_free_fraction: Sourced | None = Field(
        default=None,
        description="fraction of the memory left after weights and activations given to the KV cache "
        "(TensorRT-LLM kv_cache_free_gpu_mem_fraction); None: all of it",
    )
    kernel_floor_s: Sourced | None = Field(
        default=None, description="shortest GPU time of one decode kernel replayed from a CUDA graph, s"
    )
    eager_kernel_floor_s: Sourced | None = Field(
        default=None, description="least time per decode kernel launched eagerly (no CUDA graph), s"
    )
    kernel_launch_s: Sourced | None = Field(
        default=None,
        description="GPU idle time between two kernels of a step replayed from a CUDA graph (launch and "
        "set-up of the next kernel), s; added per kernel",
    )
    max_batch_sequences: Sourced = Field(description="default cap on concurrent sequences")
    prefill_chunk_tokens: Sourced = Field(description="tokens per forward step (chunked prefill budget)")


class EpImbalance(Strict):
    """A published expert-parallel load imbalance and the deployment it was measured on."""

    ratio: Sourced = Field(description="(max - mean) / mean routed tokens per EP rank, averaged over layers")
    reference_ep: int = Field(gt=1, description="EP ranks of the measurement")
    reference_experts_per_rank: float = Field(gt=0, description="routed experts each rank held")


class EfficiencyCatalog(Strict):
    """The serving efficiency file."""

    about: str
    default_hardware: str
    default_engine: str
    accuracy_band: Sourced = Field(description="relative error band reported around dense-model estimates")
    accuracy_band_moe: Sourced | None = Field(
        default=None, description="relative error band for mixture-of-experts models (None: accuracy_band)"
    )
    moe_ep_imbalance: EpImbalance | None = Field(
        default=None, description="expert load imbalance across EP ranks without a load balancer (None: none)"
    )
    hardware: list[HardwareEfficiency]
    engines: list[EngineProfile]


@functools.cache
def _builtin() -> EfficiencyCatalog:
    ref = resources.files("flopbill.catalog.data") / "serving_efficiency.yaml"
    return load_efficiency_file(Path(str(ref)))


def load_efficiency_file(path: Path | str) -> EfficiencyCatalog:
    """Return a validated efficiency catalog read from a YAML file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return EfficiencyCatalog.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogError(f"{path}: invalid serving efficiency file: {exc}") from None


def hardware_efficiency(accelerator_id: str) -> tuple[HardwareEfficiency, bool]:
    """Return the efficiency profile for an accelerator and whether it was measured on that class.

    Falls back to the ``default_hardware`` profile (``False``) for accelerators no profile lists. A
    measured hardware profile loaded as an accelerator returns its own efficiencies (``True``).
    """
    from flopbill.catalog.profile import profile_efficiency

    measured = profile_efficiency(accelerator_id)
    if measured is not None:
        return measured, True
    cat = _builtin()
    for prof in cat.hardware:
        if accelerator_id in prof.accelerators:
            return prof, True
    fallback = next(p for p in cat.hardware if p.id == cat.default_hardware)
    return fallback, False


def engine_profile(engine: str | None = None, accelerator_id: str | None = None) -> EngineProfile:
    """Return an engine profile by id (``None`` → the default engine), or raise with close matches.

    With ``accelerator_id`` of a loaded hardware profile calibrated from `measure endpoint` runs, the
    per-step overhead is the one fitted there (:func:`flopbill.catalog.profile.profile_step_overhead`).
    """
    cat = _builtin()
    key = (engine or cat.default_engine).strip().lower()
    table = {e.id: e for e in cat.engines}
    if key not in table:
        raise UnknownNameError("engine", key, table)
    found = table[key]
    if accelerator_id is not None:
        from flopbill.catalog.profile import profile_step_overhead

        fitted = profile_step_overhead(accelerator_id)
        if fitted is not None:
            over = Sourced(value=fitted[0], ref=fitted[1], checked=found.overhead_s_per_step.checked)
            found = found.model_copy(update={"overhead_s_per_step": over})
    return found


def accuracy_band(moe: bool = False) -> Sourced:
    """Return the relative error band (fraction) flopbill reports around serving estimates, sourced.

    Out-of-sample: the 80th percentile of |error| over the holdout sources' dense rows (``moe=False``)
    or MoE rows (``moe=True``) of the golden serving cases.
    """
    cat = _builtin()
    return cat.accuracy_band_moe if moe and cat.accuracy_band_moe is not None else cat.accuracy_band


def engines() -> list[EngineProfile]:
    """Return every engine profile."""
    return list(_builtin().engines)


def ep_imbalance() -> EpImbalance | None:
    """Return the built-in expert-parallel load imbalance figure (``moe_ep_imbalance``), if any."""
    return _builtin().moe_ep_imbalance
