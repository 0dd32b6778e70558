"""Invariants of the training estimator (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flopbill.catalog import accelerator, model
from flopbill.estimate.training.cost import TrainingEstimate, estimate_training
from flopbill.estimate.training.inputs import resolve_training_setup
from flopbill.estimate.training.memory import ParallelPlan
from flopbill.estimate.training.stages import Stage, StageConfig

MODELS = ("llama-3.1-8b", "llama-2-7b", "qwen3-30b-a3b", "gpt-2-124m")
tokens_st = st.floats(min_value=1e6, max_value=1e14)
price_st = st.floats(min_value=0.1, max_value=20.0)
mfu_st = st.floats(min_value=0.05, max_value=0.9)


def _est(
    model_id: str,
    tokens: float,
    gpus: int = 8,
    price: float = 2.0,
    mfu: float = 0.4,
    stage: Stage = Stage.PRETRAIN,
) -> TrainingEstimate:
    return estimate_training(
        resolve_training_setup(
            model(model_id),
            accelerator("h100-sxm"),
            n_gpus=gpus,
            tokens=tokens,
            seq_len=2048,
            mfu=(mfu, mfu, mfu),
            price=(price, price, price),
            stage=StageConfig(stage=stage),
            plan=ParallelPlan(n_gpus=gpus),
        )
    )


@given(st.sampled_from(MODELS), tokens_st, st.floats(min_value=1.1, max_value=10.0), price_st)
def test_cost_linear_in_tokens_and_price(model_id: str, tokens: float, k: float, price: float) -> None:
    base = _est(model_id, tokens, price=price)
    more = _est(model_id, tokens * k, price=price)
    dearer = _est(model_id, tokens, price=price * k)
    assert base.cost_usd is not None and more.cost_usd is not None and dearer.cost_usd is not None
    assert more.cost_usd.expected == pytest.approx(base.cost_usd.expected * k, rel=1e-9)
    assert dearer.cost_usd.expected == pytest.approx(base.cost_usd.expected * k, rel=1e-9)


@given(st.sampled_from(MODELS), tokens_st, st.integers(min_value=1, max_value=4096))
def test_gpu_count_never_changes_flops(model_id: str, tokens: float, gpus: int) -> None:
    assert _est(model_id, tokens, gpus=gpus).flops == _est(model_id, tokens, gpus=1).flops


@given(st.sampled_from(MODELS), tokens_st, st.integers(min_value=1, max_value=2048), mfu_st)
def test_days_fall_as_gpus_rise_at_fixed_mfu(model_id: str, tokens: float, gpus: int, mfu: float) -> None:
    few, many = _est(model_id, tokens, gpus=gpus, mfu=mfu), _est(model_id, tokens, gpus=gpus * 2, mfu=mfu)
    assert many.wall_clock_days.expected < few.wall_clock_days.expected
    assert many.gpu_hours.expected == pytest.approx(few.gpu_hours.expected)


@given(st.sampled_from(MODELS), tokens_st)
def test_lora_cheaper_than_full_fine_tuning(model_id: str, tokens: float) -> None:
    lora, full = _est(model_id, tokens, stage=Stage.LORA), _est(model_id, tokens, stage=Stage.SFT)
    assert lora.cost_usd is not None and full.cost_usd is not None
    assert lora.cost_usd.expected < full.cost_usd.expected
    assert lora.memory.total_bytes < full.memory.total_bytes


@given(st.sampled_from(MODELS), tokens_st)
def test_dpo_costs_more_than_sft_on_the_same_pairs(model_id: str, pair_tokens: float) -> None:
    """SFT trains on the chosen half of each pair; DPO runs policy fwd+bwd on both + reference fwd."""
    dpo, sft = _est(model_id, pair_tokens, stage=Stage.DPO), _est(model_id, pair_tokens / 2, stage=Stage.SFT)
    assert dpo.cost_usd is not None and sft.cost_usd is not None
    assert dpo.cost_usd.expected > sft.cost_usd.expected


@given(st.sampled_from(MODELS), tokens_st)
def test_ranges_are_ordered(model_id: str, tokens: float) -> None:
    est = estimate_training(
        resolve_training_setup(
            model(model_id), accelerator("a100-80gb"), n_gpus=64, tokens=tokens, seq_len=4096
        )
    )
    for r in (est.gpu_hours, est.wall_clock_days, est.cost_usd, est.energy_kwh, est.co2e_kg):
        assert r is not None and 0 < r.low <= r.expected <= r.high
    assert 0 < est.mfu.low <= est.mfu.high <= 1
