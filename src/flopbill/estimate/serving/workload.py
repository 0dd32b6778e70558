"""Request-length distributions for capacity planning: a sample of (input, output) token pairs.

A :class:`LengthSample` holds equally weighted requests: deterministic quantiles of a distribution
(:func:`sample_from_ranges`, triangular low..mode..high) or rows of a request log
(:func:`sample_from_pairs`), at most a few hundred points so a search stays one vectorized call over
configurations × sample. Nothing here draws random numbers: the same input gives the same result.

How a search uses it (``I_i``, ``O_i`` the sample's lengths, ``g_i = O_i·r`` tokens generated per sequence):

* prefill GPU time per request = the mean over the sample of each prompt's prefill time, evaluated at each
  ``I_i`` (attention grows as ``I²``, so this is not the prefill of the mean prompt);
* TTFT is checked at a percentile (default P90) of the per-request TTFTs;
* a decode step of a mixed batch reads the sum of its sequences' KV caches and does the sum of their
  attention FLOPs; in steady state a request holds a batch slot for a time proportional to ``g_i``, so
  the step runs at the decode-weighted mean context ``L̄ = Σ g_i·(I_i + g_i/2) / Σ g_i`` and TPOT is
  checked there (the mean-context TPOT). Decode GPU time per request = ``mean(O)·T(B, L̄)/(B·τ)``,
  which equals the sample mean of ``O_i·T(B, I_i + g_i/2)/(B·τ)`` because the step time is affine in the
  context (weights and matmuls do not depend on it; KV bytes and attention FLOPs are proportional to it,
  up to sliding-window caps);
* memory: each slot reserves the KV of its request's full context, weighted the same way:
  ``Σ g_i·(I_i + g_i) / Σ g_i``; and the longest request must fit alone.

A sample whose points are all equal reproduces the mean-only estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from flopbill.catalog.schema import ModelSpec
from flopbill.errors import InputError
from flopbill.estimate.core.arrays import FloatArray
from flopbill.estimate.serving.metrics import (
    PrefillArrays,
    RuntimeArrays,
    SpecArrays,
    WorkloadArrays,
    memory_limited_batch,
    one_prompt_prefill,
)
from flopbill.estimate.serving.step import DeviceArrays, ModelTerms, PrecisionArrays

DEFAULT_MAX_POINTS = 256
DEFAULT_SLO_PERCENTILE = 90.0


@dataclass(frozen=True, eq=False)
class LengthSample:
    """Equally weighted requests: ``input_tokens[i]`` → ``output_tokens[i]`` (1-D float arrays, tokens).

    ``source`` says where the points come from; ``n_requests`` how many requests they stand for (rows of
    a log, or the number of quantile points). Compared by identity (the fields are arrays).
    """

    input_tokens: FloatArray
    output_tokens: FloatArray
    source: str
    n_requests: int

    def __post_init__(self) -> None:
        i, o = self.input_tokens, self.output_tokens
        if i.ndim != 1 or i.shape != o.shape or i.size == 0:
            raise InputError("lengths", (i.shape, o.shape), "two 1-D arrays of the same, non-zero length")
        if not (np.all(np.isfinite(i)) and np.all(np.isfinite(o)) and i.min() >= 1 and o.min() >= 1):
            raise InputError("lengths", self.source, "finite token counts of at least 1")

    @property
    def n_points(self) -> int:
        """Number of points in the sample."""
        return int(self.input_tokens.size)

    @property
    def mean_input_tokens(self) -> float:
        """Mean prompt length over the sample (tokens)."""
        return float(np.mean(self.input_tokens))

    @property
    def mean_output_tokens(self) -> float:
        """Mean output length over the sample (tokens)."""
        return float(np.mean(self.output_tokens))


def _sample(i: Any, o: Any, source: str, n_requests: int) -> LengthSample:
    return LengthSample(
        np.asarray(i, dtype=np.float64).reshape(-1),
        np.asarray(o, dtype=np.float64).reshape(-1),
        source,
        n_requests,
    )


def constant_sample(input_tokens: float, output_tokens: float) -> LengthSample:
    """Return a one-point sample: every request is ``input_tokens`` → ``output_tokens``."""
    return _sample([input_tokens], [output_tokens], "mean", 1)


def triangular_quantiles(low: float, mode: float, high: float, n: int) -> FloatArray:
    """Return the quantiles at ``(k + ½)/n``, ``k = 0..n−1``, of the triangular distribution (tokens).

    Inverse CDF with ``F_c = (c − a)/(b − a)``: ``a + √(u·(b − a)·(c − a))`` for ``u < F_c``, else
    ``b − √((1 − u)·(b − a)·(b − c))`` (``a`` = low, ``c`` = mode, ``b`` = high); all ``a`` when ``a = b``.
    Midpoint quantiles make the sample deterministic and equally weighted.
    """
    if not low <= mode <= high or n < 1:
        raise InputError("range", (low, mode, high), "low ≤ mode ≤ high and at least one point")
    u = (np.arange(n, dtype=np.float64) + 0.5) / n
    span = high - low
    if span == 0.0:
        return np.full(n, float(low))
    f_c = (mode - low) / span
    left = low + np.sqrt(u * span * (mode - low))
    right = high - np.sqrt((1.0 - u) * span * (high - mode))
    return np.where(u < f_c, left, right)


def sample_from_ranges(
    input_range: tuple[float, float, float],
    output_range: tuple[float, float, float],
    max_points: int = DEFAULT_MAX_POINTS,
) -> LengthSample:
    """Return independent triangular input and output lengths on a quantile grid of ≤ ``max_points``.

    Each range is ``(low, mode, high)``; a range with ``low = high`` is one value. When both vary, the
    sample is the cross product of ``⌊√max_points⌋`` quantiles of each (16 × 16 = 256 by default).
    """
    vary_i, vary_o = input_range[0] < input_range[2], output_range[0] < output_range[2]
    both = max(1, math.isqrt(max_points))
    n_i = (both if vary_o else max_points) if vary_i else 1
    n_o = (both if vary_i else max_points) if vary_o else 1
    qi = triangular_quantiles(*input_range, n_i)
    qo = triangular_quantiles(*output_range, n_o)
    grid_i, grid_o = np.meshgrid(qi, qo, indexing="ij")

    def text(r: tuple[float, float, float]) -> str:
        return f"{r[0]:g}" if r[0] == r[2] else f"{r[0]:g}..{r[1]:g}..{r[2]:g}"

    source = f"triangular input {text(input_range)} × output {text(output_range)}"
    return _sample(grid_i, grid_o, source, n_i * n_o)


def sample_from_pairs(
    input_tokens: Any, output_tokens: Any, source: str, max_points: int = DEFAULT_MAX_POINTS
) -> LengthSample:
    """Return the requests as a sample; more than ``max_points`` are thinned by input-length quantile.

    Rows are sorted by (input, output) and the row at rank ``⌊(k + ½)·n/m⌋`` kept for ``k = 0..m−1``,
    ``m = max_points``: the input-length distribution (which sets TTFT) is kept at ``m`` quantiles and each
    kept row brings its own output length, so input-output correlation survives.
    """
    i = np.asarray(input_tokens, dtype=np.float64).reshape(-1)
    o = np.asarray(output_tokens, dtype=np.float64).reshape(-1)
    n = int(i.size)
    if n > max_points:
        order = np.lexsort((o, i))
        pick = order[np.floor((np.arange(max_points) + 0.5) * n / max_points).astype(int)]
        i, o = i[pick], o[pick]
    return _sample(i, o, source, n)


def decode_weighted_context(sample: LengthSample, reasoning_multiplier: float = 1.0) -> tuple[float, float]:
    """Return (decode context ``L̄``, reserved context) in tokens, each weighted by tokens generated.

    ``L̄ = Σ g_i·(I_i + g_i/2) / Σ g_i`` and ``Σ g_i·(I_i + g_i) / Σ g_i`` with ``g_i = O_i·r``; a
    one-point sample gives ``I + g/2`` and ``I + g``.
    """
    g = sample.output_tokens * reasoning_multiplier
    total = float(np.sum(g))
    decode = float(np.sum(g * (sample.input_tokens + g / 2.0))) / total
    reserved = float(np.sum(g * (sample.input_tokens + g))) / total
    return decode, reserved


def sample_workload(
    sample: LengthSample,
    prefix_hit_rate: float = 0.0,
    n_samples: float = 1.0,
    reasoning_multiplier: float = 1.0,
) -> WorkloadArrays:
    """Return the workload a search evaluates for ``sample``: mean lengths, decode-weighted contexts."""
    decode, reserved = decode_weighted_context(sample, reasoning_multiplier)
    return WorkloadArrays(
        sample.mean_input_tokens,
        sample.mean_output_tokens,
        prefix_hit_rate,
        n_samples,
        reasoning_multiplier,
        decode_context=decode,
        reserved_context=reserved,
    )


def _leading_axis(sample_values: FloatArray, *grid: Any) -> FloatArray:
    """Return the sample as shape ``(S, 1, …, 1)`` so it broadcasts ahead of the configuration axes."""
    nd = max((np.ndim(x) for x in grid), default=0)
    return sample_values.reshape((-1,) + (1,) * nd)


def sample_prefill(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    rt: RuntimeArrays,
    tp: Any,
    sample: LengthSample,
    percentile: float = DEFAULT_SLO_PERCENTILE,
    prefix_hit_rate: float = 0.0,
) -> PrefillArrays:
    """Return the ``percentile`` of per-request TTFT and the mean prefill GPU time over ``sample`` (s).

    Evaluated for every point and every configuration at once (sample on a leading axis, reduced away);
    the percentile uses linear interpolation between the sorted per-request TTFTs.
    """
    check_percentile(percentile)
    axes = (tp, *vars(dev).values(), *vars(prec).values(), *vars(rt).values())
    prompts = _leading_axis(sample.input_tokens, *axes)
    per = one_prompt_prefill(t, dev, prec, rt, tp, prompts, prefix_hit_rate)
    shape = np.broadcast_shapes(np.shape(per.ttft_s), np.shape(per.gpu_s_per_request))
    ttft = np.percentile(np.broadcast_to(per.ttft_s, shape), percentile, axis=0)
    gpu = np.mean(np.broadcast_to(per.gpu_s_per_request, shape), axis=0)
    return PrefillArrays(ttft_s=ttft, gpu_s_per_request=gpu)


def longest_request_fits(
    t: ModelTerms,
    dev: DeviceArrays,
    prec: PrecisionArrays,
    rt: RuntimeArrays,
    tp: Any,
    sample: LengthSample,
    reasoning_multiplier: float = 1.0,
) -> Any:
    """Return True where the KV cache of the sample's longest request fits alone (bool array)."""
    longest = float(np.max(sample.input_tokens + sample.output_tokens * reasoning_multiplier))
    return memory_limited_batch(t, dev, prec, rt, tp, longest, SpecArrays())[0] >= 1.0


def check_percentile(percentile: float) -> None:
    """Raise :class:`InputError` unless ``0 < percentile ≤ 100``."""
    if not 0.0 < percentile <= 100.0:
        raise InputError("slo_percentile", percentile, "a percentile in (0, 100], e.g. 90 or 99")


def check_context_window(
    m: ModelSpec, sample: LengthSample, field: str, reasoning_multiplier: float = 1.0
) -> None:
    """Raise :class:`InputError` if a request of ``sample`` exceeds the model's context window."""
    total = sample.input_tokens + sample.output_tokens * reasoning_multiplier
    worst = int(np.argmax(total))
    if total[worst] > m.max_context_tokens:
        raise InputError(
            field,
            f"{sample.input_tokens[worst]:g} → {sample.output_tokens[worst]:g} tokens",
            f"requests within {m.id}'s context window of {m.max_context_tokens:,} tokens",
        )


@dataclass(frozen=True)
class LengthStats:
    """The length statistics a capacity estimate used (tokens), for reports."""

    source: str
    n_requests: int
    n_points: int
    percentile: float
    input_tokens_mean: float
    input_tokens_p50: float
    input_tokens_at_percentile: float
    input_tokens_max: float
    output_tokens_mean: float
    output_tokens_p50: float
    output_tokens_at_percentile: float
    output_tokens_max: float
    decode_context_tokens: float
    reserved_context_tokens: float


def length_stats(
    sample: LengthSample, percentile: float = DEFAULT_SLO_PERCENTILE, reasoning_multiplier: float = 1.0
) -> LengthStats:
    """Return mean, median, ``percentile`` and maximum of each length and the decode-weighted contexts."""
    decode, reserved = decode_weighted_context(sample, reasoning_multiplier)
    i, o = sample.input_tokens, sample.output_tokens
    return LengthStats(
        source=sample.source,
        n_requests=sample.n_requests,
        n_points=sample.n_points,
        percentile=percentile,
        input_tokens_mean=float(np.mean(i)),
        input_tokens_p50=float(np.percentile(i, 50.0)),
        input_tokens_at_percentile=float(np.percentile(i, percentile)),
        input_tokens_max=float(np.max(i)),
        output_tokens_mean=float(np.mean(o)),
        output_tokens_p50=float(np.percentile(o, 50.0)),
        output_tokens_at_percentile=float(np.percentile(o, percentile)),
        output_tokens_max=float(np.max(o)),
        decode_context_tokens=decode,
        reserved_context_tokens=reserved,
    )
