"""Each API endpoint answers exactly what the CLI's ``--json`` prints for the same input.

Both sides run here: the CLI in-process (its stdout parsed) and the API over loopback HTTP against a real
uvicorn server. No expected value is flopbill's own output pasted in: the two interfaces are compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "examples" / "chatbot.yaml"


def _cli(text: str) -> list[str]:
    """CLI arguments written as one line (no argument here contains a space)."""
    return text.split()


# (id, method, path, query or JSON body, CLI arguments)
CASES: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    ("gpus", "GET", "/api/catalog/gpus", {}, ["catalog", "gpus"]),
    ("models", "GET", "/api/catalog/models", {}, ["catalog", "models"]),
    (
        "prices",
        "GET",
        "/api/catalog/prices",
        {"gpu": "h100-sxm", "pricing": "on_demand"},
        ["catalog", "prices", "--gpu", "h100-sxm", "--pricing", "on_demand"],
    ),
    (
        "model",
        "POST",
        "/api/model",
        {"name": "llama-3.1-70b", "context": "8k"},
        ["model", "llama-3.1-70b", "--context", "8k"],
    ),
    (
        "train",
        "POST",
        "/api/train",
        {"model": "llama-3.1-8b", "tokens": "1T", "gpus": 64},
        ["train", "--model", "llama-3.1-8b", "--tokens", "1T", "--gpus", "64"],
    ),
    (
        "serve",
        "POST",
        "/api/serve",
        {"model": "llama-3.1-70b", "gpu": "h100-sxm", "tp": 2, "weights": "fp8", "batch": "32"},
        _cli("serve --model llama-3.1-70b --gpu h100-sxm --tp 2 --weights fp8 --batch 32"),
    ),
    (
        "capacity",
        "POST",
        "/api/serve/capacity",
        {"model": "llama-3.1-8b", "gpu": "h100-sxm", "rps": "5", "slo_ttft": 2, "top": 3},
        _cli("serve --model llama-3.1-8b --gpu h100-sxm --rps 5 --slo-ttft 2 --top 3"),
    ),
    (
        "search",
        "POST",
        "/api/serve/search",
        {"model": "llama-3.1-8b", "rps": 20, "slo_ttft": 2, "slo_tpot": 0.05, "top": 3},
        _cli("serve --model llama-3.1-8b --search --rps 20 --slo-ttft 2 --slo-tpot 0.05 --top 3"),
    ),
    (
        "api-pricing",
        "POST",
        "/api/api-pricing",
        {
            "compare": "gpt-4o,gpt-4o-mini",
            "input_tokens": "800",
            "output_tokens": 200,
            "requests_per_day": "1M",
        },
        _cli("api --compare gpt-4o,gpt-4o-mini --input-tokens 800 --output-tokens 200 --requests-per-day 1M"),
    ),
]


def _cli_json(run_cli: Any, args: list[str]) -> Any:
    code, out, err = run_cli([*args, "--json"])
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(
    ("method", "path", "data", "args"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_endpoint_equals_cli_json(
    client: httpx.Client, run_cli: Any, method: str, path: str, data: dict[str, Any], args: list[str]
) -> None:
    response = client.get(path, params=data) if method == "GET" else client.post(path, json=data)
    assert response.status_code == 200, response.text
    assert response.json() == _cli_json(run_cli, args)


@pytest.mark.parametrize("as_json", [False, True], ids=["yaml-body", "json-body"])
def test_plan_equals_cli_json(client: httpx.Client, run_cli: Any, as_json: bool) -> None:
    """The same scenario as YAML text or as a JSON document projects to the CLI's ``plan --json``."""
    import yaml

    text = SCENARIO.read_text(encoding="utf-8")
    if as_json:
        response = client.post("/api/plan?samples=200&seed=7", json=yaml.safe_load(text))
    else:
        headers = {"content-type": "application/yaml"}
        response = client.post("/api/plan?samples=200&seed=7", content=text, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == _cli_json(run_cli, ["plan", str(SCENARIO), "--samples", "200", "--seed", "7"])


def test_plan_report_equals_cli_html(client: httpx.Client, run_cli: Any, tmp_path: Path) -> None:
    """``/api/plan/report`` returns the very page ``flopbill plan --html`` writes."""
    target = tmp_path / "report.html"
    code, _out, err = run_cli(["plan", str(SCENARIO), "--samples", "200", "--html", str(target)])
    assert code == 0, err
    text = SCENARIO.read_text(encoding="utf-8")
    response = client.post("/api/plan/report?samples=200", content=text)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.text == target.read_text(encoding="utf-8")
