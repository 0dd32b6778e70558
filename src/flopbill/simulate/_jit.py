"""Compile the simulation kernel with numba (``njit``, cached on disk), typed for mypy.

numba's on-disk cache checks only the source file of each function, not the functions it calls in other
modules, so an edited callee could leave a stale caller in the cache. The cache therefore lives in a
folder named after a hash of the kernel's modules (``__pycache__/numba-<hash>``): any change to them
starts a fresh cache. ``NUMBA_CACHE_DIR`` set by the user wins.
Set ``NUMBA_DISABLE_JIT=1`` to run the same functions as plain Python (slow; for debugging).

:func:`borrowed` takes the run's state out of numba's reference counting: every compiled function that
receives the state (a tuple of ~50 arrays) increments and decrements each array's reference count on
entry and exit (atomic operations on ~50 separate cache lines), which cost more than the simulation
itself. The caller keeps the arrays alive for the whole call, so the kernel works on borrowed views.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from numba.core import cgutils, types
from numba.extending import intrinsic

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


def _borrowed_codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
    value = args[0]
    for i, ty in enumerate(sig.args[0].types):
        if isinstance(ty, types.Array):
            member = context.make_array(ty)(context, builder, value=builder.extract_value(value, i))
            member.meminfo = cast(Any, cgutils).get_null_value(member.meminfo.type)
            value = builder.insert_value(value, member._getvalue(), i)
    return value


@intrinsic
def _borrowed(typingctx: Any, tup: Any) -> Any:
    return tup(tup), _borrowed_codegen


def _same(tup: Any) -> Any:
    return tup


#: Return the tuple ``tup`` with its arrays as borrowed views: the same data, shapes and strides, but no
#: memory-manager pointer, so numba's reference counting skips them (a null pointer is a no-op). Only for
#: tuples whose arrays the caller keeps alive; in compiled code (as plain Python: ``tup`` itself).
borrowed = cast(
    Callable[[Any], Any], _borrowed if os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0") else _same
)
