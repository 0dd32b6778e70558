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
        "search-disaggregated",
        "POST",
        "/api/serve/search",
        {"model": "llama-3.1-70b", "gpu": "h100-sxm", "rps": 20, "disaggregated": True, "slo_tpot": 0.05},
        _cli("serve --model llama-3.1-70b --gpu h100-sxm --search --rps 20 --disaggregated --slo-tpot 0.05"),
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


def test_simulate_equals_cli_json(client: httpx.Client, run_cli: Any) -> None:
    """``/api/simulate`` is ``flopbill simulate --json`` with the server's caps as explicit bounds.

    The CLI runs first: on a fresh checkout it compiles the simulator's numba kernel (tens of seconds on
    a busy machine, past the server's heavy time limit), and the server in this process then reuses it.
    """
    from flopbill.web.sim_bills import MAX_SIM_REQUESTS, MAX_SIM_SECONDS

    args = _cli("simulate --model llama-3.1-8b --replicas 2 --rps 8 --requests 400 --seed 3 --timeline")
    caps = ["--max-requests", str(MAX_SIM_REQUESTS), "--max-sim-seconds", str(MAX_SIM_SECONDS)]
    cli = _cli_json(run_cli, [*args, *caps])
    body = {"model": "llama-3.1-8b", "replicas": 2, "rps": 8, "requests": 400, "seed": 3, "timeline": True}
    response = client.post("/api/simulate", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == cli


@pytest.mark.parametrize(
    ("field", "value"),
    [("requests", 10**7), ("max_requests", 10**6), ("duration_s", 1e6), ("max_sim_seconds", 1e7)],
)
def test_simulate_past_its_caps_is_422_naming_the_field(
    client: httpx.Client, field: str, value: float
) -> None:
    body = {"model": "llama-3.1-8b", "rps": 5, field: value}
    response = client.post("/api/simulate", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and response.json()["value"] == value


@pytest.mark.parametrize(
    ("path", "query", "args"),
    [
        ("/api/bills/report", {}, ["bill", "report"]),
        ("/api/bills/report", {"amortize_months": 12}, ["bill", "report", "--amortize-months", "12"]),
        ("/api/bills/classify", {}, ["bill", "classify"]),
    ],
    ids=["report", "report-12-months", "classify"],
)
def test_bills_equal_cli_json(
    client: httpx.Client, run_cli: Any, bills_db: Path, path: str, query: dict[str, Any], args: list[str]
) -> None:
    """The server reads the database it was started with; the CLI reads the same file with ``--db``."""
    response = client.get(path, params=query)
    assert response.status_code == 200, response.text
    assert response.json() == _cli_json(run_cli, [*args, "--db", str(bills_db)])


def test_bills_without_a_database_is_503_and_the_body_cannot_name_one() -> None:
    from fastapi.testclient import TestClient

    from flopbill.web import create_app

    with TestClient(create_app()) as c:
        r = c.get("/api/bills/report")
        assert (r.status_code, r.json()["error"]) == (503, "unavailable")
        r = c.get("/api/bills/classify", params={"db": "/tmp/other.duckdb"})
        assert (r.status_code, r.json()["field"]) == (422, "db")
