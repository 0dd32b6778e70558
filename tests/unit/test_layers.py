"""Imports flow one way: units/errors/dtypes → catalog → estimate → scenario/validation → report → cli.

A module may import from its own layer or any lower one, never a higher one (checked on the AST, so
lazy imports inside functions count too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "flopbill"

LAYERS: dict[str, int] = {
    "errors": 0,
    "units": 0,
    "dtypes": 0,
    "checks": 0,
    "safeio": 0,
    "catalog": 1,
    "estimate": 2,
    "scenario": 3,
    "validation": 3,
    "simulate": 3,
    "measure": 4,
    "bills": 4,
    "report": 5,
    "cli": 6,
    "web": 6,
    "api": 6,
    "__init__": 7,
    "__main__": 7,
}


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "flopbill" or len(parts) < 2:
        return -1
    return LAYERS[parts[1]]


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    rel = path.relative_to(SRC.parent).with_suffix("")
    own = _layer(".".join(rel.parts))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            assert _layer(name) <= own, f"{rel} (layer {own}) imports {name} (layer {_layer(name)})"


def test_every_top_level_part_has_a_layer() -> None:
    parts = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _modules()}
    assert parts <= set(LAYERS), f"add {parts - set(LAYERS)} to LAYERS"


ESTIMATE_PACKAGES: dict[str, set[str]] = {
    "core": {"core"},
    "training": {"core", "training"},
    "serving": {"core", "serving"},
    "pricing": {"core", "pricing"},
}


@pytest.mark.parametrize("package", sorted(ESTIMATE_PACKAGES))
def test_estimate_packages_depend_only_on_core(package: str) -> None:
    """Inside ``estimate``: training, serving and pricing each build on ``core`` and never on each other."""
    for path in sorted((SRC / "estimate" / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("flopbill.estimate.")
            ):
                used = node.module.split(".")[2]
                assert used in ESTIMATE_PACKAGES[package], f"{path.relative_to(SRC)} imports {node.module}"


def test_estimate_has_no_flat_modules() -> None:
    """``estimate/`` holds packages only, so serving, training and pricing each sit in one place."""
    flat = [p.name for p in (SRC / "estimate").glob("*.py") if p.name != "__init__.py"]
    assert flat == []
