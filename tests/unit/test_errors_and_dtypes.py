"""Errors name the field and suggest close matches; dtypes have the stated widths."""

from __future__ import annotations

import pytest

from flopbill.dtypes import Dtype, bytes_per_value, parse_dtype
from flopbill.errors import InputError, UnknownNameError, close_matches


def test_unknown_name_suggests_close_matches() -> None:
    err = UnknownNameError("model", "llama-3.1-7b", ["llama-3.1-8b", "llama-3.1-70b", "gpt-2-124m"])
    assert "llama-3.1-8b" in str(err)
    assert "unknown model 'llama-3.1-7b'" in str(err)


def test_close_matches_finds_substrings() -> None:
    assert "h100-sxm" in close_matches("h100", ["h100-sxm", "a100-80gb", "l4"])


def test_input_error_names_field_value_and_allowed() -> None:
    err = InputError("--mfu", 1.5, "a fraction between 0 and 1")
    assert str(err) == "--mfu: 1.5 is not allowed; expected a fraction between 0 and 1"


@pytest.mark.parametrize(
    ("text", "dtype"),
    [
        ("bf16", Dtype.BF16),
        ("BF16", Dtype.BF16),
        ("bfloat16", Dtype.BF16),
        ("float16", Dtype.FP16),
        ("fp8", Dtype.FP8),
    ],
)
def test_parse_dtype_aliases(text: str, dtype: Dtype) -> None:
    assert parse_dtype(text) is dtype


def test_unknown_dtype_lists_allowed() -> None:
    with pytest.raises(InputError, match="one of fp32, tf32, bf16"):
        parse_dtype("fp7", "--weights")


def test_int4_bytes_include_group_scales() -> None:
    """AWQ/GPTQ int4, group 128, fp16 scale + fp16 zero: (4·128 + 16 + 16) / 128 bits = 4.25 bits."""
    assert bytes_per_value("int4") == pytest.approx(4.25 / 8)
    assert bytes_per_value("bf16") == 2.0
