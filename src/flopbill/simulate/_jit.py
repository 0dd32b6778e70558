"""Compile the simulation kernel with numba (``njit``, cached on disk), typed for mypy.

numba's on-disk cache checks only the source file of each function, not the functions it calls in other
modules, so an edited callee could leave a stale caller in the cache. The cache therefore lives in a
folder named after a hash of the kernel's modules (``__pycache__/numba-<hash>``): any change to them
starts a fresh cache. ``NUMBA_CACHE_DIR`` set by the user wins.
Set ``NUMBA_DISABLE_JIT=1`` to run the same functions as plain Python (slow; for debugging).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])
_HERE = Path(__file__).resolve().parent
_KERNEL_MODULES = (
    "_jit",
    "entities",
    "itl",
    "prefix",
    "turns",
    "scheduler",
    "macro",
    "router",
    "autoscaler",
    "events",
)


def _sources_hash() -> str:
    h = hashlib.sha256()
    for name in _KERNEL_MODULES:
        h.update(name.encode())
        h.update((_HERE / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]


def _use_versioned_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = _HERE / "__pycache__" / f"numba-{_sources_hash()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # read-only install: numba falls back to its user-wide cache
    cast(Any, numba.config).CACHE_DIR = str(folder)


_use_versioned_cache()


def jit(fn: F) -> F:
    """Return ``fn`` compiled in nopython mode, cached (see the module docstring)."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))
