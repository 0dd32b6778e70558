"""Scalar-or-array plumbing shared by the estimators (numpy broadcasting, checked inputs).

Estimators accept Python floats or numpy arrays for their numeric arguments and return a Python float
when the result is a scalar, a float64 array otherwise, so one function serves a single estimate and a
vectorized search over millions of configurations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from flopbill.checks import array as check_array
from flopbill.errors import InputError

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | FloatArray


def as_array(value: Any) -> FloatArray:
    """Return ``value`` as a float64 numpy array (no copy when it already is one)."""
    return np.asarray(value, dtype=np.float64)


def as_output(value: Any) -> ArrayLike:
    """Return a 0-d result as a Python float and anything else as a float64 array."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, dtype=np.float64)


def check_nonnegative(field: str, value: Any) -> FloatArray:
    """Return ``value`` as an array, or raise :class:`InputError` naming ``field`` if any is < 0, NaN or
    infinite."""
    arr = as_array(check_array(value, field))
    if np.any(~(arr >= 0)):
        raise InputError(field, value, "a number ≥ 0 (no NaN)")
    return arr


def check_fraction(field: str, value: Any) -> FloatArray:
    """Return ``value`` as an array, or raise :class:`InputError` naming ``field`` unless all in [0, 1]."""
    arr = as_array(check_array(value, field))
    if np.any(~((arr >= 0) & (arr <= 1))):
        raise InputError(field, value, "a fraction between 0 and 1")
    return arr
