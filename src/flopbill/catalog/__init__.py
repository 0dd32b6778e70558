"""Catalogs as data: accelerators, model architectures, GPU-hour prices; typed loaders.

Every entry is sourced and dated in its data file. Lookups of unknown names raise
:class:`~flopbill.errors.UnknownNameError` with the closest matches.
"""

from flopbill.catalog.loader import (
    accelerator,
    accelerators,
    load_hardware_file,
    load_model_file,
    model,
    model_from_hf_config,
    model_from_shorthand,
    models,
    resolve_model,
)
from flopbill.catalog.schema import Accelerator, ModelSpec, PeakFlops, Source

__all__ = [
    "Accelerator",
    "ModelSpec",
    "PeakFlops",
    "Source",
    "accelerator",
    "accelerators",
    "load_hardware_file",
    "load_model_file",
    "model",
    "model_from_hf_config",
    "model_from_shorthand",
    "models",
    "resolve_model",
]
