"""Request lengths for ``flopbill serve``: a number, a range ``low..mode..high``, or a CSV of requests.

Reading the CSV is the only I/O; the estimators get a
:class:`~flopbill.estimate.serving.workload.LengthSample`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.estimate.serving.workload import (
    LengthSample,
    check_context_window,
    length_stats,
    sample_from_pairs,
    sample_from_ranges,
)
from flopbill.safeio import MAX_DATA_FILE_BYTES, read_text
from flopbill.units import parse_range

COLUMNS = ("input_tokens", "output_tokens")
DEFAULT_INPUT_TOKENS = "1000"
DEFAULT_OUTPUT_TOKENS = "250"


@dataclass(frozen=True)
class Lengths:
    """Request lengths as given: the exact means and, for a distribution, the sample a search uses."""

    mean_input_tokens: float
    mean_output_tokens: float
    sample: LengthSample | None  # None: plain numbers (every request the same)
    full: LengthSample | None  # every request (for the context-window check); None for plain numbers


def token_range(text: str, field: str) -> tuple[float, float, float]:
    """Return ``(low, mode, high)`` tokens from ``"1000"``, ``"8k"``, ``"500..8000"``, ``"500..2000..8000"``.

    Two values give the midpoint as the mode.
    """
    low, mode, high = parse_range(text, field)
    if low < 1:
        raise InputError(field, text, "at least 1 token, e.g. 1000, 8k or a range 500..2000..8000")
    return low, mode, high


def lengths_from_options(input_text: str | None, output_text: str | None, csv_path: str | None) -> Lengths:
    """Return the request lengths from ``--input-tokens``/``--output-tokens`` or ``--lengths FILE.csv``."""
    if csv_path is not None:
        if input_text is not None or output_text is not None:
            raise InputError(
                "--lengths", csv_path, "either --lengths or --input-tokens/--output-tokens, not both"
            )
        i, o = read_lengths_csv(csv_path)
        source = f"{Path(csv_path).name} ({i.size:,} requests)"
        full = sample_from_pairs(i, o, source, max_points=int(i.size))
        return Lengths(float(np.mean(i)), float(np.mean(o)), sample_from_pairs(i, o, source), full)
    ri = token_range(input_text or DEFAULT_INPUT_TOKENS, "--input-tokens")
    ro = token_range(output_text or DEFAULT_OUTPUT_TOKENS, "--output-tokens")
    if ri[0] == ri[2] and ro[0] == ro[2]:
        return Lengths(ri[0], ro[0], None, None)
    sample = sample_from_ranges(ri, ro)
    return Lengths(sum(ri) / 3.0, sum(ro) / 3.0, sample, sample)


def read_lengths_csv(path: str) -> tuple[Any, Any]:
    """Return (input, output) token arrays from a CSV with columns ``input_tokens,output_tokens``.

    Other columns are ignored (a request log may carry timestamps, ids...). Raises :class:`InputError`
    naming the file, the line and the column of the first bad value.
    """
    text = read_text(path, "--lengths", MAX_DATA_FILE_BYTES).removeprefix("\ufeff")
    try:
        return _parse_rows(path, csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(
            "--lengths", path, f"a CSV file (UTF-8) with columns {','.join(COLUMNS)} ({exc})"
        ) from exc


def _parse_rows(path: str, reader: Any) -> tuple[Any, Any]:
    header = next(reader, None)
    names = [h.strip().lower() for h in header or []]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InputError(
            "--lengths",
            f"{path}: line 1 (header {','.join(names) or 'empty'})",
            f"a header naming the columns {','.join(COLUMNS)} (missing: {', '.join(missing)})",
        )
    where = [names.index(c) for c in COLUMNS]
    values: list[tuple[float, float]] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        pair = tuple(_cell(path, line, row, k, name) for k, name in zip(where, COLUMNS, strict=True))
        values.append((pair[0], pair[1]))
    if not values:
        raise InputError("--lengths", path, "at least one request row after the header")
    arr = np.asarray(values, dtype=np.float64)
    return arr[:, 0], arr[:, 1]


def _cell(path: str, line: int, row: list[str], index: int, name: str) -> float:
    raw = row[index].strip() if index < len(row) else ""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise InputError(
            "--lengths",
            f"{path}: line {line}, column {index + 1} ({name}) = {raw!r}",
            "a token count of at least 1",
        )
    return value


def check_window(m: ModelSpec, lengths: Lengths, csv_path: str | None) -> None:
    """Raise if any request of the distribution exceeds the model's context window."""
    if lengths.full is not None:
        check_context_window(m, lengths.full, "--lengths" if csv_path else "--input-tokens/--output-tokens")
    elif lengths.mean_input_tokens + lengths.mean_output_tokens > m.max_context_tokens:
        raise InputError(
            "--input-tokens/--output-tokens",
            (lengths.mean_input_tokens, lengths.mean_output_tokens),
            f"a request within {m.id}'s context window of {m.max_context_tokens:,} tokens",
        )


def lengths_payload(lengths: Lengths, percentile: float) -> dict[str, Any]:
    """Return the JSON block describing the lengths a capacity estimate used."""
    if lengths.sample is None:
        return {
            "kind": "mean",
            "input_tokens_mean": lengths.mean_input_tokens,
            "output_tokens_mean": lengths.mean_output_tokens,
        }
    return {"kind": "distribution", **vars(length_stats(lengths.sample, percentile))}


def lengths_line(lengths: Lengths, percentile: float) -> str:
    """Return one line for people: the distribution, its percentiles and what the SLO is checked at."""
    if lengths.sample is None:
        return ""
    s = length_stats(lengths.sample, percentile)
    p = f"P{percentile:g}"
    return (
        f"lengths: {s.source}, {s.n_points} points; input mean {s.input_tokens_mean:,.0f} / {p} "
        f"{s.input_tokens_at_percentile:,.0f}, output mean {s.output_tokens_mean:,.0f} / {p} "
        f"{s.output_tokens_at_percentile:,.0f} tokens. TTFT checked at {p} of requests, TPOT at the "
        f"decode-weighted mean context ({s.decode_context_tokens:,.0f} tokens); cost and replicas use the "
        "mean GPU time per request."
    )


def slo_checked(lengths: Lengths, percentile: float) -> dict[str, str]:
    """Return what the TTFT and TPOT objectives were checked at (for JSON output)."""
    if lengths.sample is None:
        return {"ttft": "TTFT under load (every request the same length)", "tpot": "TPOT under load"}
    return {
        "ttft": f"P{percentile:g} of per-request TTFT under load",
        "tpot": "TPOT under load at the decode-weighted mean context",
    }


def single_estimate_note(lengths: Lengths) -> str:
    """Return the line saying a single-deployment estimate used the mean of a distribution."""
    return (
        f"lengths: a distribution was given ({lengths.sample.source if lengths.sample else 'means'}); this "
        f"single-deployment estimate uses its mean ({lengths.mean_input_tokens:,.0f} → "
        f"{lengths.mean_output_tokens:,.0f} tokens). Add --rps for capacity at a percentile of requests."
    )
