#!/usr/bin/env python3
"""Set up and run flopbill from a fresh clone with only Python ≥ 3.11 and pip.

    python3 dev.py run     # create .venv if needed, then run flopbill's main job on a real example
    python3 dev.py test    # create .venv if needed, then lint, format check, type check and tests

Both create the virtual environment ``.venv`` and install flopbill with its dev dependencies the first
time (and again whenever pyproject.toml or constraints.txt changes), within the versions pinned in
constraints.txt. Extra arguments go to flopbill / pytest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".flopbill-install-stamp"
MAIN_EXAMPLE = ["plan", "examples/chatbot.yaml"]


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if code:
        sys.exit(code)


def ensure_venv() -> None:
    """Create ``.venv`` and install ``flopbill[dev]`` unless the stamp says it is current."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py must also run (and explain) on older Pythons
        sys.exit(f"flopbill needs Python >= 3.11 (this is {sys.version.split()[0]})")
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not (BIN / "python").exists():
        _run(sys.executable, "-m", "venv", VENV)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]", "-c", "constraints.txt")
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """Install Debian's headless Chromium for the report's browser test, where apt and root allow.

    Without it that one test skips with its reason; everything else runs.
    """
    if shutil.which("chromium") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    print("+ apt-get install chromium (for the HTML report browser test)", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(args: list[str]) -> None:
    """Run ``flopbill`` (default: the README's main example)."""
    ensure_venv()
    _run(BIN / "flopbill", *(args or MAIN_EXAMPLE))


def test(args: list[str]) -> None:
    """Run ruff (lint + format check), mypy --strict and the whole pytest suite."""
    ensure_venv()
    ensure_chromium()
    _run(BIN / "ruff", "check", "src", "tests", "benchmarks", "scripts", "dev.py")
    _run(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "scripts", "dev.py")
    _run(BIN / "mypy")
    _run(BIN / "python", "-m", "pytest", *args)


def main() -> None:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: python3 dev.py run [flopbill args...] | python3 dev.py test [pytest args...]")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
