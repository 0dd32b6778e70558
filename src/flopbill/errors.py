"""The flopbill error hierarchy.

Every error a user can cause is a :class:`FlopbillError`. The CLI maps it to one clear line and exit
code 2; anything else escaping to the CLI is a bug in flopbill.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable


class FlopbillError(Exception):
    """Base class of every error caused by input (arguments, catalog files, scenario files)."""


def shown(value: object, limit: int = 120) -> str:
    """Return ``repr(value)`` cut to about ``limit`` characters (a long array is not a message)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"


class InputError(FlopbillError, ValueError):
    """An input value is not allowed: names the field, the value and what is allowed."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: {shown(value)} is not allowed; expected {allowed}")


_LISTINGS = {"model": "flopbill catalog models", "accelerator": "flopbill catalog gpus"}


class UnknownNameError(FlopbillError, KeyError):
    """A name is not in a catalog: names the kind and the closest known names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        self.close = close_matches(name, self.known)
        hint = f"; did you mean {', '.join(self.close)}?" if self.close else ""
        listing = _LISTINGS.get(kind)
        see = f" (list them: `{listing}`)" if listing else ""
        super().__init__(f"unknown {kind} {name!r}{hint}{see}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class CatalogError(FlopbillError):
    """A catalog or user data file is malformed: names the file, the entry and the field."""


class DoesNotFitError(FlopbillError):
    """A configuration does not fit in accelerator memory; carries the breakdown in its message.

    The message names the option fields it suggests changing in single backticks (`tp`, `weights`), so each
    interface can spell them its own way (:func:`render_fields`: ``--tp`` in the CLI).
    """


_FIELD = re.compile(r"`([a-z][a-z0-9_.]*)`")


def render_fields(text: str, name_of: Callable[[str], str]) -> str:
    """Replace each field named in single backticks in ``text`` by ``name_of(field)``, its interface name."""
    return _FIELD.sub(lambda m: name_of(m.group(1)), text)


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` known names closest to ``name`` (difflib ratio, then substring hits)."""
    known = list(known)
    lowered = name.lower()
    hits = difflib.get_close_matches(lowered, known, n=n, cutoff=0.5)
    for candidate in known:
        if len(hits) >= n:
            break
        if candidate not in hits and (lowered in candidate or candidate in lowered):
            hits.append(candidate)
    return hits
