"""Wall-clock timing helpers: best of N repeats (the least-disturbed run on a shared machine)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time_s(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, sync: Callable[[], None] | None = None
) -> float:
    """Return the shortest of ``repeats`` wall-clock runs of ``fn`` after ``warmup`` untimed runs (s).

    The minimum, not the mean, estimates the undisturbed time: other processes only ever add time
    (the convention of Python's ``timeit``: "the min is the most informative value").
    """
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - start)
    return best
