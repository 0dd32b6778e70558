"""A catalog architecture built in PyTorch with random weights and a real KV cache.

Decoder-only dense models (Llama, Mistral, Qwen, GPT-2 style): token embedding (plus learned positions
for GPT-2), ``n_layers`` pre-norm blocks of grouped-query attention with rotary embeddings (Su et al.
2021, RoFormer) and a SwiGLU (Shazeer 2020) or GELU FFN, a final norm and the output head. Weights are
random: speed does not depend on their values. The KV cache is preallocated per layer as
``[slots, kv_heads, max_tokens, head_dim]`` with a length per slot, so sequences of different lengths
decode together (the local server's continuous batching) and decode at context ``L`` reads ``L`` keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.measure.predict import scaled_spec

__all__ = ["KVCache", "TorchTransformer", "build_model", "n_params", "scaled_spec"]


class Norm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019) or LayerNorm over the last dimension."""

    def __init__(self, d: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if kind == "layernorm" else None

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias)
        return F.rms_norm(x, (x.shape[-1],), self.weight)


@dataclass
class KVCache:
    """Per-layer key and value tensors ``[slots, kv_heads, max_tokens, head_dim]`` and lengths per slot."""

    keys: list[Tensor]
    values: list[Tensor]
    lengths: Tensor  # int64 [slots]

    @property
    def max_tokens(self) -> int:
        """Tokens each slot can hold."""
        return int(self.keys[0].shape[2])

    def rows(self, n: int) -> KVCache:
        """Return a view of the first ``n`` slots (no copy)."""
        return KVCache([k[:n] for k in self.keys], [v[:n] for v in self.values], self.lengths[:n])


def rope(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotate ``x [B, H, T, D]`` by its ``positions [B, T]`` (RoFormer, Su et al. 2021, eq. 34)."""
    d = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    ang = positions[:, None, :, None].to(torch.float32) * inv  # [B, 1, T, D/2]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    """One pre-norm transformer block: attention then FFN, each with a residual."""

    def __init__(self, m: ModelSpec) -> None:
        super().__init__()
        d, hs = m.d_model, m.head_size
        self.heads, self.kv_heads, self.head_size = m.n_heads, m.kv_heads, hs
        self.rope = not m.learned_position_embeddings
        self.norm1, self.norm2 = Norm(d, m.norm), Norm(d, m.norm)
        self.qkv = nn.Linear(d, (m.n_heads + 2 * m.kv_heads) * hs, bias=m.qkv_bias)
        self.out = nn.Linear(m.n_heads * hs, d, bias=m.attn_out_bias)
        self.gated = m.gated_ffn
        self.up = nn.Linear(d, (2 if m.gated_ffn else 1) * m.d_ff, bias=m.mlp_bias)
        self.down = nn.Linear(m.d_ff, d, bias=m.mlp_bias)

    def forward(self, x: Tensor, k_cache: Tensor, v_cache: Tensor, start: Tensor, uniform: bool) -> Tensor:
        b, t, _ = x.shape
        hs = self.head_size
        qkv = self.qkv(self.norm1(x)).view(b, t, self.heads + 2 * self.kv_heads, hs).transpose(1, 2)
        q, k, v = qkv.split([self.heads, self.kv_heads, self.kv_heads], dim=1)
        pos = start[:, None] + torch.arange(t, device=x.device)[None, :]
        if self.rope:
            q, k = rope(q, pos), rope(k, pos)
        end = int(start.max()) + t
        if uniform:
            s = int(start[0])
            k_cache[:, :, s : s + t] = k
            v_cache[:, :, s : s + t] = v
            mask = None
        else:  # one new token per row at its own position
            rows = torch.arange(b, device=x.device)
            k_cache[rows, :, start] = k[:, :, 0]
            v_cache[rows, :, start] = v[:, :, 0]
            mask = (torch.arange(end, device=x.device)[None, :] <= start[:, None])[:, None, None, :]
        keys, vals = k_cache[:, :, :end], v_cache[:, :, :end]
        causal = uniform and t > 1
        if causal and end > t:
            raise InputError("prefill", end, "a prompt prefilled into an empty slot")
        att = F.scaled_dot_product_attention(q, keys, vals, attn_mask=mask, is_causal=causal, enable_gqa=True)
        x = x + self.out(att.transpose(1, 2).reshape(b, t, self.heads * hs))
        h = self.up(self.norm2(x))
        if self.gated:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.gelu(h)
        out: Tensor = x + self.down(h)
        return out


class TorchTransformer(nn.Module):
    """The whole decoder: embeddings, blocks, final norm, output head."""

    def __init__(self, m: ModelSpec) -> None:
        super().__init__()
        self.spec = m
        self.embed = nn.Embedding(m.vocab_size, m.d_model)
        self.pos = nn.Embedding(m.max_context_tokens, m.d_model) if m.learned_position_embeddings else None
        self.blocks = nn.ModuleList(Block(m) for _ in range(m.n_layers))
        self.norm = Norm(m.d_model, m.norm)
        self.head = nn.Linear(m.d_model, m.vocab_size, bias=False)
        if m.tied_embeddings:
            self.head.weight = self.embed.weight

    def new_cache(self, slots: int, max_tokens: int, device: str = "cpu") -> KVCache:
        """Return an empty KV cache of ``slots`` sequences of up to ``max_tokens`` tokens each."""
        m = self.spec
        dtype = self.embed.weight.dtype
        shape = (slots, m.kv_heads, max_tokens, m.head_size)
        keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(m.n_layers)]
        values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(m.n_layers)]
        return KVCache(keys, values, torch.zeros(slots, dtype=torch.long, device=device))

    def forward(self, tokens: Tensor, cache: KVCache, last_only: bool = True) -> Tensor:
        """Run ``tokens [B, T]`` after each row's cached tokens; return logits (of the last token only when
        ``last_only``, as engines compute them only where they sample) and advance the cache lengths."""
        start = cache.lengths
        uniform = tokens.shape[1] > 1 or bool((start == start[0]).all())
        x = self.embed(tokens)
        if self.pos is not None:
            pos = start[:, None] + torch.arange(tokens.shape[1], device=tokens.device)[None, :]
            x = x + self.pos(pos)
        for blk, k, v in zip(self.blocks, cache.keys, cache.values, strict=True):
            x = blk(x, k, v, start, uniform)
        if last_only:
            x = x[:, -1:]
        cache.lengths += tokens.shape[1]
        logits: Tensor = self.head(self.norm(x))
        return logits


def build_model(m: ModelSpec, dtype: str = "fp32", device: str = "cpu", seed: int = 0) -> TorchTransformer:
    """Return ``m`` as a :class:`TorchTransformer` with random weights (``torch.manual_seed(seed)``)."""
    torch.manual_seed(seed)
    model = TorchTransformer(m)
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.normal_(p, std=1.0 / math.sqrt(p.shape[-1]))
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    return model.to(device=device, dtype=dt)


def n_params(model: nn.Module) -> int:
    """Return the number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())
