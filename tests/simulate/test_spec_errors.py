"""Bad specs give one flopbill error naming the field (CLI: one line, exit code 2); bounds hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from flopbill.errors import FlopbillError, InputError
from flopbill.simulate import load_spec, simulate, spec_from_dict

RunCli = Callable[[list[str]], tuple[int, str, str]]
QUICK = ["simulate", "--model", "llama-3.1-8b", "--replicas", "2", "--rps", "5", "--output-tokens", "50"]


def _base(**traffic: object) -> dict[str, object]:
    t: dict[str, object] = {"rate_rps": 5.0, "requests": 50} | traffic
    return {"deployment": {"model": "llama-3.1-8b"}, "traffic": t}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_base(rate_rps=-1.0), "traffic.rate_rps"),
        (_base(requests=None, duration_s=None), "traffic"),
        (_base(bogus=1), "traffic.bogus"),
        (_base(input_tokens={"kind": "uniform", "low": 10}), "traffic.input_tokens"),
        (
            {"deployment": {"model": "llama-3.1-8b", "tp": 0}, "traffic": {"rate_rps": 1, "requests": 1}},
            "deployment.tp",
        ),
        ({"traffic": {"rate_rps": 1, "requests": 1}}, "deployment"),
    ],
)
def test_schema_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as exc:
        spec_from_dict(data)
    assert exc.value.field == field


def _trace(tmp_path: Path, text: str) -> dict[str, object]:
    p = tmp_path / "trace.csv"
    p.write_text(text, encoding="utf-8")
    return {"deployment": {"model": "llama-3.1-8b"}, "traffic": {"arrivals": "trace", "trace": str(p)}}


def test_empty_and_unsorted_traces(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one request"):
        simulate(spec_from_dict(_trace(tmp_path, "arrival_s,input_tokens,output_tokens\n")))
    with pytest.raises(InputError, match="in order"):
        simulate(spec_from_dict(_trace(tmp_path, "arrival_s,input_tokens,output_tokens\n1,10,5\n0.5,10,5\n")))


def test_azure_trace_columns(tmp_path: Path) -> None:
    """Azure LLM inference trace 2023 rows (TIMESTAMP with 7 fractional digits): 1.5 s apart."""
    text = (
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,374,44\n"
        "2023-11-16 18:15:48.1805900,396,109\n"
    )
    r = simulate(spec_from_dict(_trace(tmp_path, text)))
    assert r.finished == 2
    assert r.outcomes.arrival_s.tolist() == pytest.approx([0.0, 1.5])
    assert r.output_tokens == 44 + 109


def test_replica_that_holds_no_request() -> None:
    data = _base(input_tokens={"kind": "fixed", "value": 1000})
    data["deployment"] = {"model": "llama-3.1-8b", "kv_tokens_limit": 512}
    with pytest.raises(InputError, match="KV cache"):
        simulate(spec_from_dict(data))


def test_cli_bad_spec_is_one_line_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "deployment: {model: llama-3.1-8b}\ntraffic: {rate_rps: -3, requests: 10}\n", encoding="utf-8"
    )
    code, out, err = run_cli(["simulate", str(p)])
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "traffic.rate_rps" in err
    code, _, err = run_cli(["simulate", "--model", "llama-3.1-8b"])
    assert code == 2 and "--rps" in err


def test_cli_json_keys_and_bounds(run_cli: RunCli) -> None:
    code, out, _ = run_cli([*QUICK, "--requests", "400", "--max-requests", "120", "--json"])
    assert code == 0
    d = json.loads(out)
    for key in (
        "arrived",
        "finished",
        "dropped",
        "ttft_s",
        "tpot_s",
        "output_tokens_per_s",
        "gpu_hours_billed",
        "gpu_hours_busy",
        "cost_usd",
        "resolved",
    ):
        assert key in d
    assert d["arrived"] == 120
    assert set(d["ttft_s"]) == {"mean", "p50", "p90", "p95", "p99"}
    code, out, _ = run_cli([*QUICK, "--requests", "400", "--max-sim-seconds", "10", "--json"])
    d = json.loads(out)
    assert d["duration_s"] == pytest.approx(10.0)
    assert d["arrived"] == d["finished"] + d["dropped"] + d["unfinished"]
    assert d["arrived"] < 400


def test_spec_file_paths_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("arrival_s,input_tokens,output_tokens\n0,10,5\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_text(
        "deployment: {model: llama-3.1-8b}\ntraffic: {arrivals: trace, trace: t.csv}\n", encoding="utf-8"
    )
    assert simulate(load_spec(tmp_path / "s.yaml")).finished == 1


def test_example_spec_runs(run_cli: RunCli) -> None:
    root = Path(__file__).resolve().parents[2]
    code, out, err = run_cli(
        ["simulate", str(root / "examples/simulate/chat.yaml"), "--max-requests", "3000"]
    )
    assert code == 0, err
    assert "TTFT" in out and "GPU-hours billed" in out


def test_cli_html_report_has_the_timeline(run_cli: RunCli, tmp_path: Path) -> None:
    out_file = tmp_path / "sim.html"
    code, _, err = run_cli([*QUICK, "--duration-s", "300", "--html", str(out_file)])
    assert code == 0, err
    page = out_file.read_text(encoding="utf-8")
    assert 'id="timeline"' in page and "replicas ready" in page
    code, _, err = run_cli([*QUICK, "--requests", "10", "--html", str(tmp_path / "missing" / "x.html")])
    assert code == 2 and "--html" in err


def test_instance_billing_from_the_price_snapshot() -> None:
    """AWS p5.48xlarge: 8 H100 per instance at $55.04/h, billed per second with a 60 s minimum (snapshot).
    One TP1 replica for ~10 s occupies a whole instance: billed ≥ 60 s · 8 GPUs = 0.1333 GPU-hours."""
    data = _base(requests=5, rate_rps=1.0)
    data["deployment"] = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "instance": "p5.48xlarge"}
    r = simulate(spec_from_dict(data))
    assert r.price_usd_per_gpu_hour == pytest.approx(55.04 / 8)
    assert r.gpu_hours_billed == pytest.approx(60 * 8 / 3600)
    data["deployment"] = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "instance": "p5.48xlargee"}
    with pytest.raises(FlopbillError, match=r"p5\.48xlarge"):
        simulate(spec_from_dict(data))


@pytest.mark.parametrize(
    ("flags", "flag", "allowed"),
    [
        (["--rps", "nan"], "--rps", "a number > 0"),
        (["--rps", "-2"], "--rps", "a number > 0"),
        (["--rps", "2", "--requests", "0"], "--requests", "a number ≥ 1"),
        (["--rps", "2", "--tp", "0"], "--tp", "a number ≥ 1"),
        (["--rps", "2", "--router", "nearest"], "--router", "one of round_robin"),
        (["--rps", "2", "--max-requests", "0"], "--max-requests", "a number ≥ 1"),
    ],
)
def test_cli_flag_errors_name_the_flag(run_cli: RunCli, flags: list[str], flag: str, allowed: str) -> None:
    code, out, err = run_cli(["simulate", "--model", "llama-3.1-8b", *flags])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.strip().startswith(f"error: {flag}:"), err
    assert allowed in err
    assert "Input should" not in err and "traffic." not in err


def test_spec_errors_are_in_flopbill_words() -> None:
    cases = [
        (_base(rate_rps=float("nan")), "a number > 0"),
        (_base(requests="many"), "a whole number"),
        (_base(arrivals="uniform"), "one of 'poisson', 'gamma' or 'trace'"),
        (_base(bogus=1), "no such field"),
        ({"traffic": {"rate_rps": 1, "requests": 1}}, "the field is required"),
    ]
    for data, allowed in cases:
        with pytest.raises(InputError) as exc:
            spec_from_dict(data)
        assert allowed in exc.value.allowed, exc.value.allowed
        assert "Input should" not in str(exc.value)


def test_traffic_cut_at_the_request_bound_says_so() -> None:
    """10 req/s for 600 s is ~6,000 requests; a bound of 1,000 cuts the traffic near 100 s."""
    data = _base(requests=None, duration_s=600.0, rate_rps=10.0)
    data["bounds"] = {"max_requests": 1000}
    r = simulate(spec_from_dict(data))
    assert r.arrivals_truncated and r.arrived == 1000
    assert r.outcomes.arrival_s[-1] < 150.0
    assert any(a.name == "traffic_truncated" for a in r.assumptions)
    assert r.to_dict()["arrivals_truncated"] is True
    data["bounds"] = {"max_requests": 100_000}
    r = simulate(spec_from_dict(data))
    assert not r.arrivals_truncated and r.outcomes.arrival_s[-1] > 590.0
    assert not any(a.name == "traffic_truncated" for a in r.assumptions)


def test_cold_start_default_is_the_scenario_model_s() -> None:
    """Llama 3.1 8B bf16: 8.03e9 parameters × 2 bytes = 16.06 GB, loaded at 16.06 GB / 47.99 s (the
    Run:ai benchmark's vLLM loader) = 47.99 s, + 64 s engine start = 111.99 s, the scenario fleet's
    default (estimate.pricing.fleet_day) — one sourced figure for both."""
    from flopbill.estimate.pricing.fleet_day import cold_start_s

    r = simulate(spec_from_dict(_base(requests=3)))
    derived = r.resolved["derived"]
    assert derived["cold_start_s"] == pytest.approx(47.99 + 64.0, rel=0.01)
    assert derived["cold_start_s"] == pytest.approx(float(cold_start_s(derived["weights_bytes"])))
    cold = next(a for a in r.assumptions if a.name == "cold_start_s")
    assert "Run:ai" in str(cold.source) and "assumed" not in str(cold.source)
