"""``fleet: {simulate: true}`` bills the same offer the analytic option chose: instance size, price and
billing increment / minimum, read here from the GPU price catalog row itself.

Hand check of the billing (one hourly-billed 1-GPU instance, a fixed fleet of one replica): the Cudo
H100 VM of the snapshot has no published increment, so whole hours (3600 s increment and minimum). A
simulated day of such a fleet runs from 0 s to the end of its last request, so it bills
``⌈end / 3600⌉`` whole hours: 24 when the last request finishes by midnight, 25 when one drains past it
— whole hours either way, never the 24.0x GPU-hours a per-second offer would bill.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from flopbill.catalog.prices import PriceOffer, select_offers
from flopbill.scenario.inputs import resolve
from flopbill.scenario.loader import load_scenario, scenario_from_dict
from flopbill.scenario.projection import project
from flopbill.scenario.schema import FleetSettings, SelfHostedOption
from flopbill.scenario.simulated import day_spec, plan_for

ROOT = Path(__file__).resolve().parents[2]


def _catalog_row(gpu: str, pricing: str, provider: str, instance: str, region: str) -> PriceOffer:
    rows = [
        o
        for o in select_offers(gpu, pricing=pricing)
        if (o.provider, o.instance, o.region) == (provider, instance, region)
    ]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(
    ("example", "option"),
    [
        ("chatbot", "llama-8b-h100"),  # 1-GPU hourly VM, TP1
        ("email-autoreply", "llama-8b-l4"),  # GCP per-second with a 60 s minimum
        ("frontier-lifecycle", "serve-70b-h100"),  # a 4-GPU instance for a TP4 replica
    ],
)
def test_the_simulated_day_bills_the_offer_the_analytic_option_chose(example: str, option: str) -> None:
    scenario = load_scenario(ROOT / "examples" / f"{example}.yaml")
    resolved = resolve(scenario)
    opt = next(o for o in scenario.options if o.name == option)
    assert isinstance(opt, SelfHostedOption)
    chosen = resolved.offers[option]
    row = _catalog_row(opt.gpu, opt.pricing, chosen.provider, chosen.instance, chosen.region)
    sim_opt = opt.model_copy(update={"fleet": FleetSettings(scaling=opt.scaling, simulate=True)})
    plan = plan_for(sim_opt, resolved, 1.0)
    spec, _ = day_spec(plan, np.full(24, 1.0), 1)
    deployment, fleet = spec["deployment"], spec["fleet"]
    assert isinstance(deployment, dict) and isinstance(fleet, dict)
    assert deployment["price_usd_per_gpu_hour"] == row.price_usd_per_gpu_hour
    assert deployment["gpus_per_instance"] == math.lcm(row.gpus_per_instance, opt.gpus_per_replica)
    assert plan.offer_gpus_per_instance == row.gpus_per_instance  # the analytic side's instance-hours
    assert fleet["billing_increment_s"] == row.billing_increment_s
    assert fleet["minimum_billed_s"] == row.billing_minimum_s


def test_a_given_price_without_an_instance_bills_one_gpu_whole_hours_in_both_models() -> None:
    """enterprise-finetune gives its reserved price: no catalog offer, so 1 GPU per instance, whole
    hours (stated in the scenario's assumptions); a TP4 replica is simulated as one 4-GPU instance."""
    scenario = load_scenario(ROOT / "examples" / "enterprise-finetune.yaml")
    resolved = resolve(scenario)
    opt = next(o for o in scenario.options if isinstance(o, SelfHostedOption))
    assert opt.name not in resolved.offers
    sim_opt = opt.model_copy(update={"fleet": FleetSettings(scaling=opt.scaling, simulate=True)})
    plan = plan_for(sim_opt, resolved, 1.0)
    assert (plan.offer_gpus_per_instance, plan.gpus_per_instance) == (1, 4)
    assert (plan.billing_increment_s, plan.billing_minimum_s) == (3600.0, 3600.0)


def test_an_hourly_offer_bills_whole_hours_in_the_simulated_day() -> None:
    cudo = "sapphire-rapids-h100_1x2v4gb"
    data = {
        "name": "flat",
        "horizon_months": 1,
        "traffic": {"requests_per_day": 20_000, "peak_factor": 1},
        "request": {"input_tokens": 1000, "output_tokens": 250},
        "options": [
            {
                "name": "sh",
                "kind": "self_hosted",
                "model": "llama-3.1-8b",
                "gpu": "h100-sxm",
                "provider": "cudo",
                "instance": cudo,
                "fleet": {"scaling": "fixed", "simulate": True},
            }
        ],
        "monte_carlo": {"samples": 0},
    }
    r = project(scenario_from_dict(data))
    opt = r.option("sh")
    sim = opt.simulation
    assert sim is not None
    row = next(o for o in select_offers("h100-sxm", "cudo", "on_demand") if o.instance == cudo)
    assert (row.gpus_per_instance, row.billing_increment_s, row.billing_minimum_s) == (1, 3600.0, 3600.0)
    day = sim.months[0].day
    assert day.peak_replicas == 1  # 20 k requests a day: one replica
    assert day.gpu_hours_billed in (24.0, 25.0)  # whole hours, hand check above
    assert opt.recurring_cost_usd[0] == pytest.approx(
        sim.months[0].gpu_hours_billed * row.price_usd_per_gpu_hour
    )
