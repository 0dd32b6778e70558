"""Dividing a fleet's traffic among its pools: by weights, by request class (rules), or a model router.

Every function here is pure and seeded: the same spec and seed give the same assignment. Random draws
come from streams seeded from ``(seed, name)`` (:func:`sub_seed`), so a pool's draws do not depend on
which other pools the spec lists.

* **weights**, ``draw: random``: each request independently to pool ``i`` with probability
  ``w_i / Σw`` (one stream, ``(seed, "split")``).
* **weights**, ``draw: deterministic``: weights as exact fractions ``p_i / Q`` (``Σ p_i = Q``); request
  ``k`` (0-based) goes to the pool with the largest deficit ``(k + 1)·p_i − n_i·Q`` (``n_i``: requests
  it has so far), ties to the first listed. A pool is picked only while ``n_i < (k + 1)·p_i / Q``, so
  of the first ``k`` requests it never holds more than ``⌈k·w_i⌉``; of every ``Q`` consecutive ones it
  holds exactly ``p_i`` (the counts sum to ``Q``), and the picks repeat with period ``Q``.
* **rules**: the first rule whose every condition holds (token bounds inclusive, trace class equal),
  else ``default``.
* **router** (as the scenario router: :class:`flopbill.scenario.schema.RouterOption`): ``small_share``
  of the requests to ``small``, the rest to ``large`` (stream ``(seed, "split")``); of the requests the
  small pool finishes, ``escalation_rate`` (stream ``(seed, small)``) are re-sent to ``large`` at the
  time they finish, with the same lengths (:func:`escalated`).
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction

import numpy as np

from flopbill.errors import InputError
from flopbill.simulate.spec import PoolsSpec, Rule, Split
from flopbill.simulate.traffic import Workload, trace_column

_MAX_DENOMINATOR = 1_000_000


def sub_seed(seed: int, name: str) -> int:
    """Return a seed derived from ``(seed, name)``: the first 7 bytes of SHA-256 of ``"seed/name"``."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def assign(spec: PoolsSpec, wl: Workload) -> np.ndarray:
    """Return the pool index (spec order) of every request of ``wl``."""
    names = [p.name for p in spec.pools]
    sp = spec.split
    n = wl.arrival_s.size
    if sp is None:
        return np.zeros(n, np.int64)
    rng = np.random.default_rng(sub_seed(spec.seed, "split"))
    if sp.by == "weights":
        w = np.array([float((sp.weights or {}).get(name, 0.0)) for name in names])
        if sp.draw == "deterministic":
            return deterministic_split(w, n)
        return np.asarray(rng.choice(len(names), size=n, p=w / w.sum()), dtype=np.int64)
    if sp.by == "router":
        small = rng.random(n) < float(sp.small_share or 0.0)
        return np.where(small, names.index(str(sp.small)), names.index(str(sp.large))).astype(np.int64)
    return _by_rules(spec, sp, wl, names)


def deterministic_split(weights: np.ndarray, n: int) -> np.ndarray:
    """Return pool indices of ``n`` requests split by ``weights`` by largest deficit (module docstring)."""
    fr = [Fraction(float(w)).limit_denominator(_MAX_DENOMINATOR) for w in weights]
    den = math.lcm(*(f.denominator for f in fr))
    p = [int(f * den) for f in fr]
    q = sum(p)
    period = min(n, q)
    picks = np.empty(period, np.int64)
    counts = [0] * len(p)
    for k in range(period):
        deficits = [(k + 1) * pi - ci * q for pi, ci in zip(p, counts, strict=True)]
        best = deficits.index(max(deficits))
        picks[k] = best
        counts[best] += 1
    if period == n:
        return picks
    return np.tile(picks, -(-n // period))[:n]


def _by_rules(spec: PoolsSpec, sp: Split, wl: Workload, names: list[str]) -> np.ndarray:
    n = wl.arrival_s.size
    classes = None
    if any(r.request_class is not None for r in sp.rules):
        classes = trace_column(str(spec.traffic.trace), sp.class_column, n, "split.class_column")
    out = np.full(n, -1, np.int64)
    for rule in sp.rules:
        hit = (out < 0) & _matches(rule, wl, classes)
        out[hit] = names.index(rule.pool)
    left = out < 0
    if left.any():
        if sp.default is None:
            k = int(np.argmax(left))
            raise InputError(
                "split.default",
                None,
                f"a default pool: {int(left.sum()):,} requests match no rule (the first: request {k}, "
                f"{int(wl.prompt_tokens[k])} input and {int(wl.output_tokens[k])} output tokens)",
            )
        out[left] = names.index(sp.default)
    return out


def _matches(rule: Rule, wl: Workload, classes: np.ndarray | None) -> np.ndarray:
    """Return, per request, whether every condition of ``rule`` holds."""
    ok = np.ones(wl.arrival_s.size, bool)
    for key, tokens in (("input", wl.prompt_tokens), ("output", wl.output_tokens)):
        low, high = getattr(rule, f"{key}_tokens_min"), getattr(rule, f"{key}_tokens_max")
        if low is not None:
            ok &= tokens >= low
        if high is not None:
            ok &= tokens <= high
    if rule.request_class is not None and classes is not None:
        ok &= classes == rule.request_class
    return ok


def escalated(spec: PoolsSpec, finish_s: np.ndarray) -> np.ndarray:
    """Return, per request of the small pool, whether it is re-sent to the large pool.

    Only finished requests escalate (NaN ``finish_s``: dropped or unfinished); each with probability
    ``escalation_rate``, drawn from the stream ``(seed, small pool name)``.
    """
    sp = spec.split
    if sp is None or sp.by != "router" or sp.escalation_rate == 0.0:
        return np.zeros(finish_s.size, bool)
    rng = np.random.default_rng(sub_seed(spec.seed, str(sp.small)))
    out: np.ndarray = (rng.random(finish_s.size) < sp.escalation_rate) & ~np.isnan(finish_s)
    return out
