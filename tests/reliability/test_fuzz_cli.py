"""Fuzz every CLI command's options: hostile values for a random subset of options on a valid command.

Values mix plausible inputs (``8k``, ``0.5``, ``h100-sxm``) with edge cases (0, negatives, NaN,
infinities, ``1e999``, huge integers, booleans, empty and very long strings, odd Unicode), so both
the accepting and the refusing paths are exercised. See :mod:`fuzzing` for what counts as a pass.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.reliability.fuzzing import EXAMPLES, check, run

EDGE = [
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "0.5",
    "1.5",
    "-2.5",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "-1e999",
    "1e30",
    "1e308",
    "10" * 20,
    "1e-320",
    "",
    " ",
    "true",
    "false",
    "abc",
    "8k",
    "8Ki",
    "70B",
    "2T",
    "1..2",
    "5%",
    "$2.49/h",
    "0x10",
    "1_000",
    "٣",
    "x" * 300,
    "max",
    "\t1",
    "1e6",
    "1000000000",
]


def numbers() -> st.SearchStrategy[str]:
    """Return a strategy of number-like option values, edge cases included."""
    return st.one_of(
        st.sampled_from(EDGE),
        st.integers(-(10**40), 10**40).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=12),
    )


def names(*valid: str) -> st.SearchStrategy[str]:
    """Return a strategy of catalog-name option values: valid names, near misses and junk."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(EDGE), st.text(max_size=40))


GPUS = names("h100-sxm", "a100-sxm-80gb", "l4", "h200", "mi300x", "b200")
MODELS = names(
    "llama-3.1-8b",
    "gpt-2-124m",
    "mixtral-8x7b",
    "deepseek-v3",
    "qwen2.5-7b",
    "meta-llama/Llama-3.1-8B",
    "gpt2-xl",
)
DTYPES = names("bf16", "fp8", "int8", "int4", "fp4", "fp16")

API_BASE = ["api", "--model", "gpt-4o", "--input-tokens", "1000", "--output-tokens", "200"]

COMMANDS: dict[str, tuple[list[str], dict[str, st.SearchStrategy[str]]]] = {
    "model": (
        ["model", "llama-3.1-8b"],
        {"--context": numbers()},
    ),
    "model-shorthand": (
        ["model", "--params", "7B", "--layers", "32", "--hidden", "4096"],
        {"--params": numbers(), "--layers": numbers(), "--hidden": numbers(), "--context": numbers()},
    ),
    "train": (
        ["train", "-m", "llama-3.1-8b", "-t", "1T", "--gpu", "h100-sxm", "--gpus", "8"],
        {
            "-m": MODELS,
            "-t": numbers(),
            "--seq-len": numbers(),
            "--gpu": GPUS,
            "--gpus": numbers(),
            "--tp": numbers(),
            "--pp": numbers(),
            "--zero": numbers(),
            "--micro-batch": numbers(),
            "--mfu": numbers(),
            "--price-per-gpu-hour": numbers(),
            "--pricing": names("on_demand", "spot", "reserved"),
            "--goodput": numbers(),
            "--pue": numbers(),
            "--carbon": numbers(),
            "--dtype": DTYPES,
            "--stage": names("pretrain", "sft", "lora", "dpo", "ppo", "distill"),
            "--lora-rank": numbers(),
            "--optimizer": names("adamw", "sgd", "adafactor"),
        },
    ),
    "train-optimal": (
        ["train", "--optimal", "--budget-flops", "1e23"],
        {
            "--budget-flops": numbers(),
            "--budget-usd": numbers(),
            "--lifetime-tokens": numbers(),
            "--fit": names("hoffmann", "besiroglu", "epoch"),
            "--gpu": GPUS,
        },
    ),
    "serve": (
        ["serve", "--model", "llama-3.1-8b", "--gpu", "h100-sxm"],
        {
            "--model": MODELS,
            "--gpu": GPUS,
            "--gpus": numbers(),
            "--tp": numbers(),
            "--batch": numbers(),
            "--input-tokens": numbers(),
            "--output-tokens": numbers(),
            "--weights": DTYPES,
            "--kv": DTYPES,
            "--activations": DTYPES,
            "--engine": names("vllm", "trtllm", "sglang", "llama.cpp"),
            "--spec-k": numbers(),
            "--spec-acceptance": numbers(),
            "--prefix-hit": numbers(),
            "--samples": numbers(),
            "--reasoning-multiplier": numbers(),
            "--price-per-gpu-hour": numbers(),
            "--pricing": names("on_demand", "spot"),
            "--utilization": numbers(),
            "--slo-ttft": numbers(),
            "--slo-tpot": numbers(),
        },
    ),
    "serve-disaggregated": (
        ["serve", "--model", "llama-3.1-8b", "--disaggregated", "--rps", "5"],
        {
            "--model": MODELS,
            "--gpu": GPUS,
            "--rps": numbers(),
            "--tp": numbers(),
            "--prefill-tp": numbers(),
            "--input-tokens": numbers(),
            "--output-tokens": numbers(),
            "--utilization": numbers(),
            "--min-precision": DTYPES,
            "--weights": DTYPES,
        },
    ),
    "serve-search": (
        ["serve", "--model", "llama-3.1-8b", "--search", "--rps", "5", "--gpu", "h100-sxm"],
        {
            "--rps": numbers(),
            "--input-tokens": numbers(),
            "--output-tokens": numbers(),
            "--slo-ttft": numbers(),
            "--slo-tpot": numbers(),
            "--slo-percentile": numbers(),
            "--top": numbers(),
            "--utilization": numbers(),
            "--kv": DTYPES,
            "--tp": numbers(),
        },
    ),
    "catalog-prices": (
        ["catalog", "prices"],
        {"--gpu": GPUS, "--provider": names("aws", "gcp", "azure", "lambda"), "--pricing": names("spot")},
    ),
    "plan": (
        ["plan", str(Path(__file__).resolve().parents[2] / "examples" / "document-router.yaml")],
        {"--samples": numbers(), "--seed": numbers()},
    ),
    "api": (
        [*API_BASE, "--requests-per-day", "10k"],
        {
            "--model": names("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "gemini-1.5-pro"),
            "--provider": names("openai", "anthropic", "google", "azure"),
            "--input-tokens": numbers(),
            "--output-tokens": numbers(),
            "--requests-per-day": numbers(),
            "--reasoning-tokens": numbers(),
            "--cache-hit": numbers(),
            "--cache-write": numbers(),
            "--batch-share": numbers(),
            "--batch-discount": numbers(),
            "--at": st.one_of(
                st.sampled_from(["2026-11-01", "0001-01-01", "9999-12-31", "2020-06-11"]), numbers()
            ),
            "--days-per-month": numbers(),
        },
    ),
}


def _args(draw: st.DrawFn, name: str) -> list[str]:
    base, options = COMMANDS[name]
    chosen = draw(st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=4, unique=True))
    args = list(base)
    for flag in chosen:
        args += [flag, draw(options[flag])]
    if draw(st.booleans()):
        args.append("--json")
    return args


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 20,  # CI runs the same examples every time; longer runs explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def _fuzz(name: str) -> None:
    @FUZZ
    @given(st.data())
    def one(data: st.DataObject) -> None:
        check(run(data.draw(st.composite(lambda draw: _args(draw, name))())))

    one()


def test_fuzz_model() -> None:
    _fuzz("model")


def test_fuzz_model_shorthand() -> None:
    _fuzz("model-shorthand")


def test_fuzz_train() -> None:
    _fuzz("train")


def test_fuzz_train_optimal() -> None:
    _fuzz("train-optimal")


def test_fuzz_serve() -> None:
    _fuzz("serve")


def test_fuzz_serve_disaggregated() -> None:
    _fuzz("serve-disaggregated")


def test_fuzz_serve_search() -> None:
    _fuzz("serve-search")


def test_fuzz_api() -> None:
    _fuzz("api")


def test_fuzz_catalog_prices() -> None:
    _fuzz("catalog-prices")


def test_fuzz_plan_options() -> None:
    _fuzz("plan")


ALL_COMMANDS = [
    ["model"],
    ["train"],
    ["serve"],
    ["api"],
    ["plan"],
    ["catalog", "gpus"],
    ["catalog", "models"],
    ["validate", "training"],
    ["validate", "serving"],
]


@FUZZ
@given(st.sampled_from(ALL_COMMANDS), st.sampled_from(["--help", "--json", "--bogus", "", "x" * 5000, "-"]))
def test_fuzz_every_command_with_odd_arguments(command: list[str], extra: str) -> None:
    """Every command, including those without options of their own, ends cleanly on odd arguments."""
    if command[0] == "validate" and extra in ("--json", ""):
        extra = "--bogus"  # validate runs its golden cases: covered by the validation tests
    check(run([*command, extra]))
