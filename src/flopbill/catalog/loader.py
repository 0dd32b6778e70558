"""Load and look up catalog entries; read user model files (YAML, HF ``config.json``, shorthand)."""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flopbill.catalog.aliases import resolve_model_id
from flopbill.catalog.schema import Accelerator, HardwareCatalog, ModelCatalog, ModelSpec, Source
from flopbill.checks import MAX_SCHEMA_INT, integer, positive
from flopbill.errors import CatalogError, InputError, UnknownNameError
from flopbill.safeio import DocumentError, check_path, load_json, load_yaml, read_text

_DATA = "flopbill.catalog.data"


def _read_yaml(path: Path | str, text: str) -> Any:
    try:
        return load_yaml(text, str(path))[0]
    except DocumentError as exc:
        raise CatalogError(str(exc)) from None


def describe_validation_error(path: Path | str, exc: ValidationError, data: Any = None) -> str:
    """Return one readable line per problem: ``file: entry.field: message (got value)``."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        label = ".".join(str(p) for p in loc)
        if data is not None and len(loc) >= 2 and isinstance(loc[1], int):
            try:
                entry = data[loc[0]][loc[1]]
                label = f"{entry.get('id', loc[1])}." + ".".join(str(p) for p in loc[2:])
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check spelling)"
        got = f" (got {err['input']!r})" if err["type"] not in ("missing", "extra_forbidden") else ""
        lines.append(f"{path}: {label.rstrip('.')}: {msg}{got}")
    return "\n".join(lines)


def load_hardware_file(path: Path | str) -> HardwareCatalog:
    """Return a validated hardware catalog read from a YAML file."""
    text = Path(path).read_text(encoding="utf-8")
    data = _read_yaml(path, text)
    try:
        return HardwareCatalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc, data)) from None


def load_model_file(path: Path | str) -> list[ModelSpec]:
    """Return the models in a YAML file: a catalog (``models: [...]``), a list, or one model."""
    p = check_path(path, "model file")
    if not p.exists():
        raise InputError("model file", str(path), "an existing YAML or config.json file")
    text = read_text(p, "model file")
    if p.suffix == ".json":
        try:
            cfg = load_json(text, str(path))
        except DocumentError as exc:
            raise CatalogError(str(exc)) from None
        if not isinstance(cfg, dict):
            raise CatalogError(f"{path}: a config.json is a JSON object ({{...}}), not {type(cfg).__name__}")
        return [model_from_hf_config(cfg, name=p.parent.name or p.stem)]
    data = _read_yaml(path, text)
    try:
        if isinstance(data, dict) and "models" in data:
            return ModelCatalog.model_validate(data).models
        if isinstance(data, list):
            if not data:
                raise CatalogError(f"{path}: the list of models is empty")
            return [ModelSpec.model_validate(d) for d in data]
        if not isinstance(data, dict):
            raise CatalogError(f"{path}: a model file is a YAML mapping (id:, n_layers:, ...) or a list")
        return [ModelSpec.model_validate(data)]
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc, data)) from None


@functools.cache
def _builtin_hardware() -> HardwareCatalog:
    ref = resources.files(_DATA) / "hardware.yaml"
    return load_hardware_file(Path(str(ref)))


@functools.cache
def _builtin_models() -> tuple[ModelSpec, ...]:
    ref = resources.files(_DATA) / "models.yaml"
    return tuple(load_model_file(Path(str(ref))))


def accelerators() -> list[Accelerator]:
    """Return every accelerator in the built-in catalog."""
    return list(_builtin_hardware().accelerators)


def accelerator(name: str) -> Accelerator:
    """Return the accelerator with id ``name`` (case-insensitive), or raise with close matches.

    A hardware profile file (``*.yaml``) or ``this-machine`` resolves to a measured accelerator
    (:mod:`flopbill.catalog.profile`).
    """
    from flopbill.catalog import profile

    if profile.is_profile_reference(name):
        return profile.profile_accelerator(name)
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    table = {a.id: a for a in _builtin_hardware().accelerators}
    if key not in table:
        raise UnknownNameError("accelerator", name, table)
    return table[key]


def models() -> list[ModelSpec]:
    """Return every model in the built-in catalog."""
    return list(_builtin_models())


def model(name: str) -> ModelSpec:
    """Return the catalog model that ``name`` means: its id, a Hugging Face id or an alias.

    Resolution rules: :mod:`flopbill.catalog.aliases` (``model_aliases.yaml``). Raises
    :class:`UnknownNameError` with close matches, or :class:`InputError` when the name fits several.
    """
    table = {m.id: m for m in _builtin_models()}
    return table[resolve_model_id(name, table)]


def resolve_model(name_or_path: str) -> ModelSpec:
    """Return a model from a catalog id, a YAML file (first model) or a HF ``config.json`` path."""
    path = check_path(name_or_path, "model")
    try:
        is_file = path.is_file()
    except OSError:  # a name longer than the file system allows is not a file
        is_file = False
    if name_or_path.endswith((".yaml", ".yml", ".json")) or is_file:
        return load_model_file(name_or_path)[0]
    return model(name_or_path)


_HF_SOURCE = Source(what="architecture", ref="user-supplied config.json", checked=dt.date.today())


def _hf_get(cfg: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return default


def _llama4_fields(cfg: dict[str, Any], n_layers: int) -> dict[str, Any]:
    """Return the Llama 4 fields: interleaved MoE layers (``interleave_moe_layer_step``) with one shared
    expert of the routed width (``intermediate_size``), dense layers of ``intermediate_size_mlp``, and
    chunked attention in the RoPE layers (every 4th layer is a global NoPE layer, transformers'
    ``no_rope_layer_interval`` default 4)."""
    fields: dict[str, Any] = {
        "moe_layer_step": int(cfg.get("interleave_moe_layer_step", 1)),
        "n_shared_experts": 1,
        "d_ff": _hf_get(cfg, "intermediate_size_mlp", "intermediate_size"),
        "d_ff_expert": _hf_get(cfg, "intermediate_size"),
    }
    chunk = cfg.get("attention_chunk_size")
    if chunk:
        rope_layers = cfg.get("no_rope_layers") or [int((i + 1) % 4 != 0) for i in range(n_layers)]
        fields |= {"attention_chunk_tokens": chunk, "chunked_attention_layers": sum(rope_layers)}
    return fields


def _sliding_window_fields(cfg: dict[str, Any], model_type: str, n_layers: int) -> dict[str, Any]:
    """Return sliding-window fields: ``layer_types`` when given (gpt-oss), every other layer for
    Gemma 2, else all layers when ``sliding_window`` is set and not disabled (Mistral v0.1)."""
    window = cfg.get("sliding_window")
    if not window or not cfg.get("use_sliding_window", True):
        return {}
    if isinstance(cfg.get("layer_types"), list):
        windowed = sum(1 for t in cfg["layer_types"] if t == "sliding_attention")
    elif model_type == "gemma2":
        windowed = n_layers // 2
    elif model_type in ("gemma3", "gemma3_text"):
        pattern = int(cfg.get("sliding_window_pattern", 6))  # every 6th layer global (Gemma 3 report §2)
        windowed = n_layers - n_layers // pattern
    else:
        windowed = n_layers
    return {"sliding_window_tokens": window, "sliding_window_layers": windowed} if windowed else {}


def model_from_hf_config(cfg: dict[str, Any], name: str = "custom") -> ModelSpec:
    """Return a :class:`ModelSpec` from a Hugging Face ``config.json`` dict (Llama/Mistral/Qwen/
    Mixtral/Qwen-MoE/DeepSeek-V3/Gemma 2/Phi-3/GPT-2 field names).

    The published parameter count of a user config is unknown (``None``).
    """
    if isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg, **cfg["text_config"]}
    d_model = _hf_get(cfg, "hidden_size", "n_embd", "d_model")
    n_layers = _hf_get(cfg, "num_hidden_layers", "n_layer", "num_layers")
    n_heads = _hf_get(cfg, "num_attention_heads", "n_head", "num_heads")
    if d_model is None or n_layers is None or n_heads is None:
        raise CatalogError(
            f"{name}: config.json needs hidden_size, num_hidden_layers and num_attention_heads"
        )
    try:  # sizes are used in arithmetic below: whole numbers only (a string "4096" × 4 is no size)
        d_model = integer(d_model, "hidden_size", upper=10_000_000)
        n_layers = integer(n_layers, "num_hidden_layers", upper=1_000_000)
        n_heads = integer(n_heads, "num_attention_heads", upper=1_000_000)
    except InputError as exc:
        raise CatalogError(f"{name}: config.json {exc}") from None
    n_experts = _hf_get(cfg, "num_local_experts", "n_routed_experts", "num_experts")
    d_ff = _hf_get(cfg, "intermediate_size", "n_inner", "ffn_dim", default=4 * d_model)
    model_type = str(cfg.get("model_type", ""))
    gpt2 = model_type == "gpt2"
    fields: dict[str, Any] = {
        "id": name.lower().replace("_", "-").replace("/", "-").replace(" ", "-") or "custom",
        "name": name,
        "family": model_type,
        "n_layers": n_layers,
        "d_model": d_model,
        "n_heads": n_heads,
        "n_kv_heads": _hf_get(cfg, "num_key_value_heads"),
        "head_dim": _hf_get(cfg, "head_dim"),
        "d_ff": d_ff,
        "gated_ffn": not gpt2,
        "vocab_size": _hf_get(cfg, "vocab_size"),
        "tied_embeddings": bool(cfg.get("tie_word_embeddings", gpt2 or model_type.startswith("gemma"))),
        "max_context_tokens": _hf_get(cfg, "max_position_embeddings", "n_positions", default=2048),
        "learned_position_embeddings": gpt2,
        "norm": "layernorm" if gpt2 else "rmsnorm",
        "qkv_bias": bool(cfg.get("attention_bias", gpt2 or model_type == "qwen2")),
        "attn_out_bias": gpt2,
        "mlp_bias": bool(cfg.get("mlp_bias", gpt2)),
        "qk_norm": model_type in ("qwen3", "qwen3_moe", "olmo2", "gemma3", "gemma3_text"),
    }
    if n_experts:
        fields |= {
            "n_experts": n_experts,
            "experts_per_token": _hf_get(cfg, "num_experts_per_tok"),
            "d_ff_expert": _hf_get(cfg, "moe_intermediate_size", default=d_ff),
            "n_shared_experts": _hf_get(cfg, "n_shared_experts", default=0),
            "n_dense_layers": _hf_get(cfg, "first_k_dense_replace", default=0),
        }
    if cfg.get("kv_lora_rank"):
        fields |= {
            k: cfg.get(k)
            for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
        }
    if cfg.get("num_nextn_predict_layers"):
        fields["mtp_layers"] = int(cfg["num_nextn_predict_layers"])
    fields |= _sliding_window_fields(cfg, model_type, n_layers)
    if model_type == "llama4_text":
        fields |= _llama4_fields(cfg, n_layers)
    if model_type in ("gemma2", "gemma3", "gemma3_text"):
        fields["norms_per_layer"] = 4  # pre- and post-norm around attention and MLP
    fields["sources"] = [_HF_SOURCE]
    try:
        return ModelSpec.model_validate(fields)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(name, exc)) from None


def model_from_shorthand(
    params: float,
    n_layers: int,
    d_model: int,
    n_heads: int | None = None,
    vocab_size: int = 32_000,
    max_context_tokens: int = 4096,
) -> ModelSpec:
    """Return a dense Llama-style model with about ``params`` parameters from a few numbers.

    Heads default to ``d_model / 128`` (head size 128). The FFN size is solved so the total matches
    ``params``: ``d_ff = (params − 2·V·d − L·4·d²) / (3·L·d)`` (SwiGLU, untied embeddings).
    """
    params = positive(params, "params", "a positive parameter count such as 7B")
    n_layers = integer(n_layers, "n_layers", lower=1, upper=1_000_000)
    d_model = integer(d_model, "d_model", lower=1, upper=10_000_000)
    heads = integer(n_heads, "n_heads", lower=1) if n_heads is not None else max(1, d_model // 128)
    if d_model % heads:
        raise InputError("n_heads", heads, f"a divisor of the hidden size {d_model}")
    d_ff = round((params - 2 * vocab_size * d_model - n_layers * 4 * d_model**2) / (3 * n_layers * d_model))
    if d_ff <= 0:
        raise InputError("params", params, f"more than the attention and embeddings of {n_layers}×{d_model}")
    if d_ff > MAX_SCHEMA_INT:
        raise InputError("params", params, f"a count whose FFN width for {n_layers}×{d_model} stays ≤ 2**53")
    return ModelSpec(
        id="custom",
        name=f"custom {params / 1e9:.3g}B ({n_layers}×{d_model})",
        n_layers=n_layers,
        d_model=d_model,
        n_heads=heads,
        d_ff=d_ff,
        gated_ffn=True,
        vocab_size=vocab_size,
        tied_embeddings=False,
        max_context_tokens=max_context_tokens,
        published_params_total=params,
        published_params_source="given by the user (shorthand)",
        sources=[Source(what="architecture", ref="user shorthand", checked=dt.date.today())],
    )
