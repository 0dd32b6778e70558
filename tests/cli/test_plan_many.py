"""``flopbill plan a.yaml b.yaml --html DIR``: one report per scenario; one bad file writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

RunCli = Callable[[list[str]], tuple[int, str, str]]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_several_scenarios_write_one_report_each(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    files = [str(EXAMPLES / "chatbot.yaml"), str(EXAMPLES / "email-autoreply.yaml")]
    code, stdout, _ = run_cli(["plan", *files, "--html", str(out), "--samples", "200"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["chatbot.html", "email-autoreply.html"]
    assert stdout.count("Cheapest over") == 2


def test_one_bad_scenario_among_several_writes_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "chatbot.yaml").read_text().replace("horizon_months: 24", "horizon_monts: 24"))
    out = tmp_path / "reports"
    code, _, err = run_cli(["plan", str(EXAMPLES / "chatbot.yaml"), str(bad), "--html", str(out)])
    assert code == 2
    assert "horizon_monts" in err and "line" in err
    assert not out.exists()


def test_html_path_must_be_a_directory_for_several(run_cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "one.txt"
    target.write_text("x")
    files = [str(EXAMPLES / "chatbot.yaml"), str(EXAMPLES / "email-autoreply.yaml")]
    code, _, err = run_cli(["plan", *files, "--html", str(target)])
    assert code == 2 and "--html" in err
