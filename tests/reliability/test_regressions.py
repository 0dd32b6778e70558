"""Regression corpus: every bad input found by a hostile run (issue #9), each a clear one-line error.

Each case asserts exit code 2, no traceback, one message on stderr naming the field (``needle``),
and nothing on stdout that claims a result.
"""

from __future__ import annotations

import pytest
from tests.reliability.conftest import RunSafe

M8B = ["--model", "llama-3.1-8b", "--gpu", "h100-sxm"]
TRAIN = ["train", "-m", "llama-3.1-8b", "-t", "1T", "--gpu", "h100-sxm", "--gpus", "8"]
API = [
    "api",
    "--model",
    "gpt-4o",
    "--input-tokens",
    "1000",
    "--output-tokens",
    "100",
    "--requests-per-day",
    "1k",
]

CLI_CASES: list[tuple[list[str], str]] = [
    (["model", "llama-3.1-8b", "--context", "1e999"], "--context"),
    (["model", "llama-3.1-8b", "--context", "10M"], "--context"),
    (["model", "llama-3.1-8b", "--context", "nan"], "--context"),
    (["model", "--params", "8B", "--layers", "-1", "--hidden", "4096"], "--layers"),
    (["model", "--params", "1e999", "--layers", "32", "--hidden", "4096"], "--params"),
    (["model", "--params", "8B", "--layers", "32", "--hidden", "0"], "--hidden"),
    (["model", "x" * 20_000], "model"),
    (["model", "--params", "3541774862154643800065", "--layers", "32", "--hidden", "4096"], "--params"),
    ([*TRAIN, "--seq-len", "1e999"], "--seq-len"),
    ([*TRAIN, "--seq-len", "10M"], "--seq-len"),
    ([*TRAIN, "--tokens", "1e999"], "--tokens"),
    ([*TRAIN, "--tp", "0"], "--tp"),
    ([*TRAIN, "--price-per-gpu-hour", "-2"], "--price-per-gpu-hour"),
    ([*TRAIN, "--price-per-gpu-hour", "nan"], "--price-per-gpu-hour"),
    ([*TRAIN, "--pricing", "free"], "--pricing"),
    ([*TRAIN, "--mfu", "nan"], "--mfu"),
    (["train", "--optimal", "--budget-flops", "1e999"], "--budget-flops"),
    (["serve", *M8B, "--batch", "1e999"], "--batch"),
    (["serve", *M8B, "--reasoning-multiplier", "nan"], "--reasoning-multiplier"),
    (["serve", *M8B, "--slo-ttft", "nan"], "--slo-ttft"),
    (["serve", *M8B, "--slo-ttft", "-1"], "--slo-ttft"),
    (["serve", *M8B, "--slo-ttft", "0"], "--slo-ttft"),
    (["serve", *M8B, "--utilization", "0"], "--utilization"),
    (["serve", *M8B, "--tp", "0"], "--tp"),
    (["serve", *M8B, "--gpus", "1e12"], "--gpus"),
    (["serve", *M8B, "--price-per-gpu-hour", "-2"], "--price-per-gpu-hour"),
    (["serve", *M8B, "--pricing", "free"], "--pricing"),
    (["serve", *M8B, "--input-tokens", "1e999"], "--input-tokens"),
    (["serve", *M8B, "--samples", "1000000000"], "--samples"),
    (["serve", "--model", "llama-3.1-8b", "--search", "--input-tokens", "200k"], "--input-tokens"),
    (["serve", "--model", "llama-3.1-8b", "--search", "--top", "-5"], "--top"),
    (["serve", "--model", "llama-3.1-8b", "--search", "--rps", "1e-320"], "--rps"),
    (
        ["serve", "--model", "llama-3.1-8b", "--search", "--rps", "5", "--utilization", "1e-300"],
        "--utilization",
    ),
    ([*API, "--days-per-month", "nan"], "--days-per-month"),
    ([*API, "--days-per-month", "0"], "--days-per-month"),
    ([*API, "--at", "0001-01-01"], "--at"),
    ([*API, "--requests-per-day", "1e999"], "--requests-per-day"),
    ([*API, "--input-tokens", "inf"], "--input-tokens"),
]


@pytest.mark.parametrize(("args", "needle"), CLI_CASES, ids=[" ".join(a)[:60] for a, _ in CLI_CASES])
def test_bad_cli_input_is_one_line_naming_the_field(run_safe: RunSafe, args: list[str], needle: str) -> None:
    got = run_safe(args)
    assert got.crash is None, got.crash
    assert got.code == 2, (got.out[-500:], got.err)
    assert needle in got.err, got.err
    assert "Traceback" not in got.err
    assert len(got.err.strip().splitlines()) <= 3, got.err
