"""``flopbill train`` and ``flopbill validate training`` from the command line."""

from __future__ import annotations

import json

import pytest

REQUIRED = (
    "flops",
    "gpu_hours",
    "gpu_hours_low",
    "gpu_hours_high",
    "wall_clock_days",
    "cost_usd",
    "energy_kwh",
    "co2e_kg",
    "mfu",
    "memory_per_gpu_bytes",
    "fits",
)


def test_json_has_the_documented_keys(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        ["train", "--model", "llama-3.1-8b", "--tokens", "15T", "--gpus", "1024", "--json"]
    )
    assert code == 0, err
    data = json.loads(out)
    for key in REQUIRED:
        assert key in data
    assert data["gpu_hours_low"] <= data["gpu_hours"] <= data["gpu_hours_high"]


def test_table_output_and_mfu_range(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(
        [
            "train",
            "-m",
            "llama-2-7b",
            "-t",
            "2T",
            "--gpu",
            "a100-80gb",
            "--gpus",
            "64",
            "--mfu",
            "0.35..0.5",
            "--price-per-gpu-hour",
            "2",
        ]
    )
    assert code == 0
    assert "GPU-hours" in out and "Memory per GPU" in out and "35.0%" in out


def test_transformer_big_worked_example(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Vaswani et al. 2017: 3.5 days on 8 P100; flopbill's default range must contain 3.5 days."""
    code, out, err = run_cli(
        [
            "train",
            "-m",
            "transformer-big",
            "-t",
            "7.5B",
            "--seq-len",
            "128",
            "--gpu",
            "p100",
            "--gpus",
            "8",
            "--dtype",
            "fp32",
            "--json",
        ]
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["wall_clock_days_low"] <= 3.5 <= d["wall_clock_days_high"]


def test_gpt4_class_run_costs_over_100m(run_cli) -> None:  # type: ignore[no-untyped-def]
    """~25,000 A100 for ~95 days at $2/GPU-hour: 25,000 × 95 × 24 × $2 = $114M. flopbill, given the time via
    tokens at MFU 0.35, must report > $100M: 2.0e25 FLOPs-class run."""
    code, out, err = run_cli(
        [
            "train",
            "--params",
            "280B",
            "--layers",
            "120",
            "--hidden",
            "16384",
            "-t",
            "12T",
            "--gpu",
            "a100-80gb",
            "--gpus",
            "25000",
            "--mfu",
            "0.35",
            "--price-per-gpu-hour",
            "2",
            "--zero",
            "1",
            "--tp",
            "8",
            "--pp",
            "25",
            "--json",
        ]
    )
    assert code == 0, err
    d = json.loads(out)
    assert 90 <= d["wall_clock_days"] <= 110
    assert d["cost_usd"] > 100e6


def test_lifecycle_of_stages(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        [
            "train",
            "-m",
            "llama-3.1-8b",
            "--stage",
            "sft:1B",
            "--stage",
            "dpo:200M",
            "--stage",
            "grpo:100M",
            "--gpus",
            "8",
            "--zero",
            "3",
            "--json",
        ]
    )
    assert code == 0, err
    d = json.loads(out)
    assert [s["stage"] for s in d["stages"]] == ["sft", "dpo", "grpo"]
    assert d["gpu_hours"] == pytest.approx(sum(s["gpu_hours"] for s in d["stages"]))


def test_does_not_fit_is_clear(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(
        [
            "train",
            "-m",
            "llama-2-70b",
            "--stage",
            "sft",
            "-t",
            "1B",
            "--gpu",
            "a100-80gb",
            "--gpus",
            "1",
            "--zero",
            "0",
        ]
    )
    assert code == 0
    assert "DOES NOT FIT" in out


def test_optimal_sizing(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        ["train", "--optimal", "--budget-usd", "1M", "--lifetime-tokens", "2T", "--json"]
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["inference_aware"]["params"] <= d["chinchilla"]["params"]


def test_validate_training_prints_every_case(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["validate", "training"])
    assert code == 0, err
    assert "llama-3.1-405b" in out and "palm-540b" in out and "FAIL" not in out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["-t", "-5T"], "--tokens"),
        (["-t", "1T", "--dtype", "fp7"], "--dtype"),
        (["-t", "1T", "--mfu", "1.5"], "--mfu"),
        (["-t", "1T", "--gpu", "h1000"], "accelerator"),
        (["-t", "1T", "--zero", "5"], "--zero"),
        (["-t", "1T", "--stage", "rlhf-magic"], "--stage"),
        (["-t", "1T", "--recompute", "sometimes"], "--recompute"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(run_cli, args: list[str], field: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(["train", "-m", "llama-3.1-8b", *args])
    assert code == 2
    assert field in err and "Traceback" not in err
