"""Regression corpus for scenario files, model files and report output (issue #9).

Bad documents give exit code 2 and one line naming the file, the line and the field path; nothing is
written; limits on size, depth and aliases hold before any work is done.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from tests.reliability.conftest import RunSafe

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chatbot.yaml"


def _doc() -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["monte_carlo"] = {"samples": 200, "seed": 1}
    return data


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _mutated(path_: tuple[str | int, ...], value: object) -> str:
    data = _doc()
    node = data
    for part in path_[:-1]:
        node = node[part]
    node[path_[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


def _assert_one_line(got, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert got.crash is None, got.crash
    assert got.code == 2, (got.out[-400:], got.err)
    assert "Traceback" not in got.err
    assert len(got.err.strip().splitlines()) <= 3, got.err
    for needle in needles:
        assert needle in got.err, got.err


VALUE_CASES = [
    (("traffic", "daily_active_users"), float("inf"), "traffic.daily_active_users"),
    (("traffic", "monthly_growth"), "1e999", "traffic.monthly_growth"),
    (("traffic", "peak_factor"), 1e308 * 10, "traffic.peak_factor"),
    (("traffic", "spikes", 0, "multiplier"), "1e999", "traffic.spikes[0].multiplier"),
    (("one_time", 0, "cost_usd"), "1e999", "one_time[0].cost_usd"),
    (("revenue", "price_usd_per_user_per_month"), float("inf"), "revenue.price_usd_per_user_per_month"),
    (("request", "input_tokens"), float("inf"), "request.input_tokens"),
    (("request", "input_tokens"), float("nan"), "request.input_tokens"),
    (("days_per_month",), True, "days_per_month"),
    (("horizon_months",), True, "horizon_months"),
    (("options", 2, "target_utilization"), 0, "options[2].target_utilization"),
    (("options", 2, "min_replicas"), 10**30, "options[2].min_replicas"),
    (("monte_carlo", "seed"), -1, "monte_carlo.seed"),
]


@pytest.mark.parametrize(("where", "value", "field"), VALUE_CASES, ids=[c[2] for c in VALUE_CASES])
def test_bad_scenario_value_names_file_line_and_path(
    run_safe: RunSafe, tmp_path: Path, where: tuple[str | int, ...], value: object, field: str
) -> None:
    path = _write(tmp_path, _mutated(where, value))
    _assert_one_line(run_safe(["plan", str(path), "--json"]), str(path), " line ", field)


def test_training_tokens_1e999(run_safe: RunSafe, tmp_path: Path) -> None:
    data = _doc()
    data["one_time"] = [
        {"name": "ft", "training": {"model": "llama-3.1-8b", "gpu": "h100-sxm", "tokens": "1e999"}}
    ]
    path = _write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    _assert_one_line(run_safe(["plan", str(path)]), "one_time[0].training.tokens")


def test_duplicate_key_is_refused_with_its_line(run_safe: RunSafe, tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "horizon_months: 24", "horizon_months: 24\nhorizon_months: 36"
    )
    _assert_one_line(
        run_safe(["plan", str(_write(tmp_path, text))]), "duplicate key 'horizon_months'", "line 10"
    )


def test_5000_deep_nesting_is_refused(run_safe: RunSafe, tmp_path: Path) -> None:
    text = "name: x\nhorizon_months: " + "[" * 5000 + "]" * 5000 + "\n"
    _assert_one_line(run_safe(["plan", str(_write(tmp_path, text))]), "nested deeper")


def test_billion_laughs_is_refused_quickly(run_safe: RunSafe, tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    text = "\n".join(lines) + "\nname: x\n"
    start = time.perf_counter()
    got = run_safe(["plan", str(_write(tmp_path, text))])
    assert time.perf_counter() - start < 5.0
    _assert_one_line(got, "aliases")


def test_recursive_alias_is_refused(run_safe: RunSafe, tmp_path: Path) -> None:
    _assert_one_line(run_safe(["plan", str(_write(tmp_path, "a: &x [*x]\n"))]), "alias")


@pytest.mark.parametrize(
    "text", ["[]", "42", "", "- 1\n- 2\n", "{"], ids=["list", "scalar", "empty", "seq", "bad"]
)
def test_scenario_that_is_not_a_mapping(run_safe: RunSafe, tmp_path: Path, text: str) -> None:
    _assert_one_line(run_safe(["plan", str(_write(tmp_path, text))]), "s.yaml")


def test_binary_scenario_and_model_files(run_safe: RunSafe, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(bytes(range(256)) * 2)
    _assert_one_line(run_safe(["plan", str(path)]), "UTF-8")
    _assert_one_line(run_safe(["model", str(path)]), "UTF-8")


def test_samples_times_months_over_budget(run_safe: RunSafe, tmp_path: Path) -> None:
    path = _write(tmp_path, _mutated(("horizon_months",), 240))
    _assert_one_line(run_safe(["plan", str(path), "--samples", "2000000"]), "--samples", "samples × months")
    _assert_one_line(run_safe(["plan", str(path), "--samples", str(10**30)]), "--samples")
    _assert_one_line(run_safe(["plan", str(path), "--samples", "1000000000"]), "--samples")


def test_negative_seed(run_safe: RunSafe) -> None:
    _assert_one_line(run_safe(["plan", str(EXAMPLE), "--seed", "-1", "--samples", "10"]), "--seed")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[1, 2]", "JSON object"),
        ("3", "JSON object"),
        ('{"hidden_size": 4096, "num_hidden_layers": "32", "num_attention_heads": 32}', "num_hidden_layers"),
        ('{"hidden_size": "4096", "num_hidden_layers": 32, "num_attention_heads": 32}', "hidden_size"),
        ('{"hidden_size": 4096, "num_hidden_layers": -1, "num_attention_heads": 32}', "num_hidden_layers"),
        (
            '{"hidden_size": 4096, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2}',
            "duplicate",
        ),
        ('{"hidden_size": NaN, "num_hidden_layers": 2, "num_attention_heads": 2}', "NaN"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        (
            '{"text_config": 3, "hidden_size": true, "num_hidden_layers": 2, "num_attention_heads": 2}',
            "hidden_size",
        ),
    ],
    ids=["list", "scalar", "str-layers", "str-hidden", "neg-layers", "dup", "nan", "deep", "bool"],
)
def test_bad_config_json(run_safe: RunSafe, tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "m" / "config.json"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    _assert_one_line(run_safe(["model", str(path)]), needle)


@pytest.mark.parametrize(
    "text", ["[]", "7", "null", "models: 3", "- 1"], ids=["empty", "int", "null", "models", "items"]
)
def test_bad_model_yaml(run_safe: RunSafe, tmp_path: Path, text: str) -> None:
    _assert_one_line(run_safe(["model", str(_write(tmp_path, text, "m.yaml"))]), "m.yaml")


def test_lengths_on_a_fifo_and_a_device(run_safe: RunSafe, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    base = ["serve", "--model", "llama-3.1-8b", "--search", "--rps", "1", "--lengths"]
    _assert_one_line(run_safe([*base, str(fifo)]), "--lengths", "regular file")
    _assert_one_line(run_safe([*base, "/dev/zero"]), "--lengths", "regular file")
    _assert_one_line(run_safe([*base, str(tmp_path)]), "--lengths", "regular file")


def test_html_into_a_missing_directory_is_created(run_safe: RunSafe, tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "r.html"
    got = run_safe(["plan", str(EXAMPLE), "--samples", "0", "--html", str(target)])
    assert got.code == 0, got.err
    assert target.read_text(encoding="utf-8").startswith("<!")


@pytest.mark.parametrize("kind", ["directory", "long-name", "parent-is-file"])
def test_html_onto_bad_targets(run_safe: RunSafe, tmp_path: Path, kind: str) -> None:
    (tmp_path / "d.html").mkdir()
    target = {
        "directory": tmp_path / "d.html",
        "long-name": tmp_path / ("r" * 300 + ".html"),
        "parent-is-file": EXAMPLE / "r.html",
    }[kind]
    _assert_one_line(run_safe(["plan", str(EXAMPLE), "--samples", "0", "--html", str(target)]), "--html")


def test_html_never_follows_a_symlink_without_force(run_safe: RunSafe, tmp_path: Path) -> None:
    victim = tmp_path / "bashrc"
    victim.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "r.html"
    link.symlink_to(victim)
    args = ["plan", str(EXAMPLE), "--samples", "0", "--html", str(link)]
    _assert_one_line(run_safe(args), "--html", "symbolic link")
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    got = run_safe([*args, "--force"])
    assert got.code == 0, got.err
    assert victim.read_text(encoding="utf-8") == "keep me\n"  # the link was replaced, not its target
    assert not link.is_symlink() and link.read_text(encoding="utf-8").startswith("<!")


def test_several_reports_are_all_or_nothing(run_safe: RunSafe, tmp_path: Path) -> None:
    bad = _write(tmp_path, _mutated(("request", "input_tokens"), float("inf")), "zz-bad.yaml")
    out = tmp_path / "reports"
    got = run_safe(["plan", str(EXAMPLE), str(bad), "--samples", "0", "--html", str(out)])
    _assert_one_line(got, "zz-bad.yaml")
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        (("options", 2, "gpus_per_replica"), 3, "gpus_per_replica"),
        (("request", "input_tokens"), "200k", "context window"),
    ],
    ids=["tp", "context-window"],
)
def test_estimator_errors_name_the_scenario_field_not_a_flag(
    run_safe: RunSafe, tmp_path: Path, where: tuple[str | int, ...], value: object, field: str
) -> None:
    """An error the serving estimator raises while projecting names the scenario path and its line."""
    path = _write(tmp_path, _mutated(where, value))
    got = run_safe(["plan", str(path), "--samples", "0"])
    _assert_one_line(got, str(path), " line ", field)
    assert "--" not in got.err


def test_samples_budget_from_the_file_names_its_line(run_safe: RunSafe, tmp_path: Path) -> None:
    data = _doc()
    data["horizon_months"] = 240
    data["monte_carlo"] = {"samples": 2_000_000, "seed": 1}
    path = _write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    _assert_one_line(run_safe(["plan", str(path), "--json"]), str(path), " line ", "monte_carlo.samples")


def test_model_file_with_several_problems_is_still_one_line(run_safe: RunSafe, tmp_path: Path) -> None:
    text = "id: x\nname: x\nn_layers: -1\nd_model: -4\nn_heads: 32\nd_ff: 1000\ngated_ffn: true\n"
    text += "vocab_size: 10\ntied_embeddings: false\nmax_context_tokens: 100\n"
    text += "sources: [{what: a, ref: b, checked: 2026-01-01}]\n"
    got = run_safe(["model", str(_write(tmp_path, text, "m.yaml"))])
    _assert_one_line(got, "n_layers", "d_model")
    assert len(got.err.strip().splitlines()) == 1
