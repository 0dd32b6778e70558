"""``flopbill calibrate MEASUREMENTS.json...``: fit a hardware profile's efficiencies to measurements."""

from __future__ import annotations

from pathlib import Path

import typer

from flopbill.catalog.profile import load_profile, write_profile
from flopbill.cli.app import JSON_OPTION, app, console, make_table, print_json
from flopbill.errors import InputError
from flopbill.measure.calibrate import NAMES
from flopbill.measure.calibrate import calibrate as fit_profile
from flopbill.measure.documents import document_profile, observations, read_document


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@app.command("calibrate")
def calibrate(
    measurements: list[Path] = typer.Argument(..., help="JSON files from `flopbill measure model --json`"),
    profile: str | None = typer.Option(
        None, "--profile", help="profile to calibrate (default: the first file's)"
    ),
    out: Path | None = typer.Option(None, "--out", help="write the calibrated profile (YAML) here"),
    holdout_every: int = typer.Option(3, "--holdout-every", help="hold out every k-th row (0: none)"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Fit η_flops, η_attention, η_bw and overheads by least squares; show held-out error before/after."""
    docs = [read_document(p) for p in measurements]
    obs = [o for p, d in zip(measurements, docs, strict=True) for o in observations(d, p)]
    base = load_profile(profile) if profile else document_profile(docs[0], measurements[0])
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

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    console.print(
        f"mean |error|: in-sample ({res.n_fit} rows) {pct(res.fit_error_before)} → "
        f"{pct(res.fit_error_after)}; held out ({res.n_holdout} rows) {pct(res.holdout_error_before)} → "
        f"{pct(res.holdout_error_after)}"
    )
    if out is not None:
        console.print(f"calibrated profile written to {out}; use it as --gpu {out}")
