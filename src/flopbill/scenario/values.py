"""Scenario values that may be ranges: ``0.35..0.5``, ``5%..20%``, ``1M..3M``, ``$2..$3``, or one number.

A :class:`RangeValue` is (low, expected, high); ``low..high`` takes the midpoint as expected and
``low..expected..high`` gives it explicitly. Percent signs divide by 100; counts take SI suffixes
(``5M`` = 5e6, see :func:`flopbill.units.parse_count`); a leading ``$`` is ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema, model_validator

from flopbill.units import parse_count

_RANGE_HELP = "a number or a range such as 0.35..0.5, 5%..20%, 1M..3M or low..expected..high"


class RangeValue(BaseModel):
    """An uncertain input as (low, expected, high); a point value has all three equal."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    low: float
    expected: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> RangeValue:
        if not self.low <= self.expected <= self.high:
            raise ValueError("a range must be written low..high (or low..expected..high) with low ≤ high")
        return self

    @property
    def is_point(self) -> bool:
        """True when low = expected = high (nothing to sample)."""
        return self.low == self.high

    @classmethod
    def point(cls, value: float) -> RangeValue:
        """Return a degenerate range."""
        return cls(low=value, expected=value, high=value)

    def text(self) -> str:
        """Return the range as written: ``0.35..0.5`` or ``0.4``."""
        if self.is_point:
            return f"{self.expected:g}"
        if self.expected == (self.low + self.high) / 2:
            return f"{self.low:g}..{self.high:g}"
        return f"{self.low:g}..{self.expected:g}..{self.high:g}"


def _parse_part(text: str) -> float:
    raw = text.strip().replace(",", "")
    if raw.startswith("$"):
        raw = raw[1:].strip()
    if raw.endswith("%"):
        return float(parse_count(raw[:-1].strip())) / 100.0
    return float(parse_count(raw))


def parse_range_value(value: Any) -> Any:
    """Return a :class:`RangeValue` (as a dict) from a number, a range string or a mapping.

    Raises ``ValueError`` (turned into a field error by pydantic) for anything else.
    """
    if isinstance(value, RangeValue | dict):
        return value
    if isinstance(value, bool):
        raise ValueError(_RANGE_HELP)
    if isinstance(value, int | float):
        return {"low": float(value), "expected": float(value), "high": float(value)}
    if not isinstance(value, str):
        raise ValueError(_RANGE_HELP)
    parts = value.split("..")
    if len(parts) > 3 or any(not p.strip() for p in parts):
        raise ValueError(_RANGE_HELP)
    try:
        numbers = [_parse_part(p) for p in parts]
    except (ValueError, TypeError) as exc:
        raise ValueError(_RANGE_HELP) from exc
    if len(numbers) == 1:
        return {"low": numbers[0], "expected": numbers[0], "high": numbers[0]}
    low, high = numbers[0], numbers[-1]
    expected = numbers[1] if len(numbers) == 3 else (low + high) / 2.0
    return {"low": low, "expected": expected, "high": high}


_RANGE_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number"},
        {
            "type": "string",
            "pattern": r"^\s*\$?[-+0-9.eE_,]+\s*(%|[kKMBGTPE]|Ki|Mi|Gi|Ti)?\s*(\.\.\s*\$?[-+0-9.eE_,]+\s*"
            r"(%|[kKMBGTPE]|Ki|Mi|Gi|Ti)?\s*){0,2}$",
        },
        {
            "type": "object",
            "properties": {k: {"type": "number"} for k in ("low", "expected", "high")},
            "required": ["low", "expected", "high"],
            "additionalProperties": False,
        },
    ],
    "description": _RANGE_HELP,
}

#: A scenario field that accepts a number or a range.
Ranged = Annotated[RangeValue, BeforeValidator(parse_range_value), WithJsonSchema(_RANGE_JSON_SCHEMA)]


def check_bounds(value: RangeValue, lower: float | None, upper: float | None, allowed: str) -> RangeValue:
    """Return ``value`` if low ≥ ``lower`` and high ≤ ``upper`` (``None`` = unbounded); else ValueError."""
    if (lower is not None and value.low < lower) or (upper is not None and value.high > upper):
        raise ValueError(f"must be {allowed}")
    return value


def _nonnegative(value: RangeValue) -> RangeValue:
    return check_bounds(value, 0.0, None, "≥ 0 (a volume, price or count cannot be negative)")


def _positive(value: RangeValue) -> RangeValue:
    if value.low <= 0:
        raise ValueError("must be > 0")
    return value


def _fraction(value: RangeValue) -> RangeValue:
    return check_bounds(value, 0.0, 1.0, "a fraction between 0 and 1 (e.g. 0.2 or 20%)")


def _growth(value: RangeValue) -> RangeValue:
    if value.low <= -1.0:
        raise ValueError("must be a monthly growth rate > -100% (e.g. 10% or -2%)")
    return value


#: A ranged value ≥ 0.
NonNegative = Annotated[Ranged, AfterValidator(_nonnegative)]
#: A ranged value > 0.
Positive = Annotated[Ranged, AfterValidator(_positive)]
#: A ranged fraction in [0, 1].
Fraction = Annotated[Ranged, AfterValidator(_fraction)]
#: A ranged fraction in (0, 1] (a utilization: zero would divide by zero).
PositiveFraction = Annotated[Ranged, AfterValidator(_fraction), AfterValidator(_positive)]
#: A ranged monthly growth rate > −1.
Growth = Annotated[Ranged, AfterValidator(_growth)]
