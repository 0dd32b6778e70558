"""Numeric formats: the bytes a value occupies and which peak FLOP/s figure applies.

Quantized weight formats carry scales. The per-weight byte figures here include them:

* ``int8`` / ``fp8``: one byte per weight; per-channel (or per-tensor) scales add < 0.1 % and are ignored.
* ``int4``: 4 bits + an fp16 scale and an fp16 zero point per group of 128 weights (AWQ, Lin et al. 2023;
  GPTQ, Frantar et al. 2022, default group size 128) = 4 + 32/128 = 4.25 bits = 0.53125 bytes.
* ``fp4``: NVFP4, 4 bits + one fp8 scale per block of 16 (NVIDIA Blackwell NVFP4 format) = 4.5 bits =
  0.5625 bytes.
"""

from __future__ import annotations

from enum import StrEnum

from flopbill.errors import InputError


class Dtype(StrEnum):
    """A numeric format for weights, activations, KV cache or compute."""

    FP32 = "fp32"
    TF32 = "tf32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    FP4 = "fp4"


#: Storage bytes per value, scales included (see module docstring).
BYTES_PER_VALUE: dict[Dtype, float] = {
    Dtype.FP32: 4.0,
    Dtype.TF32: 4.0,
    Dtype.BF16: 2.0,
    Dtype.FP16: 2.0,
    Dtype.FP8: 1.0,
    Dtype.INT8: 1.0,
    Dtype.INT4: 0.53125,
    Dtype.FP4: 0.5625,
}

#: Formats that are quantized (weights stored low-bit; embeddings and norms kept in bf16).
QUANTIZED: frozenset[Dtype] = frozenset({Dtype.FP8, Dtype.INT8, Dtype.INT4, Dtype.FP4})

#: The compute format whose peak FLOP/s applies when weights are stored in a format. Weight-only
#: int4 dequantizes to bf16 before the matmul (AWQ/GPTQ kernels), so it computes at bf16 peak.
COMPUTE_DTYPE_FOR_WEIGHTS: dict[Dtype, Dtype] = {
    Dtype.FP32: Dtype.FP32,
    Dtype.TF32: Dtype.TF32,
    Dtype.BF16: Dtype.BF16,
    Dtype.FP16: Dtype.FP16,
    Dtype.FP8: Dtype.FP8,
    Dtype.INT8: Dtype.INT8,
    Dtype.INT4: Dtype.BF16,
    Dtype.FP4: Dtype.FP4,
}


def parse_dtype(text: str | Dtype, field: str = "dtype") -> Dtype:
    """Return the :class:`Dtype` named by ``text`` (case-insensitive), or raise a clear error."""
    if isinstance(text, Dtype):
        return text
    key = str(text).strip().lower().replace("bfloat", "bf").replace("float", "fp")
    aliases = {"half": "fp16", "fp16": "fp16", "bf16": "bf16", "w4a16": "int4", "nvfp4": "fp4"}
    key = aliases.get(key, key)
    try:
        return Dtype(key)
    except ValueError:
        allowed = ", ".join(d.value for d in Dtype)
        raise InputError(field, text, f"one of {allowed}") from None


def bytes_per_value(dtype: Dtype | str) -> float:
    """Return storage bytes per value for ``dtype``, quantization scales included."""
    return BYTES_PER_VALUE[parse_dtype(dtype)]
