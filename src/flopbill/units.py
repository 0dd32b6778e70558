"""Human quantities at the edges, SI inside.

Parsing: ``"70B"`` → 70e9 parameters, ``"15T"`` → 15e12 tokens, ``"8k"`` → 8_000 (decimal; write
``"8Ki"`` for 8_192), ``"80GB"`` → 80e9 bytes, ``"80GiB"`` → 80·2**30 bytes, ``"$2.49/h"`` → 2.49.
Decimal prefixes are powers of 1000 and binary ones (Ki, Mi, Gi, Ti) powers of 1024, always: flopbill
never uses 2**40 for "tera".

Formatting turns SI values back into short human strings for tables.
"""

from __future__ import annotations

import math
import re

from flopbill.errors import InputError

DECIMAL_PREFIXES: dict[str, float] = {
    "": 1.0,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "B": 1e9,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
BINARY_PREFIXES: dict[str, float] = {
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}

_NUMBER = r"(?P<num>[+-]?(?:\d+(?:[._]\d+)*|\d*\.\d+)(?:[eE][+-]?\d+)?)"
_COUNT_RE = re.compile(rf"^{_NUMBER}\s*(?P<prefix>Ki|Mi|Gi|Ti|[kKMBGTPE]?)$")
_BYTES_RE = re.compile(rf"^{_NUMBER}\s*(?P<prefix>Ki|Mi|Gi|Ti|[kKMGTPE]?)(?P<unit>B|iB)?$")
_PRICE_RE = re.compile(rf"^\$?\s*{_NUMBER}\s*(?:/\s*(?:h|hr|hour|gpu-?h(?:our)?))?$")


#: Largest magnitude a parsed quantity may have (counts, bytes, dollars): beyond any real workload.
MAX_QUANTITY = 1e30


def _to_float(text: str) -> float:
    return float(text.replace("_", ""))


def _finite(value: float, text: object, field: str, allowed: str) -> float:
    """Return ``value`` if it is finite and at most :data:`MAX_QUANTITY` in magnitude."""
    if not math.isfinite(value) or abs(value) > MAX_QUANTITY:
        raise InputError(field, text, f"{allowed} (finite, at most {MAX_QUANTITY:g})")
    return value


def parse_count(text: str | float | int, field: str = "value") -> float:
    """Return a plain count from ``"70B"``, ``"1.5T"``, ``"8k"``, ``"8Ki"``, ``"1e9"`` or a number.

    Decimal suffixes k/K/M/B/G/T/P/E (B and G both mean 1e9) and binary Ki/Mi/Gi/Ti.
    """
    if isinstance(text, bool):
        raise InputError(field, text, "a number such as 7e9, 70B, 15T or 8k")
    if isinstance(text, int | float):
        return _finite(float(text), text, field, "a number")
    if not isinstance(text, str):
        raise InputError(field, type(text).__name__, "a number such as 7e9, 70B, 15T, 8k or 8Ki")
    match = _COUNT_RE.match(text.strip())
    if match is None:
        raise InputError(field, text, "a number such as 7e9, 70B, 15T, 8k or 8Ki")
    prefix = match["prefix"]
    scale = BINARY_PREFIXES.get(prefix) or DECIMAL_PREFIXES[prefix]
    return _finite(_to_float(match["num"]) * scale, text, field, "a number")


def parse_bytes(text: str | float | int, field: str = "bytes") -> float:
    """Return bytes from ``"80GB"`` (80e9), ``"80GiB"`` (80·2**30), ``"24G"`` (24e9) or a number."""
    if isinstance(text, bool):
        raise InputError(field, text, "a size such as 80GB or 80GiB")
    if isinstance(text, int | float):
        return _finite(float(text), text, field, "a size in bytes")
    if not isinstance(text, str):
        raise InputError(field, type(text).__name__, "a size such as 80GB or 80GiB")
    cleaned = text.strip().replace("iB", "i")
    match = _BYTES_RE.match(cleaned if not cleaned.endswith("i") else cleaned + "B")
    if match is None:
        match = _BYTES_RE.match(text.strip())
    if match is None:
        raise InputError(field, text, "a size such as 80GB (decimal) or 80GiB (binary)")
    prefix = match["prefix"]
    scale = BINARY_PREFIXES.get(prefix) or DECIMAL_PREFIXES[prefix]
    return _finite(_to_float(match["num"]) * scale, text, field, "a size in bytes")


def parse_price_usd(text: str | float | int, field: str = "price") -> float:
    """Return US dollars (≥ 0, finite) from ``"$2.49/h"``, ``"2.49"`` or a number."""
    allowed = "a price in USD ≥ 0 such as 2.49 or $2.49/h"
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _PRICE_RE.match(str(text).strip())
        if match is None:
            raise InputError(field, text, allowed)
        value = _to_float(match["num"])
    if value < 0:
        raise InputError(field, text, allowed)
    return _finite(value, text, field, allowed)


def parse_fraction(text: str | float | int, field: str = "fraction") -> float:
    """Return a fraction in [0, 1] from ``"0.4"``, ``"40%"`` or a number."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(field, text, "a fraction between 0 and 1, such as 0.4 or 40%") from None
    if not 0.0 <= value <= 1.0:
        raise InputError(field, text, "a fraction between 0 and 1, such as 0.4 or 40%")
    return value


def parse_range(text: str | float | int, field: str = "value") -> tuple[float, float, float]:
    """Return ``(low, expected, high)`` from ``"0.35..0.5"`` (expected = midpoint) or one value.

    ``"0.35..0.42..0.5"`` gives an explicit expected value. Numbers are parsed with :func:`parse_count`.
    """
    parts = str(text).split("..")
    if len(parts) == 1:
        value = parse_count(parts[0], field)
        return value, value, value
    if len(parts) not in (2, 3) or any(not p.strip() for p in parts):
        raise InputError(field, text, "a value or a range such as 0.35..0.5 or 0.35..0.4..0.5")
    values = [parse_count(p, field) for p in parts]
    low, high = values[0], values[-1]
    expected = values[1] if len(values) == 3 else (low + high) / 2.0
    if not low <= expected <= high:
        raise InputError(field, text, "a range written low..high (or low..expected..high)")
    return low, expected, high


_SI_STEPS = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_COUNT_STEPS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def format_si(value: float, unit: str = "", digits: int = 3) -> str:
    """Return ``value`` with an SI prefix: ``format_si(9.89e14, "FLOP/s")`` → ``"989 TFLOP/s"``."""
    for scale, prefix in _SI_STEPS:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def format_count(value: float, digits: int = 3) -> str:
    """Return a count the way people write it: 7.0e10 → ``"70B"``, 1.5e13 → ``"15T"``."""
    for scale, suffix in _COUNT_STEPS:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def format_bytes(value: float, digits: int = 3) -> str:
    """Return bytes in decimal units: 8.0e10 → ``"80 GB"`` (GB = 1e9 bytes)."""
    return format_si(value, "B", digits)


def format_usd(value: float) -> str:
    """Return dollars: 1234567 → ``"$1.23M"``; 0.0123 → ``"$0.0123"``."""
    if abs(value) >= 1e3:
        return "$" + format_count(value)
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.3g}"


def format_duration(duration_s: float) -> str:
    """Return a duration in the largest sensible unit: 90 → ``"1.5 min"``, 1.2e-3 → ``"1.2 ms"``."""
    steps = ((86400.0 * 365, "years"), (86400.0, "days"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))
    for scale, unit in steps:
        if abs(duration_s) >= scale:
            return f"{duration_s / scale:.3g} {unit}"
    if abs(duration_s) >= 1e-3:
        return f"{duration_s * 1e3:.3g} ms"
    return f"{duration_s * 1e6:.3g} µs"
