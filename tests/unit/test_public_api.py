"""The public surface: every name in ``flopbill.__all__`` resolves, is documented, and works end to end."""

from __future__ import annotations

import pytest

import flopbill


@pytest.mark.parametrize("name", flopbill.__all__)
def test_public_names_resolve_and_are_documented(name: str) -> None:
    value = getattr(flopbill, name)
    if name != "__version__":
        assert value.__doc__, f"flopbill.{name} has no docstring"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = flopbill.does_not_exist  # type: ignore[attr-defined]


def test_readme_library_example() -> None:
    """README: Llama 3.1 70B has 70,553,706,496 parameters (config.json count; Meta states "70B") and
    2·80 layers·8 KV heads·128·2 B = 327,680 bytes of bf16 KV cache per token."""
    m = flopbill.model("llama-3.1-70b")
    assert flopbill.param_counts(m).total == 70_553_706_496
    assert flopbill.kv_bytes_per_token(m, "bf16") == 327_680
