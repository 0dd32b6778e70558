"""`flopbill plan`: tables, --json, --html written atomically, exit 2 with nothing written on errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

GOOD = (Path(__file__).resolve().parents[1] / "fixtures" / "minimal-scenario.yaml").read_text(
    encoding="utf-8"
)


RunCli = Callable[[list[str]], tuple[int, str, str]]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        GOOD.replace(
            "price_usd_per_gpu_hour: 2",
            "price_usd_per_gpu_hour: 2\n    throughput_requests_per_s_per_replica: 10",
        ),
        encoding="utf-8",
    )
    return path


def test_plan_prints_answer(run_cli: RunCli, scenario_file: Path) -> None:
    code, out, _ = run_cli(["plan", str(scenario_file), "--samples", "500"])
    assert code == 0
    assert "Cheapest over 12 months" in out and "Break-even" in out and "P50" in out


def test_plan_json(run_cli: RunCli, scenario_file: Path) -> None:
    code, out, _ = run_cli(["plan", str(scenario_file), "--json", "--samples", "200", "--seed", "3"])
    assert code == 0
    data = json.loads(out)
    assert [o["name"] for o in data["options"]] == ["api", "gpu"]
    assert len(data["options"][0]["monthly_cost_usd"]) == 12
    assert data["monte_carlo"]["samples"] == 200


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("    gpu: h100-sxm", "    gpuu: h100-sxm", "line 16"),
        ("requests_per_day: 1M", "requests_per_day: -1M", "line 4"),
        ("model: llama-3.1-8b", "model: llama-9b", "line 15"),
    ],
)
def test_bad_scenario_exit_2_nothing_written(
    run_cli: RunCli, tmp_path: Path, old: str, new: str, needle: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace(old, new), encoding="utf-8")
    report = tmp_path / "report.html"
    code, _out, err = run_cli(["plan", str(bad), "--html", str(report)])
    assert code == 2
    assert needle in err and "error:" in err
    assert not report.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_html_written_atomically(run_cli: RunCli, scenario_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("flopbill.report")
    from flopbill import report

    if not hasattr(report, "render_html"):
        pytest.skip("HTML report not available")
    out_file = tmp_path / "report.html"
    code, _, err = run_cli(["plan", str(scenario_file), "--samples", "200", "--html", str(out_file)])
    assert code == 0, err
    assert out_file.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing_file_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli(["plan", str(tmp_path / "nope.yaml")])
    assert code == 2 and "scenario" in err


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_examples_run(run_cli: RunCli, name: str) -> None:
    code, out, err = run_cli(["plan", str(ROOT / "examples" / name), "--samples", "300", "--json"])
    assert code == 0, err
    assert json.loads(out)["cheapest_option"]


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_plan_shows_every_spike_and_payback_month(run_cli: RunCli, example: Path) -> None:
    """Every example's terminal output has a row for each spike month and each payback month (months are
    all shown up to 24, otherwise the first 3, spikes, crossovers, paybacks and the last), and P(cheapest)
    is never printed as 0 % or 100 % unless exact (checked through --json against the table)."""
    from flopbill.scenario.loader import load_scenario
    from flopbill.scenario.projection import project

    result = project(load_scenario(example), samples=0)
    code, out, _ = run_cli(["plan", str(example), "--samples", "0"])
    assert code == 0
    flat = " ".join(out.split())
    for m in result.spike_months():
        assert f"month {m} (spike" in flat, f"{example.name}: spike month {m} not shown"
    paybacks = [p for p in result.paybacks if p.month is not None]
    for p in paybacks:
        assert f"month {p.month} (" in flat and "payback" in flat, f"{example.name}: payback month {p.month}"
        assert f"payback: {p.option} vs {p.api_option}" in flat
    assert f"month {result.horizon_months}" in flat


@pytest.mark.parametrize(
    ("p", "text"), [(0.0, "0%"), (0.004, "<1%"), (0.5, "50%"), (0.996, ">99%"), (1.0, "100%")]
)
def test_probability_is_never_rounded_to_0_or_100_unless_exact(p: float, text: str) -> None:
    """0.4 % prints as "<1%" and 99.6 % as ">99%" (not 0 % / 100 %); exact 0 and 1 print as they are."""
    from flopbill.cli.plan import _prob
    from flopbill.report.fmt import probability

    assert _prob(p) == text == probability(p)
