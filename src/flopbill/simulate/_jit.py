"""Compile the simulation kernel with numba (``njit``, cached on disk), typed for mypy.

Set ``NUMBA_DISABLE_JIT=1`` to run the same functions as plain Python (slow; for debugging).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(fn: F) -> F:
    """Return ``fn`` compiled in nopython mode, cached next to its module."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))
