"""``serve --search`` / capacity honour --gpu lists, format lists, the precision floor and the workload."""

from __future__ import annotations

import json

import pytest


def _search(run_cli, *extra: str):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--search", "--rps", "10", "--slo-tpot", "0.1", *extra, "--json"]
    )
    assert code == 0, err
    return json.loads(out)


def test_search_honours_gpu_list(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _search(run_cli, "--gpu", "h100-sxm,l4")
    assert data["cheapest"] and {r["accelerator"] for r in data["cheapest"]} <= {"h100-sxm", "l4"}


def test_search_honours_format_lists_and_floor(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _search(run_cli, "--gpu", "h100-sxm", "--weights", "bf16,fp8,int4", "--kv", "bf16,fp8")
    assert {r["weights"] for r in data["cheapest"]} <= {"bf16", "fp8", "int4"}
    assert {r["kv"] for r in data["cheapest"]} <= {"bf16", "fp8"}
    floored = _search(run_cli, "--gpu", "h100-sxm", "--min-precision", "fp8")
    assert floored["cheapest"] and {r["weights"] for r in floored["cheapest"]} <= {"bf16", "fp8", "int8"}


def test_search_says_why_nothing_fits(run_cli) -> None:  # type: ignore[no-untyped-def]
    """70B bf16 (141 GB) on one 24 GB L4 does not fit at PP 1 (`--pp 1` keeps the search there); without
    `--pp` the search adds pipeline depths 2, 4, 8 and still fits nothing: the last of 8 stages holds 10
    layers (17.2 GB) plus the embedding and head (4.2 GB), 21.4 GB before the KV cache."""
    args = ("serve", "--model", "llama-3.1-70b", "--search", "--rps", "1", "--gpu", "l4", "--tp", "1")
    code, out, err = run_cli([*args, "--weights", "bf16", "--pp", "1", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["n_feasible"] == 0 and "does not fit" in data["why_none"] and "TP1" in data["why_none"]
    code, out, err = run_cli([*args, "--weights", "bf16", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["pp_searched"] == [1, 2, 4, 8] and data["n_feasible"] == 0 and "TP1×PP8" in data["why_none"]


def test_search_says_when_tpot_cannot_be_met(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _search(run_cli, "--gpu", "l4", "--slo-tpot", "0.0001")
    assert data["n_feasible"] == 0 and "slo-tpot" in data["why_none"]


def test_capacity_grows_with_reasoning_multiplier(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Capacity (--rps without --search) at one deployment and batch: 4× the output tokens → 4× the steps.

    Short prompts (100 tokens) and long outputs (1000) make decode ~all of the work, a fixed batch (32)
    fixes the step apart from its context, and a high request rate (400/s) makes whole-replica rounding
    small. The fleet must then grow by 4 × (TPOT at the longer context / TPOT at the shorter): 4× the
    decode steps, each a little slower because the mean context grows from ~600 to ~2,100 tokens.
    """

    def run(mult: str) -> dict:  # type: ignore[type-arg]
        code, out, err = run_cli(
            [
                *("serve", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--rps", "400"),
                *("--input-tokens", "100", "--output-tokens", "1000", "--batch", "32"),
                *("--reasoning-multiplier", mult, "--json"),
            ]
        )
        assert code == 0, err
        return dict(json.loads(out)["cheapest"][0])

    one, four = run("1"), run("4")
    expected = 4.0 * four["tpot_s"] / one["tpot_s"]
    assert four["tpot_s"] > one["tpot_s"]
    assert 0.97 <= (four["gpus"] / one["gpus"]) / expected <= 1.03


def test_samples_multiply_decode_capacity(run_cli) -> None:  # type: ignore[no-untyped-def]
    """--samples 4 holds 4 sequences per request: ≈ 4× the decode work, as with the multiplier."""

    def gpus(samples: str) -> int:
        code, out, err = run_cli(
            [
                *("serve", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--rps", "400"),
                *("--input-tokens", "100", "--output-tokens", "1000", "--batch", "32"),
                *("--samples", samples, "--json"),
            ]
        )
        assert code == 0, err
        return int(json.loads(out)["cheapest"][0]["gpus"])

    assert 3.8 <= gpus("4") / gpus("1") <= 4.1


def test_search_refuses_default_mtp_draft_for_a_model_without_one(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--search", "--rps", "1", "--spec-k", "2", "--gpu", "h100-sxm"]
    )
    assert code == 2 and "MTP" in err


def test_attention_dp_option(run_cli) -> None:  # type: ignore[no-untyped-def]
    """DeepSeek-V3 on 8 H200s: attention DP holds the MLA latent once per rank, so far more sequences fit."""
    base = ["serve", "--model", "deepseek-v3", "--gpu", "h200", "--tp", "8", "--weights", "fp8", "--json"]
    code, out, err = run_cli([*base, "--engine", "trtllm", "--attention-dp"])
    assert code == 0, err
    code2, out2, _ = run_cli([*base, "--engine", "trtllm"])
    assert code2 == 0
    assert json.loads(out)["max_batch"] > 2 * json.loads(out2)["max_batch"]
    code, _, err = run_cli(["serve", "--model", "llama-3.1-8b", "--attention-dp"])
    assert code == 2 and "mixture-of-experts" in err


def test_disaggregated_pools(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        [
            *("serve", "--model", "llama-3.1-70b", "--gpu", "h100-sxm", "--tp", "4", "--weights", "fp8"),
            *("--batch", "64", "--input-tokens", "2000", "--output-tokens", "250", "--rps", "20"),
            *("--disaggregated", "--price-per-gpu-hour", "3", "--json"),
        ]
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["prefill_replicas"] >= 1 and d["decode_replicas"] >= 1 and d["kv_transfer_s"] > 0
    code, _, err = run_cli(["serve", "--model", "llama-3.1-8b", "--disaggregated"])
    assert code == 2 and "--rps" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--search", "--rps", "20", "--tp", "3"],
        ["--rps", "20", "--tp", "3"],
        ["--search", "--disaggregated", "--rps", "20", "--prefill-tp", "3"],
    ],
)
def test_a_tp_that_cannot_split_the_heads_is_refused_as_such(run_cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Llama 3.1 70B: 64 attention heads, 8 KV heads. TP 3 divides neither, so the answer is not "does not
    fit, try a larger TP" but the flag with the degrees that split both: divisors of 64 that divide or are
    multiples of 8 → 1, 2, 4, 8, 16, 32, 64."""
    code, _, err = run_cli(["serve", "--model", "llama-3.1-70b", *args])
    flag = "--prefill-tp" if "--prefill-tp" in args else "--tp"
    assert code == 2 and err.startswith(f"error: {flag}: 3 is not allowed")
    assert err.rstrip().endswith("1, 2, 4, 8, 16, 32, 64")
