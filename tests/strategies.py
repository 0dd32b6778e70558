"""Hypothesis strategies shared by property tests: random but valid transformer architectures."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from flopbill.catalog.schema import ModelSpec, Source

_SOURCE = Source(what="architecture", ref="hypothesis-generated", checked=dt.date(2026, 11, 22))


@st.composite
def model_specs(draw: st.DrawFn, moe: bool | None = None, mla: bool | None = None) -> ModelSpec:
    """Return a random dense or MoE decoder (GQA/MQA/MHA or MLA, optional sliding window)."""
    head_dim = draw(st.sampled_from([64, 96, 128, 256]))
    n_kv = draw(st.sampled_from([1, 2, 4, 8, 16]))
    group = draw(st.sampled_from([1, 2, 4, 8]))
    n_heads = n_kv * group
    n_layers = draw(st.integers(1, 96))
    d_model = n_heads * head_dim
    fields: dict[str, object] = {
        "id": "hypo",
        "name": "hypothesis model",
        "n_layers": n_layers,
        "d_model": d_model,
        "n_heads": n_heads,
        "n_kv_heads": n_kv,
        "head_dim": head_dim,
        "d_ff": draw(st.integers(1, 8)) * d_model,
        "gated_ffn": draw(st.booleans()),
        "vocab_size": draw(st.integers(1000, 260_000)),
        "tied_embeddings": draw(st.booleans()),
        "max_context_tokens": 131_072,
        "qkv_bias": draw(st.booleans()),
        "qk_norm": draw(st.booleans()),
        "published_params_total": 1.0,
        "sources": [_SOURCE],
    }
    if draw(st.booleans()):
        fields |= {
            "sliding_window_tokens": draw(st.sampled_from([512, 4096])),
            "sliding_window_layers": draw(st.integers(0, n_layers)),
        }
    use_moe = draw(st.booleans()) if moe is None else moe
    if use_moe:
        n_experts = draw(st.sampled_from([8, 16, 64, 128, 256]))
        fields |= {
            "n_experts": n_experts,
            "experts_per_token": draw(st.integers(1, min(8, n_experts))),
            "d_ff_expert": draw(st.integers(1, 4)) * 256,
            "n_shared_experts": draw(st.integers(0, 2)),
            "n_dense_layers": draw(st.integers(0, n_layers)),
        }
    use_mla = draw(st.booleans()) if mla is None else mla
    if use_mla:
        fields |= {
            "q_lora_rank": draw(st.sampled_from([None, 1536])),
            "kv_lora_rank": 512,
            "qk_nope_head_dim": 128,
            "qk_rope_head_dim": 64,
            "v_head_dim": 128,
        }
    return ModelSpec.model_validate(fields)
