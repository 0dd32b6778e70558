"""CLI tests of request-length distributions in ``flopbill serve``: ranges, CSV request logs, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASE = ["serve", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--price-per-gpu-hour", "2.5"]


def _json(run_cli, args: list[str]) -> dict:  # type: ignore[no-untyped-def,type-arg]
    code, out, err = run_cli([*BASE, *args, "--json"])
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "requests.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_range_in_capacity_mode_reports_percentile_and_stats(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Triangular 500..2000..8000 has mean (500 + 2000 + 8000)/3 = 3,500; 16 × 16 quantile points."""
    d = _json(
        run_cli, ["--rps", "10", "--input-tokens", "500..2000..8000", "--output-tokens", "100..300..1000"]
    )
    assert d["slo_ttft_percentile"] == 90.0 and "P90" in d["slo_checked"]["ttft"]
    lengths = d["lengths"]
    assert lengths["kind"] == "distribution" and lengths["n_points"] == 256
    assert lengths["input_tokens_mean"] == pytest.approx(3500, rel=0.01)
    assert lengths["output_tokens_mean"] == pytest.approx(1400 / 3, rel=0.01)
    assert lengths["input_tokens_p50"] < lengths["input_tokens_at_percentile"] < 8000
    assert d["cheapest"]


def test_higher_percentile_never_lowers_ttft(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Same configurations, TTFT checked at P99 instead of P50: each row's TTFT is at least as long."""
    args = ["--rps", "10", "--input-tokens", "500..2000..8000", "--top", "50"]
    p50 = {r["batch"]: r["ttft_s"] for r in _json(run_cli, [*args, "--slo-percentile", "50"])["pareto"]}
    p99 = {r["batch"]: r["ttft_s"] for r in _json(run_cli, [*args, "--slo-percentile", "99"])["pareto"]}
    common = set(p50) & set(p99)
    assert common and all(p99[b] > p50[b] for b in common)


def test_mean_only_search_reports_the_means(run_cli) -> None:  # type: ignore[no-untyped-def]
    d = _json(run_cli, ["--rps", "10", "--input-tokens", "2k", "--output-tokens", "300"])
    assert d["lengths"] == {"kind": "mean", "input_tokens_mean": 2000.0, "output_tokens_mean": 300.0}


def test_csv_lengths_in_capacity_mode(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three requests (extra columns ignored): input mean (1000 + 3000 + 8000)/3 = 4,000, output 200."""
    path = _csv(tmp_path, "id,input_tokens,output_tokens\na,1000,100\nb,3000,200\n\nc,8000,300\n")
    d = _json(run_cli, ["--rps", "5", "--lengths", path, "--slo-percentile", "95"])
    lengths = d["lengths"]
    assert lengths["n_requests"] == 3 and lengths["input_tokens_mean"] == 4000.0
    assert lengths["output_tokens_mean"] == 200.0 and lengths["percentile"] == 95.0
    # decode-weighted context (100·1050 + 200·3100 + 300·8150) / 600 = 5,283.33
    assert lengths["decode_context_tokens"] == pytest.approx(5283.333, rel=1e-6)
    assert d["slo_ttft_percentile"] == 95.0


def test_single_estimate_with_a_distribution_uses_the_mean(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No --rps: a CSV of 1000 → 100 and 3000 → 300 gives the estimate of 2000 → 200, and says so."""
    path = _csv(tmp_path, "input_tokens,output_tokens\n1000,100\n3000,300\n")
    d = _json(run_cli, ["--batch", "8", "--lengths", path])
    plain = _json(run_cli, ["--batch", "8", "--input-tokens", "2000", "--output-tokens", "200"])
    assert d["lengths"]["used"] == "mean"
    assert d["ttft_s"] == plain["ttft_s"] and d["cost_usd_per_request"] == plain["cost_usd_per_request"]
    code, out, _ = run_cli([*BASE, "--batch", "8", "--input-tokens", "500..2000..8000"])
    assert code == 0 and "uses its mean" in " ".join(out.split())


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("input_tokens,output_tokens\n1000,200\n2000,abc\n", "line 3, column 2 (output_tokens)"),
        ("input_tokens,output_tokens\n1000,200\n0,200\n", "line 3, column 1 (input_tokens)"),
        ("input_tokens,output_tokens\n1000\n", "line 2, column 2"),
        ("prompt,completion\n1000,200\n", "line 1"),
        ("input_tokens,output_tokens\n", "at least one request"),
    ],
)
def test_bad_csv_exits_2_naming_line_and_column(run_cli, tmp_path: Path, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    path = _csv(tmp_path, text)
    code, _, err = run_cli([*BASE, "--rps", "5", "--lengths", path])
    assert code == 2 and "--lengths" in err and "requests.csv" in err and needle in err


def test_missing_csv_and_conflicting_options_exit_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli([*BASE, "--rps", "5", "--lengths", str(tmp_path / "nope.csv")])
    assert code == 2 and "nope.csv" in err
    path = _csv(tmp_path, "input_tokens,output_tokens\n1000,200\n")
    code, _, err = run_cli([*BASE, "--rps", "5", "--lengths", path, "--input-tokens", "100"])
    assert code == 2 and "not both" in err
    code, _, err = run_cli(
        [*BASE, "--rps", "5", "--input-tokens", "500..2000..8000", "--slo-percentile", "0"]
    )
    assert code == 2 and "--slo-percentile" in err
    code, _, err = run_cli([*BASE, "--rps", "5", "--input-tokens", "0..2000"])
    assert code == 2 and "--input-tokens" in err
    code, _, err = run_cli([*BASE, "--rps", "5", "--input-tokens", "1000..200k"])
    assert code == 2 and "context window" in err
