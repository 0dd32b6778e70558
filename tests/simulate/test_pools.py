"""Several pools in one fleet: the split, conservation across pools, merged percentiles, one pool = the
one-pool spec, bad specs.

Hand cases are written out in the docstrings; no expected value here is a number flopbill printed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.errors import InputError
from flopbill.simulate import SimulationResult, simulate, spec_from_dict
from flopbill.simulate.split import deterministic_split

RunCli = Callable[[list[str]], tuple[int, str, str]]
TRACE_ROWS = [(0.5 * k, 200 + 100 * k, 20 + k) for k in range(10)]  # arrival_s, input, output


def _pool(name: str, **deployment: Any) -> dict[str, Any]:
    return {"name": name, "deployment": {"model": "llama-3.1-8b", **deployment}, "fleet": {"replicas": 1}}


def _trace(tmp_path: Path, rows: list[tuple[float, int, int]], classes: list[str] | None = None) -> str:
    head = "arrival_s,input_tokens,output_tokens" + (",class" if classes else "")
    lines = [head]
    for k, (t, i, o) in enumerate(rows):
        lines.append(f"{t},{i},{o}" + (f",{classes[k]}" if classes else ""))
    path = tmp_path / "trace.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _poisson(requests: int = 120, rate_rps: float = 8.0) -> dict[str, Any]:
    return {
        "rate_rps": rate_rps,
        "requests": requests,
        "input_tokens": {"kind": "uniform", "low": 100, "high": 3000},
        "output_tokens": {"kind": "exponential", "mean": 60},
    }


def _run(data: dict[str, Any]) -> SimulationResult:
    return simulate(spec_from_dict(data))


def test_deterministic_weights_hand_case(tmp_path: Path) -> None:
    """Weights a 0.3 / b 0.7 as fractions 3/10, 7/10 (Q = 10); request k goes to the larger deficit
    ``(k + 1)·p − n·Q`` (ties to a, listed first):

    k=0: a 3, b 7 → b · k=1: a 6, b 4 → a · k=2: a −1, b 11 → b · k=3: a 2, b 8 → b ·
    k=4: a 5, b 5 → a (tie) · k=5: a −2, b 12 → b · k=6: a 1, b 9 → b · k=7: a 4, b 6 → b ·
    k=8: a 7, b 3 → a · k=9: a 0, b 10 → b.  So a serves requests 1, 4, 8 and b the other seven.
    """
    assert deterministic_split(np.array([0.3, 0.7]), 10).tolist() == [1, 0, 1, 1, 0, 1, 1, 1, 0, 1]
    trace = _trace(tmp_path, TRACE_ROWS)
    r = _run(
        {
            "pools": [_pool("a"), _pool("b")],
            "split": {"by": "weights", "weights": {"a": 0.3, "b": 0.7}, "draw": "deterministic"},
            "traffic": {"arrivals": "trace", "trace": trace},
        }
    )
    a, b = r.pools
    assert (a.routed, b.routed) == (3, 7)
    assert a.result.outcomes.arrival_s.tolist() == [0.5, 2.0, 4.0]
    assert a.result.outcomes.prompt_tokens.tolist() == [300, 600, 1000]
    assert b.result.outcomes.output_tokens.tolist() == [20, 22, 23, 25, 26, 27, 29]
    assert r.outcomes.request is not None
    assert sorted(r.outcomes.request.tolist()) == list(range(10))
    assert r.arrived == r.finished == 10


def test_deterministic_split_period_and_quota() -> None:
    """Of every Q consecutive requests each pool gets exactly p (weights 1/6, 1/3, 1/2: Q = 6), and of
    the first k never more than ⌈k·w⌉."""
    picks = deterministic_split(np.array([1 / 6, 1 / 3, 1 / 2]), 600)
    for start in range(0, 600, 6):
        assert np.bincount(picks[start : start + 6], minlength=3).tolist() == [1, 2, 3]
    for k in range(1, 600):
        counts = np.bincount(picks[:k], minlength=3)
        assert (counts <= np.ceil(k * np.array([1 / 6, 1 / 3, 1 / 2]) + 1e-9)).all()


def _check_conservation(r: SimulationResult, requests: int) -> None:
    """Σ pools = fleet for every count, token and GPU-hour; the split sends each request to one pool;
    every arrived request finishes (no bounds, no timeout); finished requests got their output tokens."""
    ps = [p.result for p in r.pools]
    assert sum(p.routed for p in r.pools) == requests
    assert r.arrived == requests + r.escalated == sum(x.arrived for x in ps)
    for key in ("finished", "dropped", "unfinished", "preemptions", "steps", "input_tokens", "output_tokens"):
        assert getattr(r, key) == sum(getattr(x, key) for x in ps), key
    assert r.finished + r.dropped + r.unfinished == r.arrived
    for key in ("gpu_hours_billed", "gpu_hours_busy"):
        assert getattr(r, key) == pytest.approx(sum(getattr(x, key) for x in ps), rel=1e-12), key
    assert r.cost_usd == pytest.approx(sum(x.cost_usd or 0.0 for x in ps), rel=1e-12)
    assert r.gpu_hours_billed >= r.gpu_hours_busy
    o = r.outcomes
    fin = ~np.isnan(o.finish_s)
    assert (o.generated_tokens[fin] == o.output_tokens[fin]).all()
    assert r.output_tokens == int(o.output_tokens[fin].sum())
    assert r.duration_s == max(x.duration_s for x in ps)


@pytest.mark.parametrize(
    "split",
    [
        {"by": "weights", "weights": {"a": 1.0, "b": 2.0, "c": 1.0}},
        {
            "by": "rules",
            "rules": [{"pool": "c", "input_tokens_min": 2001}, {"pool": "b", "output_tokens_max": 30}],
        }
        | {"default": "a"},
    ],
)
def test_conservation_across_pools(split: dict[str, Any]) -> None:
    pools = [_pool("a"), _pool("b", gpu="a100-80gb"), _pool("c", tp=2)]
    r = _run({"pools": pools, "split": split, "traffic": _poisson(), "seed": 3})
    _check_conservation(r, 120)
    assert all(p.routed > 0 for p in r.pools)


def test_rules_send_each_request_where_its_lengths_say(tmp_path: Path) -> None:
    """Rows k = 0..9 have 200 + 100k input tokens: the rule ``input_tokens_min: 801`` takes k = 7, 8, 9
    (900, 1000, 1100 tokens); the rest go to the default pool."""
    trace = _trace(tmp_path, TRACE_ROWS)
    r = _run(
        {
            "pools": [_pool("short"), _pool("long", tp=2)],
            "split": {
                "by": "rules",
                "rules": [{"pool": "long", "input_tokens_min": 801}],
                "default": "short",
            },
            "traffic": {"arrivals": "trace", "trace": trace},
        }
    )
    assert r.pools[1].result.outcomes.prompt_tokens.tolist() == [900, 1000, 1100]
    assert r.pools[0].routed == 7


def test_trace_class_column(tmp_path: Path) -> None:
    classes = ["chat", "code", "chat", "chat", "code", "chat", "chat", "chat", "code", "chat"]
    trace = _trace(tmp_path, TRACE_ROWS, classes)
    r = _run(
        {
            "pools": [_pool("chat"), _pool("code")],
            "split": {"by": "rules", "rules": [{"pool": "code", "class": "code"}], "default": "chat"},
            "traffic": {"arrivals": "trace", "trace": trace},
        }
    )
    assert r.pools[1].result.outcomes.arrival_s.tolist() == [0.5, 2.0, 4.0]
    assert r.resolved["split"]["rules"][0]["class"] == "code"


def test_router_escalations_arrive_when_the_small_pool_answers() -> None:
    """small_share 0.5, escalation_rate 1: every request the small pool finishes is re-sent to the large
    pool at its finish time, so the large pool's calls are its direct half plus all of the small pool's."""
    r = _run(
        {
            "pools": [_pool("small"), _pool("large", tp=2)],
            "split": {"by": "router", "small": "small", "large": "large", "small_share": 0.5}
            | {"escalation_rate": 1.0},
            "traffic": _poisson(80),
        }
    )
    small, large = r.pools
    assert small.routed + large.routed == 80
    assert r.escalated == large.escalated_in == small.result.finished == small.routed
    _check_conservation(r, 80)
    lo = large.result.outcomes
    sent = np.sort(small.result.outcomes.finish_s)
    direct_t = np.sort(r.outcomes.arrival_s[(r.outcomes.pool == 0)])
    assert np.isin(sent, lo.arrival_s).all()
    assert direct_t.size == small.routed
    assert (np.diff(lo.arrival_s) >= 0).all()
    # per traffic request: a small-pool request's answer is the large pool's re-sent call's
    req, o = r.outcomes.request, r.outcomes
    assert req is not None and o.pool is not None
    first_arrival = {int(k): float(t) for k, t, p in zip(req, o.arrival_s, o.pool, strict=True) if p == 0}
    last = {int(k): float(f) for k, f, p in zip(req, o.finish_s, o.pool, strict=True) if p == 1}
    direct = {int(k): float(t) for k, t, p in zip(req, o.arrival_s, o.pool, strict=True) if p == 1}
    arrival = direct | first_arrival  # a re-sent call's arrival is replaced by the request's own
    user = np.array([last[k] - arrival[k] for k in sorted(last)])
    assert r.request_e2e_s is not None
    assert [r.request_e2e_s.p50, r.request_e2e_s.p99] == pytest.approx(np.percentile(user, [50, 99]).tolist())
    assert (r.request_e2e_s.p50 or 0.0) > (r.e2e_s.p50 or 0.0)  # (re-sent requests wait for two answers)


def test_router_share_is_seeded_binomial() -> None:
    """small_share 0.3 of 400 requests: the count is Binomial(400, 0.3), mean 120, sd 9.2 (5 sd: ±46);
    the same seed gives the same split, another seed (almost surely) another."""
    data: dict[str, Any] = {
        "pools": [_pool("s"), _pool("l")],
        "split": {"by": "router", "small": "s", "large": "l", "small_share": 0.3},
        "traffic": _poisson(400, 40.0) | {"output_tokens": {"kind": "fixed", "value": 5}},
    }
    one, two = _run(data), _run(data)
    assert abs(one.pools[0].routed - 120) <= 46
    assert one.pools[0].routed == two.pools[0].routed
    assert one.ttft_s == two.ttft_s and one.gpu_hours_billed == two.gpu_hours_billed
    other = _run(data | {"seed": 9})
    assert other.outcomes.request is not None and one.outcomes.request is not None
    assert other.outcomes.request.tolist() != one.outcomes.request.tolist()


def test_merged_percentiles_are_percentiles_of_the_union() -> None:
    """The fleet's TTFT / TPOT / E2E percentiles are numpy's percentiles of all pools' requests together
    (computed here from each pool's per-request times), not averages of the pools' percentiles."""
    pools = [_pool("fast"), _pool("slow", gpu="a100-80gb")]
    split = {"by": "weights", "weights": {"fast": 0.5, "slow": 0.5}}
    r = _run({"pools": pools, "split": split, "traffic": _poisson(150, 12.0)})
    ttft, e2e, tpot = [], [], []
    for p in r.pools:
        o = p.result.outcomes
        fin = ~np.isnan(o.finish_s)
        ttft.append((o.first_token_s - o.arrival_s)[fin])
        e2e.append((o.finish_s - o.arrival_s)[fin])
        many = fin & (o.output_tokens > 1)
        tpot.append(((o.finish_s - o.first_token_s) / np.maximum(o.output_tokens - 1, 1))[many])
    for got, parts in ((r.ttft_s, ttft), (r.e2e_s, e2e), (r.tpot_s, tpot)):
        union = np.concatenate(parts)
        want = np.percentile(union, [50, 90, 99])
        assert [got.p50, got.p90, got.p99] == pytest.approx(want.tolist(), rel=1e-12)
        assert got.mean == pytest.approx(float(union.mean()), rel=1e-12)
    gaps = [p.result.itl_s.mean for p in r.pools]
    assert r.itl_s.mean is not None and min(g or 0.0 for g in gaps) <= r.itl_s.mean <= max(
        g or 0.0 for g in gaps
    )


_SAME = [
    "arrived",
    "finished",
    "dropped",
    "unfinished",
    "preemptions",
    "prefix_cached_tokens",
    "steps",
    "duration_s",
    "ttft_s",
    "tpot_s",
    "itl_s",
    "e2e_s",
    "queue_wait_s",
    "goodput_rps",
    "goodput_fraction",
    "input_tokens",
    "output_tokens",
    "output_tokens_per_s",
    "gpu_hours_billed",
    "gpu_hours_busy",
    "cost_usd",
    "idle_cost_usd",
    "usd_per_mtok_output",
    "usd_per_request",
]


@pytest.mark.parametrize("split", [None, {"by": "weights", "weights": {"only": 1.0}}])
def test_one_pool_equals_the_one_pool_spec(split: dict[str, Any] | None) -> None:
    deployment = {"model": "llama-3.1-8b", "kv_tokens_limit": 6000}
    fleet = {"replicas": 2, "router": "round_robin"}
    traffic = _poisson(150, 20.0) | {"prefix": {"groups": 3, "tokens": 64}}
    single = _run({"deployment": deployment, "fleet": fleet, "traffic": traffic, "seed": 5})
    pools: dict[str, Any] = {"pools": [{"name": "only", "deployment": deployment, "fleet": fleet}]}
    pooled = _run(pools | {"traffic": traffic, "seed": 5} | ({"split": split} if split else {}))
    a, b = single.to_dict(), pooled.to_dict()
    for key in _SAME:
        assert b[key] == a[key], key
    assert pooled.request_e2e_s == pooled.e2e_s  # no escalations: a request's answer is its pool's
    own = pooled.pools[0].result.to_dict()
    own.pop("resolved")
    a.pop("resolved")
    assert own == a


def _err(data: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as exc:
        simulate(spec_from_dict(data))
    return exc.value


_T = {"rate_rps": 2.0, "requests": 5}
_EVEN = {"weights": {"a": 1, "b": 1}, "draw": "deterministic"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"pools": [_pool("a"), _pool("a")], "traffic": _T}, "pools[1].name"),
        (
            {"pools": [_pool("a"), {"name": "b", "deployment": {"model": "llama-3.1-8b", "tp": 0}}]},
            "pools[1].deployment.tp",
        ),
        ({"pools": [_pool("a"), _pool("b")], "traffic": _T}, "split"),
        (
            {
                "pools": [_pool("a"), _pool("b")],
                "split": {"by": "rules", "rules": [{"pool": "x"}]},
                "traffic": _T,
            },
            "split.rules[0].pool",
        ),
        (
            {
                "pools": [_pool("a"), _pool("b"), _pool("c")],
                "split": {"weights": {"a": 1, "b": 1}},
                "traffic": _T,
            },
            "pools[2].name",
        ),
        (
            {"pools": [_pool("a"), _pool("b")], "split": {"weights": {"a": 1, "b": -1}}, "traffic": _T},
            "split.weights.b",
        ),
        ({"pools": [_pool("a")], "deployment": {"model": "llama-3.1-8b"}, "traffic": _T}, "deployment"),
        ({"pools": [], "traffic": _T}, "pools"),
        (
            {
                "pools": [_pool("a")],
                "split": {"by": "rules", "rules": [{"pool": "a", "class": "x"}]},
                "traffic": _T,
            },
            "split.rules",
        ),
        (
            {"pools": [_pool("a")], "split": {"by": "rules", "rules": [{"pool": "a", "input_tokens_min": 9}]}}
            | {"traffic": _T | {"input_tokens": {"kind": "fixed", "value": 5}}},
            "split.default",
        ),
        (
            {"pools": [_pool("a"), _pool("b", gpu="h100-sxn")], "split": _EVEN, "traffic": _T},
            "pools[1].deployment.gpu",
        ),
        (
            {
                "pools": [
                    _pool("a"),
                    {"name": "b", "deployment": {"model": "llama-3.1-8b"}, "fleet": {"replicas": 0}},
                ]
            }
            | {"split": _EVEN, "traffic": _T},
            "pools[1].fleet.replicas",
        ),
        (
            {"pools": [_pool("s"), _pool("l")], "split": {"by": "router", "small": "s", "large": "s"}}
            | {"traffic": _T},
            "split",
        ),
        (
            {
                "pools": [_pool("s"), _pool("l")],
                "split": {"by": "router", "small": "s", "large": "s", "small_share": 0.5},
            },
            "split.large",
        ),
    ],
)
def test_bad_pool_specs_name_the_field(data: dict[str, Any], field: str) -> None:
    assert _err({"traffic": _T} | data).field == field


def test_a_split_refuses_the_fields_of_another_kind() -> None:
    with pytest.raises(InputError, match="has no rules") as exc:
        spec_from_dict(
            {"pools": [_pool("a")], "split": {"weights": {"a": 1}, "rules": [{"pool": "a"}]}, "traffic": _T}
        )
    assert exc.value.field == "split"


def test_bad_rule_bounds() -> None:
    with pytest.raises(InputError, match="match no request") as exc:
        spec_from_dict(
            {
                "pools": [_pool("a")],
                "split": {
                    "by": "rules",
                    "rules": [{"pool": "a", "input_tokens_min": 9, "input_tokens_max": 3}],
                },
                "traffic": _T,
            }
        )
    assert exc.value.field == "split.rules[0]"


def _yaml(tmp_path: Path, text: str) -> str:
    p = tmp_path / "pools.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


_GOOD = """pools:
  - {name: a, deployment: {model: llama-3.1-8b}, fleet: {replicas: 1}}
  - {name: b, deployment: {model: llama-3.1-8b, tp: 2}, fleet: {replicas: 1}}
split: {by: weights, weights: {a: 1, b: 1}, draw: deterministic}
traffic: {rate_rps: 4, requests: 40, output_tokens: {kind: fixed, value: 20}}
"""


def test_cli_pools_json_table_and_html(run_cli: RunCli, tmp_path: Path) -> None:
    spec = _yaml(tmp_path, _GOOD)
    code, out, _ = run_cli(["simulate", spec, "--json", "--timeline"])
    assert code == 0
    doc = json.loads(out)
    assert [p["name"] for p in doc["pools"]] == ["a", "b"]
    assert [p["routed"] for p in doc["pools"]] == [20, 20]
    assert doc["arrived"] == 40 and "timeline" in doc["pools"][0] and "timeline" not in doc
    assert doc["resolved"]["split"]["draw"] == "deterministic"
    assert doc["resolved"]["derived"]["pools"]["b"]["kv_blocks_per_replica"] > 0
    code, out, _ = run_cli(["simulate", spec])
    assert code == 0 and "Pools" in out and "fleet" in out
    html = tmp_path / "r.html"
    code, _, _ = run_cli(["simulate", spec, "--html", str(html), "--json"])
    page = html.read_text(encoding="utf-8")
    assert code == 0 and 'id="timeline-pool-0"' in page and 'id="timeline-pool-1"' in page
    assert "<h2>Timeline: replicas, queue and latency — pool a</h2>" in page and "<h2>Pools</h2>" in page


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (_GOOD.replace("name: b", "name: a"), "pools[1].name"),
        (_GOOD.replace("tp: 2", "gpu: h100-sxn"), "pools[1].deployment.gpu"),
        (_GOOD.replace("{a: 1, b: 1}", "{a: 1, c: 1}"), "split.weights.c"),
    ],
)
def test_cli_bad_pool_spec_one_line_exit_2(run_cli: RunCli, tmp_path: Path, text: str, field: str) -> None:
    code, out, err = run_cli(["simulate", _yaml(tmp_path, text), "--json"])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in err


@st.composite
def _fleets(draw: st.DrawFn) -> dict[str, Any]:
    """Two or three pools on different GPUs / TP, split by weights, rules or a router."""
    n = draw(st.integers(2, 3))
    names = ["p0", "p1", "p2"][:n]
    shapes: list[dict[str, Any]] = [{}, {"tp": 2}, {"gpu": "a100-80gb"}]
    pools = [_pool(name, **draw(st.sampled_from(shapes))) for name in names]
    kind = draw(st.sampled_from(["weights", "rules", "router"] if n == 2 else ["weights", "rules"]))
    if kind == "weights":
        split: dict[str, Any] = {"weights": {k: draw(st.floats(0.2, 1.0)) for k in names}}
        split["draw"] = draw(st.sampled_from(["random", "deterministic"]))
    elif kind == "rules":
        rules = [{"pool": names[k], "input_tokens_min": 1000 * k + 1} for k in range(n - 1, 0, -1)]
        split = {"by": "rules", "rules": rules, "default": names[0]}
    else:
        split = {"by": "router", "small": "p0", "large": "p1", "small_share": 0.5}
        split["escalation_rate"] = draw(st.sampled_from([0.0, 0.3, 1.0]))
    traffic = _poisson(draw(st.integers(60, 150)), draw(st.floats(2.0, 30.0)))
    return {"pools": pools, "split": split, "traffic": traffic, "seed": draw(st.integers(0, 3))}


@settings(max_examples=12, deadline=None)
@given(_fleets())
def test_conservation_property(data: dict[str, Any]) -> None:
    _check_conservation(_run(data), int(data["traffic"]["requests"]))


def test_a_pool_that_gets_no_request_is_up_and_billed() -> None:
    """small_share 1, no escalation: the large pool gets nothing. Its one fixed 1-GPU replica is up from
    t = 0 for as long as the small pool ran, billed per second with a 60 s minimum:
    ``max(⌈duration⌉, 60) s`` = that many GPU-seconds."""
    split = {"by": "router", "small": "s", "large": "l", "small_share": 1.0}
    r = _run({"pools": [_pool("s"), _pool("l")], "split": split, "traffic": _poisson(40, 4.0)})
    small, large = r.pools
    assert (large.routed, large.result.arrived, large.result.finished) == (0, 0, 0)
    assert large.result.duration_s == pytest.approx(small.result.duration_s)
    billed_s = max(math.ceil(small.result.duration_s), 60)
    assert large.result.gpu_hours_billed == pytest.approx(billed_s / 3600.0)
    assert large.result.gpu_hours_busy == 0.0
    _check_conservation(r, 40)
