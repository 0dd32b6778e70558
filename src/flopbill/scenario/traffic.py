"""Traffic over months, vectorised: arrays of shape (samples, months).

``R_m = r₁ · (1 + g)^(m−1)`` requests/day (compounding growth, via
:func:`flopbill.estimate.pricing.economics.monthly_requests_with_growth`); a spike of ×F for d days adds
``r·(F − 1)·d`` requests in the months it covers (spilling into later months when d exceeds the
month); AI requests = requests × ai_share; model calls = AI requests × samples per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flopbill.estimate.pricing.economics import SECONDS_PER_DAY, monthly_requests_with_growth
from flopbill.scenario.schema import Scenario

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrafficArrays:
    """Month-by-month traffic, each (samples, months); rates are model calls per second."""

    requests: FloatArray
    ai_requests: FloatArray
    model_calls: FloatArray
    daily_active_users: FloatArray | None
    base_calls_per_s: FloatArray  # mean rate on a day without a spike
    mean_calls_per_s: FloatArray  # month average, spikes included
    spike_days: FloatArray  # days of the month inside a spike
    spike_multiplier: FloatArray  # average multiplier on those days (1 without a spike)
    peak_multiplier: FloatArray  # largest spike multiplier in the month (≥ 1)


def _spikes(
    scenario: Scenario, v: Mapping[str, FloatArray], samples: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return (extra day-equivalents of volume, spike days, peak multiplier), each (samples, months)."""
    months = scenario.horizon_months
    days = scenario.days_per_month
    extra = np.zeros((samples, months))
    covered = np.zeros((samples, months))
    peak = np.ones((samples, months))
    start = np.arange(months, dtype=np.float64)
    for i, spike in enumerate(scenario.traffic.spikes):
        mult = v[f"traffic.spikes[{i}].multiplier"][:, None]
        dur = v[f"traffic.spikes[{i}].duration_days"][:, None]
        offset = (start - (spike.month - 1)) * days  # days of spike already past at each month start
        in_month = np.clip(dur - offset, 0.0, days) * (offset >= 0)
        extra += (mult - 1.0) * in_month
        covered += in_month
        peak = np.where(in_month > 0, np.maximum(peak, mult), peak)
    return extra, np.minimum(covered, days), peak


def project_traffic(scenario: Scenario, v: Mapping[str, FloatArray], samples: int) -> TrafficArrays:
    """Return traffic arrays for ``samples`` input draws ``v`` (each input an array of length samples)."""
    t = scenario.traffic
    months, days = scenario.horizon_months, scenario.days_per_month
    growth = v["traffic.monthly_growth"]
    dau = None
    if t.requests_per_day is not None:
        per_day = monthly_requests_with_growth(v["traffic.requests_per_day"], growth, months)
        if t.daily_active_users is not None:
            dau = monthly_requests_with_growth(v["traffic.daily_active_users"], growth, months)
    else:
        dau = monthly_requests_with_growth(v["traffic.daily_active_users"], growth, months)
        per_day = dau * v["traffic.requests_per_user_per_day"][:, None]
    extra, covered, peak = _spikes(scenario, v, samples)
    requests = per_day * (days + extra)
    calls_per_request = v["traffic.ai_share"][:, None] * v["request.samples_per_request"][:, None]
    base_rate = per_day * calls_per_request / SECONDS_PER_DAY
    with np.errstate(divide="ignore", invalid="ignore"):
        spike_mult = np.where(covered > 0, 1.0 + extra / np.where(covered > 0, covered, 1.0), 1.0)
    ai = requests * v["traffic.ai_share"][:, None]
    return TrafficArrays(
        requests=requests,
        ai_requests=ai,
        model_calls=ai * v["request.samples_per_request"][:, None],
        daily_active_users=dau,
        base_calls_per_s=base_rate,
        mean_calls_per_s=base_rate * (days + extra) / days,
        spike_days=covered,
        spike_multiplier=spike_mult,
        peak_multiplier=peak,
    )
