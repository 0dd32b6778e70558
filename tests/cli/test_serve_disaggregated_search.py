"""``serve --search --disaggregated``: JSON keys, filters, the co-located comparison, refusals."""

from __future__ import annotations

import json

BASE = ("serve", "--model", "llama-3.1-70b", "--search", "--disaggregated", "--rps", "20")
SLO = ("--slo-ttft", "2", "--slo-tpot", "0.05", "--input-tokens", "2000", "--output-tokens", "250")

KEYS = {
    "n_evaluated",
    "n_prefill_evaluated",
    "n_decode_evaluated",
    "n_pairs",
    "n_feasible_pairs",
    "why_none",
    "cheapest",
    "colocated",
    "winner",
    "loser_cost_over_winner",
    "slo_ttft_percentile",
    "price_usd_per_gpu_hour",
    "price_source",
}


def _json(run_cli, *extra: str):  # type: ignore[no-untyped-def]
    code, out, err = run_cli([*BASE, *SLO, *extra, "--json"])
    assert code == 0, err
    return json.loads(out)


def test_json_keys_and_comparison(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Stable keys; the co-located half is the plain ``--search`` answer; the winner is the cheaper one."""
    data = _json(run_cli, "--gpu", "h100-sxm,h200", "--top", "3")
    assert set(data) == KEYS
    assert data["n_evaluated"] == data["n_prefill_evaluated"] + data["n_decode_evaluated"]
    best = data["cheapest"][0]
    assert set(best) == {
        "weights",
        "kv",
        "prefill",
        "decode",
        "ttft_s",
        "tpot_s",
        "e2e_latency_s",
        "gpus",
    } | {"cost_usd_per_request"}
    assert best["gpus"] == best["prefill"]["gpus"] + best["decode"]["gpus"]
    assert best["ttft_s"] <= 2.0 and best["tpot_s"] <= 0.05
    code, out, _ = run_cli([*BASE[:4], "--rps", "20", *SLO, "--gpu", "h100-sxm,h200", "--top", "3", "--json"])
    plain = json.loads(out)
    assert code == 0 and data["colocated"]["cheapest"] == plain["cheapest"]
    d, c = best["cost_usd_per_request"], plain["cheapest"][0]["cost_usd_per_request"]
    assert data["winner"] == ("disaggregated" if d < c else "colocated")
    assert data["loser_cost_over_winner"] == max(d, c) / min(d, c) - 1.0


def test_filters_reach_both_pools(run_cli) -> None:  # type: ignore[no-untyped-def]
    """--gpu, --weights, --kv, --min-precision, --tp and --prefill-tp restrict both pools."""
    data = _json(run_cli, "--gpu", "h100-sxm", "--weights", "bf16,fp8,int4", "--kv", "bf16,fp8", "--tp", "4")
    for row in data["cheapest"]:
        assert row["weights"] in {"bf16", "fp8", "int4"} and row["kv"] in {"bf16", "fp8"}
        assert row["prefill"]["accelerator"] == row["decode"]["accelerator"] == "h100-sxm"
        assert row["prefill"]["tp"] == row["decode"]["tp"] == 4
    floored = _json(run_cli, "--gpu", "h100-sxm", "--min-precision", "fp8", "--prefill-tp", "2")
    assert floored["cheapest"]
    for row in floored["cheapest"]:
        assert row["weights"] in {"bf16", "fp8", "int8"} and row["prefill"]["tp"] == 2


def test_table_says_who_wins(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli([*BASE, *SLO, "--gpu", "h100-sxm", "--top", "2"])
    assert code == 0, err
    assert "Cheapest disaggregated deployments" in out and " wins: " in out and "co-located" in out
    assert "price h100-sxm: $" in out


def test_why_none_and_refusals(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Unknown network: why_none says so and co-located wins alone; a length distribution and an
    unknown accelerator are one-line errors with exit code 2."""
    data = _json(run_cli, "--gpu", "mi325x", "--price-per-gpu-hour", "3")
    assert "network bandwidth of mi325x is unknown" in data["why_none"] and data["cheapest"] == []
    assert data["winner"] in {"colocated", None} and data["loser_cost_over_winner"] is None
    code, out, err = run_cli([*BASE, "--input-tokens", "500..2000..8000"])
    assert code == 2 and "mean lengths" in err and "Traceback" not in err and out == ""
    code, _, err = run_cli([*BASE, "--gpu", "h100-sxmm"])
    assert code == 2 and "Traceback" not in err
