"""Calibration recovers efficiencies that generated the times, and lowers held-out error."""

from __future__ import annotations

import pytest

from flopbill.catalog import model
from flopbill.catalog.profile import Efficiencies
from flopbill.errors import InputError
from flopbill.measure.calibrate import Observation, calibrate, split
from flopbill.measure.predict import Shape, predict_work, scaled_spec, work
from profile_fixtures import h100_like_profile

PEAK = 100e9  # FLOP/s and B/s of a made-up CPU, chosen by hand
BW = 20e9
TRUE = Efficiencies(
    eta_flops=0.8,
    eta_attention=0.3,
    eta_bw=0.45,
    overhead_s_per_step=2e-4,
    overhead_s_per_layer=0.0,
    overlap=False,
    method="truth",
)
SHAPES = [Shape("prefill", 1, n) for n in (64, 128, 256, 512, 1024, 2048)] + [
    Shape("decode", b, 1, c) for b in (1, 2, 4, 8) for c in (128, 1024, 4096)
]


def _observations(eff: Efficiencies, noise: float = 0.0) -> list[Observation]:
    """Times the prediction formula gives with ``eff`` (±``noise`` alternating) for two models of
    different depth and width (one model alone cannot separate per-step overhead from weight reads)."""
    big = model("llama-3.2-1b")
    models = [big, scaled_spec(big, layers=4, hidden=512, vocab=8192)]
    out = []
    for i, (m, s) in enumerate((m, s) for m in models for s in SHAPES):
        w = work(m, s, "fp32")
        t = predict_work(w, PEAK, BW, eff).total_s * (1 + noise * (-1) ** i)
        out.append(Observation(w, t, PEAK, BW, s.phase))
    return out


def _profile(eff: Efficiencies):  # type: ignore[no-untyped-def]
    return h100_like_profile().model_copy(update={"efficiency": eff})


def test_fit_recovers_the_generating_efficiencies() -> None:
    wrong = TRUE.model_copy(
        update={"eta_flops": 1.0, "eta_attention": 1.0, "eta_bw": 1.0, "overhead_s_per_step": 0.0}
    )
    res = calibrate(_observations(TRUE), _profile(wrong), holdout_every=3)
    got = res.efficiencies
    assert got.eta_flops == pytest.approx(0.8, rel=1e-3)
    assert got.eta_bw == pytest.approx(0.45, rel=1e-3)
    assert got.eta_bw_batched == pytest.approx(0.45, rel=1e-3)
    assert got.eta_attention == pytest.approx(0.3, rel=1e-2)
    assert got.overhead_s_per_step == pytest.approx(2e-4, rel=1e-2)
    assert res.holdout_error_after is not None and res.holdout_error_before is not None
    assert res.holdout_error_after < 1e-3 < res.holdout_error_before
    assert got.calibrated and "held-out" in got.method


def test_fit_with_noise_lowers_held_out_error() -> None:
    """±5 % alternating noise on every time: the fit cannot be exact, but held-out error falls from the
    uncalibrated level to about the noise."""
    wrong = TRUE.model_copy(update={"eta_flops": 1.0, "eta_attention": 1.0, "eta_bw": 1.0})
    res = calibrate(_observations(TRUE, noise=0.05), _profile(wrong), holdout_every=3)
    assert res.holdout_error_before is not None and res.holdout_error_after is not None
    assert res.holdout_error_after < 0.08 < res.holdout_error_before


def test_split_is_fixed_before_fitting() -> None:
    obs = _observations(TRUE)
    _fit, held = split(obs, 3)
    assert len(held) == len(obs) // 3 and held[0] is obs[2]
    assert split(obs, 0) == (obs, [])
    with pytest.raises(InputError):
        split(obs, 1)
