"""CLI tests of ``flopbill serve`` and ``flopbill validate serving``: keys, exit codes, messages."""

from __future__ import annotations

import json

import pytest

REQUIRED = {
    "ttft_s",
    "tpot_s",
    "output_tokens_per_s_per_gpu",
    "decode_tokens_per_s_per_gpu",
    "max_batch",
    "bound",
    "cost_usd_per_mtok_input",
    "cost_usd_per_mtok_output",
    "cost_usd_per_request",
    "gpus",
}


def test_serve_json_keys(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        [
            "serve",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "h100-sxm",
            "--batch",
            "1",
            "--price-per-gpu-hour",
            "2.5",
            "--json",
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= REQUIRED
    assert data["bound"] == "memory" and data["gpus"] == 1
    assert data["cost_usd_per_request"] > 0


def test_serve_all_options(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        [
            "serve",
            "--model",
            "llama-3.1-70b",
            "--gpu",
            "h100-sxm",
            "--gpus",
            "4",
            "--tp",
            "2",
            "--batch",
            "max",
            "--input-tokens",
            "2k",
            "--output-tokens",
            "500",
            "--weights",
            "fp8",
            "--kv",
            "fp8",
            "--spec-k",
            "4",
            "--spec-acceptance",
            "0.7",
            "--draft-model",
            "llama-3.2-1b",
            "--prefix-hit",
            "0.5",
            "--price-per-gpu-hour",
            "3",
            "--utilization",
            "0.6",
            "--json",
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["gpus"] == 4 and data["tp"] == 2 and data["max_batch"] >= 1


def test_serve_table(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--gpu", "l4", "--weights", "int4", "--batch", "4"]
    )
    assert code == 0 and "TPOT" in out and "Assumptions" in out


def test_serve_search(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        [
            "serve",
            "--model",
            "llama-3.1-8b",
            "--search",
            "--rps",
            "10",
            "--slo-ttft",
            "2",
            "--slo-tpot",
            "0.05",
            "--json",
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["n_evaluated"] > 100 and data["cheapest"] and data["pareto"]
    assert all(r["tpot_s"] <= 0.05 for r in data["cheapest"])


def test_batch_that_does_not_fit_exits_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--gpu", "l4", "--batch", "5000", "--price-per-gpu-hour", "1"]
    )
    assert code == 2 and "--batch 5000 does not fit" in err and "use --batch max" in err and "`" not in err


def test_tp_not_dividing_heads_exits_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(["serve", "--model", "llama-3.1-8b", "--tp", "3", "--price-per-gpu-hour", "1"])
    assert code == 2 and "--tp" in err and "divisor" in err


def test_unknown_precision_exits_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--weights", "fp7", "--price-per-gpu-hour", "1"]
    )
    assert code == 2 and "--weights" in err and "fp8" in err


def test_unknown_gpu_exits_2_with_suggestion(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(["serve", "--model", "llama-3.1-8b", "--gpu", "h100sxm"])
    assert code == 2 and "h100-sxm" in err


def test_validate_serving(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["validate", "serving"])
    assert code == 0, err
    assert "trtllm10-llama-3.1-8b-h100-tp1-fp8-128-128" in out and "median |error| (holdout)" in out
    assert "P90 |err|" in out and "holdout P80 |error|, dense" in out
    code, out, _ = run_cli(["validate", "serving", "--json"])
    data = json.loads(out)
    assert len(data["cases"]) >= 100 and data["median_abs_error"]["all"] <= 0.25
    assert data["groups"] and {"fit", "holdout"} <= set(data["by_split_and_kind"])


def test_json_reports_ranges_around_the_estimate(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Throughput range [x/(1+e), x/(1−e)], time and $ ranges [x(1−e), x(1+e)] with e = the accuracy band."""
    code, out, _ = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--batch", "8", "--price-per-gpu-hour", "2", "--json"]
    )
    assert code == 0
    d = json.loads(out)
    e = d["error_band"]
    assert 0 < e < 1
    for key in (
        "output_tokens_per_s_per_gpu",
        "tpot_s",
        "ttft_s",
        "cost_usd_per_mtok_output",
        "cost_usd_per_request",
    ):
        assert d[f"{key}_low"] < d[key] < d[f"{key}_high"]
    assert d["output_tokens_per_s_per_gpu_high"] == pytest.approx(d["output_tokens_per_s_per_gpu"] / (1 - e))
    assert d["tpot_s_low"] == pytest.approx(d["tpot_s"] * (1 - e))


def test_serve_pipeline_parallel(run_cli) -> None:  # type: ignore[no-untyped-def]
    """--pp 2 with --tp 2: a replica of 4 GPUs; the JSON says pp and gpus. --search takes a --pp list and
    capacity (--rps) one depth; a list without --search and --pp with --disaggregated are refused."""
    base = ["serve", "--model", "llama-3.1-70b", "--weights", "fp8", "--tp", "2", "--price-per-gpu-hour", "2"]
    code, out, err = run_cli([*base, "--pp", "2", "--batch", "16", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert (data["pp"], data["tp"], data["gpus"]) == (2, 2, 4)
    code, out, err = run_cli([*base, "--pp", "1,2", "--search", "--rps", "5", "--gpu", "h100-sxm", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["pp_searched"] == [1, 2] and {r["pp"] for r in data["cheapest"]} <= {1, 2}
    code, out, err = run_cli([*base, "--pp", "2", "--rps", "5", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["pp_searched"] == [2] and all(r["gpus"] % 4 == 0 for r in data["cheapest"])
    for extra in (["--pp", "1,2"], ["--pp", "2", "--rps", "5", "--disaggregated"], ["--pp", "0"]):
        code, out, err = run_cli([*base, *extra])
        assert code == 2 and "--pp" in err and len(err.strip().splitlines()) == 1 and out == ""
    code, _, err = run_cli([*base, "--pp", "2", "--gpus", "6"])
    assert code == 2 and "--gpus" in err


def test_search_adds_pp_where_tp_alone_cannot_fit(run_cli) -> None:  # type: ignore[no-untyped-def]
    """405B in bf16 on H100 (TP ≤ 8): nothing fits at PP 1; the default search adds PP 2/4/8 and says so."""
    args = ["serve", "--model", "llama-3.1-405b", "--gpu", "h100-sxm", "--weights", "bf16", "--search"]
    code, out, err = run_cli([*args, "--rps", "1", "--price-per-gpu-hour", "3"])
    assert code == 0, err
    assert "pipeline depths 2, 4, 8 added" in out
    code, out, err = run_cli([*args, "--rps", "1", "--price-per-gpu-hour", "3", "--pp", "1", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["cheapest"] == [] and "--pp" in data["why_none"]
