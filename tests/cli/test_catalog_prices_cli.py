"""``flopbill catalog prices``: filters, documented JSON keys, clear errors (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable

RunCli = Callable[[list[str]], tuple[int, str, str]]
KEYS = {
    "provider",
    "instance",
    "accelerator_id",
    "gpus_per_instance",
    "region",
    "pricing",
    "price_usd_per_instance_hour",
    "price_usd_per_gpu_hour",
    "billing_increment_s",
    "billing_minimum_s",
    "date_checked",
    "source_url",
}


def test_prices_json_filters_and_keys(run_cli: RunCli) -> None:
    """AWS p5.48xlarge on-demand is $55.04 per instance-hour for 8 H100s: 55.04 / 8 = $6.88 per GPU-hour,
    billed per second after 60 s (AWS EC2 On-Demand pricing page, "Per Second Billing")."""
    code, out, _ = run_cli(
        ["catalog", "prices", "--gpu", "h100-sxm", "--provider", "aws", "--pricing", "on_demand", "--json"]
    )
    assert code == 0
    rows = json.loads(out)
    assert rows and all(set(r) == KEYS for r in rows)
    assert {(r["provider"], r["accelerator_id"], r["pricing"]) for r in rows} == {
        ("aws", "h100-sxm", "on_demand")
    }
    p5 = next(r for r in rows if r["instance"] == "p5.48xlarge")
    assert p5["gpus_per_instance"] == 8
    assert p5["price_usd_per_instance_hour"] == 55.04
    assert p5["price_usd_per_gpu_hour"] == 6.88
    assert (p5["billing_increment_s"], p5["billing_minimum_s"]) == (1.0, 60.0)


def test_prices_table_lists_tpus(run_cli: RunCli) -> None:
    code, out, _ = run_cli(["catalog", "prices", "--provider", "gcp"])
    assert code == 0
    assert "tpu-v6e" in out and "unknown (whole hours assumed)" in out


def test_prices_unknown_names_are_one_line_errors(run_cli: RunCli) -> None:
    code, _, err = run_cli(["catalog", "prices", "--gpu", "h100"])
    assert code == 2 and "h100-sxm" in err and "Traceback" not in err
    code, _, err = run_cli(["catalog", "prices", "--provider", "awz"])
    assert code == 2 and "aws" in err
    code, _, err = run_cli(["catalog", "prices", "--pricing", "reserved"])
    assert code == 2 and "reserved_1y" in err
