"""The load generator against scripted OpenAI-compatible servers over loopback: metric definitions
(TTFT, TPOT, ITL as `vllm bench serve` defines them), token counting from ``usage`` or the stated
fallback, and misbehaving servers (HTTP errors, stalls, streams closed mid-way, garbage) counted as
errors without hanging."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flopbill.errors import InputError
from flopbill.measure.loadgen import (
    LoadConfig,
    arrival_gaps_s,
    endpoint,
    read_trace,
    run_load,
    summarize,
)
from flopbill.measure.server import ServerThread

FIRST_DELAY_S = 0.08
GAP_S = 0.02
TOKENS = 6


def _chunk(text: str) -> bytes:
    return f"data: {json.dumps({'choices': [{'index': 0, 'text': text}]})}\n\n".encode()


async def _scripted(request: Request) -> Response:
    body = await request.json()
    mode = body["model"]
    if mode == "error500":
        return JSONResponse({"error": "boom"}, status_code=500)

    async def stream() -> AsyncIterator[bytes]:
        yield _chunk("")  # an empty first chunk at once: not content, must not start TTFT
        await asyncio.sleep(FIRST_DELAY_S)
        for i in range(TOKENS):
            if i:
                await asyncio.sleep(GAP_S)
            yield _chunk(f" t{i}")
            if mode == "stall" and i == 1:
                await asyncio.sleep(60)
            if mode == "close" and i == 1:
                return
            if mode == "garbage" and i == 1:
                yield b"data: {not json\n\n"
        if mode != "nousage":
            usage = {"prompt_tokens": 3, "completion_tokens": TOKENS, "total_tokens": TOKENS + 3}
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = Starlette(routes=[Route("/v1/completions", _scripted, methods=["POST"])])
    with ServerThread(app) as srv:
        yield srv.url


def _run(url: str, mode: str, **kw: object) -> dict:  # type: ignore[type-arg]
    cfg = LoadConfig(url=url, model=mode, concurrency=2, requests=4, output_tokens=TOKENS, **kw)  # type: ignore[arg-type]
    results, dur = asyncio.run(run_load(cfg))
    return summarize(results, dur, cfg) | {"results": results}


def test_metrics_follow_vllm_definitions(server: str) -> None:
    """Hand timing of the scripted stream: an empty chunk at once, first content after 0.08 s, then 5
    gaps of 0.02 s; so TTFT ≥ 0.08 (not ≈ 0: the empty chunk does not count), ITL ≥ 0.02 and
    TPOT = (E2E − TTFT)/(6 − 1) ≥ 0.02. Sleeps never end early; a busy machine only adds time, so the
    upper bounds are loose."""
    s = _run(server, "ok")
    assert s["completed"] == 4 and s["failed"] == 0
    assert FIRST_DELAY_S - 0.002 <= s["ttft_s"]["median"] <= FIRST_DELAY_S + 0.25
    assert GAP_S - 0.002 <= s["itl_s"]["median"] <= GAP_S + 0.05
    assert GAP_S - 0.002 <= s["tpot_s"]["median"] <= GAP_S + 0.05
    assert s["token_source"] == ["usage"] and s["total_output_tokens"] == 4 * TOKENS


def test_without_usage_the_fallback_is_stated(server: str) -> None:
    s = _run(server, "nousage")
    assert s["completed"] == 4 and s["token_source"] == ["content-chunks"]


@pytest.mark.parametrize("mode", ["error500", "stall", "close", "garbage"])
def test_misbehaving_server_counts_errors_without_hanging(server: str, mode: str) -> None:
    start = time.perf_counter()
    s = _run(server, mode, timeout_s=1.5)
    assert time.perf_counter() - start < 10
    assert s["failed"] == 4 and s["completed"] == 0 and s["error_rate"] == 1.0
    assert s["ttft_s"]["mean"] is None  # failed requests stay out of latency statistics


def test_rate_mode_bounded_by_duration(server: str) -> None:
    cfg = LoadConfig(
        url=server, model="ok", rate_per_s=20.0, requests=None, duration_s=0.5, output_tokens=TOKENS
    )
    results, dur = asyncio.run(run_load(cfg))
    s = summarize(results, dur, cfg)
    assert 2 <= len(results) <= 30 and s["failed"] == 0 and s["requested_rate_per_s"] == 20.0


def test_gamma_gaps_keep_the_mean() -> None:
    import numpy as np

    cfg = LoadConfig(url="http://127.0.0.1:1", rate_per_s=4.0, arrival="gamma", burstiness=0.5)
    gaps = arrival_gaps_s(cfg, 20000, np.random.default_rng(1))
    assert gaps.mean() == pytest.approx(0.25, rel=0.05)
    # gamma of shape k has coefficient of variation 1/sqrt(k): sqrt(2) for burstiness 0.5
    assert gaps.std() / gaps.mean() == pytest.approx(2**0.5, rel=0.08)


def test_configuration_errors() -> None:
    with pytest.raises(InputError):
        LoadConfig(url="127.0.0.1:8000").validate()
    with pytest.raises(InputError):
        LoadConfig(url="http://x", concurrency=2, rate_per_s=1.0).validate()
    with pytest.raises(InputError):
        LoadConfig(url="http://x", requests=None, duration_s=None).validate()
    assert endpoint("http://h:1/v1", "chat") == "http://h:1/v1/chat/completions"
    assert endpoint("http://h:1", "completions") == "http://h:1/v1/completions"


def test_trace_replay(server: str, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(
        "timestamp_s,input_tokens,output_tokens\n10.0,4,6\n10.1,8,6\n10.3,2,6\n", encoding="utf-8"
    )
    rows = read_trace(trace)
    assert [r.start_s for r in rows] == pytest.approx([0.0, 0.1, 0.3])
    cfg = LoadConfig(url=server, model="ok", trace=rows, requests=None)
    results, _dur = asyncio.run(run_load(cfg))
    assert len(results) == 3 and all(r.ok for r in results)
    assert results[2].sent_s == pytest.approx(0.3, abs=0.1)
