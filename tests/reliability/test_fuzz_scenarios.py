"""Fuzz scenario documents: every example scenario, mutated field by field, through ``flopbill plan``.

A mutation picks a node of a valid document (a mapping key or a list item, at any depth) and
replaces it with a hostile value, deletes it, or adds an unknown key beside it; the document is then
written as YAML and planned with ``--json``. Every outcome must be finite JSON or one error line
(see :mod:`fuzzing`); an error about a scenario file must name the file.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st
from tests.reliability.fuzzing import check, run
from tests.reliability.test_fuzz_cli import EDGE, FUZZ

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DOCUMENTS = {
    p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES_DIR.glob("*.yaml"))
}

_HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([0, -1, 1, 0.0, -0.5, 1e308, 10**30, True, False, None, "", [], {}, [1, 2], {"a": 1}]),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.sampled_from(EDGE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.text(max_size=20),
)
HOSTILE = _HOSTILE.map(copy.deepcopy)  # a fresh list or mapping each time (no shared, cyclic nodes)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every mapping value and list item under ``node``."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Return (example name, a copy of that example with one to three fields mutated)."""
    name = draw(st.sampled_from(sorted(DOCUMENTS)))
    doc = copy.deepcopy(DOCUMENTS[name])
    doc.setdefault("monte_carlo", {})
    if isinstance(doc["monte_carlo"], dict):
        doc["monte_carlo"]["samples"] = 64  # keep each run short; the budget test covers large ones
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown-key"]))
        if action == "replace":
            parent[path[-1]] = draw(HOSTILE)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "Name", "horizon", "gpu_", "kind2"]))] = draw(HOSTILE)
    return name, doc


@FUZZ
@given(mutated_documents())
def test_fuzz_scenario_documents(case: tuple[str, dict[str, Any]]) -> None:
    name, doc = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        r = run(["plan", str(path), "--json"])
        check(r)
        if r.code == 2 and "scenario" not in r.err.split(":")[1]:
            assert name in r.err, f"error does not name the file: {r.err}"
