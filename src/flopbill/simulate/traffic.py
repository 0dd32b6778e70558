"""Request generators: arrival times (Poisson, Gamma with a CV, diurnal and spike modulation, trace replay)
and request lengths (fixed, uniform, exponential, empirical), with prefix-sharing groups. Seeded.

Modulated arrivals use time rescaling (Çinlar 1975; Brown et al. 2002, "The time-rescaling theorem"): a
renewal process of unit rate ``u_1 < u_2 < …`` (exponential gaps → Poisson; Gamma gaps with shape
``1/CV²`` → bursty) is mapped through the inverse cumulative rate, ``t_k = Λ⁻¹(u_k)`` with
``Λ(t) = ∫_0^t λ(s) ds``, so the count in any window has mean ``∫ λ`` whatever the modulation.
``λ(t) = rate · diurnal(t) · spikes(t)``, diurnal ``1 + a·cos(2π(t − t_peak)/period)`` with
``a = (p − 1)/(p + 1)`` for a peak-to-trough ratio ``p``.

Traces: ``arrival_s,input_tokens,output_tokens`` or the Azure LLM inference trace columns
``TIMESTAMP,ContextTokens,GeneratedTokens`` (Azure/AzurePublicDataset, AzureLLMInferenceDataset2023).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from flopbill.errors import InputError
from flopbill.simulate.entities import COUNT_DTYPE, MAX_REQUEST_TOKENS, MAX_REQUESTS
from flopbill.simulate.spec import Lengths, Traffic

_GRID_POINTS = 200_001
_AZURE = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
_PLAIN = ("arrival_s", "input_tokens", "output_tokens")


class Workload(NamedTuple):
    """Requests sorted by arrival: times (s, float64), prompt and output tokens, prefix group and its
    tokens (int32: :data:`flopbill.simulate.entities.COUNT_DTYPE`, exact below ``MAX_REQUEST_TOKENS``).

    ``truncated``: the traffic had more requests than ``max_requests`` and was cut there (the later
    arrivals are not simulated; a duration's traffic then ends early).
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    group: np.ndarray
    prefix_tokens: np.ndarray
    truncated: bool = False
    next_turn: np.ndarray | None = None  # sessions (flopbill.simulate.sessions): the next turn, -1 none
    think_s: np.ndarray | None = None  # and the think time before it (s)


def rate_rps(tr: Traffic, t_s: Any) -> Any:
    """Return the arrival rate at times ``t_s`` (requests/s): ``rate · diurnal(t) · spikes(t)``."""
    t = np.asarray(t_s, dtype=np.float64)
    base = float(tr.rate_rps or 0.0)
    out = np.full(t.shape, base)
    if tr.diurnal is not None:
        d = tr.diurnal
        a = (d.peak_to_trough - 1.0) / (d.peak_to_trough + 1.0)
        out = out * (1.0 + a * np.cos(2.0 * np.pi * (t - d.peak_at_s) / d.period_s))
    for sp in tr.spikes:
        inside = (t >= sp.start_s) & (t < sp.start_s + sp.duration_s)
        out = np.where(inside, out * sp.multiplier, out)
    return out


def _unit_renewal(tr: Traffic, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` points of a unit-rate renewal process (exponential or Gamma gaps with ``tr.cv``)."""
    if tr.arrivals == "gamma" and tr.cv != 1.0:
        shape = 1.0 / tr.cv**2
        gaps = rng.gamma(shape, 1.0 / shape, n)
    else:
        gaps = rng.exponential(1.0, n)
    return np.cumsum(gaps, out=gaps)  # in place: one array of n, not two


def arrival_times_s(tr: Traffic, rng: np.random.Generator, max_requests: int) -> tuple[np.ndarray, bool]:
    """Return (sorted arrival times in s, truncated?) of the spec's requests (or duration).

    At most ``max_requests``; ``truncated`` is True when the traffic had more (with ``duration_s``: the
    ``max_requests``-th arrival came before the end of the duration).
    """
    rate = float(tr.rate_rps or 0.0)
    modulated = tr.diurnal is not None or bool(tr.spikes)
    if tr.requests is not None:
        n = min(tr.requests, max_requests)
        u = _unit_renewal(tr, n, rng)
        if not modulated:
            return np.divide(u, rate, out=u), tr.requests > max_requests
        horizon = _horizon_for(tr, float(u[-1]))
        return _rescale(tr, u, horizon), tr.requests > max_requests
    duration = float(tr.duration_s or 0.0)
    grid = np.linspace(0.0, duration, _GRID_POINTS)
    expected = float(np.trapezoid(rate_rps(tr, grid), grid)) if modulated else rate * duration
    want = int(expected + 6.0 * np.sqrt(expected + 1.0) * max(tr.cv, 1.0) + 16)
    n = min(want, max_requests)
    u = _unit_renewal(tr, n, rng)
    t = _rescale(tr, u, duration) if modulated else np.divide(u, rate, out=u)
    inside = t[: int(np.searchsorted(t, duration, side="right"))]  # sorted: a view, not a copy
    return inside, n < want and inside.size == n


def _cumulative(tr: Traffic, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(0.0, horizon_s, _GRID_POINTS)
    lam = rate_rps(tr, grid)
    cum = np.concatenate([[0.0], np.cumsum((lam[1:] + lam[:-1]) / 2.0 * np.diff(grid))])
    return grid, cum


def _horizon_for(tr: Traffic, total: float) -> float:
    horizon = total / float(tr.rate_rps or 1.0)
    for _ in range(60):
        _, cum = _cumulative(tr, horizon)
        if cum[-1] >= total:
            return horizon
        horizon *= 1.5
    raise InputError("traffic.spikes", tr.spikes, "a rate curve that is not zero for ever")


def _rescale(tr: Traffic, u: np.ndarray, horizon_s: float) -> np.ndarray:
    grid, cum = _cumulative(tr, horizon_s)
    t: np.ndarray = np.asarray(np.interp(u, cum, grid), dtype=np.float64)
    kept: np.ndarray = t[: int(np.searchsorted(u, cum[-1], side="right"))]  # u is sorted: a view
    return kept


def lengths(ln: Lengths, n: int, rng: np.random.Generator, field: str) -> np.ndarray:
    """Return ``n`` token lengths (int32 ≥ 1) drawn from ``ln``.

    ``exponential`` draws a geometric count on {1, 2, …} with the given mean (the discrete exponential).
    The draws are made as int64 (the same random stream as ever) and stored as int32; a length above
    :data:`~flopbill.simulate.entities.MAX_REQUEST_TOKENS` is an :class:`InputError`.
    """
    if ln.kind == "fixed":
        return _compact(np.full(n, int(ln.value or 1), np.int64), field)
    if ln.kind == "uniform":
        return _compact(rng.integers(int(ln.low or 1), int(ln.high or 1) + 1, n), field)
    if ln.kind == "exponential":
        return _compact(rng.geometric(1.0 / float(ln.mean or 1.0), n), field)
    values = _empirical(Path(str(ln.path)), str(ln.column), field)
    return _compact(np.asarray(rng.choice(values, n), dtype=np.int64), field)


def _compact(tokens: np.ndarray, field: str) -> np.ndarray:
    """Return int64 token counts as int32 (exact), refusing counts above ``MAX_REQUEST_TOKENS``."""
    if tokens.size and int(tokens.max()) > MAX_REQUEST_TOKENS:
        raise InputError(field, int(tokens.max()), f"≤ {MAX_REQUEST_TOKENS:,} tokens per request")
    return tokens.astype(COUNT_DTYPE)


def _empirical(path: Path, column: str, field: str) -> np.ndarray:
    rows = _read_csv(path, field)
    if column not in rows[0]:
        raise InputError(f"{field}.column", column, f"a column of {path.name} ({', '.join(rows[0])})")
    try:
        values = np.array([int(float(r[column])) for r in rows], dtype=np.int64)
    except ValueError:
        raise InputError(f"{field}.column", column, "a column of token counts") from None
    if (values < 1).any():
        raise InputError(f"{field}.path", str(path), "token counts ≥ 1")
    return values


def _read_csv(path: Path, field: str) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(field, str(path), f"a readable CSV file ({exc.strerror})") from None
    if not rows:
        raise InputError(field, str(path), "a CSV with at least one request")
    return rows


def _timestamp_s(text: str) -> float:
    """Return POSIX seconds of an Azure trace timestamp (``2023-11-16 18:15:46.6805900``: 7 digits)."""
    head, _, frac = text.strip().partition(".")
    stamp = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC)
    return stamp.timestamp() + (float("0." + frac) if frac else 0.0)


def read_trace(path: str, max_requests: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (arrival s from the first request, input tokens, output tokens) of a trace CSV.

    Raises :class:`InputError` for an empty trace, unknown columns, bad values or unsorted times.
    """
    rows = _read_csv(Path(path), "traffic.trace")[:max_requests]
    cols = _PLAIN if _PLAIN[0] in rows[0] else _AZURE
    if any(c not in rows[0] for c in cols):
        raise InputError("traffic.trace", path, f"columns {', '.join(_PLAIN)} or {', '.join(_AZURE)}")
    try:
        conv = float if cols is _PLAIN else _timestamp_s
        t = np.array([conv(r[cols[0]]) for r in rows], dtype=np.float64)
        inp = np.array([int(float(r[cols[1]])) for r in rows], dtype=np.int64)
        out = np.array([int(float(r[cols[2]])) for r in rows], dtype=np.int64)
    except ValueError as exc:
        raise InputError("traffic.trace", path, f"numeric token counts and times ({exc})") from None
    if np.any(np.diff(t) < 0):
        k = int(np.argmax(np.diff(t) < 0)) + 2
        raise InputError(
            "traffic.trace", path, f"arrival times in order (row {k} is earlier than row {k - 1})"
        )
    if (inp < 1).any() or (out < 1).any():
        raise InputError("traffic.trace", path, "input and output tokens ≥ 1 in every row")
    return t - t[0], _compact(inp, "traffic.trace"), _compact(out, "traffic.trace")


def workload(tr: Traffic, seed: int, max_requests: int) -> Workload:
    """Return the requests of ``tr`` (seeded with ``seed``), sorted by arrival, at most ``max_requests``
    (and at most :data:`~flopbill.simulate.entities.MAX_REQUESTS`, what int32 request indices reach: a
    traffic with more is cut there and says so, as at any bound)."""
    max_requests = min(max_requests, MAX_REQUESTS)
    rng = np.random.default_rng(seed)
    truncated = False
    if tr.sessions is not None:
        from flopbill.simulate.sessions import session_workload

        return session_workload(tr, rng, max_requests)
    if tr.arrivals == "trace":
        t, inp, out = read_trace(str(tr.trace), max_requests)
        truncated = t.size == max_requests and _trace_rows(str(tr.trace)) > max_requests
    else:
        t, truncated = arrival_times_s(tr, rng, max_requests)
        inp = lengths(tr.input_tokens, t.size, rng, "traffic.input_tokens")
        out = lengths(tr.output_tokens, t.size, rng, "traffic.output_tokens")
    if t.size == 0:
        raise InputError("traffic", tr.duration_s, "traffic with at least one request in the duration")
    group = np.full(t.size, -1, COUNT_DTYPE)
    prefix = np.zeros(t.size, COUNT_DTYPE)
    if tr.prefix is not None:
        if tr.prefix.tokens >= MAX_REQUEST_TOKENS:
            raise InputError("traffic.prefix.tokens", tr.prefix.tokens, f"< {MAX_REQUEST_TOKENS:,} tokens")
        if tr.prefix.groups > MAX_REQUESTS:
            raise InputError("traffic.prefix.groups", tr.prefix.groups, f"≤ {MAX_REQUESTS:,}")
        shared = rng.random(t.size) < tr.prefix.fraction
        group[shared] = rng.integers(0, tr.prefix.groups, int(shared.sum()))
        prefix[shared] = tr.prefix.tokens
        inp = np.where(shared, np.maximum(inp, tr.prefix.tokens + 1), inp).astype(COUNT_DTYPE)
    return Workload(t, inp, out, group, prefix, truncated)


def _trace_rows(path: str) -> int:
    """Return the number of data rows of a trace CSV (header excluded)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return max(sum(1 for _ in csv.reader(fh)) - 1, 0)


def trace_column(path: str, column: str, n: int, field: str) -> np.ndarray:
    """Return the text of ``column`` in the first ``n`` rows of a trace CSV (a request class per row)."""
    rows = _read_csv(Path(path), "traffic.trace")[:n]
    if column not in rows[0]:
        raise InputError(field, column, f"a column of the trace {Path(path).name} ({', '.join(rows[0])})")
    return np.array([r[column].strip() for r in rows], dtype=object)
