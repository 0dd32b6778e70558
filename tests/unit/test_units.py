"""Parsing human quantities: decimal vs binary prefixes, prices, fractions, ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flopbill.errors import InputError
from flopbill.units import (
    format_bytes,
    format_count,
    format_usd,
    parse_bytes,
    parse_count,
    parse_fraction,
    parse_price_usd,
    parse_range,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70B", 70e9),
        ("1.5T", 1.5e12),
        ("15T", 15e12),
        ("8k", 8_000),
        ("8K", 8_000),
        ("8Ki", 8_192),
        ("128Ki", 131_072),
        ("124M", 124e6),
        ("1e9", 1e9),
        ("2_048", 2048),
        (" 7 B ", 7e9),
    ],
)
def test_parse_count(text: str, expected: float) -> None:
    assert parse_count(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80GB", 80e9),
        ("80 GB", 80e9),
        ("80GiB", 80 * 2**30),
        ("24G", 24e9),
        ("1.5TB", 1.5e12),
        ("512MiB", 512 * 2**20),
        ("1000", 1000),
    ],
)
def test_parse_bytes_decimal_and_binary(text: str, expected: float) -> None:
    assert parse_bytes(text) == pytest.approx(expected)


def test_gib_is_larger_than_gb_by_7_percent() -> None:
    """1 GiB / 1 GB = 2**30 / 1e9 = 1.0737 (a 7.4 % difference people often ignore)."""
    assert parse_bytes("1GiB") / parse_bytes("1GB") == pytest.approx(1.073741824)


@pytest.mark.parametrize("text", ["", "seventy", "70X", "B70", "--1", "1..2"])
def test_parse_count_rejects_garbage_with_field(text: str) -> None:
    with pytest.raises(InputError, match="tokens"):
        parse_count(text, "--tokens")


def test_parse_price_and_fraction() -> None:
    assert parse_price_usd("$2.49/h") == pytest.approx(2.49)
    assert parse_price_usd("2.49") == pytest.approx(2.49)
    assert parse_fraction("40%") == pytest.approx(0.4)
    with pytest.raises(InputError, match="between 0 and 1"):
        parse_fraction("1.5", "--mfu")


def test_parse_range() -> None:
    assert parse_range("0.35..0.5") == pytest.approx((0.35, 0.425, 0.5))
    assert parse_range("0.35..0.4..0.5") == pytest.approx((0.35, 0.4, 0.5))
    assert parse_range("0.4") == (0.4, 0.4, 0.4)
    with pytest.raises(InputError, match=r"low\.\.high"):
        parse_range("0.5..0.35", field="--mfu")


@given(st.floats(min_value=1, max_value=1e15, allow_nan=False))
def test_format_count_round_trips_within_rounding(value: float) -> None:
    """format_count keeps 3 significant digits, so parsing it back is within 0.5 %."""
    assert parse_count(format_count(value)) == pytest.approx(value, rel=5e-3)


def test_format_edges() -> None:
    assert format_bytes(80e9) == "80 GB"
    assert format_count(70e9) == "70B"
    assert format_usd(1.5e6) == "$1.5M"
    assert format_usd(12.5) == "$12.50"
