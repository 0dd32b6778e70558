"""Bad input anywhere in the CLI: one line naming the field, the value and what is allowed; exit 2."""

from __future__ import annotations

from collections.abc import Callable

import pytest

RunCli = Callable[[list[str]], tuple[int, str, str]]

CASES = [
    (
        ["serve", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "200000"],
        "context window of 131,072 tokens",
    ),
    (["serve", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--batch", "100000"], "max_num_seqs"),
    (["serve", "--model", "llama-3.1-8b", "--gpu", "a10g"], "--gpu: 'a10g'"),
    (["serve", "--model", "llama-3.1-8b", "--gpu", "h100"], "did you mean"),
    (["serve", "--model", "llama-3.1-70b", "--gpu", "l4", "--batch", "1"], "does not fit on l4"),
    (["train", "--optimal", "--budget-usd", "-5"], "--budget-usd: '-5'"),
    (["train", "-m", "llama-3.1-8b", "-t", "1T", "--gpu", "h100-sxm", "--gpus", "8", "--mfu", "0"], "--mfu"),
    (["train", "-m", "llama-3.1-8b", "-t", "ten", "--gpu", "h100-sxm"], "--tokens"),
    (["train", "-m", "llama-3.1-8b", "-t", "1T", "--gpu", "h100-sxm", "--stage", "rlhf"], "--stage"),
    (
        [
            "api",
            "--model",
            "gpt-4oo",
            "--input-tokens",
            "1",
            "--output-tokens",
            "1",
            "--requests-per-day",
            "1",
        ],
        "did you mean gpt-4o",
    ),
    (["plan", "does-not-exist.yaml"], "scenario"),
    (
        ["train", "-m", "llama-3.1-8b", "-t", "1T", "--gpu", "h100-sxm", "--gpus", "24", "--tp", "3"],
        "--tp: 3",
    ),
    (
        ["train", "-m", "gpt-2-124m", "-t", "1B", "--gpu", "h100-sxm", "--gpus", "16", "--pp", "16"],
        "12 layers",
    ),
    (["model", "mixtral-8x7"], "mixtral-8x7b"),
]


@pytest.mark.parametrize(("args", "needle"), CASES, ids=[" ".join(a[:3]) for a, _ in CASES])
def test_bad_input_is_one_clear_line(run_cli: RunCli, args: list[str], needle: str) -> None:
    code, out, err = run_cli(args)
    assert code == 2, (out, err)
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3  # one message (long ones may wrap)
