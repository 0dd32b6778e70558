"""Golden training runs: flopbill against published FLOPs, GPU-hours and memory setups.

Cases, sources and tolerances live in ``src/flopbill/catalog/data/golden_training.yaml`` (each case names its
paper/model card and table). Checks: model FLOPs within 10 %; GPU-hours with the published MFU within 10 %;
with flopbill's default ranges (no MFU given) the published GPU-hours inside [low, high]; published memory
setups fit (or do not) as they did.
"""

from __future__ import annotations

from typing import Any

import pytest

from flopbill.validation.training import case_rows, golden_training_data, memory_row

CASES: list[dict[str, Any]] = golden_training_data()["cases"]
MEMORY_CASES: list[dict[str, Any]] = golden_training_data()["memory_cases"]


def test_at_least_twelve_published_runs() -> None:
    assert len(CASES) >= 12
    assert all(c["source"] and c["checked"] for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_training_case(case: dict[str, Any]) -> None:
    for row in case_rows(case):
        assert row.passed, (
            f"{row.case} {row.check}: published {row.published:.4g}, flopbill {row.flopbill:.4g} "
            f"[{row.low:.4g}, {row.high:.4g}] ({row.error_pct:+.1f} %) — {row.source}"
        )


def test_gpt3_flops_by_hand() -> None:
    """GPT-3 175B: 6·N·D = 6 × 174.6e9 × 300e9 = 3.14e23 (Brown et al. 2020, Table D.1, 3.14e23); attention
    adds 3 × 2 × 96 layers × 12288 × 2048/2 per token ≈ 1.4 %, so flopbill must sit within +0..3 %."""
    row = next(r for r in case_rows(next(c for c in CASES if c["id"] == "gpt-3-175b")) if r.check == "flops")
    assert 0.0 <= row.error_pct <= 3.0


@pytest.mark.parametrize("case", MEMORY_CASES, ids=[c["id"] for c in MEMORY_CASES])
def test_golden_memory_setup(case: dict[str, Any]) -> None:
    row = memory_row(case)
    assert row.passed, (
        f"{row.case}: {row.memory_per_gpu_bytes / 1e9:.1f} GB per GPU of {row.capacity_bytes / 1e9:.0f} GB, "
        f"fits={row.fits} (published {row.expect_fits}), "
        f"min GPUs {row.min_gpus} (published {row.expect_min_gpus})"
    )


def test_bloom_replica_uses_about_60_gb() -> None:
    """BigScience: one BLOOM replica on 48 A100-80GB uses ~60 GB per GPU: weights 176e9·2/48 = 7.3 GB, grads
    7.3 GB, Adam states 12·176e9/48 = 44 GB (ZeRO-1 over DP = 1) → ~59 GB + activations."""
    row = memory_row(next(c for c in MEMORY_CASES if c["id"] == "bloom-176b-replica"))
    assert 55e9 <= row.memory_per_gpu_bytes <= 75e9


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == case_id)


def test_every_case_names_a_locator() -> None:
    """Each source points into the document: a table, section, appendix, abstract or a URL."""
    locators = ("Table", "section", "Appendix", "appendix", "abstract", "model card", ".com/", ".co/")
    for case in CASES:
        assert any(word in str(case["source"]) for word in locators), case["id"]


def test_llama_65b_hours_are_tokens_over_published_throughput() -> None:
    """Touvron et al. 2023 (LLaMA) §2.4: 380 tokens/s/GPU; 1.4e12 / 380 / 3600 = 1,023,392 GPU-hours, within
    0.2 % of the 1,022,362 of its Table 15 — so the published hours carry no lost time (goodput 1)."""
    case = _case("llama-65b")
    hours = float(case["tokens"]) / 380.0 / 3600.0
    assert abs(hours / float(case["published"]["gpu_hours"]) - 1.0) < 0.002


def test_mpt_7b_hours_from_published_gpus_and_days() -> None:
    """MosaicML MPT-7B model card: 440 A100-40GB for about 9.5 days → 440 × 9.5 × 24 = 100,320 GPU-hours."""
    case = _case("mpt-7b")
    assert case["n_accelerators"] == 440
    assert float(case["published"]["gpu_hours"]) == 440 * 9.5 * 24


def test_llama_1_hours_grow_with_model_flops() -> None:
    """LLaMA Table 15 GPU-hours (82,432 / 135,168 / 530,432 / 1,022,362) rise with 6·N·D (N 6.7B/13.0B/
    32.5B/65.2B on 1.0T/1.0T/1.4T/1.4T tokens); flopbill's defaults order them alike."""
    ids = ["llama-7b", "llama-13b", "llama-33b", "llama-65b"]
    published = [float(_case(i)["published"]["gpu_hours"]) for i in ids]
    expected = [
        next(r for r in case_rows(_case(i)) if r.check == "gpu_hours_in_default_range").flopbill for i in ids
    ]
    assert published == sorted(published)
    assert expected == sorted(expected)
