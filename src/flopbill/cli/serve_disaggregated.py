"""``flopbill serve --search --disaggregated``: the disaggregated search next to the co-located one."""

from __future__ import annotations

import math
from typing import Any

from flopbill.cli.app import console, make_table, print_json
from flopbill.estimate.serving.disaggregated_search import (
    DisaggregatedPick,
    DisaggregatedSearch,
    compare_with_colocated,
)


def pick_row(res: DisaggregatedSearch, pick: DisaggregatedPick) -> dict[str, Any]:
    """Return one deployment as JSON-ready values (SI units; stable keys)."""
    p, d, i, j = res.prefill, res.decode, pick.prefill_index, pick.decode_index
    return {
        "weights": str(p.weights[i]),
        "kv": str(p.kv[i]),
        "prefill": {
            "accelerator": str(p.accelerator[i]),
            "tp": int(p.tp[i]),
            "replicas": int(p.replicas[i]),
            "gpus": int(p.gpus[i]),
            "ttft_s": float(p.ttft_s[i]),
            "kv_transfer_s": float(res.kv_transfer_s[i]),
            "queue_wait_s": _finite_or_none(float(p.queue_wait_s[i])),
            "utilization": float(p.utilization[i]),
            "cost_usd_per_request": float(p.cost_usd_per_request[i]),
        },
        "decode": {
            "accelerator": str(d.accelerator[j]),
            "tp": int(d.tp[j]),
            "batch": int(d.batch[j]),
            "replicas": int(d.replicas[j]),
            "gpus": int(d.gpus[j]),
            "tpot_s": float(d.tpot_s[j]),
            "output_tokens_per_s_per_gpu": float(d.output_tokens_per_s_per_gpu[j]),
            "utilization": float(d.utilization[j]),
            "cost_usd_per_request": float(d.cost_usd_per_request[j]),
        },
        "ttft_s": pick.ttft_s,
        "tpot_s": pick.tpot_s,
        "e2e_latency_s": pick.e2e_latency_s,
        "gpus": pick.gpus,
        "cost_usd_per_request": pick.cost_usd_per_request,
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def report(
    res: DisaggregatedSearch,
    picks: list[DisaggregatedPick],
    why: str,
    colocated: dict[str, Any],
    prices: dict[str, tuple[float | None, str]],
    percentile: float,
    js: bool,
) -> None:
    """Print (or emit as JSON) the cheapest disaggregated deployments, the co-located ones and the winner.

    ``colocated``: ``n_evaluated``, ``n_feasible``, ``why_none`` and ``cheapest`` (rows of the co-located
    search, as ``serve --search --json`` writes them); ``prices``: per accelerator, the GPU-hour price
    and its source.
    """
    rows = [pick_row(res, p) for p in picks]
    best_d = rows[0]["cost_usd_per_request"] if rows else None
    best_c = colocated["cheapest"][0]["cost_usd_per_request"] if colocated["cheapest"] else None
    winner, dearer = compare_with_colocated(best_d, best_c)
    if js:
        print_json(
            {
                "n_evaluated": res.n_evaluated,
                "n_prefill_evaluated": res.prefill.n_evaluated,
                "n_decode_evaluated": res.decode.n_evaluated,
                "n_pairs": res.n_pairs,
                "n_feasible_pairs": res.n_feasible_pairs,
                "why_none": why or None,
                "cheapest": rows,
                "colocated": colocated,
                "winner": winner,
                "loser_cost_over_winner": dearer,
                "slo_ttft_percentile": percentile,
                "price_usd_per_gpu_hour": {k: v[0] for k, v in prices.items()},
                "price_source": {k: v[1] for k, v in prices.items()},
            }
        )
        return
    console.print(
        f"disaggregated: evaluated {res.prefill.n_evaluated:,} prefill-pool + {res.decode.n_evaluated:,} "
        f"decode-pool configurations covering {res.n_pairs:,} deployments; "
        f"{res.n_feasible_pairs:,} meet the SLO"
    )
    if why:
        console.print(why)
    cols = [
        "weights",
        "kv",
        "prefill pool",
        "decode pool",
        "gpus",
        "ttft_s",
        "transfer",
        f"wait P{percentile:g} s",
        "tpot_s",
        "$/request",
    ]
    title = "Cheapest disaggregated deployments meeting the SLO"
    console.print(make_table(title, cols, [_fmt(r) for r in rows]))
    console.print(
        f"co-located: evaluated {colocated['n_evaluated']:,} configurations; "
        f"{colocated['n_feasible']:,} meet the SLO"
        + (f"; {colocated['why_none']}" if colocated["why_none"] else "")
    )
    if colocated["cheapest"]:
        c = colocated["cheapest"][0]
        console.print(
            f"cheapest co-located: {c['replicas']} × {c['accelerator']} TP{c['tp']} "
            f"{c['weights']}/{c['kv']} at batch {c['batch']}, {c['gpus']} GPUs, "
            f"${c['cost_usd_per_request']:.6f} per request"
        )
    console.print(_verdict(winner, dearer, best_d, best_c))
    shown = {r[pool]["accelerator"] for r in rows for pool in ("prefill", "decode")}
    shown |= {r["accelerator"] for r in colocated["cheapest"][:1]}
    for acc in sorted(shown):
        price, source = prices[acc]
        console.print(f"price {acc}: ${price}/GPU-hour ({source})")
    console.print(
        "assumptions: TTFT = lone prefill + KV transfer (prefill NICs, one way) + M/M/c wait; decode pool "
        "sized for throughput (the wait for a decode slot is not modelled); both pools share weight and KV "
        "formats"
    )


def _verdict(winner: str | None, dearer: float | None, best_d: float | None, best_c: float | None) -> str:
    if winner is None:
        return "neither a disaggregated nor a co-located deployment meets the SLO"
    if dearer is None:
        return f"{winner} wins: only it meets the SLO"
    return (
        f"{winner} wins: ${min(best_d or 0.0, best_c or 0.0):.6f} vs "
        f"${max(best_d or 0.0, best_c or 0.0):.6f} per request (the other costs {dearer:.1%} more)"
    )


def _fmt(r: dict[str, Any]) -> list[Any]:
    p, d = r["prefill"], r["decode"]
    wait = p["queue_wait_s"]
    return [
        r["weights"],
        r["kv"],
        f"{p['replicas']} × {p['accelerator']} TP{p['tp']}",
        f"{d['replicas']} × {d['accelerator']} TP{d['tp']} B{d['batch']}",
        r["gpus"],
        f"{r['ttft_s']:.3f}",
        f"{p['kv_transfer_s'] * 1e3:.1f} ms",
        "unbounded" if wait is None else f"{wait:.3f}",
        f"{r['tpot_s'] * 1e3:.1f} ms",
        f"${r['cost_usd_per_request']:.6f}",
    ]


__all__ = ["pick_row", "report"]
