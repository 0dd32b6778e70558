"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis), over loopback.

Bounded: a few examples per operation, heavy operations (search, capacity, plan, simulate, bills) fewer.
Checks: no 5xx, responses (422 bodies included) match the declared schema, status codes and content
types are declared.
"""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# The shipped copy (test_openapi_and_errors checks it is current), so collection imports no flopbill.
SPEC = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
schema = schemathesis.openapi.from_path(str(SPEC))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
# schemathesis reads a response for 10 s by default; the server's own limits (tests/web/conftest.py) are far
# longer, so a request slowed only by a loaded machine must not read as a failure.
TIMEOUT_S = 600.0
HEAVY = (
    "/api/serve/search",
    "/api/serve/capacity",
    "/api/plan",
    "/api/train",
    "/api/simulate",
    "/api/bills/report",
)


@schema.include(path_regex="^/api/(?!serve/search|serve/capacity|plan|train|simulate|bills)").parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_light_endpoints_never_fail_or_break_schema(case: schemathesis.Case, base_url: str) -> None:
    response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=TIMEOUT_S)
    assert "Traceback" not in response.text


@schema.include(
    path_regex="^/api/(serve/search|serve/capacity|plan|train|simulate|bills/report|bills/classify)$"
).parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_heavy_endpoints_never_fail_or_break_schema(case: schemathesis.Case, base_url: str) -> None:
    response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=TIMEOUT_S)
    assert "Traceback" not in response.text


def test_heavy_list_matches_the_schema() -> None:
    """The filter above names real operations (a typo would silently fuzz nothing)."""
    paths = set(json.loads(SPEC.read_text(encoding="utf-8"))["paths"])
    assert set(HEAVY) <= paths
