"""Checks of the shipped model catalog file: schema, ids, provenance, required models."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from flopbill.catalog import model, models
from flopbill.catalog.schema import ModelCatalog, ModelSpec

DATA = Path(__file__).resolve().parents[2] / "src" / "flopbill" / "catalog" / "data"
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")

REQUIRED_IDS = {
    "gpt-2-124m", "gpt-2-1.5b", "gpt-3-175b", "llama-2-7b", "llama-2-13b", "llama-2-70b",
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-1b", "llama-3.2-3b", "mistral-7b",
    "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-7b", "qwen2.5-72b", "qwen3-8b", "qwen3-32b",
    "qwen3-30b-a3b", "qwen3-235b-a22b", "deepseek-v3", "gemma-2-9b", "gemma-2-27b", "phi-3-mini",
    "olmo-2-7b", "transformer-base", "transformer-big",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> ModelCatalog:
    text = (DATA / "models.yaml").read_text(encoding="utf-8")
    return ModelCatalog.model_validate(yaml.safe_load(text))


def test_catalog_has_required_models(catalog: ModelCatalog) -> None:
    ids = {m.id for m in catalog.models}
    assert len(ids) >= 60
    assert not REQUIRED_IDS - ids, sorted(REQUIRED_IDS - ids)


def test_ids_are_lowercase_hyphenated(catalog: ModelCatalog) -> None:
    bad = [m.id for m in catalog.models if not ID_PATTERN.match(m.id)]
    assert not bad


def test_every_entry_is_sourced_and_dated(catalog: ModelCatalog) -> None:
    for m in catalog.models:
        assert m.sources, m.id
        for src in m.sources:
            assert isinstance(src.checked, dt.date), m.id
            assert src.ref.strip() and src.what.strip(), m.id
        assert m.published_params_source != "unpublished", m.id
        assert m.published_params_source.strip(), m.id


def test_published_counts_are_positive(catalog: ModelCatalog) -> None:
    for m in catalog.models:
        assert m.published_params_total is not None and m.published_params_total > 0, m.id
        if m.published_params_active is not None:
            assert 0 < m.published_params_active < m.published_params_total, m.id


def test_moe_entries_have_active_and_dense_do_not(catalog: ModelCatalog) -> None:
    for m in catalog.models:
        assert (m.published_params_active is not None) == m.is_moe, m.id


def test_hf_config_sources_are_repository_urls(catalog: ModelCatalog) -> None:
    """Entries whose shape comes from a config.json cite it as https://huggingface.co/ORG/REPO/blob/..."""
    pattern = re.compile(r"^https://huggingface\.co/[^/\s]+/[^/\s]+/blob/main/config\.json$")
    for m in catalog.models:
        for src in m.sources:
            if "config.json" in src.ref and src.ref.startswith("https://huggingface.co"):
                assert pattern.match(src.ref), (m.id, src.ref)


def test_sliding_window_entries_are_consistent(catalog: ModelCatalog) -> None:
    """Mistral 7B v0.1 windows every layer; Gemma 2 every other layer (Gemma 2 paper, Table 1)."""
    by_id = {m.id: m for m in catalog.models}
    mistral = by_id["mistral-7b"]
    assert (mistral.sliding_window_tokens, mistral.sliding_window_layers) == (4096, mistral.n_layers)
    for gid in ("gemma-2-9b", "gemma-2-27b"):
        g = by_id[gid]
        assert g.sliding_window_tokens == 4096 and 2 * g.sliding_window_layers == g.n_layers


def test_encoder_decoder_entries(catalog: ModelCatalog) -> None:
    """Vaswani et al. 2017: N = 6 encoder and 6 decoder layers, one shared embedding, no learned positions."""
    for m in catalog.models:
        if m.family == "transformer":
            assert (m.n_layers, m.n_decoder_layers) == (6, 6)
            assert m.tied_embeddings and not m.learned_position_embeddings


@pytest.mark.parametrize("name", ["llama-3.1-8b", "Llama-3.1-8B", " DeepSeek-V3 ", "gpt_2_124m"])
def test_lookup_by_id_is_forgiving(name: str) -> None:
    assert isinstance(model(name), ModelSpec)


def test_builtin_loader_reads_the_same_file(catalog: ModelCatalog) -> None:
    assert [m.id for m in models()] == [m.id for m in catalog.models]
