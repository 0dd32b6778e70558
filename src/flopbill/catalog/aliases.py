"""Model names as people write them (``gpt2-xl``, ``meta-llama/Llama-3.1-8B``, ``llama3.1-70b``) → ids.

The aliases are data (``catalog/data/model_aliases.yaml``: each entry's Hugging Face ids and other
spellings). :func:`normalise_model_name` states the rules; :func:`resolve_model_id` applies them:
an exact Hugging Face id first, then the normalised key of the name against the keys of every id, alias
and Hugging Face id. A key shared by two entries is an :class:`InputError` naming both; an unknown name
an :class:`UnknownNameError` with close matches.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import yaml

from flopbill.errors import CatalogError, InputError, UnknownNameError

_DATA = "flopbill.catalog.data"
VARIANT_SUFFIXES = ("instruct", "chat", "it", "hf", "base")


def normalise_model_name(name: str) -> str:
    """Return the comparison key of a model name.

    Rules: trim and lower-case; ``_`` and spaces become ``-``; an ``owner/`` prefix is dropped; trailing
    variant words that keep the architecture (``-instruct``, ``-chat``, ``-it``, ``-hf``, ``-base``) are
    dropped repeatedly; hyphens are then removed, so ``Llama-3.1-70B-Instruct``, ``llama3.1-70b`` and
    ``meta-llama/Llama-3.1-70B`` all give ``llama3.170b``.
    """
    text = name.strip().lower().replace("_", "-").replace(" ", "-")
    text = text.rsplit("/", 1)[-1]
    parts = [p for p in text.split("-") if p]
    while len(parts) > 1 and parts[-1] in VARIANT_SUFFIXES:
        parts.pop()
    return "".join(parts)


AliasTable = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


@functools.cache
def _alias_table() -> AliasTable:
    """Return {catalog id: (hf_ids, aliases)} from the built-in alias file."""
    path = Path(str(resources.files(_DATA) / "model_aliases.yaml"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return {
            str(mid): (tuple(map(str, v.get("hf_ids") or ())), tuple(map(str, v.get("aliases") or ())))
            for mid, v in data["models"].items()
        }
    except (KeyError, AttributeError, TypeError) as exc:
        raise CatalogError(f"{path}: bad alias entry ({exc})") from None


def hf_ids(model_id: str) -> tuple[str, ...]:
    """Return the Hugging Face repository ids listed for a catalog id (empty when none)."""
    return _alias_table().get(model_id, ((), ()))[0]


def _keys(ids: Iterable[str], table: AliasTable) -> dict[str, set[str]]:
    """Return {normalised key: catalog ids having it} over every id, alias and HF id."""
    out: dict[str, set[str]] = {}
    for mid in ids:
        hf, aliases = table.get(mid, ((), ()))
        for name in (mid, *hf, *aliases):
            out.setdefault(normalise_model_name(name), set()).add(mid)
    return out


def resolve_model_id(name: str, ids: Iterable[str], table: AliasTable | None = None) -> str:
    """Return the catalog id among ``ids`` that ``name`` means (see the module docstring for the rules).

    ``table`` ({id: (hf_ids, aliases)}) defaults to the built-in ``model_aliases.yaml``.
    """
    table = _alias_table() if table is None else table
    known = tuple(ids)
    wanted = name.strip().lower()
    for mid in known:
        if wanted == mid or wanted in {h.lower() for h in table.get(mid, ((), ()))[0]}:
            return mid
    matches = _keys(known, table).get(normalise_model_name(name), set())
    if len(matches) == 1:
        return next(iter(matches))
    if matches:
        raise InputError("model", name, "one of " + ", ".join(sorted(matches)) + " (the name fits several)")
    raise UnknownNameError("model", name, known)
