"""Model names as people write them resolve to catalog entries (aliases are data: model_aliases.yaml)."""

from __future__ import annotations

import pytest

from flopbill import catalog
from flopbill.catalog.aliases import _alias_table, hf_ids, normalise_model_name, resolve_model_id
from flopbill.errors import InputError, UnknownNameError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt2-xl", "gpt-2-1.5b"),
        ("meta-llama/Llama-3.1-8B", "llama-3.1-8b"),
        ("llama3.1-70b", "llama-3.1-70b"),
        ("Llama-3.1-70B-Instruct", "llama-3.1-70b"),
        ("openai-community/gpt2", "gpt-2-124m"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"),
        ("google/gemma-2-9b-it", "gemma-2-9b"),
        ("LLAMA_3.2_1B", "llama-3.2-1b"),
    ],
)
def test_names_people_write(name: str, expected: str) -> None:
    assert catalog.model(name).id == expected


def test_every_entry_has_an_alias_row_and_every_hf_id_resolves() -> None:
    """Each catalog entry is in model_aliases.yaml, and each listed Hugging Face id (and its bare repository
    name, lower- or upper-case) resolves to that entry."""
    ids = {m.id for m in catalog.models()}
    assert set(_alias_table()) == ids
    for mid in ids:
        assert catalog.model(mid).id == mid
        for hf in hf_ids(mid):
            assert catalog.model(hf).id == mid, hf
            assert catalog.model(hf.upper()).id == mid, hf
            assert catalog.model(hf.split("/", 1)[1]).id == mid, hf


def test_no_key_is_shared_by_two_entries() -> None:
    """Every id, alias and HF id normalises to the key of exactly one entry (else lookups are ambiguous)."""
    owners: dict[str, set[str]] = {}
    for mid, (hf, aliases) in _alias_table().items():
        for name in (mid, *hf, *aliases):
            owners.setdefault(normalise_model_name(name), set()).add(mid)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_normalisation_rules() -> None:
    assert normalise_model_name(" Meta-Llama/Llama-3.1-70B-Instruct ") == "llama3.170b"
    assert normalise_model_name("llama3.1-70b") == "llama3.170b"
    assert normalise_model_name("Llama-2-7b-chat-hf") == "llama27b"
    assert normalise_model_name("it") == "it"  # a lone variant word is kept


def test_ambiguous_name_is_an_error_naming_both() -> None:
    table = {"a-7b": ((), ("shared",)), "b-7b": ((), ("shared",))}
    with pytest.raises(InputError) as err:
        resolve_model_id("Shared", table, table)
    assert "a-7b" in str(err.value) and "b-7b" in str(err.value)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as err:
        catalog.model("llama-3.1-7b")
    assert "llama-3.1-8b" in str(err.value)
