"""Loading user models (YAML, config.json, shorthand) and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from flopbill.catalog import load_model_file, model_from_shorthand, resolve_model
from flopbill.catalog.loader import load_hardware_file
from flopbill.errors import CatalogError, InputError
from flopbill.estimate.core.architecture import kv_bytes_per_token, param_counts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_hf_config_llama_3_1_8b_matches_model_card() -> None:
    """Meta's model card states 8.03B parameters for Llama 3.1 8B (huggingface.co/meta-llama/Llama-3.1-8B).

    Hand count from its config.json: embed 128256·4096 = 525.3M, head 525.3M, 32 layers ×
    (q,o 2·4096² + k,v 2·4096·1024 + MLP 3·4096·14336 + norms 2·4096) = 6979.3M, final norm 4096
    → 8,030,261,248.
    """
    m = resolve_model(str(FIXTURES / "llama-3.1-8b-config.json"))
    assert param_counts(m).total == 8_030_261_248
    assert m.published_params_total is None  # a user config has no published count


def test_hf_config_deepseek_v3_mla_and_moe() -> None:
    """DeepSeek-V3 technical report (arXiv 2412.19437, §1): 671B total, 37B activated (MTP excluded)."""
    m = resolve_model(str(FIXTURES / "deepseek-v3-config.json"))
    counts = param_counts(m)
    assert counts.total == pytest.approx(671e9, rel=0.01)
    assert counts.active == pytest.approx(37e9, rel=0.02)
    assert kv_bytes_per_token(m, "bf16") == 61 * (512 + 64) * 2


def test_custom_yaml_model() -> None:
    """Llama-2-13B shape: 13.0B (Touvron et al. 2023, Table 1 lists 13B)."""
    (m,) = load_model_file(FIXTURES / "custom-model.yaml")
    assert m.id == "my-13b"
    assert param_counts(m).total == pytest.approx(13.0e9, rel=0.01)


def test_shorthand_hits_requested_size() -> None:
    m = model_from_shorthand(7e9, n_layers=32, d_model=4096)
    assert param_counts(m).total == pytest.approx(7e9, rel=0.001)


def test_shorthand_rejects_impossible_size() -> None:
    with pytest.raises(InputError, match="params"):
        model_from_shorthand(1e6, n_layers=32, d_model=4096)


def _write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_typo_in_model_field_is_named(tmp_path: Path) -> None:
    text = (FIXTURES / "custom-model.yaml").read_text().replace("d_ff:", "d_fff:")
    with pytest.raises(CatalogError) as exc:
        load_model_file(_write(tmp_path, text))
    assert "d_fff: unknown field" in str(exc.value)
    assert "d_ff: Field required" in str(exc.value)


def test_bad_value_in_model_is_named_with_value(tmp_path: Path) -> None:
    text = (FIXTURES / "custom-model.yaml").read_text().replace("n_layers: 40", "n_layers: -4")
    with pytest.raises(CatalogError, match=r"n_layers: Input should be greater than 0 \(got -4\)"):
        load_model_file(_write(tmp_path, text))


def test_inconsistent_heads_rejected(tmp_path: Path) -> None:
    text = (FIXTURES / "custom-model.yaml").read_text().replace("n_heads: 40", "n_heads: 40\nn_kv_heads: 3")
    with pytest.raises(CatalogError, match="multiple of n_kv_heads"):
        load_model_file(_write(tmp_path, text))


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="line 2"):
        load_model_file(_write(tmp_path, "id: x\n  bad: [unclosed\n"))


def test_hardware_file_entry_named(tmp_path: Path) -> None:
    text = """
about: test
attribution: test
accelerators:
  - id: my-gpu
    name: My GPU
    vendor: Me
    kind: gpu
    peak_flops_per_s: {bf16: -1}
    sources: [{what: all, ref: me, checked: 2026-11-01}]
"""
    with pytest.raises(CatalogError, match=r"my-gpu\.peak_flops_per_s\.bf16"):
        load_hardware_file(_write(tmp_path, text))


def test_missing_model_file() -> None:
    with pytest.raises(InputError, match="model file"):
        load_model_file("does-not-exist.yaml")


def test_bad_json_config(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_model_file(_write(tmp_path, "{oops", "config.json"))
