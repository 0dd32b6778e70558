"""Parameter counts and KV-cache sizes against published figures and hand calculations.

Every catalog model: flopbill's total within 1 % of the count its publisher states (the source is in
the entry's ``published_params_source``), and for MoE models the active count within 2 %. Each
exception below is one entry with a written reason; the hand checks derive their expected values in
the docstring, independently of flopbill's code.
"""

from __future__ import annotations

import pytest

from flopbill.catalog import model, models
from flopbill.catalog.schema import ModelSpec
from flopbill.dtypes import Dtype
from flopbill.estimate.core.architecture import (
    kv_bytes_per_token,
    kv_cache_bytes,
    kv_values_per_token_per_layer,
    param_counts,
)

TOTAL_TOLERANCE = 0.01
ACTIVE_TOLERANCE = 0.02

# transformer-big: Vaswani et al. 2017 Table 3 gives 65M (base) and 213M (big). No single embedding size
# reproduces both within 1 %: 65M needs ~41k rows at d_model 512 (tensor2tensor's wmt_ende_bpe32k uses
# 40960), 213M needs ~35.8k rows at 1024. The catalog keeps one vocabulary (40960) for both, which puts
# big at 218.3M (+2.5 %); see the entry's notes and test_transformer_counts_by_hand.
#
# qwen3-1.7b: the card gives 1.7B total and 1.4B non-embedding, both rounded; the weights count 1.7206B
# (+1.2 %) and 1.4094B non-embedding (+0.7 %).
# kimi-k2: the card gives "1T" and "32B"; the DeepSeek-V3 layout with 384 experts counts 1.0264T (+2.6 %)
# total and 32.86B (+2.7 %) active.
# llama-4-scout: Meta's 109B counts the vision encoder; the text model (what the catalog holds) counts
# 107.77B (−1.1 %). Maverick's text model is within 1 % of 400B.
TOTAL_TOLERANCE_OVERRIDES = {
    "transformer-big": 0.03,
    "qwen3-1.7b": 0.015,
    "kimi-k2": 0.03,
    "llama-4-scout": 0.015,
    # phi-4, olmo-2-13b, mistral-small-3: the owners give only "14B", "13B" and "24B"; the weights count
    # 14.66B (+4.7 %), 13.72B (+5.5 %) and 23.57B (−1.8 %): see the hand counts below.
    "phi-4": 0.05,
    "olmo-2-13b": 0.06,
    "mistral-small-3": 0.02,
}
ACTIVE_TOLERANCE_OVERRIDES = {"kimi-k2": 0.03}

# gpt-oss model card (arXiv:2508.10925), parameter-count table: "active" leaves out the input embedding
# (5.13B = 5.71B − 201088·2880 for gpt-oss-120b). The others (Mixtral, Qwen3, DeepSeek-V3) count it.
ACTIVE_EXCLUDES_INPUT_EMBEDDING = {"gpt-oss-120b", "gpt-oss-20b"}
# GLM-4.5 (32B), GLM-4.5-Air (12B) and MiniMax-M2 (10B) state rounded active counts that match the active
# parameters without the input embedding and the output head (GLM-4.5: 32.08B without, 33.63B with both);
# the owners do not say which they count, so the closer reading is used and written here.
ACTIVE_EXCLUDES_EMBEDDINGS = {"glm-4.5", "glm-4.5-air", "minimax-m2"}

CATALOG = models()


def _rel_err(computed: float, published: float) -> float:
    return abs(computed / published - 1.0)


@pytest.mark.parametrize("m", CATALOG, ids=[m.id for m in CATALOG])
def test_total_params_match_published(m: ModelSpec) -> None:
    assert m.published_params_total is not None
    tol = TOTAL_TOLERANCE_OVERRIDES.get(m.id, TOTAL_TOLERANCE)
    total = param_counts(m).total
    assert _rel_err(total, m.published_params_total) <= tol, (
        f"{m.id}: {total:,.0f} vs published {m.published_params_total:,.0f} ({m.published_params_source})"
    )


MOE = [m for m in CATALOG if m.is_moe]


def _active(m: ModelSpec) -> float:
    """Active parameters counted the way the entry's publisher counts them (see the sets above)."""
    counts = param_counts(m)
    if m.id in ACTIVE_EXCLUDES_EMBEDDINGS:
        return counts.active - counts.embedding - counts.output_head
    return counts.active - (counts.embedding if m.id in ACTIVE_EXCLUDES_INPUT_EMBEDDING else 0.0)


@pytest.mark.parametrize("m", MOE, ids=[m.id for m in MOE])
def test_active_params_match_published(m: ModelSpec) -> None:
    assert m.published_params_active is not None
    active = _active(m)
    tol = ACTIVE_TOLERANCE_OVERRIDES.get(m.id, ACTIVE_TOLERANCE)
    assert _rel_err(active, m.published_params_active) <= tol, (
        f"{m.id}: active {active:,.0f} vs published {m.published_params_active:,.0f}"
    )


def test_tolerance_exceptions_are_still_needed() -> None:
    """An exception that no longer fails the 1 % rule must be removed from the override table."""
    for mid, tol in TOTAL_TOLERANCE_OVERRIDES.items():
        m = model(mid)
        assert m.published_params_total is not None
        err = _rel_err(param_counts(m).total, m.published_params_total)
        assert TOTAL_TOLERANCE < err <= tol
    for mid, tol in ACTIVE_TOLERANCE_OVERRIDES.items():
        m = model(mid)
        assert m.published_params_active is not None
        err = _rel_err(_active(m), m.published_params_active)
        assert ACTIVE_TOLERANCE < err <= tol


def test_gpt2_small_by_hand() -> None:
    """GPT-2 small (d = 768, L = 12, V = 50257, n_ctx = 1024, tied head, biases, LayerNorm with bias).

    Per block: ln_1 2d + c_attn (d·3d + 3d) + c_proj (d·d + d) + ln_2 2d + c_fc (d·4d + 4d)
    + mlp c_proj (4d·d + d) = 12d² + 13d = 7,077,888 + 9,984 = 7,087,872.
    Total = V·d + n_ctx·d + L·(12d² + 13d) + ln_f 2d
          = 38,597,376 + 786,432 + 85,054,464 + 1,536 = 124,439,808
    (KerasHub gpt2_base_en lists the same 124,439,808; OpenAI calls it 124M).
    """
    d, layers, vocab, ctx = 768, 12, 50257, 1024
    expected = vocab * d + ctx * d + layers * (12 * d * d + 13 * d) + 2 * d
    assert expected == 124_439_808
    counts = param_counts(model("gpt-2-124m"))
    assert counts.total == expected
    assert counts.output_head == 0  # tied
    assert counts.position == 786_432


def test_llama2_7b_by_hand() -> None:
    """Llama 2 7B: 2·V·d + L·(4d² + 3·d·d_ff + 2d) + d with V = 32000, d = 4096, d_ff = 11008, L = 32.

    = 262,144,000 + 32·(67,108,864 + 135,266,304 + 8,192) + 4,096 = 6,738,415,616 (KerasHub llama2_7b_en).
    """
    v, d, ff, layers = 32000, 4096, 11008, 32
    expected = 2 * v * d + layers * (4 * d * d + 3 * d * ff + 2 * d) + d
    assert expected == 6_738_415_616
    assert param_counts(model("llama-2-7b")).total == expected


def test_gemma2_embedding_split_matches_paper() -> None:
    """Gemma 2 paper, Table 2: 9B has 917,504,000 embedding (256000 × 3584) and 8,324,201,984
    non-embedding parameters; 27B has 1,179,648,000 (256000 × 4608) and 26,047,480,320.
    """
    for mid, emb, non_emb in (
        ("gemma-2-9b", 917_504_000, 8_324_201_984),
        ("gemma-2-27b", 1_179_648_000, 26_047_480_320),
    ):
        counts = param_counts(model(mid))
        assert counts.embedding == emb
        assert counts.total - counts.embedding == non_emb


def test_mixtral_active_by_hand() -> None:
    """Mixtral 8x7B: active = total − L·(E − k)·3·d·d_ff = 46,702,792,704 − 32·6·3·4096·14336
    = 46,702,792,704 − 33,822,867,456 = 12,879,925,248 (paper: "13B active").
    """
    counts = param_counts(model("mixtral-8x7b"))
    assert counts.active == 46_702_792_704 - 32 * 6 * 3 * 4096 * 14336 == 12_879_925_248


def test_llama31_8b_kv_bytes_per_token() -> None:
    """Llama 3.1 8B, bf16: 2 (K and V) · 32 layers · 8 KV heads · 128 head dim · 2 bytes = 131,072 B."""
    assert kv_bytes_per_token(model("llama-3.1-8b"), Dtype.BF16) == 2 * 32 * 8 * 128 * 2 == 131_072


def test_deepseek_v3_mla_kv_per_token() -> None:
    """DeepSeek-V3 MLA caches the 512-wide latent plus the 64-wide rotary key per layer
    (DeepSeek-V2 report §2.1.3): 61 · (512 + 64) = 35,136 values per token, 70,272 bytes in bf16.
    """
    m = model("deepseek-v3")
    assert kv_values_per_token_per_layer(m) == 512 + 64
    assert kv_bytes_per_token(m, Dtype.BF16) == 61 * (512 + 64) * 2 == 70_272


def test_mistral_7b_kv_cache_stops_at_window() -> None:
    """Mistral 7B v0.1: window W = 4096 in all 32 layers (paper, Table 1), rolling buffer cache.

    At 8192 tokens the cache equals the cache at 4096 tokens: 4096 · 32 · 2 · 8 · 128 · 2 B
    = 536,870,912 B (bf16); below the window it grows linearly (2048 tokens: half of that).
    """
    m = model("mistral-7b")
    full = 4096 * 32 * 2 * 8 * 128 * 2
    assert kv_cache_bytes(m, 8192, Dtype.BF16) == kv_cache_bytes(m, 4096, Dtype.BF16) == full
    assert kv_cache_bytes(m, 2048, Dtype.BF16) == full / 2


def test_transformer_counts_by_hand() -> None:
    """Vaswani et al. 2017 base (d = 512, d_ff = 2048, N = 6) and big (d = 1024, d_ff = 4096).

    Attention block: 4·(d² + d); FFN: 2·d·d_ff + d_ff + d; LayerNorm: 2d.
    Encoder layer = attention + FFN + 2 norms; decoder layer = 2 attentions + FFN + 3 norms;
    plus a final norm after each stack and one V×d embedding shared by source, target and softmax.
    base, V = 40960 (tensor2tensor wmt_ende_bpe32k): 44,140,544 + 20,971,520 = 65,112,064 (+0.2 % vs 65M).
    base, V = 37000 (the paper's "about 37000"): 63,084,544 (−2.9 %), which is why the catalog uses
    tensor2tensor's 40960. big, V = 40960: 218,304,512 (+2.5 % vs 213M, the documented exception).
    """

    def count(d: int, ff: int, vocab: int) -> int:
        attn, ffn, ln = 4 * (d * d + d), 2 * d * ff + ff + d, 2 * d
        return 6 * (attn + ffn + 2 * ln) + 6 * (2 * attn + ffn + 3 * ln) + 2 * ln + vocab * d

    base, big = model("transformer-base"), model("transformer-big")
    assert count(512, 2048, 40960) == param_counts(base).total == 65_112_064
    assert count(1024, 4096, 40960) == param_counts(big).total == 218_304_512
    paper_vocab = base.model_copy(update={"vocab_size": 37000})
    assert count(512, 2048, 37000) == param_counts(paper_vocab).total == 63_084_544
    assert _rel_err(63_084_544, 65e6) > TOTAL_TOLERANCE


def test_rounded_dense_counts_by_hand() -> None:
    """Dense GQA decoders with SwiGLU, RMSNorm and an untied head: 2·V·d + L·(2·d·h·n_q... ) written out.

    Per layer: q and o 2·d·(n_q·h), k and v 2·d·(n_kv·h), FFN 3·d·d_ff, 2 norms 2·d (+ q/k norm 2·h for
    OLMo 2, per head as flopbill counts it); plus the final norm d.
    phi-4 (V 100352, d 5120, L 40, 40/10 heads of 128, d_ff 17920):
      2·100352·5120 + 40·(2·5120·5120 + 2·5120·1280 + 3·5120·17920 + 2·5120) + 5120 = 14,659,507,200.
    olmo-2-13b (V 100352, d 5120, L 40, 40/40 heads of 128, d_ff 13824, q/k norm 2·128):
      1,027,604,480 + 40·(4·5120² + 3·5120·13824 + 2·5120 + 256) + 5120 = 13,715,799,040.
    mistral-small-3 (V 131072, d 5120, L 40, 32/8 heads of 128, d_ff 32768):
      2·131072·5120 + 40·(2·5120·4096 + 2·5120·1024 + 3·5120·32768 + 2·5120) + 5120 = 23,572,403,200.
    """

    def dense(v: int, d: int, layers: int, nq: int, nkv: int, h: int, ff: int, qk_norm: int = 0) -> int:
        per_layer = 2 * d * nq * h + 2 * d * nkv * h + 3 * d * ff + 2 * d + qk_norm
        return 2 * v * d + layers * per_layer + d

    assert dense(100352, 5120, 40, 40, 10, 128, 17920) == 14_659_507_200
    assert dense(100352, 5120, 40, 40, 40, 128, 13824, 256) == 13_715_799_040
    assert dense(131072, 5120, 40, 32, 8, 128, 32768) == 23_572_403_200
    assert param_counts(model("phi-4")).total == 14_659_507_200
    assert param_counts(model("olmo-2-13b")).total == 13_715_799_040
    assert param_counts(model("mistral-small-3")).total == 23_572_403_200


def test_glm45_active_by_hand() -> None:
    """GLM-4.5 active without embeddings: L·attention + 3 dense FFN + 89·(8 + 1 shared)·3·d·1536 + norms.

    attention per layer = 2·5120·12288 (q, o) + 2·5120·1024 (k, v) + 12288 + 2·1024 (q/k/v bias)
    + 2·128 (q/k norm) = 136,328,960; ×92 = 12,542,264,320.
    dense FFN 3·3·5120·12288 = 566,231,040; active experts 89·9·3·5120·1536 = 18,897,715,200;
    router 89·160·5120 = 72,908,800; norms 92·2·5120 + 5120 = 947,200.
    Sum ≈ 32.08B, the published "32B active".
    """
    attn = 92 * (2 * 5120 * 12288 + 2 * 5120 * 1024 + 12288 + 2 * 1024 + 2 * 128)
    dense = 3 * 3 * 5120 * 12288
    experts = 89 * 9 * 3 * 5120 * 1536
    router = 89 * 160 * 5120
    norms = 92 * 2 * 5120 + 5120
    counts = param_counts(model("glm-4.5"))
    assert counts.active - counts.embedding - counts.output_head == attn + dense + experts + router + norms
