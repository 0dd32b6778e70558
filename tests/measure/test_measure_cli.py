"""The measure commands: --json keys, files written, calibrate round trip, and the missing-torch message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from flopbill.catalog.profile import read_profile
from flopbill.measure import deps

RunCli = Callable[[list[str]], tuple[int, str, str]]


def test_without_torch_the_commands_say_how_to_install(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = deps.importlib.import_module

    def fake(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        if name == "torch":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(deps.importlib, "import_module", fake)
    for args in (["measure", "hardware"], ["measure", "model", "llama-3.2-1b"], ["serve-local"]):
        code, out, err = run_cli(args)
        assert code == 2 and out == ""
        assert "pip install" in err and "flopbill[measure]" in err and "Traceback" not in err


def test_endpoint_bad_options_exit_2(run_cli: RunCli) -> None:
    code, _, err = run_cli(["measure", "endpoint", "http://127.0.0.1:9", "--concurrency", "2", "--rate", "1"])
    assert code == 2 and "one of the two" in err
    code, _, err = run_cli(["measure", "endpoint", "http://127.0.0.1:9", "--api", "nope"])
    assert code == 2


def test_endpoint_unreachable_counts_errors(run_cli: RunCli, tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    summary = tmp_path / "s.json"
    code, out, err = run_cli(
        [
            "measure",
            "endpoint",
            "http://127.0.0.1:9",
            "--requests",
            "2",
            "--timeout-s",
            "2",
            "--json",
            "--out-summary",
            str(summary),
            "--out-jsonl",
            str(tmp_path / "r.jsonl"),
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["failed"] == 2 and data["completed"] == 0 and data["config"]["requests"] == 2
    assert json.loads(summary.read_text())["failed"] == 2
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 2


@pytest.mark.torch
def test_hardware_model_calibrate_round_trip(run_cli: RunCli, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    prof = tmp_path / "p.yaml"
    code, out, err = run_cli(
        ["measure", "hardware", "--budget-s", "1", "--threads", "1", "--out", str(prof), "--json"]
    )
    assert code == 0, err
    hw = json.loads(out)
    assert hw["matmul_flops_per_s"]["fp32"] > 0 and hw["memory_bandwidth_bytes_per_s"] > 0
    assert read_profile(prof).device == "cpu"
    meas = tmp_path / "m.json"
    args = [
        "measure",
        "model",
        "llama-3.2-1b",
        "--layers",
        "2",
        "--hidden",
        "128",
        "--vocab",
        "512",
        "--profile",
        str(prof),
        "--prefill",
        "32,64,128",
        "--batches",
        "1,2,4",
        "--contexts",
        "32,64",
        "--train",
        "2x32",
        "--repeats",
        "2",
        "--threads",
        "1",
        "--json",
    ]
    code, out, err = run_cli(args)
    assert code == 0, err
    doc = json.loads(out)
    assert {r["phase"] for r in doc["rows"]} == {"prefill", "decode", "train_step"}
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in doc["rows"])
    meas.write_text(out, encoding="utf-8")
    cal = tmp_path / "c.yaml"
    code, out, err = run_cli(["calibrate", str(meas), "--out", str(cal), "--json"])
    assert code == 0, err
    assert read_profile(cal).efficiency.calibrated
    code, out, err = run_cli(
        [
            "serve",
            "--model",
            "llama-3.2-1b",
            "--gpu",
            str(cal),
            "--weights",
            "fp32",
            "--batch",
            "1",
            "--input-tokens",
            "64",
            "--output-tokens",
            "16",
            "--json",
        ]
    )
    assert code == 0, err
    assert json.loads(out)["tpot_s"] > 0


@pytest.mark.torch
def test_model_on_cuda_without_a_gpu_exits_2(run_cli: RunCli) -> None:
    """The CUDA path is chosen with --device; asking for it where torch sees no GPU is a one-line error."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: see test_model_on_cuda")
    code, out, err = run_cli(["measure", "model", "llama-3.2-1b", "--device", "cuda", "--layers", "1"])
    assert code == 2 and out == "" and "--device" in err and "Traceback" not in err
    code, out, err = run_cli(["measure", "model", "llama-3.2-1b", "--device", "tpu"])
    assert code == 2 and "cpu, cuda or auto" in err
    code, out, err = run_cli(["measure", "model", "llama-3.2-1b", "--rounds", "0"])
    assert code == 2 and "--rounds" in err


@pytest.mark.torch
def test_model_on_cuda(run_cli: RunCli, tmp_path: Path) -> None:
    """On a CUDA machine: a bf16 model is timed on the GPU (synchronised) against a GPU profile."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    prof = tmp_path / "gpu.yaml"
    code, _, err = run_cli(["measure", "hardware", "--budget-s", "2", "--out", str(prof)])
    assert code == 0, err
    assert read_profile(prof).device == "cuda"
    args = ["measure", "model", "llama-3.2-1b", "--layers", "2", "--device", "cuda", "--profile", str(prof)]
    code, out, err = run_cli([*args, "--prefill", "128,256,512", "--train", "2x128", "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["device"] == "cuda" and doc["dtype"] == "bf16"
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in doc["rows"])
