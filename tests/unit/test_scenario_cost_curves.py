"""The break-even chart's curves: API and GPU-backed costs cross at the reported break-even volume."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flopbill.scenario.loader import load_scenario
from flopbill.scenario.projection import project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_curves_cross_at_break_even() -> None:
    """At the break-even volume V* (a grid point), the GPU option's whole-instance cost is no higher than
    the API's a·calls(V*); below V* the API is cheaper (first crossing). Just above V* the GPU option stays
    no dearer unless the break-even notes that the API wins again past an added instance (a step cost)."""
    result = project(load_scenario(EXAMPLES / "chatbot.yaml"), samples=0)
    curves = {c.option: c for c in result.cost_curves}
    assert curves, "a scenario with API and GPU options has cost curves"
    grids = {c.requests_per_day for c in curves.values()}
    assert len(grids) == 1  # one shared grid
    for be in result.break_evens:
        if be.requests_per_day is None:
            continue
        api, gpu = curves[be.api_option], curves[be.gpu_option]
        grid = np.array(api.requests_per_day)
        assert grid[0] < be.requests_per_day < grid[-1]
        below = grid < be.requests_per_day * 0.98
        gap = np.array(gpu.monthly_cost_usd) - np.array(api.monthly_cost_usd)
        assert np.all(gap[below] > 0), "below the break-even the API is cheaper"
        at = int(np.argmin(np.abs(grid - be.requests_per_day)))
        assert gap[at] <= 1e-6 * api.monthly_cost_usd[at], "at the break-even the GPU option is no dearer"
        if "win again" not in be.note:
            just_above = np.argmax(grid > be.requests_per_day * 1.001)
            assert gap[just_above] <= 0, "just above the break-even the GPU option is no dearer"
        assert np.all(np.diff(api.monthly_cost_usd) > 0)  # API cost rises linearly with volume


def test_break_even_side_agrees_with_the_projection() -> None:
    """The break-even says which option is cheaper at a volume; the month-by-month projection must agree.

    For every example and every (API, GPU) pair whose break-even is not within 5 % of the month-1
    volume: above the break-even the GPU option's month-1 recurring cost is no higher than the API's,
    below it (or "never") the API's is lower. (Month 1 has no spike in the examples.)
    """
    for path in sorted(EXAMPLES.glob("*.yaml")):
        result = project(load_scenario(path), samples=0)
        month1 = {o.name: o.recurring_cost_usd[0] for o in result.options}
        for be in result.break_evens:
            now = be.current_requests_per_day
            api, gpu = month1[be.api_option], month1[be.gpu_option]
            if be.requests_per_day is None:
                assert api < gpu, f"{path.name}: {be.api_option} vs {be.gpu_option}: 'never' but GPU cheaper"
            elif now > be.requests_per_day * 1.05:
                assert gpu <= api * 1.01, f"{path.name}: above break-even but {be.gpu_option} dearer"
            elif now < be.requests_per_day * 0.95:
                assert api <= gpu * 1.01, f"{path.name}: below break-even but {be.api_option} dearer"
