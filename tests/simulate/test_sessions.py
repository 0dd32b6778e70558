"""Multi-turn sessions: a hand-calculated session, conservation over random ones, spec and flag errors.

The hand calculation: one session of three turns alone on one replica (block 16 tokens, fixed think time
2 s). Turn 1 has a 100-token prompt and 20 output tokens; each later turn adds 30 user tokens, so the
prompts are 100, 100 + 20 + 30 = 150 and 150 + 20 + 30 = 200 tokens, and turn ``k``'s cached prefix is
turn ``k − 1``'s whole context in full blocks: ``⌊120 / 16⌋ · 16 = 112`` and ``⌊170 / 16⌋ · 16 = 160``
tokens (nothing else runs, so nothing evicts them). With the serving estimator's tables:

* turn 1's first token ends its one prefill step: ``TTFT₁ = linear_s[100] + prefill_attention_s[100]``;
  its tokens 2..20 are decode steps over positions 101..119:
  ``E2E₁ = TTFT₁ + Σ_{p=101}^{119} (linear_s[1] + decode_attention_s[p])``;
* turn 2 arrives exactly 2 s after turn 1's last token and prefills its 150 − 112 = 38 uncached tokens
  after 112 cached ones: ``TTFT₂ = linear_s[38] + prefill_attention_s[150] − prefill_attention_s[112]``;
* turn 3 likewise: ``TTFT₃ = linear_s[40] + prefill_attention_s[200] − prefill_attention_s[160]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopbill.errors import InputError
from flopbill.simulate import simulate, spec_from_dict
from flopbill.simulate.api import tables_for
from flopbill.simulate.router import ROUTERS
from flopbill.simulate.traffic import workload

RunCli = Callable[[list[str]], tuple[int, str, str]]


def _session_spec(turns: dict[str, object], think_s: float, think: str = "fixed") -> dict[str, object]:
    return {
        "deployment": {"model": "llama-3.1-8b"},
        "traffic": {
            "rate_rps": 1.0,
            "requests": 1,
            "input_tokens": {"kind": "fixed", "value": 100},
            "output_tokens": {"kind": "fixed", "value": 20},
            "sessions": {
                "turns": turns,
                "think_time_s": think_s,
                "think": think,
                "user_tokens": {"kind": "fixed", "value": 30},
            },
        },
    }


def test_one_session_by_hand() -> None:
    spec = spec_from_dict(_session_spec({"kind": "fixed", "value": 3}, 2.0))
    r = simulate(spec)
    o = r.outcomes
    assert r.arrived == r.finished == 3 and r.dropped == 0
    assert o.prompt_tokens.tolist() == [100, 150, 200]
    assert o.cached_tokens.tolist() == [0, 112, 160]
    assert o.arrival_s[1] == o.finish_s[0] + 2.0 and o.arrival_s[2] == o.finish_s[1] + 2.0
    tb = tables_for(spec, 220)
    lin, pre, dec = tb.linear_s, tb.prefill_attention_s, tb.decode_attention_s
    ttft = o.first_token_s - o.arrival_s
    assert ttft[0] == pytest.approx(lin[100] + pre[100], rel=1e-9)
    assert ttft[1] == pytest.approx(lin[38] + pre[150] - pre[112], rel=1e-9)
    assert ttft[2] == pytest.approx(lin[40] + pre[200] - pre[160], rel=1e-9)
    e2e = ttft[0] + sum(lin[1] + dec[p] for p in range(101, 120))
    assert o.finish_s[0] - o.arrival_s[0] == pytest.approx(e2e, rel=1e-9)


@st.composite
def session_specs(draw: st.DrawFn) -> dict[str, object]:
    lo = draw(st.integers(1, 4))
    deployment: dict[str, object] = {
        "model": "llama-3.1-8b",
        "max_seqs": draw(st.sampled_from([1, 8, 256])),
        "token_budget": draw(st.sampled_from([512, 8192])),
    }
    if draw(st.booleans()):  # small caches: preemption, and later turns too long for a replica
        deployment["kv_tokens_limit"] = draw(st.integers(3000, 12000))
    spec: dict[str, object] = {
        "deployment": deployment,
        "fleet": {"replicas": draw(st.integers(1, 3)), "router": draw(st.sampled_from(sorted(ROUTERS)))},
        "traffic": {
            "rate_rps": draw(st.floats(0.2, 20.0)),
            "requests": draw(st.integers(1, 40)),
            "input_tokens": {"kind": "uniform", "low": 1, "high": draw(st.integers(1, 2000))},
            "output_tokens": {"kind": "exponential", "mean": draw(st.floats(1.0, 150.0))},
            "sessions": {
                "turns": {"kind": "uniform", "low": lo, "high": lo + draw(st.integers(0, 4))},
                "think_time_s": draw(st.sampled_from([0.0, 0.5, 10.0])),
                "think": draw(st.sampled_from(["fixed", "exponential"])),
                "user_tokens": {"kind": "exponential", "mean": draw(st.floats(1.0, 500.0))},
            },
        },
        "seed": draw(st.integers(0, 1000)),
    }
    if draw(st.booleans()):
        spec["queue_timeout_s"] = draw(st.sampled_from([0.5, 5.0]))
    return spec


@settings(max_examples=30, deadline=None)
@given(session_specs())
def test_session_conservation(data: dict[str, object]) -> None:
    """Every turn finishes, is dropped, or never arrives because an earlier turn of its session was
    dropped; a turn arrives exactly its think time after the previous one's last token."""
    spec = spec_from_dict(data)
    r = simulate(spec)
    wl = workload(spec.traffic, spec.seed, spec.bounds.max_requests)
    o = r.outcomes
    assert wl.next_turn is not None and wl.think_s is not None
    done = ~np.isnan(o.finish_s)
    dropped = o.dropped > 0
    came = ~np.isnan(o.arrival_s)
    assert r.unfinished == 0
    assert r.arrived == int(came.sum()) == r.finished + r.dropped
    assert np.array_equal(came, done | dropped)
    assert np.array_equal(o.generated_tokens[done], o.output_tokens[done])
    has_next = (wl.next_turn >= 0) & came
    nxt = wl.next_turn[has_next]
    after_done = done[has_next]
    want = o.finish_s[has_next][after_done] + wl.think_s[has_next][after_done]
    assert np.array_equal(o.arrival_s[nxt][after_done], want)
    assert not came[nxt[~after_done]].any()  # after a dropped turn the session ends
    assert np.all(o.prompt_tokens[nxt] > o.prompt_tokens[has_next])


def test_sessions_refuse_a_trace_or_prefix_groups() -> None:
    data = _session_spec({"kind": "fixed", "value": 2}, 1.0)
    data["traffic"]["prefix"] = {"groups": 2, "tokens": 50}  # type: ignore[index]
    with pytest.raises(InputError) as exc:
        simulate(spec_from_dict(data))
    assert exc.value.field == "traffic.sessions"
    with pytest.raises(InputError) as exc:
        spec_from_dict(_session_spec({"kind": "fixed", "value": 2}, -1.0))
    assert exc.value.field == "traffic.sessions.think_time_s"


def test_session_flags(run_cli: RunCli) -> None:
    base = ["simulate", "--model", "llama-3.1-8b", "--rps", "1", "--requests", "3", "--output-tokens", "5"]
    code, out, _ = run_cli([*base, "--turns", "2", "--think-time-s", "1", "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["arrived"] == d["finished"] == 6
    assert d["resolved"]["traffic"]["sessions"]["turns"]["value"] == 2
    for extra, flag in (
        (["--turns", "2"], "--think-time-s"),
        (["--turns", "0", "--think-time-s", "1"], "--turns"),
    ):
        code, out, err = run_cli([*base, *extra])
        assert code == 2 and out == "" and flag in err
        assert len(err.strip().splitlines()) == 1
