"""What an estimate assumed: every result carries a tuple of these next to its numbers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    """One input an estimate used: its name, value (with unit in the name or the text) and source.

    ``source`` says where the value came from: ``"given"`` for user input, or the reference
    (paper + table, datasheet, price page) and its date for a default.
    """

    name: str
    value: float | str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Range:
    """An uncertain quantity as (low, expected, high); a point value has all three equal."""

    low: float
    expected: float
    high: float

    @classmethod
    def point(cls, value: float) -> Range:
        """Return a degenerate range."""
        return cls(value, value, value)

    def __post_init__(self) -> None:
        if not self.low <= self.expected <= self.high:
            raise ValueError(f"range must satisfy low ≤ expected ≤ high, got {self}")
