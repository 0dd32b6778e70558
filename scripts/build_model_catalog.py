"""Check ``src/flopbill/catalog/data/models.yaml`` against config.json copies and print its error table.

Usage::

    python scripts/build_model_catalog.py [--configs DIR]

The catalog YAML is hand-curated (each entry cites its config.json or paper table); this script does
not rewrite it. It does two things:

1. Prints, for every entry, flopbill's parameter count against the published count and the % error.
2. With ``--configs DIR`` (a folder of ``<org>--<repo>_config.json`` files, e.g. the
   ``aiconfigurator_core/model_configs/`` folder of the aiconfigurator-core wheel), reads the config of
   every entry whose source is a Hugging Face config URL, converts it with
   :func:`flopbill.catalog.model_from_hf_config` and lists every shape field that differs from the
   catalog. Exits 1 if any differs, so a mistyped hyper-parameter cannot hide.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from flopbill.catalog import load_model_file, model_from_hf_config
from flopbill.catalog.schema import ModelSpec
from flopbill.estimate.core.architecture import param_counts

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "src" / "flopbill" / "catalog" / "data" / "models.yaml"
HF_CONFIG = re.compile(r"https://huggingface\.co/([^/]+)/([^/]+)/blob/main/config\.json")
SHAPE_FIELDS = (
    "n_layers", "d_model", "n_heads", "kv_heads", "head_size", "d_ff", "vocab_size", "tied_embeddings",
    "n_experts", "experts_per_token", "d_ff_expert", "n_shared_experts", "n_dense_layers",
    "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "qkv_bias",
    "qk_norm", "moe_layer_step", "sliding_window_tokens", "sliding_window_layers", "attention_chunk_tokens",
    "chunked_attention_layers", "mtp_layers",
)  # fmt: skip


def error_table(models: list[ModelSpec]) -> list[str]:
    """Return one line per model: computed vs published total (and active), % error."""
    lines = [f"{'id':18s} {'computed':>18s} {'published':>18s} {'err %':>7s}  active err %"]
    for m in models:
        p = param_counts(m)
        pub = m.published_params_total or float("nan")
        active = ""
        if m.is_moe and m.published_params_active:
            active = f"{100 * (p.active / m.published_params_active - 1):+.2f}"
        lines.append(
            f"{m.id:18s} {p.total:>18,.0f} {pub:>18,.0f} {100 * (p.total / pub - 1):+7.3f}  {active}"
        )
    return lines


def config_file(configs: Path, org: str, repo: str) -> Path | None:
    """Return the bundled config copy of ``org/repo`` (also tried with a ``Meta-`` prefix), if any."""
    for name in (repo, f"Meta-{repo}"):
        path = configs / f"{org}--{name}_config.json"
        if path.is_file():
            return path
    return None


def config_differences(m: ModelSpec, configs: Path) -> list[str] | None:
    """Return the shape fields where the catalog differs from the config copy; None if no copy."""
    for src in m.sources:
        match = HF_CONFIG.search(src.ref)
        if not match:
            continue
        path = config_file(configs, *match.groups())
        if path is None:
            return None
        cfg = model_from_hf_config(json.loads(path.read_text(encoding="utf-8")), name=m.id)
        return [
            f"{m.id}: {field} catalog={getattr(m, field)!r} config={getattr(cfg, field)!r} ({path.name})"
            for field in SHAPE_FIELDS
            if getattr(m, field) != getattr(cfg, field)
        ]
    return None


def main(argv: list[str] | None = None) -> int:
    """Print the error table and, with ``--configs``, the config comparison; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=Path, help="folder of <org>--<repo>_config.json files")
    args = parser.parse_args(argv)
    models = load_model_file(CATALOG)
    print("\n".join(error_table(models)))
    if args.configs is None:
        return 0
    diffs: list[str] = []
    checked = []
    for m in models:
        found = config_differences(m, args.configs)
        if found is not None:
            checked.append(m.id)
            diffs.extend(found)
    print(f"\ncompared with config.json copies: {', '.join(checked) or 'none'}")
    print("\n".join(diffs) if diffs else "no differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
