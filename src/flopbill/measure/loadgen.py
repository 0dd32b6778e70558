"""An asyncio load generator for OpenAI-compatible ``/v1/completions`` and ``/v1/chat/completions``.

Arrivals: fixed concurrency (N workers, each sends its next request when the last one ends), a request
rate with Poisson (exponential gaps) or gamma gaps (shape = burstiness, mean 1/rate, as ``vllm bench
serve --burstiness``), or the replay of a trace. Bounded by a request count and/or a duration; every
request has a timeout, so a server that stalls costs at most that.

Metrics are named as ``vllm bench serve`` names them (vLLM ``benchmarks/serve.py``, checked 2026-12-01),
in seconds instead of milliseconds:

* TTFT: request sent → first chunk that carries content (text or delta.content non-empty).
* TPOT: ``(E2E − TTFT) / (output tokens − 1)`` per request, for requests of more than one token.
* ITL: the gaps between consecutive content chunks.
* E2EL: request sent → last byte.
* goodput: completed requests meeting every SLO given, per second of the run.

Output tokens come from the streamed ``usage`` (``stream_options.include_usage``) when the server sends
it; otherwise the fallback is stated in the result (``token_source: "content-chunks"``: one token per
content chunk, which over- or under-counts when a server batches tokens into chunks). Failed requests
(HTTP errors, broken or stalled streams, timeouts) are counted and kept out of latency statistics.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from flopbill.errors import InputError
from flopbill.measure.deps import require

Api = Literal["completions", "chat"]
Arrival = Literal["poisson", "gamma"]
WORDS = ("alpha", "beta", "gamma", "delta", "omega", "river", "stone", "cloud", "light", "paper")


@dataclass(frozen=True)
class TraceRow:
    """One request of a trace: when it is sent (s from start) and its token lengths."""

    start_s: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class LoadConfig:
    """What to send, how fast and for how long (inert; SI units)."""

    url: str
    api: Api = "completions"
    model: str = "flopbill-local"
    input_tokens: int = 64
    output_tokens: int = 32
    concurrency: int | None = None
    rate_per_s: float | None = None
    arrival: Arrival = "poisson"
    burstiness: float = 1.0
    requests: int | None = 32
    duration_s: float | None = None
    timeout_s: float = 60.0
    seed: int = 0
    trace: tuple[TraceRow, ...] = ()
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    slo_e2e_s: float | None = None

    def validate(self) -> None:
        """Raise :class:`InputError` for a configuration that cannot run or would not stop."""
        if not self.url.startswith(("http://", "https://")):
            raise InputError("URL", self.url, "an http:// or https:// URL")
        if self.concurrency is not None and self.rate_per_s is not None:
            raise InputError("--concurrency/--rate", (self.concurrency, self.rate_per_s), "one of the two")
        if self.concurrency is not None and self.concurrency < 1:
            raise InputError("--concurrency", self.concurrency, "a positive integer")
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise InputError("--rate", self.rate_per_s, "a positive number of requests per second")
        if self.requests is None and self.duration_s is None and not self.trace:
            raise InputError(
                "--requests/--duration-s", None, "a request limit or a duration (runs are bounded)"
            )
        if self.requests is not None and self.requests < 1:
            raise InputError("--requests", self.requests, "a positive integer")
        if self.input_tokens < 1 or self.output_tokens < 1:
            raise InputError("--input-tokens/--output-tokens", (self.input_tokens, self.output_tokens), "≥ 1")
        if self.timeout_s <= 0 or self.burstiness <= 0:
            raise InputError(
                "--timeout-s/--burstiness", (self.timeout_s, self.burstiness), "positive numbers"
            )


@dataclass
class RequestResult:
    """What happened to one request (s from the run's start; latencies in s)."""

    index: int
    sent_s: float
    input_tokens_requested: int
    output_tokens_requested: int
    ok: bool = False
    error: str = ""
    ttft_s: float | None = None
    e2e_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    content_chunks: int = 0
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    token_source: str = "none"

    @property
    def tpot_s(self) -> float | None:
        """``(E2E − TTFT) / (output tokens − 1)``; ``None`` for failed or one-token requests."""
        if not self.ok or self.ttft_s is None or self.e2e_s is None or not self.output_tokens:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1) if self.output_tokens > 1 else None


def synthetic_prompt(n_tokens: int, rng: random.Random) -> str:
    """Return ``n_tokens`` space-separated common words (one token each for whitespace tokenizers;
    BPE tokenizers usually give one token per such word too, plus a few; the served ``usage`` tells)."""
    return " ".join(rng.choice(WORDS) for _ in range(n_tokens))


def endpoint(url: str, api: Api) -> str:
    """Return the full URL of the API route (``url`` may already name it)."""
    base = url.rstrip("/")
    route = "/v1/chat/completions" if api == "chat" else "/v1/completions"
    if base.endswith(("/completions", "/chat/completions")):
        return base
    return base + (route[3:] if base.endswith("/v1") else route)


def request_body(cfg: LoadConfig, prompt: str, output_tokens: int) -> dict[str, Any]:
    """Return the JSON body: streaming with usage, exactly ``output_tokens`` asked (``ignore_eos`` for
    vLLM-compatible servers)."""
    body: dict[str, Any] = {
        "model": cfg.model,
        "max_tokens": output_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "ignore_eos": True,
    }
    if cfg.api == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


def _content(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    c = choices[0]
    if "delta" in c:
        return str((c.get("delta") or {}).get("content") or "")
    return str(c.get("text") or "")


def _read_event(res: RequestResult, data: str, t0: float, last: list[float]) -> bool:
    """Account one SSE ``data:`` payload; return True at ``[DONE]``."""
    if data == "[DONE]":
        return True
    chunk = json.loads(data)
    if "error" in chunk:
        raise RuntimeError(f"server error in stream: {chunk['error']}")
    usage = chunk.get("usage")
    if usage:
        res.prompt_tokens = usage.get("prompt_tokens")
        res.output_tokens = usage.get("completion_tokens")
        res.token_source = "usage"
    if _content(chunk):
        now = time.perf_counter() - t0
        if res.ttft_s is None:
            res.ttft_s = now
        else:
            res.itl_s.append(now - last[0])
        last[0] = now
        res.content_chunks += 1
    return False


async def send_one(client: Any, cfg: LoadConfig, res: RequestResult, prompt: str) -> RequestResult:
    """Send one streaming request and fill ``res`` (never raises; failures set ``error``)."""
    t0 = time.perf_counter()
    last = [0.0]
    done = False
    try:
        async with asyncio.timeout(cfg.timeout_s):
            body = request_body(cfg, prompt, res.output_tokens_requested)
            async with client.stream("POST", endpoint(cfg.url, cfg.api), json=body) as resp:
                if resp.status_code != 200:
                    text = (await resp.aread()).decode(errors="replace")[:200]
                    raise RuntimeError(f"HTTP {resp.status_code}: {text}")
                async for line in resp.aiter_lines():
                    if line.startswith("data:") and _read_event(res, line[5:].strip(), t0, last):
                        done = True
                        break
        res.e2e_s = time.perf_counter() - t0
        if not done:
            raise RuntimeError("stream ended before [DONE]")
        if res.ttft_s is None:
            raise RuntimeError("no content in the stream")
        if res.output_tokens is None:
            res.output_tokens = res.content_chunks
            res.token_source = "content-chunks"
        res.ok = True
    except TimeoutError:
        res.error = f"timeout after {cfg.timeout_s:g} s"
    except Exception as exc:  # a load generator reports every failure as data, never crashes on one
        res.error = f"{type(exc).__name__}: {exc}"[:300]
    return res


def arrival_gaps_s(cfg: LoadConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` inter-arrival gaps (s): exponential of mean ``1/rate`` (Poisson) or gamma of shape
    ``burstiness`` and scale ``1/(rate·burstiness)`` (the same mean)."""
    rate = float(cfg.rate_per_s or 1.0)
    if cfg.arrival == "gamma":
        return rng.gamma(cfg.burstiness, 1.0 / (rate * cfg.burstiness), n)
    return rng.exponential(1.0 / rate, n)


def _plan(cfg: LoadConfig) -> list[TraceRow]:
    """Return the requests to send with their start times (``-1``: when a worker is free)."""
    if cfg.trace:
        rows = list(cfg.trace)
        return rows[: cfg.requests] if cfg.requests else rows
    if cfg.rate_per_s is None:
        return [TraceRow(-1.0, cfg.input_tokens, cfg.output_tokens)] * (cfg.requests or 1_000_000)
    n = cfg.requests or int(cfg.rate_per_s * float(cfg.duration_s or 0.0) * 2 + 100)
    starts = np.cumsum(arrival_gaps_s(cfg, n, np.random.default_rng(cfg.seed)))
    return [TraceRow(float(s), cfg.input_tokens, cfg.output_tokens) for s in starts]


async def run_load(
    cfg: LoadConfig, on_done: Callable[[RequestResult], None] | None = None
) -> tuple[list[RequestResult], float]:
    """Run the load; return every request's result and the run's wall time (s)."""
    cfg.validate()
    httpx = require("httpx")
    plan = _plan(cfg)
    rng = random.Random(cfg.seed)
    prompts = [synthetic_prompt(r.input_tokens, rng) for r in plan[:1000]]
    results: list[RequestResult] = []
    t_start = time.perf_counter()
    deadline = t_start + cfg.duration_s if cfg.duration_s else float("inf")
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=httpx.Timeout(cfg.timeout_s), limits=limits) as client:

        async def one(i: int, row: TraceRow) -> None:
            res = RequestResult(i, time.perf_counter() - t_start, row.input_tokens, row.output_tokens)
            prompt = (
                prompts[i % len(prompts)]
                if row.input_tokens == cfg.input_tokens
                else synthetic_prompt(row.input_tokens, rng)
            )
            results.append(await send_one(client, cfg, res, prompt))
            if on_done:
                on_done(results[-1])

        if plan and plan[0].start_s < 0:  # fixed concurrency
            counter = iter(range(len(plan)))

            async def worker() -> None:
                for i in counter:
                    if time.perf_counter() >= deadline:
                        return
                    await one(i, plan[i])

            await asyncio.gather(*(worker() for _ in range(cfg.concurrency or 1)))
        else:
            tasks = []
            for i, row in enumerate(plan):
                delay = t_start + row.start_s - time.perf_counter()
                if t_start + row.start_s >= deadline:
                    break
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, row)))
            await asyncio.gather(*tasks)
    return sorted(results, key=lambda r: r.index), time.perf_counter() - t_start


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "p90": None, "p99": None, "std": None}
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(a.mean()),
        "median": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "std": float(a.std()),
    }


def _meets_slo(r: RequestResult, cfg: LoadConfig) -> bool:
    checks = (
        (cfg.slo_ttft_s, r.ttft_s),
        (cfg.slo_tpot_s, r.tpot_s),
        (cfg.slo_e2e_s, r.e2e_s),
    )
    return all(limit is None or (value is not None and value <= limit) for limit, value in checks)


def summarize(results: list[RequestResult], duration_s: float, cfg: LoadConfig) -> dict[str, Any]:
    """Return the run's summary (vllm bench serve names, SI units) with the full configuration."""
    ok = [r for r in results if r.ok]
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    in_tokens = sum(r.prompt_tokens if r.prompt_tokens is not None else r.input_tokens_requested for r in ok)
    sources = sorted({r.token_source for r in ok})
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            key = r.error.split(":")[0]
            errors[key] = errors.get(key, 0) + 1
    dur = max(duration_s, 1e-9)
    requested = cfg.rate_per_s
    return {
        "config": {k: v for k, v in asdict(cfg).items() if k != "trace"} | {"trace_requests": len(cfg.trace)},
        "duration_s": duration_s,
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "error_rate": (len(results) - len(ok)) / len(results) if results else 0.0,
        "errors": errors,
        "total_input_tokens": in_tokens,
        "total_output_tokens": out_tokens,
        "token_source": sources,
        "requested_rate_per_s": requested,
        "achieved_rate_per_s": sending_rate_per_s(results),
        "request_throughput_per_s": len(ok) / dur,
        "output_throughput_tokens_per_s": out_tokens / dur,
        "total_token_throughput_per_s": (in_tokens + out_tokens) / dur,
        "request_goodput_per_s": sum(1 for r in ok if _meets_slo(r, cfg)) / dur,
        "ttft_s": _stats([r.ttft_s for r in ok if r.ttft_s is not None]),
        "tpot_s": _stats([t for r in ok if (t := r.tpot_s) is not None]),
        "itl_s": _stats([g for r in ok for g in r.itl_s]),
        "e2el_s": _stats([r.e2e_s for r in ok if r.e2e_s is not None]),
    }


def sending_rate_per_s(results: Sequence[RequestResult]) -> float | None:
    """Return the rate requests were actually sent at: ``(n − 1) / (last send − first send)``."""
    sent = sorted(r.sent_s for r in results)
    if len(sent) < 2 or sent[-1] <= sent[0]:
        return None
    return (len(sent) - 1) / (sent[-1] - sent[0])


def saturated(results: Sequence[RequestResult], duration_s: float) -> bool:
    """True when the server fell behind: the run lasted over 1.5× the last send plus the median
    end-to-end latency (an unsaturated server finishes the last request about one latency after it is
    sent; a saturated one queues it)."""
    ok = [r.e2e_s for r in results if r.ok and r.e2e_s is not None]
    if not ok or len(ok) < len(results) // 2:
        return True
    last = max(r.sent_s for r in results)
    return duration_s > 1.5 * (last + float(np.median(ok)))


def read_trace(path: Path | str) -> tuple[TraceRow, ...]:
    """Return the requests of a trace CSV with columns ``timestamp_s,input_tokens,output_tokens``."""
    p = Path(path)
    if not p.is_file():
        raise InputError("--trace", str(path), "an existing CSV file")
    rows = []
    with p.open(encoding="utf-8", newline="") as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            try:
                rows.append(
                    TraceRow(float(rec["timestamp_s"]), int(rec["input_tokens"]), int(rec["output_tokens"]))
                )
            except (KeyError, ValueError, TypeError):
                raise InputError(
                    f"--trace row {i + 2}", rec, "columns timestamp_s,input_tokens,output_tokens (numbers)"
                ) from None
    if not rows:
        raise InputError("--trace", str(path), "a CSV with at least one request")
    t0 = min(r.start_s for r in rows)
    return tuple(
        sorted(
            (TraceRow(r.start_s - t0, r.input_tokens, r.output_tokens) for r in rows), key=lambda r: r.start_s
        )
    )


def write_jsonl(results: list[RequestResult], path: Path | str) -> None:
    """Write one JSON line per request."""
    lines = [json.dumps(asdict(r) | {"tpot_s": r.tpot_s}) for r in results]
    Path(path).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


async def sweep(
    cfg: LoadConfig, rates_per_s: Sequence[float], on_done: Callable[[RequestResult], None] | None = None
) -> list[dict[str, Any]]:
    """Run ``cfg`` at each rate in turn; stop after the first rate the server cannot keep up with
    (:func:`saturated`): that rate is past saturation."""
    out = []
    for rate in rates_per_s:
        one = LoadConfig(**{**asdict(cfg), "rate_per_s": rate, "concurrency": None, "trace": cfg.trace})
        results, dur = await run_load(one, on_done)
        summary = summarize(results, dur, one)
        summary["saturated"] = saturated(results, dur)
        out.append(summary)
        if summary["saturated"]:
            break
    return out
