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
