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
    eta_bw: Sourced = Field(description="fraction of peak memory bandwidth reached by decode reads")
    allreduce_latency_s: Sourced = Field(description="fixed latency of one small all-reduce, s")


class EngineProfile(Strict):
    """Per-engine runtime figures: step overhead, memory reserve, scheduler limits."""

    id: str
    name: str
    overhead_s_per_step: Sourced = Field(description="CPU/scheduling/launch time per forward step, s")
    memory_reserve_fraction: Sourced = Field(description="device memory the runtime keeps out of reach")
    max_batch_sequences: Sourced = Field(description="default cap on concurrent sequences")
    prefill_chunk_tokens: Sourced = Field(description="tokens per forward step (chunked prefill budget)")


class EfficiencyCatalog(Strict):
    """The serving efficiency file."""

    about: str
    default_hardware: str
    default_engine: str
    accuracy_band: Sourced = Field(description="relative error band reported around serving estimates")
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


def engine_profile(engine: str | None = None) -> EngineProfile:
    """Return an engine profile by id (``None`` → the default engine), or raise with close matches."""
    cat = _builtin()
    key = (engine or cat.default_engine).strip().lower()
    table = {e.id: e for e in cat.engines}
    if key not in table:
        raise UnknownNameError("engine", key, table)
    return table[key]


def accuracy_band() -> Sourced:
    """Return the relative error band (fraction) flopbill reports around serving estimates, sourced."""
    return _builtin().accuracy_band


def engines() -> list[EngineProfile]:
    """Return every engine profile."""
    return list(_builtin().engines)
