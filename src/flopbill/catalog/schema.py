"""Typed schemas of the catalog data files (pydantic, ``extra="forbid"``).

Every entry carries its sources: which document each figure comes from and when it was checked.
Unknown figures are ``null`` in the files and ``None`` here; flopbill never fills them with a guess.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flopbill.checks import schema_numbers


class Strict(BaseModel):
    """Base of every catalog schema: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_only(cls, data: object) -> object:
        """Booleans are not numbers and whole numbers stay exact (see :mod:`flopbill.checks`)."""
        return schema_numbers(cls, data)


class Source(Strict):
    """Where figures come from: a document (URL or paper + table) and the date it was checked."""

    what: str = Field(description="which fields or figures this source supports, e.g. 'bf16, fp8, memory'")
    ref: str = Field(description="URL, or paper title with table/section")
    checked: dt.date = Field(description="date the figure was last checked against the source")


class Sourced(Strict):
    """One number with its reference (paper + table, datasheet, page) and the date it was checked."""

    value: float
    ref: str
    checked: dt.date
    note: str = ""


class PeakFlops(Strict):
    """Dense peak FLOP/s (or OP/s for integer formats) per numeric format; ``None`` = unknown or absent.

    Dense means without 2:4 structured sparsity: NVIDIA datasheets quote sparse figures (2×) for
    tensor formats; these are halved. Tensor-core figures are used where the chip has them.
    """

    fp32: float | None = Field(default=None, ge=0, description="FP32 FLOP/s (non-tensor), dense")
    tf32: float | None = Field(default=None, ge=0, description="TF32 tensor FLOP/s, dense")
    bf16: float | None = Field(default=None, ge=0, description="BF16 tensor FLOP/s, dense")
    fp16: float | None = Field(default=None, ge=0, description="FP16 tensor FLOP/s, dense")
    fp8: float | None = Field(default=None, ge=0, description="FP8 tensor FLOP/s, dense")
    int8: float | None = Field(default=None, ge=0, description="INT8 tensor OP/s, dense")
    fp4: float | None = Field(default=None, ge=0, description="FP4 tensor FLOP/s, dense")


class Accelerator(Strict):
    """One accelerator (per device: one GPU, one TPU chip, one Trainium/Inferentia chip).

    Bytes are decimal (1 GB = 1e9 bytes) unless the field says otherwise. Interconnect bandwidth is the
    aggregate bidirectional figure vendors quote per device (e.g. H100 SXM NVLink 4: 900e9 B/s); a
    one-direction ring all-reduce uses half of it.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", description="lowercase hyphenated id, e.g. h100-sxm")
    name: str
    vendor: str
    kind: Literal["gpu", "tpu", "asic", "measured"]
    release_year: int | None = Field(default=None, ge=2010, le=2035)
    peak_flops_per_s: PeakFlops
    memory_bytes: float | None = Field(default=None, gt=0, description="device memory, bytes (decimal)")
    memory_bandwidth_bytes_per_s: float | None = Field(default=None, gt=0)
    interconnect: str | None = Field(default=None, description="e.g. 'NVLink 4', 'PCIe 5.0 x16', 'ICI'")
    interconnect_bidir_bytes_per_s: float | None = Field(
        default=None, gt=0, description="aggregate bidirectional scale-up bandwidth per device, B/s"
    )
    scale_up_devices: int | None = Field(
        default=None,
        gt=0,
        description=(
            "devices one scale-up domain joins at interconnect_bidir_bytes_per_s (8-GPU NVLink baseboard, "
            "NVL72 rack, 8-GPU Infinity Fabric, TPU ICI slice, Trainium NeuronLink); None = unknown"
        ),
    )
    scale_out_bidir_bytes_per_s: float | None = Field(
        default=None,
        gt=0,
        description="network per device beyond the scale-up domain (its NIC share), bidirectional B/s",
    )
    tdp_w: float | None = Field(default=None, gt=0, description="board/module power, watts")
    epoch_name: str | None = Field(
        default=None,
        description="row name in Epoch AI's ML hardware dataset, where derived from it",
    )
    sources: list[Source] = Field(min_length=1)
    notes: str = ""

    def topology(self) -> tuple[float, float]:
        """Return (scale-up domain devices, scale-out bidirectional B/s per device); inf / NaN when unknown.

        inf: no domain size is known, so no collective is sent over the network; NaN: the network beyond
        the domain is unknown, so a collective larger than the domain cannot be priced.
        """
        up = float("inf") if self.scale_up_devices is None else float(self.scale_up_devices)
        out = float("nan") if self.scale_out_bidir_bytes_per_s is None else self.scale_out_bidir_bytes_per_s
        return up, out


class HardwareCatalog(Strict):
    """The accelerator catalog file."""

    about: str
    attribution: str
    accelerators: list[Accelerator]

    @model_validator(mode="after")
    def _unique_ids(self) -> HardwareCatalog:
        ids = [a.id for a in self.accelerators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate accelerator ids: {', '.join(dupes)}")
        return self


class ModelSpec(Strict):
    """Architecture hyper-parameters of one transformer, as in its config.json or paper.

    Decoder-only unless ``n_decoder_layers`` is set (encoder-decoder: ``n_layers`` encoder layers and
    ``n_decoder_layers`` decoder layers, each decoder layer with self- and cross-attention).
    """

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.\-]*$", description="lowercase hyphenated id, e.g. llama-3.1-8b"
    )
    name: str
    family: str = ""
    # shape
    n_layers: int = Field(gt=0, description="transformer blocks (encoder blocks for encoder-decoder)")
    n_decoder_layers: int | None = Field(default=None, gt=0, description="decoder blocks (enc-dec only)")
    d_model: int = Field(gt=0, description="hidden size")
    n_heads: int = Field(gt=0, description="query heads")
    n_kv_heads: int | None = Field(default=None, gt=0, description="key/value heads; None = n_heads (MHA)")
    head_dim: int | None = Field(default=None, gt=0, description="None = d_model // n_heads")
    d_ff: int = Field(gt=0, description="FFN inner size of dense layers")
    gated_ffn: bool = Field(description="SwiGLU/GeGLU (3 matrices) vs classic (2 matrices)")
    vocab_size: int = Field(gt=0)
    tied_embeddings: bool
    max_context_tokens: int = Field(gt=0)
    learned_position_embeddings: bool = Field(default=False, description="GPT-2/3 style wpe table")
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    norms_per_layer: int = Field(default=2, ge=0, description="norm layers per block (Gemma 2: 4)")
    qkv_bias: bool = False
    attn_out_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = Field(default=False, description="per-head RMSNorm on q and k (Qwen3, OLMo 2)")
    # sliding-window attention
    sliding_window_tokens: int | None = Field(default=None, gt=0)
    sliding_window_layers: int = Field(default=0, ge=0, description="layers that use the sliding window")
    # chunked local attention (Llama 4: attention_chunk_size, in the RoPE layers)
    attention_chunk_tokens: int | None = Field(
        default=None, gt=0, description="chunk size of chunked local attention (a token sees its chunk only)"
    )
    chunked_attention_layers: int = Field(default=0, ge=0, description="layers that use chunked attention")
    # mixture of experts
    n_experts: int | None = Field(default=None, gt=0, description="routed experts per MoE layer")
    experts_per_token: int | None = Field(default=None, gt=0, description="top-k routed experts")
    n_shared_experts: int = Field(default=0, ge=0)
    d_ff_expert: int | None = Field(default=None, gt=0, description="FFN inner size of one routed expert")
    d_ff_shared_expert: int | None = Field(default=None, gt=0, description="None = d_ff_expert")
    n_dense_layers: int = Field(default=0, ge=0, description="leading layers with a dense FFN (MoE only)")
    moe_layer_step: int = Field(
        default=1,
        gt=0,
        description="every N-th layer after the dense prefix is MoE, the others dense (Llama 4 Maverick: 2)",
    )
    # multi-head latent attention (DeepSeek-V2/V3)
    q_lora_rank: int | None = Field(default=None, gt=0)
    kv_lora_rank: int | None = Field(default=None, gt=0)
    qk_nope_head_dim: int | None = Field(default=None, gt=0)
    qk_rope_head_dim: int | None = Field(default=None, gt=0)
    v_head_dim: int | None = Field(default=None, gt=0)
    # multi-token prediction heads (a built-in speculative draft)
    mtp_layers: int = Field(
        default=0, ge=0, description="multi-token-prediction layers (config.json num_nextn_predict_layers)"
    )
    # provenance
    published_params_total: float | None = Field(
        default=None, gt=0, description="total parameters as published; None for user models"
    )
    published_params_active: float | None = Field(default=None, gt=0, description="MoE: active per token")
    published_params_source: str = Field(default="unpublished", description="where the count is stated")
    sources: list[Source] = Field(min_length=1)
    notes: str = ""

    @property
    def kv_heads(self) -> int:
        """Key/value heads (``n_heads`` for multi-head attention)."""
        return self.n_kv_heads or self.n_heads

    @property
    def head_size(self) -> int:
        """Per-head dimension (``d_model // n_heads`` unless given)."""
        return self.head_dim or self.d_model // self.n_heads

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model."""
        return self.n_experts is not None

    @property
    def n_moe_layers(self) -> int:
        """Layers with an MoE FFN: ``(n_layers − n_dense_layers) // moe_layer_step`` (0 for a dense model).

        Llama 4 Maverick (interleave_moe_layer_step 2): 48 // 2 = 24 MoE layers, 24 dense.
        """
        if not self.is_moe:
            return 0
        return (self.n_layers - self.n_dense_layers) // self.moe_layer_step

    @property
    def n_dense_ffn_layers(self) -> int:
        """Layers with a dense FFN of width ``d_ff`` (all layers of a dense model)."""
        return self.n_layers + (self.n_decoder_layers or 0) - self.n_moe_layers

    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention (compressed KV)."""
        return self.kv_lora_rank is not None

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.kv_heads})")
        moe = (self.n_experts, self.experts_per_token, self.d_ff_expert)
        if any(v is not None for v in moe) and any(v is None for v in moe):
            raise ValueError("MoE needs n_experts, experts_per_token and d_ff_expert together")
        if self.n_experts is not None and self.experts_per_token and self.experts_per_token > self.n_experts:
            raise ValueError("experts_per_token cannot exceed n_experts")
        mla = (self.kv_lora_rank, self.qk_nope_head_dim, self.qk_rope_head_dim, self.v_head_dim)
        if any(v is not None for v in mla) and any(v is None for v in mla):
            raise ValueError(
                "MLA needs kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim together"
            )
        if self.sliding_window_layers and self.sliding_window_tokens is None:
            raise ValueError("sliding_window_layers needs sliding_window_tokens")
        if self.sliding_window_layers > self.n_layers:
            raise ValueError("sliding_window_layers cannot exceed n_layers")
        if self.n_dense_layers > self.n_layers:
            raise ValueError("n_dense_layers cannot exceed n_layers")
        if self.chunked_attention_layers and self.attention_chunk_tokens is None:
            raise ValueError("chunked_attention_layers needs attention_chunk_tokens")
        if self.chunked_attention_layers + self.sliding_window_layers > self.n_layers:
            raise ValueError("chunked_attention_layers + sliding_window_layers cannot exceed n_layers")
        return self


class ModelCatalog(Strict):
    """The model architecture catalog file."""

    about: str
    models: list[ModelSpec]

    @model_validator(mode="after")
    def _unique_ids(self) -> ModelCatalog:
        ids = [m.id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate model ids: {', '.join(dupes)}")
        return self
