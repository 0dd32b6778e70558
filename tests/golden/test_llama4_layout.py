"""Llama 4's layout (interleaved MoE, chunked attention) against hand calculations from its config.json.

Config (meta-llama/Llama-4-Maverick-17B-128E-Instruct, text_config): hidden 5120, 48 layers, 40 query and
8 KV heads of 128, vocabulary 202048 (untied head), 128 experts of width 8192 plus one shared expert,
``interleave_moe_layer_step`` 2, dense layers of width 16384 (``intermediate_size_mlp``),
``attention_chunk_size`` 8192 in the RoPE layers (3 of every 4).
"""

from __future__ import annotations

import numpy as np
import pytest

from flopbill.catalog import model
from flopbill.estimate.core.architecture import attention_flops_per_token, kv_cache_bytes, param_counts


def test_maverick_counts_by_hand() -> None:
    """Embedding + head 2·202048·5120 = 2,068,971,520; attention per layer 2·5120·5120 + 2·5120·1024
    = 62,914,560, × 48 = 3,019,898,880; 24 dense FFNs 3·5120·16384 = 251,658,240 each = 6,039,797,760;
    24 MoE layers of 129 experts × 3·5120·8192 (125,829,120) = 389,566,955,520; routers 24·5120·128 =
    15,728,640; norms (2·48 + 1)·5120 = 496,640. Total 400,711,848,960 (Meta: 400B).
    Active = total − 24·127·125,829,120 = 17,184,691,200 (Meta: 17B)."""
    m = model("llama-4-maverick")
    assert (m.n_moe_layers, m.n_dense_ffn_layers) == (24, 24)
    p = param_counts(m)
    assert p.total == 400_711_848_960
    assert p.active == 17_184_691_200


def test_scout_is_moe_in_every_layer() -> None:
    """Scout: interleave step 1, so 48 MoE layers of 16 + 1 experts; active = total − 48·15·125,829,120."""
    m = model("llama-4-scout")
    assert (m.n_moe_layers, m.n_dense_ffn_layers) == (48, 0)
    p = param_counts(m)
    assert p.total - p.active == 48 * 15 * 125_829_120


def test_chunked_layers_cap_the_kv_cache() -> None:
    """Scout at 100,000 tokens, bf16: 2·8·128 values × 2 B = 4,096 B per token per layer; 12 global layers
    keep 100,000 tokens, 36 chunked layers keep one 8,192-token chunk:
    4,096 · (12·100,000 + 36·8,192) = 6,123,159,552 B."""
    m = model("llama-4-scout")
    assert (m.attention_chunk_tokens, m.chunked_attention_layers) == (8192, 36)
    assert float(kv_cache_bytes(m, 100_000)) == pytest.approx(6_123_159_552, rel=1e-12)


def test_chunked_attention_causal_mean_by_hand() -> None:
    """Prefill of L = 20,000 tokens, chunk C = 8,192: L = 2·C + 3,616, so the keys summed over all
    positions in a chunked layer are 2·C(C+1)/2 + 3,616·3,617/2 = 67,117,056 + 6,539,536 = 73,656,592,
    a mean of 3,682.8296 per query; a global layer's mean is (L + 1)/2 = 10,000.5. Per key and layer
    the FLOPs are 4·h·d_h = 4·40·128 = 20,480."""
    m = model("llama-4-scout")
    got = float(attention_flops_per_token(m, 20_000, causal_average=True))
    expected = 20_480 * (12 * 10_000.5 + 36 * 73_656_592 / 20_000)
    assert got == pytest.approx(expected, rel=1e-12)
    # below one chunk, chunked and global layers see the same keys
    short = np.asarray(attention_flops_per_token(m, np.array([100.0, 8192.0]), causal_average=True))
    assert short == pytest.approx(20_480 * 48 * (np.array([100.0, 8192.0]) + 1) / 2, rel=1e-12)
