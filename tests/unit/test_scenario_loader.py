"""Scenario files: errors name the field, the LINE and what is allowed; ranges parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from flopbill.errors import FlopbillError
from flopbill.scenario.loader import ScenarioError, parse_scenario_text
from flopbill.scenario.values import RangeValue, parse_range_value

GOOD = (Path(__file__).resolve().parents[1] / "fixtures" / "minimal-scenario.yaml").read_text(
    encoding="utf-8"
)


def _error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario_text(text, "s.yaml")
    assert isinstance(info.value, FlopbillError)
    return info.value


def test_good_file_parses_ranges() -> None:
    scenario, _ = parse_scenario_text(GOOD)
    assert scenario.traffic.monthly_growth == RangeValue(low=0.05, expected=0.125, high=0.2)
    assert scenario.traffic.requests_per_day == RangeValue.point(1e6)


def test_typo_names_field_line_and_close_match() -> None:
    err = _error(GOOD.replace("    gpu: h100-sxm", "    gpuu: h100-sxm"))
    assert err.line == 16
    assert "options[1].gpuu" in str(err) and "did you mean gpu" in str(err)
    assert "s.yaml line 16" in str(err)


def test_top_level_typo() -> None:
    err = _error(GOOD.replace("horizon_months", "horizon_month"))
    assert err.line == 2 and "horizon_months" in str(err)


def test_negative_volume_names_line() -> None:
    err = _error(GOOD.replace("requests_per_day: 1M", "requests_per_day: -5"))
    assert err.line == 4 and "traffic.requests_per_day" in str(err) and "> 0" in str(err)


def test_unknown_model_lists_close_matches() -> None:
    err = _error(GOOD.replace("model: llama-3.1-8b", "model: llama-3.1-8"))
    assert err.line == 15 and "options[1].model" in str(err) and "llama-3.1-8b" in str(err)


def test_unknown_gpu() -> None:
    err = _error(GOOD.replace("gpu: h100-sxm", "gpu: h100-sx"))
    assert err.line == 16 and "h100-sxm" in str(err)


def test_unknown_kind_lists_kinds() -> None:
    err = _error(GOOD.replace("kind: api", "kind: apii"))
    assert err.line == 11 and "api, self_hosted, owned, router, edge, custom" in str(err)


def test_dangling_router_reference() -> None:
    text = GOOD + "  - name: r\n    kind: router\n    small: gppu\n    large: api\n    small_share: 0.5\n"
    err = _error(text)
    assert err.line == 20 and "did you mean gpu" in str(err)


def test_bad_yaml_has_line() -> None:
    err = _error("name: t\ntraffic: [1, 2\n")
    assert err.line is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0.4, (0.4, 0.4, 0.4)),
        ("0.35..0.5", (0.35, 0.425, 0.5)),
        ("5%..20%", (0.05, 0.125, 0.2)),
        ("1M..2M..5M", (1e6, 2e6, 5e6)),
        ("$2..$3", (2.0, 2.5, 3.0)),
    ],
)
def test_range_parsing(text: object, expected: tuple[float, float, float]) -> None:
    got = RangeValue.model_validate(parse_range_value(text))
    assert (got.low, got.expected, got.high) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["0.5..0.3", "a..b", "1..2..3..4", True])
def test_bad_ranges(text: object) -> None:
    with pytest.raises(ValueError):
        RangeValue.model_validate(parse_range_value(text))
