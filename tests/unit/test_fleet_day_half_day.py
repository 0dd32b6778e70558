"""Billing the symmetric half of the raised-cosine day (hours 0 … 12, weights 1, 2, …, 2, 1) bills the
same day as all 24 hours: the curve has ``f(θ_h) = f(−θ_h)`` with ``θ_h = −π + 2πh/24``, so hour
``24 − h`` repeats hour ``h`` for h = 1 … 11 (an invariant, not a figure)."""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.estimate.pricing.fleet_day import day_fleet, serverless_day
from flopbill.scenario.diurnal import HALF_DAY_WEIGHTS, half_day_curves, hourly_curves


@pytest.mark.parametrize("floor", [0.0, 1.0, 3.0])
def test_half_day_with_weights_bills_the_whole_day(floor: float) -> None:
    rng = np.random.default_rng(3)
    peak = rng.uniform(1.0, 4.0, size=40)
    base = rng.uniform(0.001, 30.0, size=(40, 6))
    cap, util = rng.uniform(0.5, 5.0, size=(40, 1)), rng.uniform(0.3, 1.0, size=(40, 1))
    full, half = hourly_curves(peak), half_day_curves(peak)
    np.testing.assert_allclose(full[..., 13:], full[..., 11:0:-1], rtol=1e-12)  # the mirror image
    common = (cap, util, floor, np.full((40, 6), 12.0), 1, 8, 60.0, 60.0, 120.0, 300.0)
    whole = day_fleet(base[..., None] * full[:, None, :], *common, unimodal=True)
    part = day_fleet(
        base[..., None] * half[:, None, :], *common, unimodal=True, slot_weights=HALF_DAY_WEIGHTS
    )
    for name in ("instance_hours", "peak_instances", "served_calls", "unserved_calls", "cold_starts"):
        np.testing.assert_allclose(getattr(part, name), getattr(whole, name), rtol=1e-9, atol=1e-9)
    s_whole = serverless_day(base[..., None] * full[:, None, :], cap, util, 1.0, 1.0, 120.0, 60.0)
    s_part = serverless_day(
        base[..., None] * half[:, None, :], cap, util, 1.0, 1.0, 120.0, 60.0, slot_weights=HALF_DAY_WEIGHTS
    )
    np.testing.assert_allclose(s_part.instance_hours, s_whole.instance_hours, rtol=1e-9)
    np.testing.assert_allclose(s_part.served_calls, s_whole.served_calls, rtol=1e-9)


def test_weights_need_a_unimodal_day() -> None:
    with pytest.raises(ValueError, match="unimodal"):
        day_fleet(
            np.ones((1, 13)), 1.0, 1.0, 1.0, 2.0, 1, 1, 1.0, 1.0, 0.0, 0.0, slot_weights=HALF_DAY_WEIGHTS
        )
