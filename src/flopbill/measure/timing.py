"""Timing helpers: best of N repeats, on the wall clock or on the process's CPU clock.

On a machine other processes share, wall time includes the time they held the core. With one torch
thread, the process CPU time (``time.process_time``) of a run is the time it actually ran, which is its
wall time on an otherwise idle core; :func:`cpu_clock` switches to it (one thread only: with several
threads it would sum their times).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator

_CLOCK: contextvars.ContextVar[Callable[[], float]] = contextvars.ContextVar(
    "clock", default=time.perf_counter
)


@contextlib.contextmanager
def cpu_clock() -> Iterator[None]:
    """Time with the process CPU clock inside the ``with`` block."""
    token = _CLOCK.set(time.process_time)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def clock_name() -> str:
    """Return ``"cpu"`` or ``"wall"``: the clock in use."""
    return "cpu" if _CLOCK.get() is time.process_time else "wall"


def best_time_s(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, sync: Callable[[], None] | None = None
) -> float:
    """Return the shortest of ``repeats`` timed runs of ``fn`` after ``warmup`` untimed runs (s).

    The minimum, not the mean, estimates the undisturbed time: other processes only ever add time
    (the convention of Python's ``timeit``: "the min is the most informative value").
    """
    clock = _CLOCK.get()
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = clock()
        fn()
        if sync:
            sync()
        best = min(best, clock() - start)
    return best
