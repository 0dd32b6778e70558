"""A GPU-backed option behind a router is planned at the traffic the router sends it, not at the
scenario's whole busiest hour.

Invariant (no hand figure needed): a router that sends a share ``s`` of the calls to a self-hosted
option (escalations 0, the large option an API) bills that option exactly as a scenario whose traffic
is ``s ×`` as large bills it alone: the same hourly rates ``s·λ_h``, so the same SLO plan (batch,
utilization), the same whole replicas and instances. The offer is pinned (AWS p5.4xlarge, 1 H100 at
$6.88/GPU-h) so both scenarios bill the same instance.
"""

from __future__ import annotations

from typing import Any

import pytest

from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.projection import project

SHARE = 0.3
PER_DAY = 20_000_000.0


def _scenario(requests_per_day: float, router: bool) -> dict[str, Any]:
    options: list[dict[str, Any]] = [
        {"name": "api", "kind": "api", "price_usd_per_request": 0.001},
        {
            "name": "sh",
            "kind": "self_hosted",
            "model": "llama-3.1-8b",
            "gpu": "h100-sxm",
            "provider": "aws",
            "instance": "p5.4xlarge",
            "fleet": "autoscale",
        },
    ]
    if router:
        options.append(
            {
                "name": "r",
                "kind": "router",
                "small": "sh",
                "large": "api",
                "small_share": SHARE,
                "escalation_rate": 0.0,
            }
        )
    return {
        "name": "t",
        "horizon_months": 2,
        "days_per_month": 30,
        "traffic": {"requests_per_day": requests_per_day, "peak_factor": 2},
        "request": {"input_tokens": 1000, "output_tokens": 200},
        "options": options,
        "monte_carlo": {"samples": 0},
    }


def test_a_routed_option_is_planned_and_billed_at_its_share_of_the_traffic() -> None:
    routed = project(scenario_from_dict(_scenario(PER_DAY, router=True)))
    alone = project(scenario_from_dict(_scenario(SHARE * PER_DAY, router=False)))
    r, sh = routed.option("r"), alone.option("sh")
    (plan,) = r.routed
    assert plan.option == "sh" and plan.share == pytest.approx(SHARE)
    assert sh.latency is not None
    assert plan.latency.batch == sh.latency.batch
    assert plan.latency.utilization == pytest.approx(sh.latency.utilization)
    gpu = next(c for c in r.components if c.name == "gpu_rental")
    assert gpu.monthly_usd == pytest.approx(sh.recurring_cost_usd)
    # the standalone row of the 2M/day scenario is planned at the whole busiest hour: a larger fleet
    # multiplexes more requests and runs busier at the same latency target (99.8 % vs 99.3 % here)
    full = routed.option("sh").latency
    assert full is not None and full.utilization > plan.latency.utilization
