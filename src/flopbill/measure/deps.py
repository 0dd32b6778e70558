"""Optional dependencies of :mod:`flopbill.measure` (the ``flopbill[measure]`` extra)."""

from __future__ import annotations

import importlib
from types import ModuleType

from flopbill.errors import FlopbillError

INSTALL_HINT = 'pip install "flopbill[measure]"  (CPU-only torch: pip install torch==2.13.0)'


class MissingDependencyError(FlopbillError):
    """An optional dependency of the measure commands is not installed."""


def require(module: str) -> ModuleType:
    """Return the imported ``module`` or raise :class:`MissingDependencyError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"{module} is not installed; install it with: {INSTALL_HINT}") from None
