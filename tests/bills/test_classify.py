"""Classification: hand-labelled fixture lines per provider, the real samples, totals to the cent."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bills import fixtures
from bills.conftest import FOCUS_SAMPLE, needs_shared
from flopbill.bills import classify, engines, ingest, report, rules
from flopbill.errors import CatalogError


def _classified(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    table = classify.classify(engines.duckdb_lines(con), rules.load_rules())
    cols = ["x_SourceFile", "x_SourceRow", "phase", "rule_id", "confidence"]
    return list(table[cols].to_pyarrow().to_pylist())


def test_every_fixture_line_gets_its_documented_phase(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    ingest.import_files(con, fixtures.write_all(tmp_path))
    expected = fixtures.expected_phases()
    got = {(str(r["x_SourceFile"]), int(str(r["x_SourceRow"]))): r["phase"] for r in _classified(con)}
    assert got == expected


def test_rule_ids_explain_the_sagemaker_and_bedrock_lines(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    ingest.import_files(con, [fixtures.write_cur_csv(tmp_path / "cur.csv")])
    by_row = {int(str(r["x_SourceRow"])): r for r in _classified(con)}
    assert by_row[1]["rule_id"] == "aws-sagemaker-train"
    assert by_row[3]["rule_id"] == "aws-sagemaker-hosting"
    assert by_row[8]["rule_id"] == "aws-bedrock-tokens"
    assert by_row[11]["rule_id"] == "aws-bedrock-customization"
    assert by_row[12]["rule_id"] == "tag-phase-training"  # the tag wins over the instance heuristic
    assert by_row[13]["rule_id"] == "accel-undecided" and by_row[13]["confidence"] == 0.0


@needs_shared(FOCUS_SAMPLE)
def test_real_focus_sample_gpu_and_ai_lines_are_left_for_review(con: duckdb.DuckDBPyConnection) -> None:
    """GPU instance hours (g3/g5 in ChargeDescription) and the 9 'AI and Machine Learning' rows carry no
    phase: they must be unclassified, never guessed; everything else is 'other'."""
    ingest.import_files(con, [FOCUS_SAMPLE])
    with FOCUS_SAMPLE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    gpu = [i + 1 for i, r in enumerate(rows) if any(f" {f}." in r["ChargeDescription"] for f in ("g3", "g5"))]
    ai = [i + 1 for i, r in enumerate(rows) if r["ServiceCategory"] == "AI and Machine Learning"]
    got = {int(str(r["x_SourceRow"])): r for r in _classified(con)}
    assert {i for i, r in got.items() if r["phase"] == "unclassified"} == set(gpu) | set(ai)
    assert {i for i, r in got.items() if r["rule_id"] == "accel-undecided"} == set(gpu)
    assert len(ai) == 9


def test_totals_per_phase_equal_the_input_to_the_cent(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    ingest.import_files(con, fixtures.write_all(tmp_path))
    source = engines.duckdb_lines(con)
    result = classify.totals(classify.classify(source, rules.load_rules()), source, rules.load_rules())
    independent = sum((Decimal(line[6]) for line in fixtures.CUR_LINES), Decimal(0))
    independent += sum((Decimal(line[4]) for line in fixtures.GCP_LINES), Decimal(0))
    independent += sum((Decimal(line[6]) for line in fixtures.AZURE_LINES), Decimal(0))
    independent += sum((Decimal(line[5]) for line in fixtures.FOCUS_LINES), Decimal(0))
    assert result.input_billed_cost == independent
    assert sum((p.billed_cost for p in result.phases), Decimal(0)) == independent
    assert {p.phase for p in result.phases} == set(fixtures.expected_phases().values())


def test_check_totals_raises_when_a_cent_is_lost() -> None:
    good = classify.ClassifyTotals(
        "USD",
        2,
        Decimal("1.00"),
        Decimal("1.00"),
        (classify.PhaseTotal("other", 2, Decimal("1.00"), Decimal("1.00")),),
        1,
    )
    classify.check_totals(good)
    bad = classify.ClassifyTotals(
        "USD",
        2,
        Decimal("1.01"),
        Decimal("1.00"),
        (classify.PhaseTotal("other", 2, Decimal("1.00"), Decimal("1.00")),),
        1,
    )
    with pytest.raises(RuntimeError):
        classify.check_totals(bad)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.decimals(min_value=-10_000, max_value=10_000, places=6), min_size=1, max_size=18))
def test_phase_totals_always_add_up(costs: list[Decimal]) -> None:
    """Whatever the amounts, the phase sums equal the input sum exactly (DECIMAL, no float)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE lines AS SELECT * FROM (VALUES "
        + ", ".join(
            f"('id{i}', CAST('{c}' AS DECIMAL(38, 18)), CAST('{c}' AS DECIMAL(38, 18)), "
            f"'{fixtures.CUR_LINES[i % len(fixtures.CUR_LINES)][0]}', TIMESTAMP '2026-01-01')"
            for i, c in enumerate(costs)
        )
        + ") t(x_LineId, BilledCost, EffectiveCost, x_UsageType, ChargePeriodStart)"
    )
    for name in (
        "ProviderName",
        "ChargeCategory",
        "ServiceCategory",
        "ServiceName",
        "SkuId",
        "ChargeDescription",
        "ResourceId",
        "ResourceName",
        "ConsumedUnit",
        "x_Operation",
        "x_InstanceType",
        "BillingCurrency",
    ):
        con.execute(f"ALTER TABLE lines ADD COLUMN {name} VARCHAR")
    con.execute("ALTER TABLE lines ADD COLUMN Tags MAP(VARCHAR, VARCHAR) DEFAULT MAP {}")
    source = engines.duckdb_lines(con)
    result = classify.totals(classify.classify(source, rules.load_rules()), source, rules.load_rules())
    assert sum((p.billed_cost for p in result.phases), Decimal(0)) == sum(costs, Decimal(0))
    con.close()


def test_user_rules_replace_the_builtin_and_bad_rules_are_named(tmp_path: Path) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text(
        "version: 7\nchecked: '2026-12-01'\nrules:\n"
        "  - id: all-training\n    phase: training\n    confidence: 1\n    rationale: test\n    source: x\n"
    )
    assert rules.load_rules(good).version == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nchecked: x\nrules:\n  - id: r\n    phase: training\n    confidence: 1\n"
        "    rationale: t\n"
        "    source: s\n    when:\n      - field: NoSuchColumn\n        matches: x\n"
    )
    with pytest.raises(CatalogError, match=r"bad\.yaml"):
        rules.load_rules(bad)


def test_every_builtin_rule_has_an_id_a_rationale_and_a_source() -> None:
    rule_set = rules.load_rules()
    assert rule_set.rules[-1].when == ()  # the catch-all is last
    for rule in rule_set.rules:
        assert rule.rationale.strip() and rule.source.startswith("https://")


def test_amortization_spreads_capital_exactly() -> None:
    """1,200 over 12 months from month 1 of a 3-month bill: 100 a month billed, 900 deferred."""
    charged, deferred = report.amortize([Decimal(1200), Decimal(0), Decimal(0)], 12)
    assert charged == [Decimal(100)] * 3 and deferred == Decimal(900)
    charged, deferred = report.amortize([Decimal(1), Decimal(0)], 3)
    assert sum(charged, Decimal(0)) + deferred == Decimal(1)


def test_unit_costs_per_gpu_hour_and_per_million_tokens(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """p5.48xlarge has 8 H100 (aws.amazon.com/ec2/instance-types/p5): 100 instance-hours = 800 GPU-hours,
    9,830.40 USD → 12.288 USD per GPU-hour. Bedrock: 3 × 10,000 × 1K tokens for 183 USD → 6.10 USD per 1M."""
    ingest.import_files(con, [fixtures.write_cur_csv(tmp_path / "cur.csv")])
    classified = classify.classify(engines.duckdb_lines(con), rules.load_rules())
    rep = report.bill_report(classified, "USD", 12)
    units = {(u.phase, u.service, u.unit): u for u in rep.unit_costs}
    ec2 = units[("training", "AmazonEC2", "GPU-hour")]
    assert ec2.quantity == Decimal(800) and ec2.cost_per_unit == Decimal("12.288")
    # SageMaker training: ml.p4d.24xlarge 100 h × 8 GPUs + ml.p5.48xlarge 20 h × 8 GPUs = 960 GPU-hours
    assert units[("training", "AmazonSageMaker", "GPU-hour")].quantity == Decimal(960)
    tokens = units[("inference", "AmazonBedrock", "1M tokens")]
    assert tokens.quantity == Decimal(30_000_000)
    assert tokens.cost_per_unit == Decimal("183.00") / 30
