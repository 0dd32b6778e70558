"""flopbill: what AI costs — training and inference compute, time, dollars and energy, with sources.

The public API, importable from ``flopbill`` directly (loaded lazily, so ``import flopbill`` stays cheap)::

    import flopbill

    m = flopbill.model("llama-3.1-70b")
    flopbill.param_counts(m).total                 # 70_553_706_496
    flopbill.kv_bytes_per_token(m, "bf16")         # 327_680 bytes
    result = flopbill.project(flopbill.load_scenario("examples/chatbot.yaml"))

Everything below lives in a submodule (``flopbill.catalog``, ``flopbill.estimate.*``, ``flopbill.scenario.*``,
``flopbill.report``); this module only re-exports it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # catalogs
    "model": "flopbill.catalog",
    "models": "flopbill.catalog",
    "accelerator": "flopbill.catalog",
    "accelerators": "flopbill.catalog",
    "resolve_model": "flopbill.catalog",
    "model_from_hf_config": "flopbill.catalog",
    "model_from_shorthand": "flopbill.catalog",
    "ModelSpec": "flopbill.catalog",
    "Accelerator": "flopbill.catalog",
    # transformer arithmetic
    "param_counts": "flopbill.estimate.core.architecture",
    "forward_flops_per_token": "flopbill.estimate.core.architecture",
    "training_flops_per_token": "flopbill.estimate.core.architecture",
    "weight_bytes": "flopbill.estimate.core.architecture",
    "kv_bytes_per_token": "flopbill.estimate.core.architecture",
    "kv_cache_bytes": "flopbill.estimate.core.architecture",
    "expected_experts_touched": "flopbill.estimate.core.architecture",
    # training
    "resolve_training_setup": "flopbill.estimate.training.inputs",
    "estimate_training": "flopbill.estimate.training.cost",
    # serving
    "ServingOptions": "flopbill.estimate.serving.deployment",
    "estimate_serving": "flopbill.estimate.serving.deployment",
    # API prices and economics
    "api_price": "flopbill.estimate.pricing.api",
    "api_request_cost_usd": "flopbill.estimate.pricing.api",
    "break_even_requests_per_month": "flopbill.estimate.pricing.fleet",
    "crossover_month": "flopbill.estimate.pricing.economics",
    # scenarios and reports
    "load_scenario": "flopbill.scenario.loader",
    "project": "flopbill.scenario.projection",
    "render_html": "flopbill.report",
    # fleet simulation
    "simulate": "flopbill.simulate",
    "load_simulation_spec": "flopbill.simulate",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """Import a public name from its home module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flopbill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
