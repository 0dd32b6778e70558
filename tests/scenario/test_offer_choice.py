"""Each self-hosted option is billed at the catalog offer that bills least for its own fleet.

The offers used are rows of the built-in price snapshot (SkyPilot catalog, pinned commit 2c3d7ea,
checked 2026-11-22): Lambda H100 SXM on demand — 1 GPU $4.29/GPU-h (transcribed, billing increment
unknown: whole hours), 2 GPUs $4.19, 4 GPUs $4.09, 8 GPUs $3.99 (per minute); AWS p5.4xlarge (1 GPU) and
p5.48xlarge (8 GPUs), both $6.88/GPU-h, per second after 60 s. A fixed fleet with a given replica count
and throughput runs the same replicas every hour, so a month bills
``⌈replicas / GPUs per instance⌉ × GPUs per instance × $/GPU-h × 24 h × 30 days``.
"""

from __future__ import annotations

from typing import Any

import pytest

from flopbill.errors import UnknownNameError
from flopbill.scenario.loader import scenario_from_dict
from flopbill.scenario.projection import project

HOURS = 24.0 * 30.0  # a 30-day month


def _run(months: int = 2, **option: Any) -> Any:
    opt = {
        "name": "sh",
        "kind": "self_hosted",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm",
        "fleet": "fixed",
        "throughput_requests_per_s_per_replica": 10,
        "target_utilization": 1.0,
        "cold_start_s": 100,
        **option,
    }
    data = {
        "name": "t",
        "horizon_months": months,
        "days_per_month": 30,
        "traffic": {"requests_per_day": 1000, "peak_factor": 1},
        "request": {"input_tokens": 1000, "output_tokens": 200},
        "options": [opt],
        "monte_carlo": {"samples": 0},
    }
    return project(scenario_from_dict(data)).option("sh")


def test_three_replicas_rent_one_gpu_instances_eight_rent_the_eight_gpu_node() -> None:
    """Lambda, per hour: 3 replicas → 1-GPU: 3 × $4.29 = $12.87; 2-GPU: 2 instances × 2 × $4.19 =
    $16.76; 4-GPU: 1 × 4 × $4.09 = $16.36; 8-GPU: 8 × $3.99 = $31.92 → the 1-GPU offer, $12.87 × 720 h
    = $9,266.40 a month. 8 replicas → 1-GPU 8 × $4.29 = $34.32; 2-GPU 4 × 2 × $4.19 = $33.52; 4-GPU
    2 × 4 × $4.09 = $32.72; 8-GPU $31.92 → the 8-GPU node, $31.92 × 720 = $22,982.40 a month."""
    small = _run(provider="lambda", replicas=3)
    assert small.offer is not None and small.offer.gpus_per_instance == 1
    assert small.offer.provider == "lambda" and small.offer.n_offers == 4
    assert small.recurring_cost_usd[0] == pytest.approx(3 * 4.29 * HOURS)
    # spread over the 4 offers' 2-month bills: median of (12.87, 16.36, 16.76, 31.92) $/h = 16.56
    assert small.offer.bill_usd == pytest.approx(2 * 12.87 * HOURS)
    assert small.offer.median_bill_usd == pytest.approx(2 * (16.36 + 16.76) / 2 * HOURS)
    assert small.offer.dearest_bill_usd == pytest.approx(2 * 31.92 * HOURS)
    big = _run(provider="lambda", replicas=8)
    assert big.offer is not None and big.offer.gpus_per_instance == 8
    assert big.offer.instance == "gpu_8x_h100_sxm5" and big.offer.billing_increment_s == 60
    assert big.recurring_cost_usd[0] == pytest.approx(31.92 * HOURS)
    assert big.gpus == (8.0, 8.0)


def test_one_gpu_instance_is_chosen_over_a_node_at_the_same_price_per_gpu() -> None:
    """AWS at $6.88/GPU-h for both: one replica on p5.4xlarge bills 1 GPU: $6.88 × 720 = $4,953.60 a
    month; p5.48xlarge would bill 8 GPUs, $39,628.80 (the dearest; median of two = their mean)."""
    opt = _run(provider="aws", replicas=1, months=1)
    assert opt.offer is not None and opt.offer.instance == "p5.4xlarge"
    assert opt.recurring_cost_usd[0] == pytest.approx(6.88 * HOURS)
    assert opt.offer.dearest_bill_usd == pytest.approx(8 * 6.88 * HOURS)
    assert opt.offer.median_bill_usd == pytest.approx(4.5 * 6.88 * HOURS)
    assert opt.offer.date_checked and opt.offer.source_url.startswith("https://")


def test_a_pinned_instance_is_honoured() -> None:
    """``instance: p5.48xlarge`` bills the 8-GPU node even for one replica: 8 × $6.88 × 720 =
    $39,628.80 a month; it is the only candidate."""
    opt = _run(provider="aws", instance="p5.48xlarge", replicas=1, months=1)
    assert opt.offer is not None and opt.offer.pinned and opt.offer.n_offers == 1
    assert opt.recurring_cost_usd[0] == pytest.approx(8 * 6.88 * HOURS)


def test_a_pinned_instance_with_a_given_price_keeps_the_price_and_takes_the_shape() -> None:
    """Given $5/GPU-h on p5.48xlarge: 8 GPUs × $5 × 720 h = $28,800 a month."""
    opt = _run(instance="p5.48xlarge", price_usd_per_gpu_hour=5.0, replicas=1, months=1)
    assert opt.offer is not None and opt.offer.price_usd_per_gpu_hour == 5.0
    assert opt.recurring_cost_usd[0] == pytest.approx(8 * 5.0 * HOURS)


def test_an_unknown_instance_names_the_close_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean p5\.48xlarge"):
        _run(provider="aws", instance="p5.48xlarg", replicas=1, months=1)


def test_every_offer_billed_at_once_matches_each_offer_pinned() -> None:
    """Vectorised over offers == one projection per pinned offer (autoscaling, diurnal traffic)."""
    free = _run(provider="lambda", fleet="autoscale", months=3)
    pinned = [
        _run(provider="lambda", fleet="autoscale", months=3, instance=i).offer.bill_usd
        for i in ("1x H100 SXM", "gpu_2x_h100_sxm5", "gpu_4x_h100_sxm5", "gpu_8x_h100_sxm5")
    ]
    assert free.offer is not None
    assert free.offer.bill_usd == pytest.approx(min(pinned))
    assert free.offer.dearest_bill_usd == pytest.approx(max(pinned))
    assert free.total_recurring_usd == pytest.approx(min(pinned))


def test_a_replica_wider_than_an_instance_is_not_split_over_instances() -> None:
    """4 GPUs per replica, one replica, Lambda: the 1- and 2-GPU instances cannot hold it (tensor
    parallelism stays inside one instance), so the candidates are 4-GPU ($4.09 × 4 = $16.36/h) and
    8-GPU ($31.92/h) → 4-GPU, $16.36 × 720 h = $11,779.20 a month (1-GPU ×4 would be $17.16/h anyway)."""
    opt = _run(provider="lambda", replicas=1, months=1, gpus_per_replica=4)
    assert opt.offer is not None and opt.offer.n_offers == 2 and opt.offer.gpus_per_instance == 4
    assert opt.recurring_cost_usd[0] == pytest.approx(4 * 4.09 * HOURS)


def test_host_marketplaces_are_left_out_unless_allowed() -> None:
    """One replica, any provider. The snapshot's cheapest 1-GPU H100 SXM on demand is a Vast.ai host listing
    at $1.80/GPU-h (a marketplace: hosts list their own machines, vast.ai/faq); Cudo's 1-GPU VM is $1.8214.
    Default: marketplaces left out → Cudo, $1.8214 × 720 h = $1,311.41 a month (whole hours: its billing
    increment is unknown). ``marketplaces: true`` → Vast.ai, $1.80 × 720 = $1,296.00. A pinned
    ``provider: vast`` is honoured without the flag."""
    default = _run(replicas=1, months=1)
    assert default.offer is not None and default.offer.provider == "cudo"
    assert default.recurring_cost_usd[0] == pytest.approx(1.8214 * HOURS)
    allowed = _run(replicas=1, months=1, marketplaces=True)
    assert allowed.offer is not None and allowed.offer.provider == "vast"
    assert allowed.recurring_cost_usd[0] == pytest.approx(1.80 * HOURS)
    pinned = _run(replicas=1, months=1, provider="vast")
    assert pinned.offer is not None and pinned.offer.provider == "vast"


def test_marketplace_offers_are_recognised_by_provider_and_tier() -> None:
    """Vast.ai rows and RunPod's Community Cloud rows are marketplace listings; RunPod Secure Cloud, AWS
    and Cudo rows are not."""
    from flopbill.catalog.prices import price_offers

    h100 = [o for o in price_offers() if o.accelerator_id == "h100-sxm"]
    kinds = {(o.provider, o.instance): o.marketplace for o in h100}
    assert kinds[("vast", "1x-H100_SXM-32-65536")] is True
    assert kinds[("runpod", "H100 SXM (Community Cloud)")] is True
    assert kinds[("runpod", "H100 SXM (Secure Cloud)")] is False
    assert kinds[("aws", "p5.48xlarge")] is False
    assert kinds[("cudo", "sapphire-rapids-h100_1x2v4gb")] is False


@pytest.mark.parametrize("value", ["yes", 1, 0, "true"])
def test_marketplaces_takes_only_a_boolean(value: object) -> None:
    """A YAML ``true``/``false`` only: a quoted "yes" or a number is refused naming the field, not read
    as a boolean (the flag decides which offers price the fleet)."""
    from flopbill.errors import InputError

    with pytest.raises(InputError, match=r"options\[0\]\.marketplaces"):
        _run(replicas=1, months=1, marketplaces=value)
