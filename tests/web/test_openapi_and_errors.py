"""The shipped OpenAPI copy is current; errors come back as data (422 naming the field; 500 bare)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_openapi_is_current(client: httpx.Client) -> None:
    """``schemas/openapi.json`` equals what the server serves (regenerate: see flopbill.web.openapi)."""
    from flopbill.web.openapi import openapi_text

    shipped = (ROOT / "schemas" / "openapi.json").read_text(encoding="utf-8")
    assert shipped == openapi_text(), "run: python -m flopbill.web.openapi > schemas/openapi.json"
    assert json.loads(shipped) == client.get("/openapi.json").json()


def test_unknown_gpu_names_field_and_close_matches(client: httpx.Client) -> None:
    r = client.post("/api/serve", json={"model": "llama-3.1-8b", "gpu": "h100-sxn"})
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "gpu" and body["value"] == "h100-sxn"
    assert "h100-sxm" in body["close_matches"]


def test_bad_number_names_the_api_field(client: httpx.Client) -> None:
    r = client.post("/api/serve", json={"model": "llama-3.1-8b", "input_tokens": "lots"})
    assert r.status_code == 422
    assert r.json()["field"] == "input_tokens" and r.json()["value"] == "lots"
    assert r.json()["allowed"]


def test_wrong_type_and_unknown_field_are_422(client: httpx.Client) -> None:
    r = client.post("/api/serve", json={"model": "llama-3.1-8b", "tp": "two"})
    assert (r.status_code, r.json()["field"]) == (422, "tp")
    r = client.post("/api/serve", json={"model": "llama-3.1-8b", "tpp": 2})
    assert (r.status_code, r.json()["field"]) == (422, "tpp")


def test_scenario_error_names_the_yaml_path(client: httpx.Client) -> None:
    """A misspelt GPU in the third option is reported at ``options[2].gpu`` with close matches."""
    import yaml

    data = yaml.safe_load((ROOT / "examples" / "chatbot.yaml").read_text(encoding="utf-8"))
    data["options"][2]["gpu"] = "h100-sxn"
    r = client.post("/api/plan?samples=0", json=data)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "options[2].gpu"
    assert "h100-sxn" in body["message"]


def test_files_on_the_server_are_not_read(client: httpx.Client) -> None:
    r = client.post("/api/model", json={"name": str(ROOT / "pyproject.toml")})
    assert (r.status_code, r.json()["field"]) == (422, "name")
    r = client.post("/api/serve", json={"model": "tests/fixtures/custom-model.yaml"})
    assert (r.status_code, r.json()["field"]) == (422, "model")


def test_body_over_the_limit_is_413() -> None:
    from flopbill.web import Limits, create_app

    with TestClient(create_app(limits=Limits(max_body_bytes=1000))) as c:
        r = c.post("/api/plan", content="x" * 2000, headers={"content-type": "application/yaml"})
    assert r.status_code == 413 and r.json()["error"] == "request"


def test_streamed_body_over_the_limit_is_413(client: httpx.Client) -> None:
    """A chunked body (no Content-Length) is counted as it arrives, over real HTTP."""

    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 100_000

    r = client.post("/api/plan", content=chunks(), headers={"content-type": "application/yaml"})  # type: ignore[arg-type]
    assert r.status_code == 413 and r.json()["error"] == "request"


def test_heavy_request_past_its_time_limit_is_504(monkeypatch: pytest.MonkeyPatch) -> None:
    """The work takes 1 s (a search is sometimes done within a 1 ms limit: the event loop can be starved of
    the GIL past the deadline, and a result that is ready by then is returned)."""
    import time

    from flopbill.web import Limits, commands, create_app

    def slow(self: object, values: object) -> object:
        time.sleep(1.0)
        return {}

    monkeypatch.setattr(commands.CommandSpec, "run", slow)
    with TestClient(create_app(limits=Limits(heavy_timeout_s=0.05))) as c:
        r = c.post("/api/serve/search", json={"model": "llama-3.1-8b", "rps": 20})
    assert r.status_code == 504 and r.json()["error"] == "timeout"


def test_internal_error_is_500_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from flopbill.web import commands, create_app

    def boom(self: object, values: object) -> object:
        raise RuntimeError("secret internals /some/path.py line 3")

    monkeypatch.setattr(commands.CommandSpec, "run", boom)
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        r = c.post("/api/model", json={"name": "llama-3.1-8b"})
    assert r.status_code == 500
    assert r.json()["error"] == "internal"
    assert "secret" not in r.text and "Traceback" not in r.text


def test_token_guards_the_api_but_not_health() -> None:
    from flopbill.web import create_app

    with TestClient(create_app(token="s3cret")) as c:
        assert c.get("/api/catalog/gpus").status_code == 401
        assert c.get("/api/health").status_code == 200
        ok = c.get("/api/catalog/gpus", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_access_log_is_one_json_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    from flopbill.web import create_app

    with caplog.at_level("INFO", logger="flopbill.web.access"), TestClient(create_app()) as c:
        c.get("/api/health")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "flopbill.web.access"]
    assert records[-1]["path"] == "/api/health" and records[-1]["status"] == 200
    assert records[-1]["duration_ms"] >= 0


@pytest.mark.parametrize(
    ("host", "token", "allow_open", "refused"),
    [
        ("127.0.0.1", None, False, False),
        ("::1", None, False, False),
        ("0.0.0.0", None, False, True),
        ("0.0.0.0", "t", False, False),
        ("0.0.0.0", None, True, False),
    ],
)
def test_non_loopback_needs_token_or_allow_open(
    host: str, token: str | None, allow_open: bool, refused: bool
) -> None:
    from flopbill.cli.web import check_exposure
    from flopbill.errors import InputError

    if refused:
        with pytest.raises(InputError):
            check_exposure(host, token, allow_open)
    else:
        warning = check_exposure(host, token, allow_open)
        assert (warning is None) == (host in ("127.0.0.1", "::1"))


def test_cli_refuses_open_host_without_token(run_cli: object) -> None:
    code, _out, err = run_cli(["web", "--host", "0.0.0.0"])  # type: ignore[operator]
    assert code == 2 and "--host" in err and "Traceback" not in err


def test_serve_takes_pipeline_stages(client: httpx.Client) -> None:
    """/api/serve accepts ``pp`` like --pp; a pipeline past a domain with an unknown network is a 422."""
    body = {"model": "llama-3.1-70b", "weights": "fp8", "tp": 2, "pp": 2, "batch": "8"}
    r = client.post("/api/serve", json=body)
    assert r.status_code == 200, r.text
    assert (r.json()["pp"], r.json()["gpus"]) == (2, 4)
    r = client.post("/api/serve", json=body | {"gpu": "mi355x", "tp": 8, "model": "llama-3.1-405b"})
    assert r.status_code == 422 and "pp" in r.json()["field"]
