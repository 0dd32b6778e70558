"""The fitted MFU model: feature arithmetic by hand, recovery of known parameters, distillation weighting."""

from __future__ import annotations

import math

import pytest

from flopbill.catalog import accelerator, model
from flopbill.catalog.defaults import fitted_mfu_model, machine_balance, mfu_model_range
from flopbill.catalog.mfu_model import MfuPoint, feature, fit_mfu_model
from flopbill.estimate.training.inputs import resolve_training_setup
from flopbill.estimate.training.stages import Stage, StageConfig


def test_h100_balance_and_feature_by_hand() -> None:
    """H100 SXM: 989.4e12 FLOP/s bf16 dense / 3.35e12 B/s = 295.3 FLOP/B (NVIDIA H100 datasheet figures);
    Llama 3.1 8B d_model 4096 → x = 295.3 / 4096 = 0.0721."""
    balance = machine_balance(accelerator("h100-sxm"))
    assert balance == pytest.approx(989.4e12 / 3.35e12, rel=1e-3)
    assert feature(balance or 0.0, 4096) == pytest.approx(0.0721, abs=1e-4)


def test_fit_recovers_known_parameters() -> None:
    """Points made exactly from m_a = 0.5, m_b = 0.3, k = 10 are fitted back with zero residuals."""
    points = [
        MfuPoint(f"{g}{i}", g, x, m / (1 + 10 * x))
        for g, m in (("a", 0.5), ("b", 0.3))
        for i, x in enumerate((0.01, 0.03, 0.06))
    ]
    fit = fit_mfu_model(points, [i * 0.5 for i in range(61)], 0.8, 1.47)
    assert fit.k == 10
    assert fit.ceilings["a"] == pytest.approx(0.5) and fit.ceilings["b"] == pytest.approx(0.3)
    assert max(abs(r) for r in fit.residuals.values()) < 1e-9
    assert fit.range_factor == pytest.approx(1.0)


def test_small_models_on_fast_chips_get_lower_mfu() -> None:
    """Same accelerator, narrower model → larger x → lower expected MFU; range = ×/÷ the fitted factor."""
    acc = accelerator("h100-sxm")
    small, big = mfu_model_range(acc, 2048), mfu_model_range(acc, 16384)
    assert small is not None and big is not None
    assert small.expected < big.expected
    f = fitted_mfu_model().range_factor
    assert small.high / small.expected == pytest.approx(f) and small.expected / small.low == pytest.approx(f)
    assert "d_model 2048" in small.basis


def test_distillation_mfu_is_flop_weighted_between_student_and_teacher() -> None:
    """Llama 3.2 1B student (d 2048), Llama 3.1 8B teacher (d 4096): MFU = (3F_s + F_t)/(3F_s/M_s + F_t/M_t)
    lies between M_s and M_t; F ≈ 2N per token, so with N_s ≈ 1.24e9 and N_t ≈ 8.0e9 the teacher weight
    F_t/(3F_s+F_t) ≈ 16/(7.4+16) ≈ 0.68 pulls it toward the teacher's."""
    acc = accelerator("h100-sxm")
    student, teacher = model("llama-3.2-1b"), model("llama-3.1-8b")
    cfg = StageConfig(stage=Stage.DISTILL, teacher=teacher)
    setup = resolve_training_setup(student, acc, n_gpus=64, tokens=1e12, seq_len=8192, stage=cfg)
    ms, mt = mfu_model_range(acc, 2048), mfu_model_range(acc, 4096)
    assert ms is not None and mt is not None
    assert ms.expected < setup.mfu.expected < mt.expected
    share_teacher = (setup.mfu.expected - ms.expected) / (mt.expected - ms.expected)
    assert 0.5 < share_teacher < 0.9
    assert math.isclose(setup.mfu.high / setup.mfu.expected, fitted_mfu_model().range_factor, rel_tol=0.02)
