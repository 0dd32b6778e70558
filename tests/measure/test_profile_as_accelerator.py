"""A hardware profile file works wherever an accelerator id does (``--gpu ./PROFILE.yaml``), and its
efficiencies change serving and planning results the way the physics says they must."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from flopbill.catalog import accelerator
from flopbill.catalog.efficiency import hardware_efficiency
from flopbill.catalog.profile import read_profile
from flopbill.errors import CatalogError, InputError
from profile_fixtures import H100_BF16, H100_BW, h100_like_profile, write

RunCli = Callable[[list[str]], tuple[int, str, str]]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_profile_resolves_to_measured_accelerator(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", h100_like_profile(eta_flops=0.55, eta_bw=0.8))
    acc = accelerator(str(path))
    assert acc.kind == "measured"
    assert acc.peak_flops_per_s.bf16 == H100_BF16
    assert acc.memory_bandwidth_bytes_per_s == H100_BW
    eff, measured = hardware_efficiency(acc.id)
    assert measured and eff.eta_flops.value == 0.55 and eff.eta_bw.value == 0.8
    assert read_profile(path) == h100_like_profile(eta_flops=0.55, eta_bw=0.8)


def test_missing_or_bad_profile_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        accelerator(str(tmp_path / "absent.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not a flopbill hardware profile"):
        accelerator(str(bad))


def test_this_machine_is_the_measured_profile_once_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOPBILL_PROFILE", str(tmp_path / "none.yaml"))
    placeholder = accelerator("this-machine")  # the catalog's entry: every figure unknown
    assert placeholder.id == "this-machine" and placeholder.memory_bandwidth_bytes_per_s is None
    write(tmp_path, "none.yaml", h100_like_profile(profile_id="mine"))
    assert accelerator("this-machine").id == "mine"


def _serve(run_cli: RunCli, profile: Path) -> dict[str, float]:
    code, out, err = run_cli(
        ["serve", "--model", "llama-3.1-8b", "--gpu", str(profile), "--batch", "1", "--json"]
    )
    assert code == 0, err
    result: dict[str, float] = json.loads(out)
    return result


def test_calibrated_bandwidth_changes_serve_as_physics_says(run_cli: RunCli, tmp_path: Path) -> None:
    """Decode at batch 1 is memory-bound (Pope et al. 2022 §3): its step reads all weights, so the
    step time less the fixed per-step overhead scales as 1/η_bw. Halving η_bw doubles it."""
    fast = _serve(run_cli, write(tmp_path, "fast.yaml", h100_like_profile(eta_bw=0.8, profile_id="fast")))
    slow = _serve(run_cli, write(tmp_path, "slow.yaml", h100_like_profile(eta_bw=0.4, profile_id="slow")))
    assert fast["bound"] == "memory" and slow["bound"] == "memory"
    over = fast["details"]["step_overhead_s"]  # type: ignore[index]
    ratio = (slow["tpot_s"] - over) / (fast["tpot_s"] - over)
    assert ratio == pytest.approx(2.0, rel=0.02)
    assert slow["details"]["accelerator"] == "slow"  # type: ignore[index]


def test_calibrated_profile_changes_plan(run_cli: RunCli, tmp_path: Path) -> None:
    """A GPU that reaches twice the bandwidth serves more tokens per replica, so self-hosting needs
    no more GPUs and costs less over the horizon (never more)."""
    base = (FIXTURES / "minimal-scenario.yaml").read_text(encoding="utf-8")
    totals = {}
    for name, eta_bw in (("slow", 0.3), ("fast", 0.6)):
        prof = write(tmp_path, f"{name}.yaml", h100_like_profile(eta_bw=eta_bw, profile_id=name))
        scen = tmp_path / f"{name}-scenario.yaml"
        scen.write_text(base.replace("gpu: h100-sxm", f"gpu: {prof}"), encoding="utf-8")
        code, out, err = run_cli(["plan", str(scen), "--json", "--samples", "200"])
        assert code == 0, err
        gpu = next(o for o in json.loads(out)["options"] if o["name"] == "gpu")
        totals[name] = sum(gpu["monthly_cost_usd"])
    assert totals["fast"] < totals["slow"]


def test_scenario_profile_path_is_relative_to_the_scenario_file(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gpu: ./fast.yaml`` in ``scenarios/s.yaml`` means ``scenarios/fast.yaml`` whatever the current
    directory; an absolute path and a catalog id are left as they are."""
    base = (FIXTURES / "minimal-scenario.yaml").read_text(encoding="utf-8")
    folder = tmp_path / "scenarios"
    folder.mkdir()
    write(folder, "fast.yaml", h100_like_profile(eta_bw=0.6, profile_id="fast"))
    scen = folder / "s.yaml"
    scen.write_text(base.replace("gpu: h100-sxm", "gpu: ./fast.yaml"), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no fast.yaml here: a cwd-relative lookup would fail
    code, out, err = run_cli(["plan", str(scen), "--json", "--samples", "100"])
    assert code == 0, err
    gpu = next(o for o in json.loads(out)["options"] if o["name"] == "gpu")
    assert sum(gpu["monthly_cost_usd"]) > 0
    absolute = folder / "abs.yaml"
    absolute.write_text(base.replace("gpu: h100-sxm", f"gpu: {folder / 'fast.yaml'}"), encoding="utf-8")
    assert run_cli(["plan", str(absolute), "--json", "--samples", "100"])[0] == 0
    missing = folder / "missing.yaml"
    missing.write_text(base.replace("gpu: h100-sxm", "gpu: ./absent.yaml"), encoding="utf-8")
    code, out, err = run_cli(["plan", str(missing), "--json"])
    assert code == 2 and out == "" and "absent.yaml" in err and "line 16" in err


@pytest.mark.parametrize(
    "text", ["options: 5", "options: [3, {gpu: 4}]", "one_time: 7", "one_time: [{training: 1}]"]
)
def test_profile_path_resolution_leaves_malformed_documents_to_validation(tmp_path: Path, text: str) -> None:
    from flopbill.scenario.loader import ScenarioError, parse_scenario_text

    with pytest.raises(ScenarioError):
        parse_scenario_text(f"name: t\n{text}\n", "s.yaml", tmp_path)
