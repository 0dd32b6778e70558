"""The autoscaling fleet's mean replicas under the daily load curve, against direct quadrature."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from flopbill.scenario.diurnal import load_curve, mean_of_floor_max, peak_factor_of_exponent


def _direct(x: float, p: float) -> float:
    """E_θ[max(x, f(θ))] by brute force over 20,000 time slices of the normalised curve."""
    f = load_curve(p, slices=20_000)
    return float(np.mean(np.maximum(x, f)))


@given(st.floats(0.0, 15.0), st.floats(1.0, 11.9))
def test_interpolated_table_matches_quadrature(x: float, p: float) -> None:
    """Bilinear interpolation of the tabulated G stays within 1 % of direct quadrature."""
    assert abs(mean_of_floor_max(x, p) - _direct(x, p)) <= 0.01 * _direct(x, p)


def test_limits_by_hand() -> None:
    """G(0, p) = E[f] = 1 (mean-1 curve); G(x, p) = x once the floor is above the peak (x ≥ p);
    the plain cosine (k = 1) has peak/mean 2 (√π·Γ(2)/Γ(1.5) = √π/(√π/2) = 2)."""
    assert np.isclose(peak_factor_of_exponent(1.0), 2.0)
    assert np.isclose(mean_of_floor_max(0.0, 2.0), 1.0, rtol=1e-3)
    assert np.isclose(mean_of_floor_max(3.0, 2.0), 3.0)


def test_broadcasts_rows_by_months() -> None:
    x = np.linspace(0.0, 4.0, 12).reshape(3, 4)
    p = np.array([[1.5], [2.0], [3.0]])
    out = mean_of_floor_max(x, p)
    assert out.shape == (3, 4)
    assert np.allclose(
        out, [[mean_of_floor_max(float(a), float(b[0])) for a in r] for r, b in zip(x, p, strict=True)]
    )
