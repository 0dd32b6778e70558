"""``flopbill model`` and ``flopbill catalog``: JSON keys, published counts, clear errors (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.golden.test_model_params import TOTAL_TOLERANCE_OVERRIDES

from flopbill.catalog import models

RunCli = Callable[[list[str]], tuple[int, str, str]]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CATALOG = models()


@pytest.mark.parametrize("m", CATALOG, ids=[m.id for m in CATALOG])
def test_model_json_total_within_1pct_of_published(run_cli: RunCli, m) -> None:  # type: ignore[no-untyped-def]
    """Every catalog model's ``params_total`` against the count its publisher states.

    The published figure and its source (model card, paper table) are in each entry's
    ``published_params_source``; the documented exceptions (rounded or vision-inclusive published
    counts, each with its reason) are those of tests/golden/test_model_params.py.
    """
    code, out, _ = run_cli(["model", m.id, "--json"])
    assert code == 0
    data = json.loads(out)
    tol = TOTAL_TOLERANCE_OVERRIDES.get(m.id, 0.01)
    assert data["params_total"] == pytest.approx(m.published_params_total, rel=tol), m.published_params_source
    for key in ("params_active", "flops_per_token_forward", "kv_bytes_per_token", "weight_bytes"):
        assert data[key] > 0


def test_model_json_llama_8b_hand_numbers(run_cli: RunCli) -> None:
    """Llama 3.1 8B (config: 32 layers, 8 KV heads, head dim 128):
    KV bf16 per token = 2·32·8·128·2 B = 131,072 B; bf16 weights = 2 B × 8,030,261,248 = 16.06 GB;
    forward FLOPs/token = 2·(8.03e9 − 0.525e9 input embedding) = 15.01e9 for the matmuls, plus
    attention at the 4096-token causal mean 2·32 layers·4096·(4097/2)·2 ≈ 1.07e9 → about 16.1e9.
    """
    _, out, _ = run_cli(["model", "llama-3.1-8b", "--json"])
    data = json.loads(out)
    assert data["kv_bytes_per_token"] == 131_072
    assert data["weight_bytes"] == pytest.approx(2 * 8_030_261_248)
    assert data["flops_per_token_forward"] == pytest.approx(16.08e9, rel=0.01)
    assert data["context_tokens"] == 4096


def test_model_table_mentions_sources(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["model", "mixtral-8x7b"])
    assert code == 0
    assert "source:" in out and "active" in out


def test_model_from_config_json_and_yaml(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["model", str(FIXTURES / "llama-3.1-8b-config.json"), "--json"])
    assert code == 0 and json.loads(out)["params_total"] == 8_030_261_248
    code, out, _ = run_cli(["model", str(FIXTURES / "custom-model.yaml"), "--json"])
    assert code == 0 and json.loads(out)["params_published"] is None


def test_model_shorthand(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["model", "--params", "7B", "--layers", "32", "--hidden", "4096", "--json"])
    assert code == 0
    assert json.loads(out)["params_total"] == pytest.approx(7e9, rel=1e-3)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["model", "llama-3.1-7b"], "did you mean llama-3.1-70b, llama-3.1-8b"),
        (["model", "llama-3.1-8b", "--context", "eight"], "--context: 'eight' is not allowed"),
        (["model", "llama-3.1-8b", "--context", "-5"], "--context"),
        (["model", "--params", "7B", "--layers", "32"], "all three together"),
        (["model", "nope.yaml"], "model file"),
        (["model"], "NAME"),
        (["model", "llama-3.1-8b", "--bogus"], "No such option"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(run_cli: RunCli, args: list[str], needle: str) -> None:
    code, out, err = run_cli(args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and out == ""


def test_catalog_lists(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["catalog", "gpus"])
    assert code == 0 and "h100-sxm" in out and "dense" in out
    code, out, _ = run_cli(["catalog", "models", "--json"])
    ids = {m["id"] for m in json.loads(out)}
    assert {"llama-3.1-405b", "deepseek-v3", "gpt-2-124m"} <= ids
    code, out, _ = run_cli(["catalog", "gpus", "--json"])
    h100 = next(a for a in json.loads(out) if a["id"] == "h100-sxm")
    assert h100["peak_flops_per_s"]["bf16"] == pytest.approx(
        989.4e12, rel=0.01
    )  # NVIDIA H100 datasheet, dense
    assert h100["sources"]
