"""``flopbill calibrate MEASUREMENTS.json...``: fit a hardware profile's efficiencies to measurements.

Two kinds of input: ``measure model --json`` documents (torch models timed on this machine: per-operation
efficiencies and overheads of the profile) and ``measure endpoint`` summaries (a serving engine's decode
η_bw and per-step overhead for one model on one accelerator; ``--model`` and ``--gpu`` name them).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from flopbill.catalog import accelerator, resolve_model
from flopbill.catalog.profile import (
    HardwareProfile,
    accelerator_from_profile,
    efficiency_from_profile,
    is_profile_reference,
    load_profile,
    profile_from_accelerator,
    write_profile,
)
from flopbill.cli.app import JSON_OPTION, app, console, make_table, print_json
from flopbill.errors import InputError
from flopbill.measure.calibrate import NAMES
from flopbill.measure.calibrate import calibrate as fit_profile
from flopbill.measure.documents import check_document, document_profile, observations, read_json


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


@app.command("calibrate")
def calibrate(
    measurements: list[Path] = typer.Argument(
        ..., help="JSON files from `flopbill measure model --json` or `measure endpoint --out-summary`"
    ),
    profile: str | None = typer.Option(
        None, "--profile", help="profile to calibrate (default: the first file's, or --gpu's)"
    ),
    out: Path | None = typer.Option(None, "--out", help="write the calibrated profile (YAML) here"),
    holdout_every: int = typer.Option(3, "--holdout-every", help="hold out every k-th row (0: none)"),
    model_name: str | None = typer.Option(None, "--model", help="endpoint summaries: the model served"),
    layers: int | None = typer.Option(
        None, "--layers", help="endpoint summaries: the model scaled to N layers"
    ),
    hidden: int | None = typer.Option(None, "--hidden", help="endpoint summaries: ... and hidden size H"),
    vocab: int | None = typer.Option(None, "--vocab", help="endpoint summaries: ... and vocabulary V"),
    gpu: str | None = typer.Option(None, "--gpu", help="endpoint summaries: the accelerator id or profile"),
    engine: str | None = typer.Option(None, "--engine", help="endpoint summaries: engine profile"),
    weights: str = typer.Option("bf16", "--weights", help="endpoint summaries: weight format served"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Fit η_flops, η_attention, η_bw and overheads (model measurements) or a serving engine's decode η_bw
    and step overhead (endpoint summaries) by least squares; show held-out error before/after."""
    from flopbill.measure.endpoint_fit import is_endpoint_summary

    docs = [read_json(p) for p in measurements]
    endpoint = [is_endpoint_summary(d) for d in docs]
    if any(endpoint) and not all(endpoint):
        raise InputError("MEASUREMENTS", "mixed", "either model measurements or endpoint summaries, not both")
    if all(endpoint):
        _calibrate_endpoint(
            measurements, docs, profile, out, holdout_every, json_out,
            {"model": model_name, "layers": layers, "hidden": hidden, "vocab": vocab, "gpu": gpu,
             "engine": engine, "weights": weights},
        )  # fmt: skip
        return
    checked = [check_document(d, p) for p, d in zip(measurements, docs, strict=True)]
    obs = [o for p, d in zip(measurements, checked, strict=True) for o in observations(d, p)]
    base = load_profile(profile) if profile else document_profile(checked[0], measurements[0])
    if len(obs) < 2:
        raise InputError("MEASUREMENTS", len(obs), "at least 2 measured rows")
    res = fit_profile(obs, base, holdout_every, ", ".join(p.name for p in measurements))
    new = base.model_copy(update={"efficiency": res.efficiencies})
    if out is not None:
        write_profile(new, out)
    if json_out:
        print_json({"result": res, "profile": new})
        return
    e0, e1 = base.efficiency, res.efficiencies
    rows = [
        [n, _num(getattr(e0, n)), _num(getattr(e1, n)), "fitted" if n in res.fitted else "kept"]
        for n in NAMES
    ]
    console.print(make_table("Calibration", ["factor", "before", "after", ""], rows))
    console.print(
        f"mean |error|: in-sample ({res.n_fit} rows) {_pct(res.fit_error_before)} → "
        f"{_pct(res.fit_error_after)}; held out ({res.n_holdout} rows) {_pct(res.holdout_error_before)} → "
        f"{_pct(res.holdout_error_after)}"
    )
    if out is not None:
        console.print(f"calibrated profile written to {out}; use it as --gpu {out}")


def _calibrate_endpoint(
    paths: list[Path],
    docs: list[Any],
    profile: str | None,
    out: Path | None,
    holdout_every: int,
    json_out: bool,
    kw: dict[str, Any],
) -> None:
    from flopbill.catalog.efficiency import engine_profile
    from flopbill.dtypes import parse_dtype
    from flopbill.measure.endpoint_fit import Deployment, endpoint_run, fit_endpoint
    from flopbill.measure.predict import scaled_spec

    if kw["model"] is None or (kw["gpu"] is None and profile is None):
        raise InputError("--model/--gpu", None, "the model served and its accelerator (id or profile)")
    m = resolve_model(kw["model"])
    if kw["layers"] or kw["hidden"] or kw["vocab"]:
        m = scaled_spec(m, kw["layers"], kw["hidden"], kw["vocab"])
    base = _base_profile(profile or kw["gpu"])
    # predicted exactly as `--gpu OUT.yaml` will predict: the profile as an accelerator, its efficiencies
    acc = accelerator_from_profile(base)
    eng = engine_profile(kw["engine"])
    dep = Deployment(m, acc, efficiency_from_profile(base), eng, parse_dtype(kw["weights"], "--weights"))
    runs = [endpoint_run(d, p.name) for p, d in zip(paths, docs, strict=True)]
    res = fit_endpoint(dep, runs, holdout_every, ", ".join(p.name for p in paths))
    update: dict[str, Any] = {"serving_eta_bw": res.eta_bw, "serving_method": res.method, "calibrated": True}
    if "serving_overhead_s_per_step" in res.fitted:
        update["serving_overhead_s_per_step"] = res.overhead_s_per_step
    new = base.model_copy(update={"efficiency": base.efficiency.model_copy(update=update)})
    if out is not None:
        write_profile(new, out)
    if json_out:
        print_json({"result": res, "profile": new})
        return
    rows = [
        ["serving η_bw", _num(dep.efficiency.eta_bw.value), _num(res.eta_bw), "fitted"],
        [
            "engine step overhead (s)",
            _num(dep.engine.overhead_s_per_step.value),
            _num(res.overhead_s_per_step),
            "fitted" if "serving_overhead_s_per_step" in res.fitted else "kept",
        ],
    ]
    console.print(
        make_table(f"Endpoint calibration: {m.id} on {acc.id}", ["factor", "before", "after", ""], rows)
    )
    console.print(
        f"mean |TPOT error|: in-sample ({res.n_fit} runs) {_pct(res.fit_error_before)} → "
        f"{_pct(res.fit_error_after)}; held out ({res.n_holdout} runs) {_pct(res.holdout_error_before)} → "
        f"{_pct(res.holdout_error_after)}"
    )
    if out is not None:
        console.print(f"calibrated profile written to {out}; use it as --gpu {out}")


def _base_profile(name: str) -> HardwareProfile:
    """Return the profile to calibrate: a profile file, or a catalog accelerator's figures as one."""
    if is_profile_reference(name):
        return load_profile(name)
    from flopbill.catalog.efficiency import hardware_efficiency

    acc = accelerator(name)
    return profile_from_accelerator(
        acc, hardware_efficiency(acc.id)[0], f"{acc.id}-calibrated", dt.date.today()
    )
