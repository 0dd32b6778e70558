"""``flopbill train --optimal``: a FLOP or dollar budget → compute-optimal and inference-aware N, D."""

from __future__ import annotations

from typing import Any

from flopbill.catalog.defaults import training_defaults
from flopbill.catalog.schema import Accelerator, ModelSpec
from flopbill.dtypes import Dtype
from flopbill.errors import InputError
from flopbill.estimate.training.cost import flops_for_budget, peak_flops
from flopbill.estimate.training.inputs import resolve_training_setup
from flopbill.estimate.training.sizing import chinchilla_optimal, inference_aware_optimal
from flopbill.units import format_usd, parse_count

Triple = tuple[float, float, float]


def _placeholder_model() -> ModelSpec:
    from flopbill.catalog import model_from_shorthand

    return model_from_shorthand(7e9, 32, 4096)


def run_sizing(
    acc: Accelerator,
    gpus: int,
    dtype: Dtype,
    budget_usd: str | None,
    budget_flops: str | None,
    lifetime_tokens: str | None,
    fit_name: str | None,
    mfu: Triple | None,
    price: Triple | None,
    pricing: str,
    goodput: Triple | None,
) -> dict[str, Any]:
    """Return the sizing payload: budget in FLOPs, Chinchilla-optimal and (optionally) inference-aware."""
    defaults = training_defaults()
    name = fit_name or defaults.default_scaling_fit
    if name not in defaults.scaling_fits:
        raise InputError("--fit", name, "one of " + ", ".join(sorted(defaults.scaling_fits)))
    fit = defaults.scaling_fits[name]
    notes = [f"loss fit {name}: {fit.ref}"]
    if (budget_usd is None) == (budget_flops is None):
        raise InputError("--budget-usd/--budget-flops", None, "exactly one budget with --optimal")
    if budget_flops is not None:
        flops = parse_count(budget_flops, "--budget-flops")
    else:
        usd = parse_count(str(budget_usd).replace("$", "").replace(",", ""), "--budget-usd")
        if not usd > 0:
            raise InputError("--budget-usd", budget_usd, "a positive dollar budget such as 1M")
        setup = resolve_training_setup(
            _placeholder_model(),
            acc,
            n_gpus=gpus,
            tokens=1.0,
            seq_len=1,
            dtype=dtype,
            mfu=mfu,
            price=price,
            pricing=pricing,
            goodput=goodput,
        )
        if setup.price_usd_per_gpu_hour is None:
            raise InputError("--price-per-gpu-hour", None, f"a price: the snapshot has none for {acc.id}")
        p, m, g = setup.price_usd_per_gpu_hour.expected, setup.mfu.expected, setup.goodput.expected
        flops = float(flops_for_budget(usd, p, peak_flops(acc, dtype), m, g))
        notes.append(
            f"{format_usd(usd)} buys {flops:.3g} model FLOPs on {acc.id} at ${p:.2f}/GPU-hour, "
            f"MFU {m:.2f}, goodput {g:.2f}"
        )
    if not flops > 0:
        raise InputError("--budget-flops", budget_flops, "a positive FLOP budget such as 1e24")
    result: dict[str, Any] = {
        "budget_flops": flops,
        "fit": name,
    }
    d_inf = parse_count(lifetime_tokens, "--lifetime-tokens") if lifetime_tokens is not None else 0.0
    result["chinchilla"] = chinchilla_optimal(fit, flops, name, d_inf)
    if lifetime_tokens is not None:
        result["lifetime_tokens"] = d_inf
        result["inference_aware"] = inference_aware_optimal(fit, flops, d_inf, name)
        notes.append(
            "inference-aware: same loss as the Chinchilla model, least 6·N·D + 2·N·D_inf "
            "(Sardana et al. 2023)"
        )
    result["notes"] = notes
    return result
