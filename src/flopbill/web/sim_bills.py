"""The simulation and bills endpoints: ``flopbill simulate --json``, ``flopbill bill report|classify --json``.

Simulation is bounded per request: at most :data:`MAX_SIM_REQUESTS` arrivals, :data:`MAX_SIM_SECONDS`
simulated seconds and :data:`MAX_SIM_REPLICAS` replicas; a request that sets no ``max_requests`` /
``max_sim_seconds`` runs with those caps filled in (so its answer is the CLI's for the same flags plus
``--max-requests``/``--max-sim-seconds`` at the caps), and the heavy time limit applies.

The bills endpoints read the DuckDB database the server was started with (``flopbill web --bills-db PATH``);
a request cannot name a database or a rules file, and amortises over at most :data:`MAX_AMORTIZE_MONTHS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flopbill.errors import InputError
from flopbill.web.commands import CommandSpec, command_spec

#: Most arrivals one ``/api/simulate`` request may simulate.
MAX_SIM_REQUESTS = 100_000
#: Most simulated seconds one ``/api/simulate`` request may run the clock for (one day).
MAX_SIM_SECONDS = 86_400.0
#: Most replicas one ``/api/simulate`` request may deploy.
MAX_SIM_REPLICAS = 256
#: Most months one ``/api/bills/report`` request may amortise training over (50 years; the straight-line
#: schedule's cost grows with the months, so an unbounded value would hold a worker).
MAX_AMORTIZE_MONTHS = 600
_CAPS: dict[str, float] = {
    "requests": MAX_SIM_REQUESTS,
    "max_requests": MAX_SIM_REQUESTS,
    "duration_s": MAX_SIM_SECONDS,
    "max_sim_seconds": MAX_SIM_SECONDS,
    "replicas": MAX_SIM_REPLICAS,
}
SIMULATE_LIMITS = (
    f"Bounded per request: requests and max_requests at most {MAX_SIM_REQUESTS:,}, duration_s and "
    f"max_sim_seconds at most {MAX_SIM_SECONDS:,.0f} s, replicas at most {MAX_SIM_REPLICAS}; unset "
    "max_requests / max_sim_seconds are set to those caps. No spec file: the quick-spec flags only."
)


def simulate_spec() -> CommandSpec:
    """``flopbill simulate`` with its flags (the spec-file argument and ``--html`` are not offered)."""
    from flopbill.cli import simulate as simulate_cli

    return command_spec("simulate", simulate_cli.simulate_cmd, drop=("spec_file",))


def bounded_simulation(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the request's values with the caps checked (:class:`InputError` past one) and filled in."""
    out = dict(values)
    for key, cap in _CAPS.items():
        value = out.get(key)
        if value is not None and value > cap:
            raise InputError(key, value, f"at most {cap:,g} per HTTP request (run the CLI for more)")
    if out.get("max_requests") is None:
        out["max_requests"] = MAX_SIM_REQUESTS
    if out.get("max_sim_seconds") is None:
        out["max_sim_seconds"] = MAX_SIM_SECONDS
    return out


def bill_specs(bills_db: Path | None) -> dict[str, CommandSpec]:
    """``bill report`` and ``bill classify`` over the server's database, built-in rules, DuckDB engine."""
    from flopbill.cli import bill as bill_cli

    server = {"db": bills_db, "rules": None}
    report = command_spec("bills_report", bill_cli.report_cmd, fixed=server)
    params = tuple(
        dataclasses.replace(p, maximum=MAX_AMORTIZE_MONTHS) if p.api_name == "amortize_months" else p
        for p in report.params
    )
    return {
        "bills_report": dataclasses.replace(report, params=params),
        "bills_classify": command_spec(
            "bills_classify",
            bill_cli.classify_cmd,
            fixed={**server, "engine": "duckdb"},
            drop=("file", "out"),
        ),
    }
